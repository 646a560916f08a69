"""Bulk writes of annotations and votes, for imports, `manage.py seed_demo`
and benchmarks that create a million votes.

Rows are written in batches: per batch a handful of queries, never one per
row. On PostgreSQL annotations and votes go in through COPY (annotation ids
are reserved from the sequence first, so votes can point at them);
elsewhere through bulk_create.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..errors import DomainError
from ..models import Annotation, Item, Project, Vote
from ..schemas import ProjectSchema
from ..selectors import get_project_schema
from .gold import recompute_gold

BATCH_SIZE = 2000
MAX_DURATION_MS = 86_400_000
_ROUNDS = frozenset(str(value) for value in Annotation.Round.values)
_MULTIMODAL = str(Annotation.Round.MULTIMODAL)


class AnnotationRow(NamedTuple):
    """One annotation to write. `labels` maps task key -> label key, or
    task id -> label id when the caller resolved them already."""

    item_id: int
    annotator_id: int
    labels: Mapping[Any, Any]
    round: str = Annotation.Round.MULTIMODAL
    inference_order: Sequence[str] = ()
    duration_ms: int | None = None
    # The suggestions' record (Annotation's fields of the same names), for
    # simulated annotators of the anchoring experiment (seed_demo).
    suggestion_run_id: int | None = None
    suggestion_accepted: Mapping[str, bool] | None = None
    suggestion_arm: str = ""
    # An answer on a control item (Annotation.is_control): counted toward
    # nothing but control accuracy. Only on items marked as control items.
    is_control: bool = False


@dataclass
class _Prepared:
    item_id: int
    annotator_id: int
    round: str
    inference_order: list[str]
    duration_ms: int | None
    votes: list[tuple[int, int]]  # (task id, label id)
    suggestion_run_id: int | None = None
    suggestion_accepted: dict[str, bool] | None = None
    suggestion_arm: str = ""
    is_control: bool = False


def _resolve(schema: ProjectSchema, labels: Mapping[Any, Any]) -> list[tuple[int, int]]:
    """{task key: label key} (or {task id: label id}) -> [(task id, label id)]."""
    pairs: list[tuple[int, int]] = []
    for task_ref, label_ref in labels.items():
        if isinstance(task_ref, int) and isinstance(label_ref, int):
            label = schema.label_by_id(label_ref)
            if label is None or label.task_id != task_ref:
                raise DomainError(f"The label id {label_ref} is not a label of the task id {task_ref} in this project.")
            pairs.append((task_ref, label_ref))
            continue
        task = schema.get_task(str(task_ref))
        if task is None:
            raise DomainError(f"This project has no task {task_ref!r}; its tasks are {', '.join(sorted(schema.keys))}.")
        label = task.label(str(label_ref))
        if label is None:
            allowed = ", ".join(task.label_keys)
            raise DomainError(f"{label_ref!r} is not a label of the task {task_ref!r}; allowed labels: {allowed}.")
        pairs.append((task.id, label.id))
    return pairs


def _get(row: Any, name: str, default: Any = None) -> Any:
    if isinstance(row, dict):
        return row.get(name, default)
    return getattr(row, name, default)


def _prepare(row: Any, schema: ProjectSchema) -> _Prepared:
    round_ = str(_get(row, "round") or _MULTIMODAL)
    if round_ not in _ROUNDS:
        raise DomainError(f"Unknown round {round_!r}; rounds are {', '.join(sorted(_ROUNDS))}.")
    order = list(_get(row, "inference_order") or ())
    unknown = [key for key in order if key not in schema.keys]
    if unknown or len(set(order)) != len(order):
        raise DomainError(f"The inference order {order} must name each of the project's tasks at most once.")
    duration = _get(row, "duration_ms")
    if duration is not None and not 0 <= int(duration) <= MAX_DURATION_MS:
        raise DomainError(f"A duration of {duration} ms is outside 0 to {MAX_DURATION_MS} (one day).")
    votes = _resolve(schema, _get(row, "labels") or {})
    if not votes:
        raise DomainError(f"The annotation of item {_get(row, 'item_id')} has no labels.")
    is_control = bool(_get(row, "is_control", False))
    if is_control and round_ != _MULTIMODAL:
        raise DomainError("Control items are answered in the multimodal round only.")
    arm = str(_get(row, "suggestion_arm") or "")
    if arm not in Annotation.SuggestionArm.values:
        raise DomainError(f"Unknown suggestion arm {arm!r}; arms are shown, hidden or blank.")
    return _Prepared(
        item_id=int(_get(row, "item_id")),
        annotator_id=int(_get(row, "annotator_id")),
        round=round_,
        inference_order=order,
        duration_ms=None if duration is None else int(duration),
        votes=votes,
        suggestion_run_id=_get(row, "suggestion_run_id"),
        suggestion_accepted=dict(_get(row, "suggestion_accepted") or {}),
        suggestion_arm=arm,
        is_control=is_control,
    )


def _batched(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


# Item's vote counter per round (the queue's counters; unimodal ones only
# where the model has them).
_ROUND_COUNTERS = {
    _MULTIMODAL: "vote_count",
    str(Annotation.Round.TEXT): "text_vote_count",
    str(Annotation.Round.IMAGE): "image_vote_count",
}


def _counter_fields() -> dict[str, str]:
    names = {f.name for f in Item._meta.concrete_fields}
    return {round_: field for round_, field in _ROUND_COUNTERS.items() if field in names}


def refresh_vote_counts(item_ids: Iterable[int]) -> None:
    """Set the items' vote counters (Item.vote_count: multimodal-round
    annotations; text_vote_count / image_vote_count: unimodal rounds) from
    their annotations, in one UPDATE. Control annotations count toward nothing."""
    item_ids = list(item_ids)
    if not item_ids:
        return
    values = {}
    for round_, field in _counter_fields().items():
        counts = (
            Annotation.objects.filter(item=OuterRef("pk"), round=round_, is_control=False)
            .order_by()
            .values("item")
            .annotate(n=Count("id"))
            .values("n")
        )
        values[field] = Coalesce(Subquery(counts), 0)
    Item.objects.filter(id__in=item_ids).update(**values)


# ----------------------------------------------------------------- COPY on PostgreSQL


def _reserve_ids(model: type[models.Model], n: int) -> list[int]:
    """n fresh primary keys from the table's sequence (identity column)."""
    table, pk = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [table, pk, n])
        return [row[0] for row in cursor.fetchall()]


