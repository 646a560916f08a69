"""Stratified 70 / 10 / 20 splits by gold desire (MSED 5.1), with a fixed seed."""

from __future__ import annotations

from collections import Counter

from annotator.models import Gold, Item
from annotator.services.splits import assign_splits, split_sizes, stratified_assignment
from tests.factories import ItemFactory, make_project

# desire label -> number of items with that gold label; None = no gold.
STRATA = {"family": 23, "romance": 10, "none": 31, "vengeance": 3, None: 7}


def _items_with_gold(project, strata=STRATA, split=Item.Split.UNASSIGNED):
    desire = project.tasks.get(key="desire")
    labels = {l.key: l for l in desire.labels.all()}
    stratum_of = {}
    for key, n in strata.items():
        items = ItemFactory.create_batch(n, project=project, split=split)
        for item in items:
            stratum_of[item.pk] = key
            if key is not None:
                Gold.objects.create(item=item, task=desire, label=labels[key], votes_for=1, votes_total=1)
    return stratum_of


def test_split_sizes_sum_to_n_and_stay_within_one_item_of_the_shares():
    for n in range(60):
        sizes = split_sizes(n, [0.7, 0.1, 0.2])
        assert sum(sizes) == n
        assert all(abs(size - n * share) < 1 for size, share in zip(sizes, [0.7, 0.1, 0.2]))


def test_the_pure_assignment_is_deterministic_and_seed_dependent():
    strata = {"a": list(range(50)), "b": list(range(50, 80))}

    first = stratified_assignment(strata, seed=13)
    assert first == stratified_assignment(strata, seed=13)
    assert first != stratified_assignment(strata, seed=14)


def test_each_stratum_is_split_70_10_20_within_one_item(project):
    stratum_of = _items_with_gold(project)

    counts = assign_splits(project=project, seed=13)

    assert counts == {"train": 52, "dev": 7, "test": 15, "strata": 5}
    per_stratum = Counter(
        (stratum_of[pk], split) for pk, split in Item.objects.filter(project=project).values_list("id", "split")
    )
    for key, n in STRATA.items():
        for split, share in (("train", 0.7), ("dev", 0.1), ("test", 0.2)):
            assert abs(per_stratum[(key, split)] - n * share) < 1, (key, split)


def test_the_same_seed_gives_the_same_splits(project):
    _items_with_gold(project)
    assign_splits(project=project, seed=13)
    first = dict(Item.objects.values_list("id", "split"))

    assign_splits(project=project, seed=13, only_unassigned=False)
    assert dict(Item.objects.values_list("id", "split")) == first

    assign_splits(project=project, seed=99, only_unassigned=False)
    assert dict(Item.objects.values_list("id", "split")) != first


def test_only_unassigned_items_are_touched_unless_asked(project):
    fixed = ItemFactory.create_batch(4, project=project, split=Item.Split.TEST)
    _items_with_gold(project, {"family": 10})

    counts = assign_splits(project=project)

    assert counts["train"] + counts["dev"] + counts["test"] == 10
    assert set(Item.objects.filter(pk__in=[i.pk for i in fixed]).values_list("split", flat=True)) == {"test"}
    assert not Item.objects.filter(split=Item.Split.UNASSIGNED).exists()


def test_a_project_without_a_desire_task_is_stratified_by_its_first_task(lead):
    project = make_project(lead=lead, template="sentiment", name="Sentiment only")
    sentiment = project.tasks.get()
    positive = sentiment.labels.get(key="positive")
    for item in ItemFactory.create_batch(10, project=project, split=Item.Split.UNASSIGNED):
        Gold.objects.create(item=item, task=sentiment, label=positive)
    ItemFactory.create_batch(10, project=project, split=Item.Split.UNASSIGNED)

    counts = assign_splits(project=project)

    assert counts == {"train": 14, "dev": 2, "test": 4, "strata": 2}
