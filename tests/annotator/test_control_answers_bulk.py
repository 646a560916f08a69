"""Control answers written in bulk (write_annotations' is_control rows) and
control items marked with given known answers (controls.mark_with_answers):
what seed_demo uses to show quality control."""

from __future__ import annotations

import pytest

from annotator.errors import DomainError, NotAllowed
from annotator.models import Annotation, ControlAnswer, Gold, Item, Vote
from annotator.services import controls
from annotator.services.bulk import AnnotationRow, write_annotations
from tests.annotator.factories import make_control, make_items, members

pytestmark = pytest.mark.django_db

RIGHT = {"desire": "romance", "sentiment": "positive", "emotion": "happiness"}


def test_control_rows_count_toward_no_vote_counter_and_no_gold(project):
    control, ordinary = make_items(project, 2)
    make_control(control, RIGHT)
    a, b = members(project, 2)
    write_annotations(
        project=project,
        rows=[
            AnnotationRow(item_id=control.pk, annotator_id=a.pk, labels=RIGHT, is_control=True),
            AnnotationRow(item_id=control.pk, annotator_id=b.pk, labels=RIGHT, is_control=True),
            AnnotationRow(item_id=ordinary.pk, annotator_id=a.pk, labels=RIGHT),
        ],
    )
    control.refresh_from_db()
    ordinary.refresh_from_db()
    assert control.vote_count == 0 and ordinary.vote_count == 1
    assert set(Annotation.objects.filter(item=control).values_list("is_control", flat=True)) == {True}
    assert set(Vote.objects.filter(item=control).values_list("is_control", flat=True)) == {True}
    assert not Vote.objects.filter(item=ordinary, is_control=True).exists()
    assert not Gold.objects.filter(item=control).exclude(label=None).exists()
    assert Gold.objects.filter(item=ordinary).exclude(label=None).count() == 3


def test_a_control_row_needs_a_control_item_and_the_multimodal_round(project):
    (item,) = make_items(project, 1)
    (a,) = members(project, 1)
    with pytest.raises(DomainError, match="not control items"):
        write_annotations(
            project=project, rows=[AnnotationRow(item_id=item.pk, annotator_id=a.pk, labels=RIGHT, is_control=True)]
        )
    make_control(item, RIGHT)
    with pytest.raises(DomainError, match="multimodal round only"):
        write_annotations(
            project=project,
            rows=[AnnotationRow(item_id=item.pk, annotator_id=a.pk, labels=RIGHT, round="text", is_control=True)],
        )
    assert not Annotation.objects.exists()


def test_mark_with_answers_marks_the_items_and_replaces_their_answers(project, lead):
    first, second = make_items(project, 2)
    make_control(first, {"desire": "none"})
    marked = controls.mark_with_answers(
        project=project,
        answers={first.pk: {"sentiment": "negative"}, second.pk: RIGHT},
        lead=lead,
        source=ControlAnswer.Source.IMPORTED,
    )
    assert marked == 2
    assert set(Item.objects.filter(pk__in=[first.pk, second.pk]).values_list("is_control", flat=True)) == {True}
    assert list(ControlAnswer.objects.filter(item=first).values_list("task__key", "label__key")) == [
        ("sentiment", "negative")
    ]
    assert ControlAnswer.objects.filter(item=second, source=ControlAnswer.Source.IMPORTED).count() == 3


def test_mark_with_answers_refuses_non_leads_and_unknown_labels(project, lead, annotator):
    (item,) = make_items(project, 1)
    with pytest.raises(NotAllowed):
        controls.mark_with_answers(project=project, answers={item.pk: RIGHT}, lead=annotator)
    with pytest.raises(DomainError, match="not a label"):
        controls.mark_with_answers(project=project, answers={item.pk: {"desire": "<b>joy</b>"}}, lead=lead)
    with pytest.raises(DomainError, match="not a label"):
        controls.mark_with_answers(project=project, answers={item.pk: {"mood": "happy"}}, lead=lead)
    item.refresh_from_db()
    assert not item.is_control and not ControlAnswer.objects.exists()
