"""Projects, their label schema and their members."""

from __future__ import annotations

import re
import secrets
import uuid

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from .. import gold_jobs
from ..errors import DomainError
from ..models import Label, Membership, Project, SecurityEvent, Task, Vote
from ..schemas import SCHEMA_TEMPLATES, template_tasks
from ..selectors import get_project_schema
from .security import record_security_event, require_password_change

User = get_user_model()

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
# Keys the labelling page (static/js/annotate.js) keeps for itself: space (enlarge), [ ] (reorder),
# < > and their unshifted , . (back, forward), ? (guidelines), / (skip).
RESERVED_HOTKEYS = set(" \n\t[]<>?/,.")


def _unique_slug(name: str) -> str:
    base = slugify(name)[:60] or "project"
    slug, n = base, 2
    while Project.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def validate_schema(tasks: list[dict]) -> list[dict]:
    """Check a schema in its wire shape (see annotator.schemas) and return it normalised.

    Raises DomainError naming the first problem: empty or duplicate keys,
    a task with fewer than two labels, a hotkey used twice in the project.
    """
    if not isinstance(tasks, list):
        raise DomainError("The schema must be a list of tasks.")
    seen_tasks: set[str] = set()
    seen_hotkeys: dict[str, str] = {}
    clean: list[dict] = []
    for t_index, task in enumerate(tasks, start=1):
        if not isinstance(task, dict):
            raise DomainError(f"Task {t_index} must be an object with key, name and labels.")
        key = str(task.get("key", "")).strip().lower()
        if not KEY_RE.match(key):
            raise DomainError(f"Task {t_index}: the key {key!r} must be 1-40 lowercase letters, digits, '-' or '_'.")
        if key in seen_tasks:
            raise DomainError(f"Task key {key!r} is used twice; task keys must be unique.")
        seen_tasks.add(key)
        labels = task.get("labels") or []
        if not isinstance(labels, list) or len(labels) < 2:
            raise DomainError(f"Task {key!r} needs at least two labels.")
        seen_labels: set[str] = set()
        clean_labels = []
        for l_index, label in enumerate(labels, start=1):
            if not isinstance(label, dict):
                raise DomainError(f"Task {key!r}, label {l_index} must be an object with key and name.")
            lkey = str(label.get("key", "")).strip().lower()
            if not KEY_RE.match(lkey):
                raise DomainError(
                    f"Task {key!r}: the label key {lkey!r} must be 1-40 lowercase letters, digits, '-' or '_'."
                )
            if lkey in seen_labels:
                raise DomainError(f"Task {key!r}: the label key {lkey!r} is used twice.")
            seen_labels.add(lkey)
            hotkey = str(label.get("hotkey") or "")
            if len(hotkey) > 1:
                raise DomainError(f"Label {key}/{lkey}: a hotkey is a single character, got {hotkey!r}.")
            hotkey = hotkey.lower()
            if hotkey and hotkey in RESERVED_HOTKEYS:
                raise DomainError(f"Label {key}/{lkey}: the hotkey {hotkey!r} is reserved by the labelling page.")
            if hotkey and hotkey in seen_hotkeys:
                raise DomainError(
                    f"The hotkey {hotkey!r} is used by both {seen_hotkeys[hotkey]} and {key}/{lkey}; hotkeys must be unique in a project."
                )
            if hotkey:
                seen_hotkeys[hotkey] = f"{key}/{lkey}"
            clean_labels.append(
                {
                    "key": lkey,
                    "name": str(label.get("name") or lkey).strip()[:100],
                    "description": str(label.get("description") or "").strip(),
                    "hotkey": hotkey,
                }
            )
        clean.append(
            {
                "key": key,
                "name": str(task.get("name") or key).strip()[:100],
                "required": bool(task.get("required", True)),
                "labels": clean_labels,
            }
        )
    return clean


def _check_additive(old: list[dict], new: list[dict]) -> None:
    """Once votes exist, tasks and labels may only be added (or renamed,
    described, re-keyed to new hotkeys): removing or re-ordering would change
    what existing votes mean."""
    new_tasks = {t["key"]: t for t in new}
    for _position, task in enumerate(old):
        if task["key"] not in new_tasks:
            raise DomainError(
                f"The task {task['key']!r} already has votes and cannot be removed; only additions are allowed once annotation has started."
            )
        new_label_keys = [l["key"] for l in new_tasks[task["key"]]["labels"]]
        old_label_keys = [l["key"] for l in task["labels"]]
        missing = [k for k in old_label_keys if k not in new_label_keys]
        if missing:
            raise DomainError(
                f"The label(s) {', '.join(missing)} of task {task['key']!r} cannot be removed once votes exist; add new labels instead."
            )
        if new_label_keys[: len(old_label_keys)] != old_label_keys:
            raise DomainError(
                f"The labels of task {task['key']!r} cannot be re-ordered once votes exist (exports and models rely on their order); add new labels at the end."
            )
    if [t["key"] for t in new][: len(old)] != [t["key"] for t in old]:
        raise DomainError("Tasks cannot be re-ordered once votes exist; add new tasks at the end.")
    for task in new[len(old) :]:
        if task["required"]:
            raise DomainError(
                f"The new task {task['key']!r} must be optional: items already annotated have no vote for it."
            )


