"""Control items ("honeypots", issue 14 section 3): a lead marks items whose
answers are known, the queue mixes them into annotators' streams
(annotator.services.queue), and their votes count toward nothing but each
annotator's control accuracy (annotator.selectors.controls).

Known answers come from an import (the `control` column, written by
import_writer), from the item's adjudicated gold (`mark_from_gold`), or as
given (`mark_with_answers`: the demo's simulated truth).
Marking keeps the item's earlier votes as they are (the dashboards leave
control items out); unmarking turns the blind answers given on it as a
control item into ordinary votes, recounts the item and recomputes its gold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import transaction

from .. import selectors
from ..errors import DomainError, NotAllowed
from ..models import Annotation, ControlAnswer, Gold, Item, Project, Vote
from .bulk import refresh_vote_counts
from .gold import recompute_gold

MAX_ITEMS = 5000  # items per request


@dataclass(frozen=True)
class MarkResult:
    marked: int  # items that are control items now (with answers from their adjudicated gold)
    without_gold: list[str]  # external ids of items left alone: no adjudicated gold


def _require_lead(user, project: Project) -> None:
    if not selectors.is_lead(user, project):
        raise NotAllowed("Only the project's leads can choose control items.")


def _items(project: Project, item_ids: Iterable[int]) -> list[Item]:
    try:
        ids = sorted({int(pk) for pk in item_ids})
    except (TypeError, ValueError) as exc:
        raise DomainError("Item ids must be whole numbers.", field="items") from exc
    if not ids:
        raise DomainError("Choose at least one item.", field="items")
    if len(ids) > MAX_ITEMS:
        raise DomainError(f"Choose at most {MAX_ITEMS} items at a time.", field="items")
    # Item rows first, in id order, as every writer of items does.
    items = list(Item.objects.select_for_update().filter(project=project, pk__in=ids).order_by("pk"))
    if len(items) != len(ids):
        raise DomainError("Some of these items are not in this project (or were deleted).", field="items")
    return items


@transaction.atomic
def mark_from_gold(*, project: Project, item_ids: Iterable[int], lead) -> MarkResult:
    """Use items as control items, their adjudicated gold as the known
    answers (ControlAnswer source adjudicated, replacing earlier answers).
    Items without adjudicated gold are left alone and named in the result."""
    _require_lead(lead, project)
    items = _items(project, item_ids)
    adjudicated = Gold.objects.filter(item__in=items, source=Gold.Source.ADJUDICATED, label__isnull=False).values_list(
        "item_id", "task_id", "label_id"
    )
    answers = [
        ControlAnswer(item_id=item_id, task_id=task_id, label_id=label_id, source=ControlAnswer.Source.ADJUDICATED)
        for item_id, task_id, label_id in adjudicated
    ]
    with_gold = {answer.item_id for answer in answers}
    if not with_gold:
        raise DomainError(
            "None of these items has adjudicated gold; settle their labels on the adjudication page first.",
            field="items",
        )
    for answer in answers:
        answer.created_by = lead
    ControlAnswer.objects.filter(item_id__in=with_gold).delete()
    ControlAnswer.objects.bulk_create(answers)
    Item.objects.filter(pk__in=with_gold).update(is_control=True)
    return MarkResult(
        marked=len(with_gold), without_gold=[item.external_id for item in items if item.pk not in with_gold]
    )


@transaction.atomic
def mark_with_answers(
    *,
    project: Project,
    answers: Mapping[int, Mapping[str, str]],
    lead,
    source: str = ControlAnswer.Source.LEAD,
) -> int:
    """Use items as control items with the known answers given:
    {item id: {task key: label key}} (replacing the items' earlier answers).
    For answers a lead states, or that came with the data (source imported:
    the demo's simulated truth). Returns how many items were marked."""
    _require_lead(lead, project)
    if source not in ControlAnswer.Source.values:
        raise DomainError(f"Unknown source {source!r} of control answers.", field="source")
    items = _items(project, answers)
    schema = selectors.get_project_schema(project)
    rows = []
    for item in items:
        given = answers[item.pk]
        if not given:
            raise DomainError(f"Item {item.external_id} needs a known answer for at least one task.", field="answers")
        for task_key, label_key in given.items():
            task = schema.get_task(str(task_key))
            label = task.label(str(label_key)) if task is not None else None
            if label is None:
                raise DomainError(
                    f"{label_key!r} is not a label of a task {task_key!r} in this project.", field="answers"
                )
            rows.append(
                ControlAnswer(item_id=item.pk, task_id=task.id, label_id=label.id, source=source, created_by=lead)
            )
    ids = [item.pk for item in items]
    ControlAnswer.objects.filter(item_id__in=ids).delete()
    ControlAnswer.objects.bulk_create(rows)
    Item.objects.filter(pk__in=ids).update(is_control=True)
    return len(ids)


@transaction.atomic
def unmark(*, project: Project, item_ids: Iterable[int], lead) -> int:
    """Stop using items as control items: their known answers go, and the
    answers annotators gave them as control items become ordinary votes
    (they were given blind, like any other), counted and in gold. Returns
    how many control items were unmarked."""
    _require_lead(lead, project)
    items = [item for item in _items(project, item_ids) if item.is_control]
    ids = [item.pk for item in items]
    if not ids:
        return 0
    ControlAnswer.objects.filter(item_id__in=ids).delete()
    Item.objects.filter(pk__in=ids).update(is_control=False)
    Annotation.objects.filter(item_id__in=ids, is_control=True).update(is_control=False)
    Vote.objects.filter(item_id__in=ids, is_control=True).update(is_control=False)
    refresh_vote_counts(ids)
    recompute_gold(item_ids=ids, project=project)
    return len(ids)
