"""Submitting, skipping and changing annotations; gold and adjudication."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from annotator.errors import DomainError, NotAllowed
from annotator.models import Annotation, AnnotationEdit, Claim, Gold, Item, Label, Skip, Task, Vote
from annotator.selectors import labelling, review
from annotator.services import gold as gold_services
from annotator.services import queue, votes
from tests.annotator.factories import (
    MSED_LABELS,
    MSED_ORDER,
    claim_and_submit,
    make_items,
    make_suggestions,
    members,
    submit,
)
from tests.factories import make_project

Round = Annotation.Round


@pytest.fixture
def item(project):
    return make_items(project, 1)[0]


@pytest.fixture
def claim(annotator, project, item):
    return queue.claim_next_item(annotator=annotator, project=project)


def test_submit_saves_one_vote_per_task_and_ends_the_claim(annotator, claim, item):
    result = submit(annotator, claim, duration_ms=4321)
    annotation = result.annotation
    assert result.created
    assert {v.task.key: v.label.key for v in annotation.votes.all()} == MSED_LABELS
    assert annotation.inference_order == MSED_ORDER
    assert annotation.duration_ms == 4321
    assert not Claim.objects.filter(pk=claim.pk).exists()
    item.refresh_from_db()
    assert (item.vote_count, item.claim_count) == (1, 0)


def test_submit_sets_majority_gold_in_the_same_transaction(annotator, claim, item, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("gold could not be computed")

    monkeypatch.setattr(votes, "recompute_gold", broken)
    with pytest.raises(RuntimeError):
        submit(annotator, claim)
    item.refresh_from_db()
    assert not Annotation.objects.exists() and item.vote_count == 0 and Claim.objects.filter(pk=claim.pk).exists()
    monkeypatch.undo()
    submit(annotator, claim)
    gold = {g.task.key: (g.label.key, g.votes_for, g.votes_total) for g in Gold.objects.filter(item=item)}
    assert gold == {"desire": ("family", 1, 1), "sentiment": ("positive", 1, 1), "emotion": ("happiness", 1, 1)}


def test_a_retried_submit_returns_the_first_annotation(annotator, claim):
    key = uuid.uuid4()
    first = submit(annotator, claim, client_key=key)
    retry = submit(annotator, claim, client_key=key)
    assert retry.annotation.pk == first.annotation.pk
    assert not retry.created
    assert Annotation.objects.count() == 1 and Vote.objects.count() == 3


def test_a_key_reused_for_another_item_is_refused(annotator, project, claim):
    key = uuid.uuid4()
    submit(annotator, claim, client_key=key)
    make_items(project, 1, start=50)
    other = queue.claim_next_item(annotator=annotator, project=project)
    with pytest.raises(DomainError, match="already used"):
        submit(annotator, other, client_key=key)


def test_a_submit_without_a_claim_is_refused(annotator, item):
    with pytest.raises(DomainError, match="not assigned to you"):
        votes.submit_annotation(annotator=annotator, item=item, labels=MSED_LABELS, inference_order=MSED_ORDER)


def test_a_submit_after_the_claim_expired_and_was_swept_is_refused(annotator, project, claim):
    Claim.objects.filter(pk=claim.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    queue.release_expired_claims(project=project)
    with pytest.raises(DomainError, match="expires after 10 minutes"):
        submit(annotator, claim)


def test_a_submit_for_a_full_item_is_refused(lead):
    project = make_project(lead=lead, name="One vote", votes_per_item=1)
    (item,) = make_items(project, 1)
    first, late = members(project, 2)
    claim_and_submit(first, project)
    with pytest.raises(DomainError, match="already has its 1 votes"):
        votes.submit_annotation(annotator=late, item=item, labels=MSED_LABELS, inference_order=MSED_ORDER)


def test_an_unknown_label_is_refused_with_the_labels_to_choose_from(annotator, claim):
    with pytest.raises(DomainError) as error:
        submit(annotator, claim, labels={**MSED_LABELS, "sentiment": "ecstatic"})
    assert (
        error.value.message == "'ecstatic' is not a label of Sentiment; choose one of positive, neutral and negative."
    )


def test_an_unknown_task_is_refused(annotator, claim):
    with pytest.raises(
        DomainError, match="There is no task 'humour' in this project; its tasks are desire, sentiment and emotion"
    ) as error:
        submit(annotator, claim, labels={**MSED_LABELS, "humour": "funny"})
    assert error.value.field == "labels"


def test_missing_required_tasks_are_named(annotator, claim):
    with pytest.raises(DomainError, match="Choose a label for Sentiment and Emotion before submitting."):
        submit(annotator, claim, labels={"desire": "family"}, inference_order=["desire"])


def test_the_inference_order_must_name_each_task_once(annotator, claim):
    with pytest.raises(DomainError, match="must name each task you labelled exactly once") as error:
        submit(annotator, claim, inference_order=["desire", "desire", "emotion"])
    assert error.value.field == "inference_order"


def test_the_inference_order_is_required_when_the_project_asks(annotator, claim):
    with pytest.raises(DomainError, match="Put the tasks in the order you inferred them"):
        submit(annotator, claim, inference_order=[])


def test_the_inference_order_may_be_left_out_when_not_asked(annotator, project, claim):
    project.ask_inference_order = False
    project.save()
    claim.item.project = project
    assert submit(annotator, claim, inference_order=[]).annotation.inference_order == []


def test_a_day_long_timer_is_capped_not_refused(annotator, claim):
    assert submit(annotator, claim, duration_ms=10**10).annotation.duration_ms == votes.MAX_DURATION_MS


def test_skipping_releases_the_claim_and_keeps_the_reason(annotator, claim, item):
    votes.skip_item(annotator=annotator, item=item, reason="  Text is not English ")
    assert not Claim.objects.exists()
    assert Item.objects.get(pk=item.pk).claim_count == 0
    assert Skip.objects.get().reason == "Text is not English"


def test_changing_an_annotation_updates_votes_gold_and_history(annotator, claim, item):
    annotation = submit(annotator, claim).annotation
    votes.edit_annotation(
        annotation=annotation,
        editor=annotator,
        labels={**MSED_LABELS, "sentiment": "negative"},
        inference_order=["sentiment", "desire", "emotion"],
    )
    assert Vote.objects.get(annotation=annotation, task__key="sentiment").label.key == "negative"
    assert Gold.objects.get(item=item, task__key="sentiment").label.key == "negative"
    edit = AnnotationEdit.objects.get()
    assert edit.editor == annotator
    assert edit.old == {"labels": MSED_LABELS, "inference_order": MSED_ORDER}
    assert edit.new == {
        "labels": {**MSED_LABELS, "sentiment": "negative"},
        "inference_order": ["sentiment", "desire", "emotion"],
    }


def test_an_unchanged_edit_records_nothing(annotator, claim):
    annotation = submit(annotator, claim).annotation
    votes.edit_annotation(annotation=annotation, editor=annotator, labels=MSED_LABELS)
    assert not AnnotationEdit.objects.exists()


def test_nobody_can_change_another_persons_annotation(annotator, other_annotator, lead, claim):
    annotation = submit(annotator, claim).annotation
    for someone in (other_annotator, lead):
        with pytest.raises(NotAllowed):
            votes.edit_annotation(annotation=annotation, editor=someone, labels=MSED_LABELS)


def test_a_text_round_label_is_frozen_once_the_image_round_is_done(lead):
    project = make_project(lead=lead, name="Rounds", unimodal_rounds=True, votes_per_item=1)
    make_items(project, 1, image=True)
    (ana,) = members(project, 1)
    text = claim_and_submit(ana, project).annotation
    votes.edit_annotation(annotation=text, editor=ana, labels={**MSED_LABELS, "emotion": "sad"})
    image = claim_and_submit(ana, project).annotation
    assert image.round == Round.IMAGE
    with pytest.raises(DomainError, match="can no longer change"):
        votes.edit_annotation(annotation=text, editor=ana, labels=MSED_LABELS)


def test_unimodal_votes_leave_gold_to_the_multimodal_round(lead):
    project = make_project(lead=lead, name="Rounds gold", unimodal_rounds=True, votes_per_item=1)
    (item,) = make_items(project, 1, image=True)
    (ana,) = members(project, 1)
    claim_and_submit(ana, project)
    item.refresh_from_db()
    assert (item.text_vote_count, item.vote_count) == (1, 0)
    assert not Gold.objects.exists()


def test_the_suggestion_run_and_acceptance_are_recorded(annotator, project, claim, item):
    project.show_suggestions = True
    project.save()
    run = make_suggestions(
        project, {item: 1.0}, label_keys={"desire": "family", "sentiment": "neutral", "emotion": "happiness"}
    )
    shown = labelling.get_suggestions(item, Round.MULTIMODAL, project=project, annotator_id=annotator.pk)
    assert shown["by_task"]["sentiment"] == {"label": "neutral", "probability": 0.8}
    annotation = submit(annotator, claim, suggestion_run_id=run.pk).annotation
    assert annotation.suggestion_run_id == run.pk
    assert annotation.suggestion_accepted == {"desire": True, "sentiment": False, "emotion": True}


def test_suggestions_are_never_shown_in_unimodal_rounds(annotator, project, item):
    project.show_suggestions = True
    project.save()
    make_suggestions(project, {item: 1.0})
    assert labelling.get_suggestions(item, Round.TEXT, project=project, annotator_id=annotator.pk) is None


# ---- gold and adjudication


def vote_on(project, item, people, sentiments):
    for person, sentiment in zip(people, sentiments):
        claim = queue.claim_next_item(annotator=person, project=project)
        assert claim.item_id == item.pk
        submit(person, claim, labels={**MSED_LABELS, "sentiment": sentiment})


def test_a_tie_is_disputed_and_listed_for_adjudication(lead):
    project = make_project(lead=lead, name="Ties", votes_per_item=4)
    item, calm = make_items(project, 2)
    vote_on(project, item, members(project, 4), ["positive", "positive", "negative", "negative"])
    gold = Gold.objects.get(item=item, task__key="sentiment")
    assert gold.is_tie and gold.label is None
    page = review.list_disputed_items(project)
    assert [i.pk for i in page["items"]] == [item.pk]
    disputed = [g for g in page["items"][0].gold_rows if g.disputed]
    assert [(g.task.key, g.distribution) for g in disputed] == [("sentiment", [("Positive", 2), ("Negative", 2)])]


def test_an_adjudicated_label_is_kept_when_more_votes_arrive(lead):
    project = make_project(lead=lead, name="Adjudicated", votes_per_item=3)
    (item,) = make_items(project, 1)
    people = members(project, 3)
    vote_on(project, item, people[:2], ["positive", "negative"])
    task = Task.objects.get(project=project, key="sentiment")
    gold_services.adjudicate(item=item, task=task, label=Label.objects.get(task=task, key="neutral"), lead=lead)
    vote_on(project, item, people[2:], ["positive"])
    gold = Gold.objects.get(item=item, task=task)
    assert (gold.label.key, gold.source, gold.votes_for, gold.votes_total) == ("neutral", Gold.Source.ADJUDICATED, 0, 3)
    assert review.list_disputed_items(project)["items"] == []


def test_the_item_record_shows_every_vote_with_its_history(lead, annotator, project, claim, item):
    annotation = submit(annotator, claim, duration_ms=2500).annotation
    votes.edit_annotation(annotation=annotation, editor=annotator, labels={**MSED_LABELS, "desire": "romance"})
    record = review.get_item_record(item, project=project)
    (row,) = record["annotations"]
    assert row["annotator"] == "ana-annotator" and row["round"] == Round.MULTIMODAL
    assert row["labels"]["desire"] == "romance" and row["duration_ms"] == 2500 and row["edits"] == 1
    assert [e.new["labels"]["desire"] for e in record["edits"]] == ["romance"]
    assert {g.task.key for g in record["gold"]} == {"desire", "sentiment", "emotion"}
