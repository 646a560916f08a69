"""The demo project: MSED schema, a lead, five annotators with different
error rates, and synthetic text-image pairs (annotator/demo.py) with
simulated votes, so every page has something real to show.

It also runs the anchoring experiment (annotator.anchoring): a simulated
pre-labeller's suggestions (stored through annotator.suggestions, so the
inference app keeps them as a run marked simulated) are shown to half of
the (annotator, item) pairs, and one simulated annotator follows them too
often, so the Anchoring dashboard has an effect to show.

And quality control (issue 14): a few of the waiting items are control
items whose known answers are the simulated truth, each annotator has
answered most of them blind, and annotator5 labels carelessly, so the
Controls page, the Annotators page's reliability flags and the gold
strategies (majority by default; Dawid-Skene or MACE in the settings) have
something to tell apart. The careless annotator costs agreement: on the
600-item demo Fleiss' kappa is 0.31/0.49/0.37 (desire/sentiment/emotion)
with them and 0.58/0.71/0.65, MSED's range, with the Agreement page's
annotator filter leaving them out."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np
from django.contrib.auth import get_user_model
from django.db import transaction

from .. import anchoring, demo, selectors, suggestions
from ..models import ControlAnswer, Item, Membership, Project
from .bulk import AnnotationRow, write_annotations
from .controls import mark_with_answers
from .image_assets import save_image_asset
from .projects import add_member, create_project, update_project_settings
from .security import clear_password_change

User = get_user_model()

DEMO_SLUG = "demo"
LEAD = "demo-lead"
ANNOTATORS = [f"annotator{i}" for i in range(1, 6)]
# Per-annotator error rates (before simulate_votes' per-task multiplier):
# two careful, two average (annotator4 also follows suggestions too often,
# FOLLOW_RATES), and annotator5 careless (demo.CARELESS_ERROR_RATE).
ERROR_RATES = demo.DEMO_ERROR_RATES
GUIDELINES = """Label each post for the **desire** it expresses (or *none*), its **sentiment** and its **emotion**.

