"""Annotations: submit, skip, change one's own; and the reads of the item
record and the adjudication queue for leads.

An annotation is one annotator's judgement of an item in a round: one vote
per task (MSED 3.3: desire, sentiment, emotion), the order in which they
inferred the tasks, the time spent and the suggestions they were shown.
Submitting needs a live claim from the queue (annotator.services.queue) and
converts it into a vote in the same transaction, which also updates the
item's counters and majority gold.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from .. import loop_orm, sql
from ..errors import DomainError, PermissionDenied
from ..models import Annotation, AnnotationEdit, Claim, Gold, Item, Label, Membership, Project, Skip, Task, Vote
from . import queue
from .gold import recompute_gold

Round = Annotation.Round
MAX_DURATION_MS = 86_400_000  # Annotation's check constraint: below a day
# An annotation of an earlier round is frozen once a later round of the same
# item is done: a text-only label must reflect the text alone.
LATER_ROUNDS = {Round.TEXT: [Round.IMAGE, Round.MULTIMODAL], Round.IMAGE: [Round.MULTIMODAL]}


@dataclass(frozen=True)
class Schema:
    tasks: list[Task]  # in schema order
    labels: dict[str, dict[str, Label]]  # task key -> label key -> label, in order


@dataclass(frozen=True)
class SubmitResult:
    annotation: Annotation
    created: bool  # False when a retry returned the first annotation
    item_complete: bool  # the item has its votes_per_item votes in this round


def load_schema(project: Project) -> Schema:
    """The project's tasks and labels (one query, then cached in the process
    under the project's schema token, which every schema change replaces).

    The instances are shared between requests: read them, never change them."""
    key = (project.pk, project.schema_token)
    schema = _SCHEMAS.get(key)
    if schema is None:
        tasks: dict[int, Task] = {}
        labels: dict[str, dict[str, Label]] = {}
        rows = (
            Label.objects.filter(project=project)
            .select_related("task")
            .order_by("task__position", "task_id", "position", "id")
        )
        for label in rows:
            tasks.setdefault(label.task_id, label.task)
            labels.setdefault(label.task.key, {})[label.key] = label
        schema = Schema(tasks=list(tasks.values()), labels=labels)
        if len(_SCHEMAS) >= 256:
            _SCHEMAS.clear()
        _SCHEMAS[key] = schema
    return schema


_SCHEMAS: dict[tuple[int, object], Schema] = {}


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def validate_labels(schema: Schema, labels) -> dict[str, Label]:
    """{task key: label key} -> {task key: Label}; every required task answered."""
    if not isinstance(labels, dict):
        raise DomainError(
            'Send the labels as an object of task to label, e.g. {"sentiment": "positive"}.', field="labels"
        )
    task_keys = [t.key for t in schema.tasks]
    for key in labels:
        if key not in schema.labels:
            raise DomainError(
                f"There is no task {key!r} in this project; its tasks are {_and(task_keys)}.", field="labels"
            )
    chosen: dict[str, Label] = {}
    for task in schema.tasks:
        value = labels.get(task.key)
        if value in (None, ""):
            continue
        label = schema.labels[task.key].get(str(value))
        if label is None:
            options = _and(list(schema.labels[task.key]))
            raise DomainError(f"{value!r} is not a label of {task.name}; choose one of {options}.", field="labels")
        chosen[task.key] = label
    missing = [t.name for t in schema.tasks if t.required and t.key not in chosen]
    if missing:
        raise DomainError(f"Choose a label for {_and(missing)} before submitting.", field="labels")
    if not chosen:
        raise DomainError("Choose at least one label before submitting.", field="labels")
    return chosen


def validate_inference_order(schema: Schema, chosen: dict[str, Label], order, *, required: bool) -> list[str]:
    """The order in which the annotator inferred the tasks (MSED 3.3): each
    labelled task exactly once. Required when the project asks for it."""
    if order in (None, ""):
        order = []
    if not isinstance(order, (list, tuple)):
        raise DomainError("Send the inference order as a list of task keys.", field="inference_order")
    order = [str(k) for k in order]
    expected = [t.key for t in schema.tasks if t.key in chosen]
    if not order:
        if required:
            raise DomainError(
                f"Put the tasks in the order you inferred them ({' → '.join(expected)} or another order) before submitting.",
                field="inference_order",
            )
        return []
    if sorted(order) != sorted(expected):
        raise DomainError(
            f"The inference order must name each task you labelled exactly once ({_and(expected)}); got {' → '.join(order)}.",
            field="inference_order",
        )
    return order


def _clean_duration(duration_ms) -> int | None:
    if duration_ms in (None, ""):
        return None
    try:
        value = int(duration_ms)
    except (TypeError, ValueError) as exc:
        raise DomainError("The time spent must be a whole number of milliseconds.", field="duration_ms") from exc
    if value < 0:
        raise DomainError("The time spent cannot be negative.", field="duration_ms")
    # A tab left open for days still saves the labels; the time is capped.
    return min(value, MAX_DURATION_MS)


def _clean_key(client_key) -> uuid.UUID | None:
    if client_key in (None, ""):
        return None
    try:
        return client_key if isinstance(client_key, uuid.UUID) else uuid.UUID(str(client_key))
    except ValueError as exc:
        raise DomainError("The submission key must be a UUID generated by the page.", field="client_key") from exc


def _require_member(user, project: Project) -> None:
    queue._require_member(user, project)


def _suggestion_outcome(project: Project, item: Item, round_: str, run_id, chosen: dict[str, Label]):
    """(run, {task key: accepted}) for the suggestions the page showed.

    Accepted means the submitted label equals the suggested one, computed
    here rather than trusted from the page."""
    from inference.models import PredictionRun, Suggestion

    if run_id in (None, ""):
        return None, {}
    if round_ != Round.MULTIMODAL:
        raise DomainError(
            "Suggestions are not shown in unimodal rounds; submit without a suggestion run.", field="suggestion_run"
        )
    run = PredictionRun.objects.filter(pk=run_id, project=project).first()
    if run is None:
        raise DomainError("That suggestion run does not belong to this project.", field="suggestion_run")
    suggested = dict(Suggestion.objects.filter(run=run, item=item).values_list("task_id", "label_id"))
    accepted = {
        key: label.pk == suggested[label.task_id] for key, label in chosen.items() if label.task_id in suggested
    }
    return run, accepted


# --------------------------------------------------------------------------
# Writes


def submit_annotation(
    *,
    annotator,
    item: Item,
    labels: dict[str, str],
    round_: str = Round.MULTIMODAL,
    inference_order: list[str] | None = None,
    duration_ms: int | None = None,
    client_key: uuid.UUID | str | None = None,
    suggestion_run_id: int | None = None,
) -> SubmitResult:
    """Save the annotator's labels for a claimed item and end the claim.

    Idempotent: a retry with the same `client_key` returns the first
    annotation (created=False) and writes nothing. Refuses an item the
    annotator holds no claim on (expired and swept, or never claimed) and an
    item that already has its votes. Updates the item's counters and, for
    the multimodal round, its majority gold in the same transaction.

    The common case (a live claim) is one transaction of six statements;
    anything else (a retry, a lost claim, a reused key) rolls it back and is
    worked out from a fresh read (_explain_refusal).
    """
    project = item.project
    _require_member(annotator, project)
    key = _clean_key(client_key)
    if round_ not in project.rounds:
        rounds = _and([Round(r).label.lower() for r in project.rounds])
        raise DomainError(f"This project has no {round_!r} round; its rounds are: {rounds}.", field="round")
    # Checked before taking the item's lock, to hold it for less time.
    schema = load_schema(project)
    chosen = validate_labels(schema, labels)
    order = validate_inference_order(schema, chosen, inference_order, required=project.ask_inference_order)
    duration = _clean_duration(duration_ms)
    run, accepted = _suggestion_outcome(project, item, round_, suggestion_run_id, chosen)
    try:
        with transaction.atomic():
            return _save_claimed(
                annotator=annotator,
                item=item,
                project=project,
                round_=round_,
                chosen=chosen,
                order=order,
                duration=duration,
                key=key,
                run=run,
                accepted=accepted,
            )
    except (_NoClaim, IntegrityError) as refusal:
        return _explain_refusal(
            annotator=annotator, item=item, project=project, round_=round_, key=key, refusal=refusal
        )


class _NoClaim(Exception):
    """The annotator holds no claim on the item in this round."""


def _save_claimed(*, annotator, item, project, round_, chosen, order, duration, key, run, accepted) -> SubmitResult:
    vote_field, claim_field = queue.ROUND_COUNTERS[round_]
    now = timezone.now()
    queue._renew(annotator=annotator, project=project, now=now)  # locks this annotator's claims first (queue: Locks)
    # Race: a retry racing its own first attempt, or a skip of the same item
    # from another tab. Deleting the claim row decides: one of them finds it.
    if not sql.hand_written():
        deleted = loop_orm.delete_claim(item_id=item.pk, annotator_id=annotator.pk, round_=round_)
    else:
        deleted = sql.execute(
            f"DELETE FROM {Claim._meta.db_table} WHERE item_id = %s AND annotator_id = %s AND round = %s",
            [item.pk, annotator.pk, round_],
        )
    if deleted != 1:
        raise _NoClaim
    annotation = Annotation(
        item=item,
        annotator=annotator,
        round=round_,
        inference_order=order,
        duration_ms=duration,
        suggestion_run=run,
        suggestion_accepted=accepted,
        client_key=key,
        created_at=now,
        updated_at=now,
    )
    if not sql.hand_written():
        votes = [
            Vote(item=item, annotator=annotator, round=round_, task_id=label.task_id, label=label)
            for label in chosen.values()
        ]
        loop_orm.insert_annotation(annotation, votes)
    else:
        _insert_annotation(annotation, chosen)
    # Race: other annotators submitting the same item. Its row lock, taken
    # here and held to commit, serialises their counters and gold: gold is
    # read below after every earlier submit of the item has committed (a new
    # statement sees them). Taken last, it is held for two statements only;
    # everyone labelling an item at once (finish-first) queues on it. The
    # claim converted above was counted in claim_count, which therefore
    # cannot go below zero (a check constraint says so).
    if not sql.hand_written():
        votes_now = loop_orm.count_vote(item.pk, (vote_field, claim_field))
    else:
        votes_now = sql.fetchone(
            f"UPDATE {Item._meta.db_table} SET {vote_field} = {vote_field} + 1, {claim_field} = {claim_field} - 1"
            f" WHERE id = %s RETURNING {vote_field}",
            [item.pk],
        )[0]
    if round_ == Round.MULTIMODAL:
        recompute_gold(item_ids=[item.pk], project=project, votes_removed=False)
    return SubmitResult(annotation=annotation, created=True, item_complete=votes_now >= project.votes_per_item)


def _insert_annotation(annotation: Annotation, chosen: dict[str, Label]) -> None:
    """The annotation and its votes, in two statements."""
    values = [sql.prep(annotation, name) for name in _ANNOTATION_COLUMNS]
    annotation.pk = sql.fetchone(
        f"INSERT INTO {Annotation._meta.db_table} ({', '.join(_ANNOTATION_COLUMNS)})"
        f" VALUES ({', '.join(['%s'] * len(values))}) RETURNING id",
        values,
    )[0]
    annotation._state.adding, annotation._state.db = False, connection.alias
    item_id, annotator_id, round_ = annotation.item_id, annotation.annotator_id, annotation.round
    votes = [(annotation.pk, item_id, annotator_id, round_, label.task_id, label.pk) for label in chosen.values()]
    sql.execute(
        f"INSERT INTO {Vote._meta.db_table} (annotation_id, item_id, annotator_id, round, task_id, label_id) VALUES "
        + ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(votes)),
        [value for vote in votes for value in vote],
    )


_ANNOTATION_COLUMNS = [
    "item_id",
    "annotator_id",
    "round",
    "inference_order",
    "duration_ms",
    "suggestion_run_id",
    "suggestion_accepted",
    "client_key",
    "created_at",
    "updated_at",
]


def _explain_refusal(*, annotator, item, project, round_, key, refusal) -> SubmitResult:
    """Why a submit found no claim to convert (or hit a unique constraint),
    read after its transaction rolled back: a retry of a saved submit gets
    its first annotation back; anything else a message to act on."""
    vote_field = queue.ROUND_COUNTERS[round_][0]
    n = project.votes_per_item
    if key is not None:
        first = Annotation.objects.filter(client_key=key).first()
        if first is not None:
            if first.annotator_id != annotator.pk or first.item_id != item.pk:
                raise DomainError(
                    "This submission key was already used for another annotation; send a new key with each annotation."
                )
            first_vote_field = queue.ROUND_COUNTERS[first.round][0]
            votes_now = Item.objects.filter(pk=item.pk).values_list(first_vote_field, flat=True).first() or 0
            return SubmitResult(annotation=first, created=False, item_complete=votes_now >= n)
    if Annotation.objects.filter(item=item, annotator=annotator, round=round_).exists():
        raise DomainError(
            "You have already labelled this item in this round; change your labels from your history instead."
        )
    if isinstance(refusal, IntegrityError):
        raise refusal  # not a rule the annotator broke: let it surface
    # A held claim reserved its slot, so only an unclaimed submit can find the item full.
    votes_now = Item.objects.filter(pk=item.pk).values_list(vote_field, flat=True).first() or 0
    if votes_now >= n:
        raise DomainError(f"This item already has its {n} votes, so your labels were not saved. Take the next item.")
    raise DomainError(
        f"This item is not assigned to you any more (a claim expires after {project.claim_minutes} minutes "
        "without activity), so your labels were not saved. Take the next item."
    )


@transaction.atomic
def skip_item(*, annotator, item: Item, round_: str = Round.MULTIMODAL, reason: str = "") -> Skip:
    """Pass on an item: its claim is released and the queue will not offer it
    to this annotator again while it has other items for them."""
    project = item.project
    _require_member(annotator, project)
    if round_ not in project.rounds:
        raise DomainError(f"This project has no {round_!r} round.", field="round")
    queue._renew(annotator=annotator, project=project, now=timezone.now())  # claims first (queue: Locks)
    queue._delete_claim(item_id=item.pk, annotator=annotator, round_=round_)
    skip, _ = Skip.objects.update_or_create(
        item=item,
        annotator=annotator,
        round=round_,
        defaults={"project": project, "reason": (reason or "").strip()[:500], "at": timezone.now()},
    )
    return skip


def _snapshot(annotation: Annotation) -> dict:
    votes = annotation.votes.select_related("task", "label").order_by("task__position", "task_id")
    return {
        "labels": {v.task.key: v.label.key for v in votes},
        "inference_order": list(annotation.inference_order or []),
    }


@transaction.atomic
def edit_annotation(
    *, annotation: Annotation, editor, labels: dict[str, str], inference_order: list[str] | None = None
) -> Annotation:
    """Change one's own annotation; the change is kept in AnnotationEdit
    (old and new labels and order). Without `inference_order` the recorded
    order is kept. A text- or image-round annotation is frozen once the
    annotator has done a later round of the item."""
    if editor.pk != annotation.annotator_id:
        raise PermissionDenied("You can only change your own annotations.")
    item = Item.objects.select_for_update().select_related("project").get(pk=annotation.item_id)
    project = item.project
    _require_member(editor, project)
    annotation = Annotation.objects.get(pk=annotation.pk)
    later = LATER_ROUNDS.get(annotation.round, [])
    if later and Annotation.objects.filter(item=item, annotator=editor, round__in=later).exists():
        raise DomainError(
            f"You have since labelled this item in a later round, so its {annotation.get_round_display().lower()} "
            "labels can no longer change: they must reflect that modality alone."
        )
    schema = load_schema(project)
    chosen = validate_labels(schema, labels)
    old = _snapshot(annotation)
    if inference_order is None:
        inference_order = old["inference_order"]
    order = validate_inference_order(
        schema, chosen, inference_order, required=project.ask_inference_order and bool(old["inference_order"])
    )
    new = {"labels": {key: label.key for key, label in chosen.items()}, "inference_order": order}
    if new == old:
        return annotation
    votes = {v.task_id: v for v in annotation.votes.all()}
    changed = []
    for key, label in chosen.items():
        vote = votes.pop(label.task_id, None)
        if vote is None:
            Vote.objects.create(
                annotation=annotation,
                item=item,
                annotator=editor,
                round=annotation.round,
                task_id=label.task_id,
                label=label,
            )
        elif vote.label_id != label.pk:
            vote.label = label
            changed.append(vote)
    Vote.objects.bulk_update(changed, ["label"])
    Vote.objects.filter(pk__in=[v.pk for v in votes.values()]).delete()  # optional tasks cleared
    annotation.inference_order = order
    annotation.save(update_fields=["inference_order", "updated_at"])
    AnnotationEdit.objects.create(annotation=annotation, editor=editor, old=old, new=new)
    if annotation.round == Round.MULTIMODAL:
        recompute_gold(item_ids=[item.pk], project=project)
    return annotation


# --------------------------------------------------------------------------
# Reads for annotators: their own annotations only


def own_annotations(user, project: Project):
    return Annotation.objects.filter(item__project=project, annotator=user)


def get_own_annotation(user, project: Project, annotation_id: int) -> Annotation | None:
    return own_annotations(user, project).select_related("item").filter(pk=annotation_id).first()


def get_previous_annotation(user, project: Project, *, before_id: int | None = None) -> Annotation | None:
    """The annotator's annotation made just before `before_id` (their latest without it)."""
    qs = own_annotations(user, project).select_related("item")
    if before_id:
        qs = qs.filter(pk__lt=before_id)
    return qs.order_by("-pk").first()