def _copy(model: type[models.Model], rows: list[dict[str, Any]], *, with_pk: bool) -> None:
    """COPY rows (dicts by attname) into the model's table. Fields a row
    leaves out get their model default, and auto_now(_add) fields the
    current time, so a field added later does not break this."""
    from psycopg import sql
    from psycopg.types.json import Jsonb

    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
    given = set(rows[0]) if rows else set()
    constants: dict[str, Any] = {}
    for f in fields:
        if f.attname in given:
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            constants[f.attname] = now
        elif f.has_default():
            value = f.get_default()
            constants[f.attname] = Jsonb(value) if isinstance(f, models.JSONField) else value
        else:
            constants[f.attname] = None
    json_fields = {f.attname for f in fields if isinstance(f, models.JSONField) and f.attname in given}
    names = [f.attname for f in fields]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(model._meta.db_table), sql.SQL(", ").join(sql.Identifier(f.column) for f in fields)
    )
    with connection.wrap_database_errors, connection.cursor() as cursor:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(
                    [
                        (Jsonb(row[name]) if name in json_fields else row[name]) if name in row else constants[name]
                        for name in names
                    ]
                )


def _insert(prepared: list[_Prepared]) -> int:
    """Write the annotations and their votes; returns the number of votes."""
    if connection.vendor == "postgresql":
        ids = _reserve_ids(Annotation, len(prepared))
        _copy(
            Annotation,
            [
                {
                    "id": pk,
                    "item_id": p.item_id,
                    "annotator_id": p.annotator_id,
                    "round": p.round,
                    "inference_order": p.inference_order,
                    "duration_ms": p.duration_ms,
                    "suggestion_run_id": p.suggestion_run_id,
                    "suggestion_accepted": p.suggestion_accepted,
                    "suggestion_arm": p.suggestion_arm,
                    "is_control": p.is_control,
                }
                for pk, p in zip(ids, prepared)
            ],
            with_pk=True,
        )
        votes = [
            {
                "annotation_id": pk,
                "item_id": p.item_id,
                "annotator_id": p.annotator_id,
                "round": p.round,
                "task_id": t,
                "label_id": l,
                "is_control": p.is_control,
            }
            for pk, p in zip(ids, prepared)
            for t, l in p.votes
        ]
        _copy(Vote, votes, with_pk=False)
        return len(votes)
    annotations = Annotation.objects.bulk_create(
        [
            Annotation(
                item_id=p.item_id,
                annotator_id=p.annotator_id,
                round=p.round,
                inference_order=p.inference_order,
                duration_ms=p.duration_ms,
                suggestion_run_id=p.suggestion_run_id,
                suggestion_accepted=p.suggestion_accepted,
                suggestion_arm=p.suggestion_arm,
                is_control=p.is_control,
            )
            for p in prepared
        ]
    )
    vote_objects = [
        Vote(
            annotation_id=a.pk,
            item_id=p.item_id,
            annotator_id=p.annotator_id,
            round=p.round,
            task_id=t,
            label_id=l,
            is_control=p.is_control,
        )
        for a, p in zip(annotations, prepared)
        for t, l in p.votes
    ]
    Vote.objects.bulk_create(vote_objects, batch_size=BATCH_SIZE)
    return len(vote_objects)


