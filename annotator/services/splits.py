"""Train / dev / test splits (MSED 5.1: shuffle, then 70 / 10 / 20).

Stratified by the gold label of the desire task (the first task when the
project has none), so every label keeps its share in each split; items
without gold (or with a tied majority) form a stratum of their own. Within
a stratum the ids are sorted, shuffled with a generator seeded by (seed,
stratum), and cut by largest remainders, so each split gets its share to
within one item and the same items with the same seed always land in the
same splits.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence

from django.db import transaction
from django.db.models import OuterRef, Subquery

from ..models import Gold, Item, Project

SPLIT_RATIOS: tuple[tuple[str, float], ...] = (
    (str(Item.Split.TRAIN), 0.7),
    (str(Item.Split.DEV), 0.1),
    (str(Item.Split.TEST), 0.2),
)
STRATIFY_BY = "desire"
UPDATE_CHUNK = 10_000


def split_sizes(n: int, ratios: Sequence[float]) -> list[int]:
    """Sizes summing to n, each within one of n * ratio (largest remainder;
    ties go to the earlier split)."""
    exact = [n * r / sum(ratios) for r in ratios]
    sizes = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(ratios)), key=lambda i: (-(exact[i] - sizes[i]), i))
    for i in by_remainder[: n - sum(sizes)]:
        sizes[i] += 1
    return sizes


def stratified_assignment(
    strata: Mapping[Hashable, Sequence[int]], *, seed: int, ratios: Sequence[tuple[str, float]] = SPLIT_RATIOS
) -> dict[int, str]:
    """item id -> split, for items grouped by stratum. Pure and deterministic."""
    names = [name for name, _ in ratios]
    shares = [share for _, share in ratios]
    assignment: dict[int, str] = {}
    for stratum in sorted(strata, key=repr):
        ids = sorted(strata[stratum])
        random.Random(f"{seed}:{stratum!r}").shuffle(ids)
        start = 0
        for name, size in zip(names, split_sizes(len(ids), shares)):
            for item_id in ids[start : start + size]:
                assignment[item_id] = name
            start += size
    return assignment


@transaction.atomic
def assign_splits(*, project: Project, seed: int = 13, only_unassigned: bool = True) -> dict[str, int]:
    """Assign items to train / dev / test, stratified by gold desire.

    only_unassigned=True touches only items whose split is `unassigned`
    (the 70/10/20 shares then hold among those items); False re-splits every
    item of the project. Locks the items it changes.
    Returns {"train": n, "dev": n, "test": n, "strata": n}.
    """
    task = project.tasks.filter(key=STRATIFY_BY).first() or project.tasks.order_by("position", "id").first()
    items = Item.objects.filter(project=project)
    if only_unassigned:
        items = items.filter(split=Item.Split.UNASSIGNED)
    if task is not None:
        gold = Gold.objects.filter(item=OuterRef("pk"), task=task).values("label_id")[:1]
        rows = (
            items.select_for_update(of=("self",))
            .annotate(stratum=Subquery(gold))
            .order_by("id")
            .values_list("id", "stratum")
        )
    else:
        rows = items.select_for_update().order_by("id").values_list("id", "id")
        rows = [(item_id, None) for item_id, _ in rows]
    strata: dict[Hashable, list[int]] = defaultdict(list)
    for item_id, stratum in rows:
        strata[stratum].append(item_id)
    assignment = stratified_assignment(strata, seed=seed)
    by_split: dict[str, list[int]] = defaultdict(list)
    for item_id, split in assignment.items():
        by_split[split].append(item_id)
    for split, ids in by_split.items():
        ids.sort()
        for start in range(0, len(ids), UPDATE_CHUNK):
            Item.objects.filter(id__in=ids[start : start + UPDATE_CHUNK]).update(split=split)
    counts = {name: len(by_split.get(name, [])) for name, _ in SPLIT_RATIOS}
    counts["strata"] = len(strata)
    return counts
