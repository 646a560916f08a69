"""Majority gold with ties, and adjudication that outlives new votes."""

import pytest

from annotator.models import Annotation, Gold, Vote
from annotator.services.gold import adjudicate, recompute_gold
from tests.factories import ItemFactory, UserFactory

pytestmark = pytest.mark.django_db


def _votes(project, item, labels):
    task = project.tasks.get(key="sentiment")
    for i, key in enumerate(labels):
        user = UserFactory()
        annotation = Annotation.objects.create(item=item, annotator=user)
        Vote.objects.create(
            annotation=annotation, item=item, annotator=user, round=annotation.round, task=task,
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