1. Read the text and look at the image together: the label is about the post as a whole.
2. Desire follows MSED Table 3 — hover a label for its explanation.
3. Then drag or reorder the *inference order*: which task helped you decide the others?
"""


@dataclass
class DemoResult:
    project: Project
    created: bool
    logins: list[tuple[str, str, str]]  # (username, password, role)
    items: int
    annotations: int


def _set_password(username: str, *, staff: bool = False) -> tuple[object, str]:
    user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@demo.invalid"})
    password = secrets.token_urlsafe(9)
    user.set_password(password)
    user.is_staff = user.is_staff or staff
    user.save()
    # Printed logins exist to be tried at once: never "choose your own password first".
    clear_password_change(user=user)
    return user, password


def seed_demo_project(
    *, items: int = 600, seed: int = 0, labelled_share: float = 0.8, slug: str = DEMO_SLUG
) -> DemoResult:
    """Create (or refresh the logins of) the demo project.

    The first run creates the project with `items` synthetic items, stores
    their images, and writes five simulated votes per item on the first
    `labelled_share` of them (the rest wait in the queue). Later runs keep
    the data and only give the demo users new passwords, which are returned
    so they can be printed: passwords are never stored in clear.
    """
    if items < 1:
        raise ValueError("The demo needs at least one item.")
    lead, lead_password = _set_password(LEAD)
    # The demo's lead shows the whole app, "New project" included.
    lead.user_permissions.add(selectors.get_project_creation_permission())
    logins = [(LEAD, lead_password, "lead")]
    annotator_users = []
    for name in ANNOTATORS:
        user, password = _set_password(name)
        annotator_users.append(user)
        logins.append((name, password, "annotator"))

    project = Project.objects.filter(slug=slug).first()
    if project is not None:
        return DemoResult(project, False, logins, project.items.count(), 0)

    with transaction.atomic():
        project = create_project(
            name="MSED demo",
            slug=slug,
            template="msed",
            created_by=lead,
            guidelines=GUIDELINES,
            description="Synthetic social-media posts labelled for desire, sentiment and emotion (MSED schema).",
        )
        for user in annotator_users:
            add_member(project=project, user=user, role=Membership.Role.ANNOTATOR)
        synthetic = demo.generate_items(items, seed=seed, image_pool=None if items <= 5000 else 8)
        asset_ids: dict[int, int] = {}
        new_items = []
        for item in synthetic:
            image_id = None
            if item.image_bytes is not None:
                key = id(item.image_bytes)
                if key not in asset_ids:
                    asset_ids[key] = save_image_asset(data=item.image_bytes, name=f"{item.external_id}.jpg").pk
                image_id = asset_ids[key]
            new_items.append(
                Item(
                    project=project,
                    external_id=item.external_id,
                    text=item.text or "",
                    image_id=image_id,
                    split=item.split,
                    metadata={"title": item.title, "source": "synthetic demo"},
                )
            )
        Item.objects.bulk_create(new_items, batch_size=2000)
        item_ids = list(project.items.order_by("id").values_list("id", flat=True))

        n_labelled = int(round(labelled_share * len(synthetic)))
        truth = demo.label_index_matrix(synthetic[:n_labelled])
        votes = demo.simulate_votes(
            truth, n_annotators=len(annotator_users), error_rates=ERROR_RATES[: len(annotator_users)], seed=seed
        )
        orders = demo.simulate_inference_orders(n_labelled, len(annotator_users), seed=seed)
        durations = demo.simulate_durations(n_labelled, len(annotator_users), seed=seed, inference_orders=orders)
        experiment = _start_anchoring_experiment(project, synthetic, item_ids, seed=seed)
        labelled = np.arange(n_labelled)
        shown = _show_suggestions(
            project, experiment, labelled, item_ids, annotator_users, votes, durations, seed=seed + 7
        )
        rows = (
            shown.row(i, a, item_id=item_ids[i], annotator_id=user.pk, order=orders[i, a])
            for i in labelled.tolist()
            for a, user in enumerate(annotator_users)
        )
        counts = write_annotations(project=project, rows=rows)
        unimodal = write_annotations(
            project=project, rows=_unimodal_rows(synthetic[:n_labelled], item_ids, truth, annotator_users, seed=seed)
        )
        controls = _seed_controls(
            project, lead, synthetic, item_ids, n_labelled, annotator_users, experiment=experiment, seed=seed
        )
    total = counts["annotations"] + unimodal["annotations"] + controls
    return DemoResult(project, True, logins, len(item_ids), total)


# The anchoring experiment: suggestions shown to this share of pairs; how
# often each simulated annotator copies a suggestion they were shown instead
# of their own label (annotator4 follows them too often: the dashboard's
# effect), and how much of a task's time a copied label takes.
SUGGESTION_SHARE = 0.5
FOLLOW_RATES = (0.05, 0.05, 0.05, 0.6, 0.05)
FOLLOWED_TIME = 0.4
SIMULATED_RUN_NAME = "Simulated pre-labeller (demo: no model was trained)"


@dataclass
class _Shown:
    """Votes and durations of (item, annotator) pairs after the experiment
    showed (or withheld) the suggestions: (n, annotators, tasks) arrays, the
    arms (n, annotators) and the run's suggested labels (n, tasks)."""

    votes: np.ndarray
    durations: np.ndarray
    arms: np.ndarray
    run_id: int | None
    suggested: np.ndarray

    def row(self, i: int, a: int, *, item_id: int, annotator_id: int, order, is_control=False) -> AnnotationRow:
        """The annotation of row i by annotator a (order: their inference order, task indices)."""
        votes, arm, suggested = self.votes[i, a], self.arms[i, a], self.suggested[i]
        return AnnotationRow(
            item_id=item_id,
            annotator_id=annotator_id,
            labels={task: demo.LABEL_KEYS[task][int(votes[t])] for t, task in enumerate(demo.TASKS)},
            inference_order=demo.inference_order_keys(order),
            duration_ms=int(np.sum(self.durations[i, a])),
            suggestion_run_id=self.run_id if arm else None,
            suggestion_accepted={task: bool(votes[t] == suggested[t]) for t, task in enumerate(demo.TASKS)}
            if arm
            else None,
            suggestion_arm=arm,
            is_control=is_control,
        )