def get_next_annotation(user, project: Project, *, after_id: int) -> Annotation | None:
    return own_annotations(user, project).select_related("item").filter(pk__gt=after_id).order_by("pk").first()


def get_annotation_view(annotation: Annotation, *, project: Project) -> dict:
    """An own annotation for the labelling page's edit mode: the item as its
    round shows it, and the labels and order to change."""
    snapshot = _snapshot(annotation)
    own = Annotation.objects.filter(item__project=project, annotator_id=annotation.annotator_id)
    later = LATER_ROUNDS.get(annotation.round, [])
    frozen = (
        bool(later)
        and Annotation.objects.filter(
            item_id=annotation.item_id, annotator_id=annotation.annotator_id, round__in=later
        ).exists()
    )
    return {
        "item": queue.get_item_view(annotation.item, annotation.round, project=project),
        "round": annotation.round,
        "annotation": {
            "id": annotation.pk,
            "labels": snapshot["labels"],
            "inference_order": snapshot["inference_order"],
            "duration_ms": annotation.duration_ms,
            "created_at": annotation.created_at,
            "updated_at": annotation.updated_at,
            "editable": not frozen,
            "edits": annotation.edits.count(),
            # Whether Back and Forward have somewhere to go (the page asks only then).
            "has_earlier": own.filter(pk__lt=annotation.pk).exists(),
            "has_later": own.filter(pk__gt=annotation.pk).exists(),
        },
    }


