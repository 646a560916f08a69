"""Majority gold (MSED 3.3: the label that receives the majority of votes),
recomputed in the transaction of the vote that changes it, and lead
adjudication of disputed items."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from django.db import transaction
from django.db.models import Count

from ..errors import DomainError
from ..models import Annotation, Gold, Item, Label, Project, Task, Vote


def recompute_gold(*, item_ids: Iterable[int], project_id: int | None = None) -> None:
    """Recompute gold of the given items from their multimodal-round votes.

    Majority gold takes the most voted label; a shared top count is a tie
    (label None, is_tie True). Adjudicated and imported gold keep their
    label and only refresh their support. Call inside the transaction that
    changed the votes; the caller holds the item rows' locks.
    """
    item_ids = list(item_ids)
    if not item_ids:
        return
    counts: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
    rows = (
        Vote.objects.filter(item_id__in=item_ids, round=Annotation.Round.MULTIMODAL)
        .values_list("item_id", "task_id", "label_id")
        .annotate(n=Count("id"))
    )
    for item_id, task_id, label_id, n in rows:
        counts[(item_id, task_id)][label_id] = n
    existing = {(g.item_id, g.task_id): g for g in Gold.objects.filter(item_id__in=item_ids)}
    # Label order breaks no tie: a tie is reported, not resolved silently.
    to_save: list[Gold] = []
    for key in set(counts) | set(existing):
        item_id, task_id = key
        by_label = counts.get(key, {})
        total = sum(by_label.values())
        gold = existing.get(key) or Gold(item_id=item_id, task_id=task_id)
        if gold.source == Gold.Source.MAJORITY:
            if total == 0:
                if gold.pk:
                    gold.delete()
                continue
            top = max(by_label.values())
            winners = [label for label, n in by_label.items() if n == top]
            gold.is_tie = len(winners) > 1
            gold.label_id = None if gold.is_tie else winners[0]
            gold.votes_for = top
        elif total:
            gold.votes_for = by_label.get(gold.label_id, 0)
        gold.votes_total = total if (total or gold.source == Gold.Source.MAJORITY) else gold.votes_total
        to_save.append(gold)
    # One upsert for new and changed rows alike (the caller holds the item
    # locks). Rows are matched on (item, task), not on their primary key.
    for gold in to_save:
        gold.pk = None
    Gold.objects.bulk_create(
        to_save,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["item", "task"],
        update_fields=["label", "votes_for", "votes_total", "is_tie", "updated_at"],
    )
    if to_save:
        if project_id is None:
            project_id = Item.objects.filter(pk=item_ids[0]).values_list("project_id", flat=True).first()
        _gold_changed(project_id)


def _gold_changed(project_id: int | None) -> None:
    """Let the project's retrain policy know; one query when no policy asks
    for retraining (the common case, on the hot path of every vote)."""
    from inference.models import PrelabelPolicy
    from inference.services import on_gold_changed

    if PrelabelPolicy.objects.filter(project_id=project_id, retrain_every_n_gold__gt=0).exists():
        on_gold_changed(project=Project.objects.get(pk=project_id))


@transaction.atomic
def adjudicate(*, item: Item, task: Task, label: Label, lead) -> Gold:
    """A lead settles the gold label of an item for one task. The choice is
    kept (source = adjudicated) even when more votes arrive."""
    if task.project_id != item.project_id:
        raise DomainError("That task belongs to another project.")
    if label.task_id != task.pk:
        raise DomainError(f"{label.key!r} is not a label of the task {task.key!r}.")
    Item.objects.select_for_update().get(pk=item.pk)
    gold, _ = Gold.objects.get_or_create(item=item, task=task)
    votes = Vote.objects.filter(item=item, task=task, round=Annotation.Round.MULTIMODAL)
    gold.label = label
    gold.source = Gold.Source.ADJUDICATED
    gold.is_tie = False
    gold.adjudicated_by = lead
    gold.votes_total = votes.count()
    gold.votes_for = votes.filter(label=label).count()
    gold.save()
    _gold_changed(item.project_id)
    return gold