def write_annotations(
    *, project: Project, rows: Iterable[Any], batch_size: int = BATCH_SIZE, update_items: bool = True
) -> dict[str, int]:
    """Create annotations and their votes for many items at once.

    rows: AnnotationRow tuples or dicts with item_id, annotator_id, labels
    ({task_key: label_key} or {task_id: label_id}), and optionally round
    (default multimodal), inference_order (task keys) and duration_ms;
    is_control for answers on control items (multimodal round, items marked
    as control items), which no vote counter or gold counts.
    Streams `rows` in batches of `batch_size`; per batch it locks the items,
    checks that they belong to the project and that the annotators exist,
    writes, then (unless update_items is False, for callers that do it
    themselves) refreshes Item.vote_count with one UPDATE and recomputes
    gold once. All or nothing: one transaction. An annotation that exists
    already (same item, annotator and round) is a DomainError.

    Returns {"annotations": n, "votes": n, "items": n}.
    """
    # Imports and seeds hold their project instance for a long time: read the
    # current schema token, so the lookups are never those of a replaced schema.
    project.refresh_from_db(fields=["schema_token"])
    schema = get_project_schema(project)
    counts: Counter[str] = Counter()
    touched: set[int] = set()
    users = get_user_model()
    try:
        with transaction.atomic():
            for batch in _batched(rows, batch_size):
                prepared = [_prepare(row, schema) for row in batch]
                item_ids = sorted({p.item_id for p in prepared})
                # Lock in id order, so two writers on the same items cannot deadlock.
                found = dict(
                    Item.objects.select_for_update()
                    .filter(project=project, id__in=item_ids)
                    .order_by("id")
                    .values_list("id", "is_control")
                )
                if len(found) != len(item_ids):
                    missing = sorted(set(item_ids) - set(found))[:5]
                    raise DomainError(
                        f"These items are not in the project {project.slug!r}: {', '.join(map(str, missing))}."
                    )
                not_control = sorted({p.item_id for p in prepared if p.is_control and not found[p.item_id]})
                if not_control:
                    raise DomainError(
                        f"These items are not control items, so they take no control answers: {', '.join(map(str, not_control[:5]))}."
                    )
                annotator_ids = {p.annotator_id for p in prepared}
                known = set(users.objects.filter(id__in=annotator_ids).values_list("id", flat=True))
                if known != annotator_ids:
                    missing = sorted(annotator_ids - known)[:5]
                    raise DomainError(f"There are no users with the ids {', '.join(map(str, missing))}.")
                keys = Counter((p.item_id, p.annotator_id, p.round) for p in prepared)
                repeated = [key for key, n in keys.items() if n > 1]
                if repeated:
                    item_id, annotator_id, round_ = repeated[0]
                    raise DomainError(
                        f"Item {item_id} has two annotations by user {annotator_id} in the {round_} round; one per item, annotator and round."
                    )
                counts["votes"] += _insert(prepared)
                counts["annotations"] += len(prepared)
                touched.update(item_ids)
                if update_items:
                    refresh_vote_counts(item_ids)
                    recompute_gold(item_ids=item_ids, project=project)
    except IntegrityError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise DomainError(
            f"Some of these annotations exist already (one per item, annotator and round), so nothing was written: {detail}"
        ) from exc
    return {"annotations": counts["annotations"], "votes": counts["votes"], "items": len(touched)}