def list_own_annotations_page(user, project: Project, *, before: str | None, limit: int = 50) -> dict:
    """The annotator's annotations, newest first, keyset-paginated by id."""
    qs = own_annotations(user, project).select_related("item").prefetch_related("votes__task", "votes__label")
    try:
        before_id = int(before) if before else None
    except ValueError:
        before_id = None
    if before_id:
        qs = qs.filter(pk__lt=before_id)
    rows = list(qs.order_by("-pk")[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    for a in rows:
        a.labels = {v.task.key: v.label.name for v in sorted(a.votes.all(), key=lambda v: (v.task.position, v.task_id))}
    return {"annotations": rows, "next_before": rows[-1].pk if has_more and rows else None, "before": before_id}


# --------------------------------------------------------------------------
# Reads for leads


def _disputed_gold(project: Project):
    """Gold rows still disputed: a tie, or support below the threshold, not adjudicated."""
    return (
        Gold.objects.exclude(source=Gold.Source.ADJUDICATED)
        .filter(Q(is_tie=True) | Q(votes_for__lt=F("votes_total") * project.dispute_threshold))
        .filter(votes_total__gt=0)
    )


def is_disputed(gold: Gold, project: Project) -> bool:
    if gold.source == Gold.Source.ADJUDICATED or not gold.votes_total:
        return False
    return gold.is_tie or gold.votes_for < gold.votes_total * project.dispute_threshold


def list_disputed_items(
    project: Project, *, after: str | int | None = None, limit: int = 50, complete_only: bool = False
) -> dict:
    """Items with at least one disputed gold label, in id order after `after`
    (keyset), each with its gold and multimodal vote counts per task."""
    try:
        after_id = int(after) if after else 0
    except (TypeError, ValueError):
        after_id = 0
    qs = Item.objects.filter(project=project, pk__gt=after_id).filter(
        Exists(_disputed_gold(project).filter(item=OuterRef("pk")))
    )
    if complete_only:
        qs = qs.filter(vote_count__gte=project.votes_per_item)
    rows = list(qs.select_related("image").order_by("pk")[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    gold: dict[int, list[Gold]] = defaultdict(list)
    for g in Gold.objects.filter(item__in=rows).select_related("task", "label").order_by("task__position", "task_id"):
        g.disputed = is_disputed(g, project)
        gold[g.item_id].append(g)
    ids = [i.pk for i in rows]
    counts, by_label = _vote_counts(ids), _vote_counts_by_label(ids)
    labels = _labels_by_task(project)
    annotations: dict[int, list[dict]] = defaultdict(list)
    for a in (
        Annotation.objects.filter(item_id__in=ids, round=Round.MULTIMODAL)
        .select_related("annotator")
        .order_by("created_at", "id")
    ):
        annotations[a.item_id].append({"annotator": a.annotator.username, "inference_order": a.inference_order})
    for item in rows:
        item.gold_rows = gold.get(item.pk, [])
        item.orders = annotations.get(item.pk, [])
        for g in item.gold_rows:
            g.distribution = counts.get((item.pk, g.task_id), [])
            g.choices = label_choices(labels.get(g.task_id, []), by_label.get((item.pk, g.task_id), Counter()))
    return {"items": rows, "next_after": rows[-1].pk if has_more and rows else None, "after": after_id}


def get_next_disputed_item(project: Project, *, from_id: int, complete_only: bool = False) -> Item | None:
    """The first disputed item at or after `from_id` (the same item while it
    still has a disputed task), else the first one from the start; None when
    nothing is left to adjudicate."""
    qs = (
        Item.objects.filter(project=project)
        .filter(Exists(_disputed_gold(project).filter(item=OuterRef("pk"))))
        .order_by("pk")
    )
    if complete_only:
        qs = qs.filter(vote_count__gte=project.votes_per_item)
    return qs.filter(pk__gte=from_id).first() or qs.first()


def _labels_by_task(project: Project) -> dict[int, list[Label]]:
    """task id -> its labels in schema order."""
    labels: dict[int, list[Label]] = defaultdict(list)
    for label in Label.objects.filter(task__project=project).order_by("task_id", "position", "id"):
        labels[label.task_id].append(label)
    return labels


def label_choices(labels: list[Label], counts: Counter) -> list[tuple[Label, int]]:
    """[(label, multimodal votes for it)] in schema order: every label a lead
    may choose, each with the votes it got (zero included)."""
    return [(label, counts.get(label.pk, 0)) for label in labels]


def _vote_counts_by_label(item_ids: list[int]) -> dict[tuple[int, int], Counter]:
    """(item, task) -> Counter(label id -> multimodal votes)."""
    counter: dict[tuple[int, int], Counter] = defaultdict(Counter)
    for item_id, task_id, label_id in Vote.objects.filter(item_id__in=item_ids, round=Round.MULTIMODAL).values_list(
        "item_id", "task_id", "label_id"
    ):
        counter[(item_id, task_id)][label_id] += 1
    return counter


def _vote_counts(item_ids: list[int]) -> dict[tuple[int, int], list[tuple[str, int]]]:
    """(item, task) -> [(label name, multimodal votes)], most voted first."""
    counter: dict[tuple[int, int], Counter] = defaultdict(Counter)
    rows = Vote.objects.filter(item_id__in=item_ids, round=Round.MULTIMODAL).values_list(
        "item_id", "task_id", "label__name"
    )
    for item_id, task_id, name in rows:
        counter[(item_id, task_id)][name] += 1
    return {key: c.most_common() for key, c in counter.items()}


def get_item_record(item: Item, *, project: Project) -> dict:
    """Everything a lead needs to judge an item: every annotation (who, round,
    labels, order, time, suggestions kept), gold with support, the model's
    suggestions, the edit history, skips and live claims."""
    from inference.models import Suggestion

    pseudonyms = dict(Membership.objects.filter(project=project).values_list("user_id", "pseudonym"))
    annotations = list(
        item.annotations.select_related("annotator")
        .prefetch_related("votes__task", "votes__label")
        .order_by("created_at", "id")
    )
    round_order = {r: i for i, r in enumerate(project.rounds)}
    annotations.sort(key=lambda a: (round_order.get(a.round, 9), a.created_at, a.pk))
    edits = list(
        AnnotationEdit.objects.filter(annotation__item=item)
        .select_related("editor", "annotation__annotator")
        .order_by("at", "id")
    )
    edit_counts = Counter(e.annotation_id for e in edits)
    gold = list(item.gold.select_related("task", "label", "adjudicated_by").order_by("task__position", "task_id"))
    counts, by_label = _vote_counts([item.pk]), _vote_counts_by_label([item.pk])
    labels = _labels_by_task(project)
    for g in gold:
        g.disputed = is_disputed(g, project)
        g.distribution = counts.get((item.pk, g.task_id), [])
    suggestions = list(
        Suggestion.objects.filter(item=item)
        .select_related("run", "task", "label")
        .order_by("-run_id", "task__position")
    )
    # Pages show names (the schema's task names, "Text only"), not raw keys.
    task_names = dict(project.tasks.values_list("key", "name"))
    return {
        "item": item,
        "counts": {
            r: {"votes": getattr(item, v), "claims": getattr(item, c)}
            for r, (v, c) in queue.ROUND_COUNTERS.items()
            if r in project.rounds
        },
        "annotations": [
            {
                "id": a.pk,
                "annotator": a.annotator.username,
                "pseudonym": pseudonyms.get(a.annotator_id, ""),
                "round": a.round,
                "labels": {
                    v.task.key: v.label.key for v in sorted(a.votes.all(), key=lambda v: (v.task.position, v.task_id))
                },
                "label_by_task": {v.task.key: v.label.name for v in a.votes.all()},
                "round_name": Round(a.round).label if a.round in Round.values else a.round,
                "inference_order_names": [task_names.get(k, k) for k in (a.inference_order or [])],
                "suggestions_kept": [(task_names.get(k, k), kept) for k, kept in (a.suggestion_accepted or {}).items()],
                "label_names": [
                    v.label.name for v in sorted(a.votes.all(), key=lambda v: (v.task.position, v.task_id))
                ],
                "inference_order": a.inference_order,
                "duration_ms": a.duration_ms,
                "suggestion_run": a.suggestion_run_id,
                "suggestion_accepted": a.suggestion_accepted,
                "edits": edit_counts.get(a.pk, 0),
                "created_at": a.created_at,
                "updated_at": a.updated_at,
            }
            for a in annotations
        ],
        "gold": gold,
        # task id -> [(label, multimodal votes)] for every task, gold or not.
        "choices": {t: label_choices(ls, by_label.get((item.pk, t), Counter())) for t, ls in labels.items()},
        "suggestions": suggestions,
        "edits": edits,
        "skips": list(item.skips.select_related("annotator").order_by("at")),
        "claims": list(item.claims.select_related("annotator").order_by("created_at")),
    }