@transaction.atomic
def save_schema(*, project: Project, tasks: list[dict]) -> None:
    """Replace the project's schema with `tasks` (validated).

    Once any vote exists only additive changes are accepted (see _check_additive).
    Locks the project row so two leads editing at once cannot interleave.
    """
    tasks = validate_schema(tasks)
    # The locked row carries the current schema token: the schema read below is
    # the one no other lead can change until we commit.
    locked = Project.objects.select_for_update().get(pk=project.pk)
    has_votes = Vote.objects.filter(task__project=project).exists()
    if has_votes:
        _check_additive(get_project_schema(locked).as_dicts(), tasks)
    existing = {t.key: t for t in project.tasks.all()}
    keep_keys = {t["key"] for t in tasks}
    # Without votes nothing refers to a removed task or label: delete them.
    project.tasks.exclude(key__in=keep_keys).delete()
    # Free every hotkey first so swapping keys between labels does not trip
    # the unique constraint half-way.
    Label.objects.filter(project=project).update(hotkey="")
    for t_pos, t in enumerate(tasks):
        task = existing.get(t["key"]) or Task(project=project, key=t["key"])
        task.name, task.required, task.position = t["name"], t["required"], t_pos
        task.save()
        old_labels = {l.key: l for l in task.labels.all()}
        task.labels.exclude(key__in=[l["key"] for l in t["labels"]]).delete()
        for l_pos, l in enumerate(t["labels"]):
            label = old_labels.get(l["key"]) or Label(task=task, project=project, key=l["key"])
            label.name, label.description, label.hotkey, label.position = (
                l["name"],
                l["description"],
                l["hotkey"],
                l_pos,
            )
            label.save()
    project.schema_token = uuid.uuid4()
    Project.objects.filter(pk=project.pk).update(schema_token=project.schema_token)


@transaction.atomic
def create_project(
    *,
    name: str,
    created_by=None,
    template: str = "msed",
    tasks: list[dict] | None = None,
    description: str = "",
    guidelines: str = "",
    votes_per_item: int = 5,
    ask_inference_order: bool = True,
    unimodal_rounds: bool = False,
    show_suggestions: bool = False,
    queue_order: str = Project.QueueOrder.FINISH_FIRST,
    slug: str | None = None,
) -> Project:
    """Create a project from a schema template (msed | sentiment | custom) or
    explicit tasks; the creator becomes its lead."""
    name = (name or "").strip()
    if not name:
        raise DomainError("A project needs a name.", field="name")
    if template not in SCHEMA_TEMPLATES:
        raise DomainError(
            f"Unknown template {template!r}; choose one of {', '.join(SCHEMA_TEMPLATES)}.", field="template"
        )
    if not 1 <= int(votes_per_item) <= 50:
        raise DomainError("Votes per item must be between 1 and 50.", field="votes_per_item")
    if queue_order not in Project.QueueOrder.values:
        raise DomainError(f"Unknown queue order {queue_order!r}.", field="queue_order")
    if slug:
        slug = slugify(slug)
        if not slug:
            raise DomainError("The slug must contain letters or digits.", field="slug")
        if Project.objects.filter(slug=slug).exists():
            raise DomainError(f"A project with the slug {slug!r} exists already.", field="slug")
    project = Project.objects.create(
        name=name[:200],
        slug=slug or _unique_slug(name),
        description=description,
        guidelines=guidelines,
        votes_per_item=votes_per_item,
        ask_inference_order=ask_inference_order,
        unimodal_rounds=unimodal_rounds,
        show_suggestions=show_suggestions,
        queue_order=queue_order,
        created_by=created_by,
    )
    save_schema(project=project, tasks=tasks if tasks is not None else template_tasks(template))
    if created_by is not None:
        add_member(project=project, user=created_by, role=Membership.Role.LEAD, actor=created_by)
    return project


def _next_pseudonym(project: Project, role: str) -> str:
    """annotator-01 for the first annotator (the lead who created the project
    is lead-01, not annotator-01); one more than the highest number in use,
    so a removed member's number is never given to someone else."""
    prefix = "lead" if role == Membership.Role.LEAD else "annotator"
    numbers = [
        int(p.rsplit("-", 1)[1])
        for p in project.memberships.filter(pseudonym__startswith=f"{prefix}-").values_list("pseudonym", flat=True)
        if p.rsplit("-", 1)[1].isdigit()
    ]
    return f"{prefix}-{max(numbers, default=0) + 1:02d}"


