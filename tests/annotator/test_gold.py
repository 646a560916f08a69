"""Majority gold with ties, and adjudication that outlives new votes."""

import pytest

from annotator.models import Annotation, Gold, Vote
from annotator.services.gold import adjudicate, recompute_gold
from tests.factories import ItemFactory, UserFactory

pytestmark = pytest.mark.django_db


def _votes(project, item, labels):
    task = project.tasks.get(key="sentiment")
    for _i, key in enumerate(labels):
        user = UserFactory()
        annotation = Annotation.objects.create(item=item, annotator=user)
        Vote.objects.create(
            annotation=annotation,
            item=item,
            annotator=user,
            round=annotation.round,
            task=task,
            label=task.labels.get(key=key),
        )
    recompute_gold(item_ids=[item.pk])
    return task


def test_majority_gold_takes_the_most_voted_label(project):
    item = ItemFactory(project=project)
    task = _votes(project, item, ["positive", "positive", "positive", "neutral", "negative"])
    gold = Gold.objects.get(item=item, task=task)
    assert (gold.label.key, gold.votes_for, gold.votes_total, gold.is_tie) == ("positive", 3, 5, False)
    assert gold.support == pytest.approx(0.6)


def test_a_tie_gives_no_gold_label(project):
    item = ItemFactory(project=project)
    task = _votes(project, item, ["positive", "positive", "neutral", "neutral"])
    gold = Gold.objects.get(item=item, task=task)
    assert gold.is_tie and gold.label is None and gold.votes_for == 2


def test_adjudicated_gold_is_kept_when_more_votes_arrive(project, lead):
    item = ItemFactory(project=project)
    task = _votes(project, item, ["positive", "neutral"])
    adjudicate(item=item, task=task, label=task.labels.get(key="neutral"), lead=lead)
    _votes(project, item, ["positive", "positive"])
    gold = Gold.objects.get(item=item, task=task)
    assert gold.source == Gold.Source.ADJUDICATED and gold.label.key == "neutral"
    assert (gold.votes_for, gold.votes_total) == (1, 4)


def test_gold_of_random_items_matches_a_recount_of_their_votes(project, lead):
    """The one-statement upsert against a plain recount: majority, ties,
    adjudicated labels' support, and majority gold dropped when a task's
    votes are all removed (an optional task cleared)."""
    import random
    from collections import Counter

    rng = random.Random(11)
    tasks = list(project.tasks.prefetch_related("labels"))
    users = [UserFactory() for _ in range(6)]
    items = [ItemFactory(project=project) for _ in range(25)]

    def vote_randomly(item, voters):
        for user in voters:
            annotation = Annotation.objects.create(item=item, annotator=user)
            for task in tasks:
                if rng.random() < 0.85:
                    labels = list(task.labels.all())[:3]  # few labels: ties happen
                    Vote.objects.create(
                        annotation=annotation,
                        item=item,
                        annotator=user,
                        round=annotation.round,
                        task=task,
                        label=rng.choice(labels),
                    )

    for item in items:
        vote_randomly(item, rng.sample(users[:3], rng.randint(1, 3)))
    recompute_gold(item_ids=[i.pk for i in items])
    adjudicated = {}
    for item in items[:5]:
        task = rng.choice(tasks)
        label = rng.choice(list(task.labels.all()))
        adjudicate(item=item, task=task, label=label, lead=lead)
        adjudicated[(item.pk, task.pk)] = label.pk
    for item in items:
        vote_randomly(item, rng.sample(users[3:], rng.randint(0, 3)))
    cleared = [(items[10], tasks[0]), (items[1], tasks[1])]
    for item, task in cleared:
        Vote.objects.filter(item=item, task=task).delete()
    recompute_gold(item_ids=[i.pk for i in items])

    counts: dict[tuple[int, int], Counter] = {}
    for item_id, task_id, label_id in Vote.objects.filter(item__in=items).values_list("item_id", "task_id", "label_id"):
        counts.setdefault((item_id, task_id), Counter())[label_id] += 1
    gold = {(g.item_id, g.task_id): g for g in Gold.objects.filter(item__in=items)}
    expected_keys = set(counts) | set(adjudicated)
    assert set(gold) == expected_keys
    assert (items[10].pk, tasks[0].pk) not in gold or (items[10].pk, tasks[0].pk) in adjudicated
    ties = 0
    for key, g in gold.items():
        c = counts.get(key, Counter())
        if key in adjudicated:
            assert (g.source, g.label_id) == (Gold.Source.ADJUDICATED, adjudicated[key])
            if c:
                assert (g.votes_for, g.votes_total) == (c[g.label_id], sum(c.values()))
            continue
        top = max(c.values())
        winners = [label for label, n in c.items() if n == top]
        ties += len(winners) > 1
        assert g.source == Gold.Source.MAJORITY
        assert (g.label_id, g.is_tie, g.votes_for, g.votes_total) == (
            winners[0] if len(winners) == 1 else None,
            len(winners) > 1,
            top,
            sum(c.values()),
        )
    assert ties > 0  # the example exercises ties


def test_majority_gold_records_its_label_as_the_majority_and_its_share_as_confidence(project):
    item = ItemFactory(project=project)
    task = _votes(project, item, ["positive", "positive", "positive", "neutral", "negative"])
    gold = Gold.objects.get(item=item, task=task)
    assert gold.majority_label_id == gold.label_id
    assert gold.confidence == pytest.approx(0.6)
    tied = ItemFactory(project=project)
    _votes(project, tied, ["positive", "neutral"])
    gold = Gold.objects.get(item=tied, task=task)
    assert (gold.majority_label, gold.confidence) == (None, None)


@pytest.mark.parametrize("hand_written", [True, False])
def test_the_loop_leaves_model_gold_to_the_job_and_refreshes_its_counts(project, settings, hand_written):
    """A Dawid-Skene row keeps its label, confidence and posterior when votes
    arrive; its support and majority label follow the votes (SQL and ORM alike)."""
    settings.LABELLING_LOOP_SQL = hand_written
    item = ItemFactory(project=project)
    task = _votes(project, item, ["positive", "neutral"])
    neutral = task.labels.get(key="neutral")
    Gold.objects.filter(item=item, task=task).update(
        source=Gold.Source.DAWID_SKENE, label=neutral, is_tie=False, confidence=0.9, posterior={"neutral": 0.9}
    )
    _votes(project, item, ["positive", "positive"])
    gold = Gold.objects.get(item=item, task=task)
    assert (gold.source, gold.label_id, gold.confidence, gold.posterior) == (
        Gold.Source.DAWID_SKENE,
        neutral.pk,
        0.9,
        {"neutral": 0.9},
    )
    assert (gold.votes_for, gold.votes_total, gold.majority_label.key) == (1, 4, "positive")
    Vote.objects.filter(item=item, task=task).delete()
    recompute_gold(item_ids=[item.pk])
    assert not Gold.objects.filter(item=item, task=task).exists()


def test_the_backfill_migration_gives_old_majority_gold_its_label_and_confidence(project):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("annotator.migrations.0016_gold_backfill_majority_confidence")
    item, tied = ItemFactory(project=project), ItemFactory(project=project)
    task = _votes(project, item, ["positive", "positive", "neutral", "negative"])
    _votes(project, tied, ["positive", "neutral"])
    Gold.objects.update(majority_label=None, confidence=None)  # as written before 0015
    migration.backfill(apps, None)
    gold = Gold.objects.get(item=item, task=task)
    assert (gold.majority_label_id, gold.confidence) == (gold.label_id, 0.5)
    assert Gold.objects.filter(item=tied, majority_label=None, confidence=None).exists()