def _show_suggestions(project, experiment, rows: np.ndarray, item_ids, users, votes, durations, *, seed: int) -> _Shown:
    """The experiment on the pairs of the items `rows` (indices into item_ids):
    each pair's arm is the one the live assignment gives, so a person picking
    up the demo continues the same experiment, and the simulated annotators
    copy shown suggestions at their FOLLOW_RATES."""
    n = len(rows)
    if experiment is None:
        arms = np.full((n, len(users)), anchoring.NONE, dtype=object)
        return _Shown(votes, durations, arms, None, np.full((n, len(demo.TASKS)), -1))
    run_id, suggested = experiment[0], experiment[1][rows]
    arms = np.array(
        [[anchoring.suggestion_arm(project, annotator_id=u.pk, item_id=item_ids[i]) for u in users] for i in rows],
        dtype=object,
    )
    votes, followed = demo.simulate_anchoring(
        votes, suggested, arms == anchoring.SHOWN, FOLLOW_RATES[: len(users)], seed=seed
    )
    # Taking the suggestion is quicker than working the label out.
    durations = np.where(followed, durations * FOLLOWED_TIME, durations).astype(np.int64)
    return _Shown(votes, durations, arms, run_id, suggested)


def _start_anchoring_experiment(project: Project, synthetic, item_ids: list[int], *, seed: int):
    """Store a simulated pre-labeller's suggestions for every item and turn
    the experiment on: (run id, suggested label indices (n_items, n_tasks)),
    or None when no suggestion provider is installed (annotator alone)."""
    labels, vectors = demo.simulate_suggestions(demo.label_index_matrix(synthetic), seed=seed + 5)
    probabilities = {
        item_id: {task: vectors[t][i].tolist() for t, task in enumerate(demo.TASKS)}
        for i, item_id in enumerate(item_ids)
    }
    run_id = suggestions.get_provider().store_simulated_run(
        project=project, probabilities=probabilities, name=SIMULATED_RUN_NAME
    )
    if run_id is None:
        return None
    update_project_settings(project=project, show_suggestions=True, suggestion_share=SUGGESTION_SHARE)
    return run_id, labels


# The share of labelled items that also get CH-SIMS unimodal rounds (votes
# cast seeing the text only, and the image only), so the Modalities dashboard
# has something to compare. The project keeps unimodal rounds off: people
# trying the demo label in the usual multimodal round.
UNIMODAL_SHARE = 0.15
# One modality alone is harder to read than both: wrong votes come about
# this many times more often (capped in simulate_votes).
UNIMODAL_ERROR_FACTOR = {"text": 1.8, "image": 2.4}


def _unimodal_rows(synthetic, item_ids: list[int], truth: np.ndarray, annotators: list, *, seed: int):
    n = int(round(UNIMODAL_SHARE * len(synthetic)))
    rows = []
    for offset, (round_, factor) in enumerate(UNIMODAL_ERROR_FACTOR.items()):
        rates = [min(0.9, rate * factor) for rate in ERROR_RATES[: len(annotators)]]
        votes = demo.simulate_votes(
            truth[:n], n_annotators=len(annotators), error_rates=rates, seed=seed + 101 + offset
        )
        for i in range(n):
            # A round shows one modality: an item without it has no vote in that round.
            if (round_ == "text" and not synthetic[i].text) or (round_ == "image" and synthetic[i].image_bytes is None):
                continue
            for a, user in enumerate(annotators):
                rows.append(
                    AnnotationRow(
                        item_id=item_ids[i],
                        annotator_id=user.pk,
                        round=round_,
                        labels={task: demo.LABEL_KEYS[task][int(votes[i, a, t])] for t, task in enumerate(demo.TASKS)},
                        duration_ms=2500 + 400 * a + 15 * (i % 40),
                    )
                )
    return rows