@transaction.atomic
def add_member(
    *, project: Project, user, role: str = Membership.Role.ANNOTATOR, actor=None, request=None
) -> Membership:
    """Add `user` to the project with `role`, or change the role of a member.
    `actor` (who did it) goes into the security record."""
    if role not in Membership.Role.values:
        raise DomainError(f"Unknown role {role!r}; choose lead or annotator.", field="role")
    membership = Membership.objects.select_for_update().filter(project=project, user=user).first()
    if membership:
        if membership.role == Membership.Role.LEAD and role != Membership.Role.LEAD:
            _require_another_lead(project=project, membership=membership)
        old_role, membership.role = membership.role, role
        membership.save(update_fields=["role"])
        if old_role != role:
            record_security_event(
                kind=SecurityEvent.Kind.ROLE_CHANGED,
                actor=actor,
                target=user,
                project=project,
                request=request,
                old_role=str(old_role),
                role=str(role),
            )
        return membership
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                project=project, user=user, role=role, pseudonym=_next_pseudonym(project, role)
            )
    except IntegrityError as exc:  # a concurrent add of the same user
        raise DomainError(f"{user} was just added to this project by someone else.") from exc
    record_security_event(
        kind=SecurityEvent.Kind.MEMBER_ADDED, actor=actor, target=user, project=project, request=request, role=str(role)
    )
    return membership


@transaction.atomic
def create_member_account(
    *, project: Project, username: str, email: str = "", role: str = Membership.Role.ANNOTATOR, actor=None, request=None
) -> tuple[object, str]:
    """Create a user with a one-time password and add them to the project.

    Returns (user, password); the password is shown once to the lead, who
    passes it on; the user should change it at first sign-in.
    """
    username = (username or "").strip()
    if not re.fullmatch(r"[\w.@+-]{1,150}", username):
        raise DomainError("A username is 1-150 letters, digits or @.+-_ characters.", field="username")
    if User.objects.filter(username__iexact=username).exists():
        raise DomainError(
            f"The username {username!r} is taken; add the existing user instead or choose another name.",
            field="username",
        )
    password = secrets.token_urlsafe(12)
    user = User.objects.create_user(username=username, email=email, password=password)
    require_password_change(user=user)  # the lead knows this password: its owner must choose their own
    record_security_event(
        kind=SecurityEvent.Kind.ACCOUNT_CREATED, actor=actor, target=user, project=project, request=request
    )
    add_member(project=project, user=user, role=role, actor=actor, request=request)
    return user, password


def _require_another_lead(*, project: Project, membership: Membership) -> None:
    """Refuse to demote or remove `membership` when it holds the project's last
    active lead. Race: two leads demoting each other at once would each see
    the other still lead; the project row lock serialises them."""
    Project.objects.select_for_update().filter(pk=project.pk).first()
    others = project.memberships.filter(role=Membership.Role.LEAD, user__is_active=True).exclude(pk=membership.pk)
    if not others.exists():
        raise DomainError("A project needs at least one lead; make someone else lead first.")


@transaction.atomic
def reset_member_password(*, project: Project, user, actor, request=None) -> str:
    """Give an annotator a new one-time password (they forgot theirs); returns
    it, to be shown once. They must choose their own at the next sign-in.

    A lead may reset only accounts that are nobody else's to manage: an
    annotator of this project, not staff, lead of no project, and member of
    no project `actor` does not lead."""
    membership = Membership.objects.filter(project=project, user=user).first()
    if membership is None:
        raise DomainError(f"{user} is not a member of this project.")
    if (
        membership.role != Membership.Role.ANNOTATOR
        or Membership.objects.filter(user=user, role=Membership.Role.LEAD).exists()
    ):
        raise DomainError("Only an annotator's password can be reset here; a lead changes their own.")
    if user.is_staff or user.is_superuser:
        raise DomainError("A staff account's password is reset by an administrator.")
    led = Membership.objects.filter(user=actor, role=Membership.Role.LEAD).values("project_id")
    if Membership.objects.filter(user=user).exclude(project_id__in=led).exists():
        raise DomainError(
            f"{user} is also a member of projects you do not lead; ask an administrator to reset the password."
        )
    password = secrets.token_urlsafe(12)
    user.set_password(password)
    user.save(update_fields=["password"])
    require_password_change(user=user)
    record_security_event(
        kind=SecurityEvent.Kind.PASSWORD_RESET, actor=actor, target=user, project=project, request=request
    )
    return password


