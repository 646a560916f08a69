"""annotator.selectors.controls: control accuracy per annotator, and over time."""

import pytest

from annotator.models import Annotation, ControlAnswer, Vote
from annotator.selectors import controls
from tests.annotator.factories import make_items
from tests.factories import UserFactory, make_project

pytestmark = pytest.mark.django_db


def _vote(item, user, task, label):
    annotation = Annotation.objects.create(item=item, annotator=user, is_control=True)
    Vote.objects.create(
        annotation=annotation,
        item=item,
        annotator=user,
        round=annotation.round,
        task=task,
        label=label,
        is_control=True,
    )


def test_scores_count_each_task_with_a_known_answer_once():
    project = make_project()
    task = project.tasks.get(key="sentiment")
    other = project.tasks.get(key="emotion")
    right, wrong = list(task.labels.all())[:2]
    item, _plain = make_items(project, 2)
    item.is_control = True
    item.save()
    ControlAnswer.objects.create(item=item, task=task, label=right)
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    _vote(item, alice, task, right)
    _vote(item, bob, task, wrong)
    # A vote on a task without a known answer is no trial.
    Vote.objects.create(
        annotation=Annotation.objects.get(item=item, annotator=alice),
        item=item,
        annotator=alice,
        round="multimodal",
        task=other,
        label=other.labels.first(),
        is_control=True,
    )
    scores = controls.get_control_scores(project)
    assert scores[alice.pk].correct == 1 and scores[alice.pk].total == 1
    assert scores[bob.pk].correct == 0 and scores[bob.pk].total == 1
    assert scores[bob.pk].accuracy == 0.0
    assert controls.get_control_scores(project, task_id=other.pk) == {}
    assert controls.count_control_items(project) == 1
    timeline = controls.get_control_timeline(project)
    (week, score) = timeline[alice.pk][0]
    assert week.startswith("20") and "-W" in week and score.total == 1