# Control items: this many of the items still waiting in the queue (at most
# half of them) become control items, their known answers the simulated
# truth; each annotator has answered this share of them, blind, as the queue
# would have mixed them in (one in every CONTROL_EVERY items). Control items
# take part in the anchoring experiment as any item does in the live loop
# (annotator4 copies shown suggestions there too); the anchoring dashboard
# leaves them out. Feedback is on, so a person trying the demo sees it.
N_CONTROLS = 24
CONTROL_ANSWERED_SHARE = 0.8
CONTROL_EVERY = 10


def _seed_controls(project, lead, synthetic, item_ids, n_labelled, annotators, *, experiment, seed: int) -> int:
    """Mark control items among the unlabelled items and write the annotators'
    control answers; returns the number of control annotations."""
    update_project_settings(project=project, control_every=CONTROL_EVERY, control_feedback=True)
    waiting = len(item_ids) - n_labelled
    n = min(N_CONTROLS, waiting // 2)
    if n == 0:
        return 0
    rng = np.random.default_rng(seed + 211)
    chosen = np.sort(rng.choice(np.arange(n_labelled, len(item_ids)), size=n, replace=False))
    truth = demo.label_index_matrix([synthetic[i] for i in chosen])
    mark_with_answers(
        project=project,
        answers={item_ids[i]: dict(synthetic[i].labels) for i in chosen},
        lead=lead,
        source=ControlAnswer.Source.IMPORTED,
    )
    votes = demo.simulate_votes(
        truth, n_annotators=len(annotators), error_rates=ERROR_RATES[: len(annotators)], seed=seed + 212
    )
    orders = demo.simulate_inference_orders(n, len(annotators), seed=seed + 213)
    durations = demo.simulate_durations(n, len(annotators), seed=seed + 214, inference_orders=orders)
    answered = rng.random((n, len(annotators))) < CONTROL_ANSWERED_SHARE
    shown = _show_suggestions(project, experiment, chosen, item_ids, annotators, votes, durations, seed=seed + 215)
    rows = [
        shown.row(j, a, item_id=item_ids[i], annotator_id=user.pk, order=orders[j, a], is_control=True)
        for j, i in enumerate(chosen.tolist())
        for a, user in enumerate(annotators)
        if answered[j, a]
    ]
    return write_annotations(project=project, rows=rows)["annotations"] if rows else 0


def login_box(logins: list[tuple[str, str, str]], url: str = "http://127.0.0.1:8000/") -> str:
    """The demo's logins as a framed block, easy to find in a scrolling terminal."""
    lines = [f"Affect Studio demo: sign in at {url}", ""]
    lines += [f"{role:<10} {username:<12} {password}" for username, password, role in logins]
    lines += ["", "(demo accounts only; `manage.py seed_demo` sets new passwords)"]
    width = max(len(line) for line in lines)
    return "\n".join(
        ["+" + "-" * (width + 2) + "+", *(f"| {line:<{width}} |" for line in lines), "+" + "-" * (width + 2) + "+"]
    )


def save_logins(path, logins: list[tuple[str, str, str]]) -> None:
    """Write the demo's logins for `manage.py serve`, readable by the owner only."""
    import json
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump([{"username": u, "password": p, "role": r} for u, p, r in logins], f)
    os.chmod(path, 0o600)


def current_logins(path) -> list[tuple[str, str, str]]:
    """The saved logins that still work (a password changed since is left out)."""
    import json

    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    users = {
        u.username: u
        for u in User.objects.filter(
            username__in=[row.get("username") for row in saved if isinstance(row, dict)], is_active=True
        )
    }
    out = []
    for row in saved:
        user = users.get(row.get("username")) if isinstance(row, dict) else None
        if user is not None and user.check_password(str(row.get("password", ""))):
            out.append((user.username, str(row["password"]), str(row.get("role", ""))))
    return out