@transaction.atomic
def remove_member(*, project: Project, user, actor=None, request=None) -> None:
    membership = Membership.objects.select_for_update().filter(project=project, user=user).first()
    if membership is None:
        raise DomainError(f"{user} is not a member of this project.")
    if membership.role == Membership.Role.LEAD:
        _require_another_lead(project=project, membership=membership)
    # Their votes stay: they are part of the project's record.
    membership.delete()
    record_security_event(
        kind=SecurityEvent.Kind.MEMBER_REMOVED,
        actor=actor,
        target=user,
        project=project,
        request=request,
        role=str(membership.role),
    )


# What a lead may change in a project's settings (the settings form shows exactly these).
SETTINGS_FIELDS = (
    "name",
    "description",
    "guidelines",
    "votes_per_item",
    "ask_inference_order",
    "unimodal_rounds",
    "show_suggestions",
    "suggestions_after_first_choice",
    "suggestion_share",
    "queue_order",
    "claim_minutes",
    "dispute_threshold",
    "control_every",
    "control_feedback",
    "gold_strategy",
    "reliability_threshold",
)


@transaction.atomic
def update_project_settings(*, project: Project, task_gold_strategies: dict | None = None, **changes) -> Project:
    """Change a project's settings (not its schema: see save_schema).

    task_gold_strategies: {task key: gold strategy, or "" for the project's}
    for the tasks whose strategy changes. A change of any gold strategy
    sends the reliability job (annotator/gold_jobs.py) after the commit."""
    allowed = set(SETTINGS_FIELDS)
    unknown = set(changes) - allowed
    if unknown:
        raise DomainError(f"These settings cannot be changed here: {', '.join(sorted(unknown))}.")
    if "gold_strategy" in changes and changes["gold_strategy"] not in Project.GoldStrategy.values:
        raise DomainError(f"Unknown gold strategy {changes['gold_strategy']!r}.", field="gold_strategy")
    if "reliability_threshold" in changes and not 0 <= float(changes["reliability_threshold"]) <= 1:
        raise DomainError("The reliability threshold is a share between 0 and 1.", field="reliability_threshold")
    strategy_changed = "gold_strategy" in changes and changes["gold_strategy"] != project.gold_strategy
    if task_gold_strategies:
        strategy_changed |= _set_task_gold_strategies(project, task_gold_strategies)
    if strategy_changed:
        gold_jobs.request_recompute(project)
    if "votes_per_item" in changes and not 1 <= int(changes["votes_per_item"]) <= 50:
        raise DomainError("Votes per item must be between 1 and 50.", field="votes_per_item")
    if "queue_order" in changes and changes["queue_order"] not in Project.QueueOrder.values:
        raise DomainError(f"Unknown queue order {changes['queue_order']!r}.", field="queue_order")
    if "dispute_threshold" in changes and not 0 <= float(changes["dispute_threshold"]) <= 1:
        raise DomainError("The dispute threshold is a share between 0 and 1.", field="dispute_threshold")
    if "suggestion_share" in changes and not 0 <= float(changes["suggestion_share"]) <= 1:
        raise DomainError(
            "The share of pairs shown suggestions is between 0 and 1 (e.g. 0.5 for half).", field="suggestion_share"
        )
    if "control_every" in changes and not 0 <= int(changes["control_every"]) <= 1000:
        raise DomainError("Mix a control item into every 1 to 1000 items, or 0 for none.", field="control_every")
    if "name" in changes and not str(changes["name"]).strip():
        raise DomainError("A project needs a name.", field="name")
    unimodal = changes.get("unimodal_rounds", project.unimodal_rounds)
    if unimodal and int(changes.get("control_every", project.control_every)) > 0:
        raise DomainError(
            "Control items are mixed in only in projects without unimodal rounds; set control every to 0 "
            "or turn unimodal rounds off.",
            field="control_every",
        )
    for field, value in changes.items():
        setattr(project, field, value)
    project.save()
    return project


def _set_task_gold_strategies(project: Project, strategies: dict) -> bool:
    """Per-task overrides of the gold strategy; returns whether any changed.
    The schema (cached per process) carries them, so its token is replaced."""
    tasks = {task.key: task for task in Task.objects.filter(project=project)}
    allowed = ["", *Project.GoldStrategy.values]
    for key, strategy in strategies.items():
        if key not in tasks:
            raise DomainError(f"There is no task {key!r} in this project.", field="task_gold_strategies")
        if strategy not in allowed:
            raise DomainError(
                f"Unknown gold strategy {strategy!r} for {tasks[key].name}; choose one of "
                f"{', '.join(Project.GoldStrategy.values)} or leave it blank for the project's.",
                field="task_gold_strategies",
            )
    changed = [tasks[key] for key, strategy in strategies.items() if tasks[key].gold_strategy != strategy]
    for task in changed:
        task.gold_strategy = strategies[task.key]
    if changed:
        Task.objects.bulk_update(changed, ["gold_strategy"])
        project.schema_token = uuid.uuid4()
        Project.objects.filter(pk=project.pk).update(schema_token=project.schema_token)
    return bool(changed)
