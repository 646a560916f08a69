"""Control items (issue 14 section 3): marking them (import column, adjudicated
gold, unmarking), the queue mixing them in, their votes counting toward
nothing, feedback to annotators, and who may do what."""

from __future__ import annotations

import csv
import json
import random
import uuid

import pytest
from django.urls import reverse

from annotator.errors import DomainError, NotAllowed
from annotator.models import Annotation, Claim, ControlAnswer, Gold, Item, Label, Project, Vote
from annotator.selectors import get_project_stats
from annotator.services import controls, exports, gold, imports, queue, votes
from annotator.services.projects import update_project_settings
from tests.annotator.factories import MSED_LABELS, claim_and_submit, make_control, make_items, members, submit
from tests.factories import make_member, make_project

pytestmark = pytest.mark.django_db

WRONG = {"desire": "romance", "sentiment": "negative", "emotion": "sad"}


@pytest.fixture
def seeded(monkeypatch):
    """The queue's draw of control items, seeded: the same claims every run."""
    monkeypatch.setattr(queue, "control_rng", random.Random(14))


def _project(lead, *, every: int = 0, feedback: bool = False, **kwargs) -> Project:
    project = make_project(lead=lead, name=kwargs.pop("name", "Controls"), **kwargs)
    return update_project_settings(project=project, control_every=every, control_feedback=feedback)


# ---------------------------------------------------------------- import column


def test_an_import_marks_control_items_from_the_jsonl_object_and_the_csv_columns(project, tmp_path):
    jsonl = tmp_path / "items.jsonl"
    jsonl.write_text(
        json.dumps({"id": "c1", "text": "A quiet dinner", "control": {"sentiment": "Positive", "emotion": "happiness"}})
        + "\n"
        + json.dumps({"id": "n1", "text": "An ordinary post"})
        + "\n"
    )
    report = imports.import_path(project=project, path=jsonl)
    assert report.written and report.counts["control"] == 1 and report.counts["created"] == 2

    path = tmp_path / "items.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "control_desire", "control_sentiment"])
        writer.writerow(["c2", "Holding hands at sunset", "romance", "positive"])
        writer.writerow(["n2", "A bus timetable", "", ""])
    report = imports.import_path(project=project, path=path)
    assert report.written and report.counts["control"] == 1

    items = {item.external_id: item for item in Item.objects.filter(project=project)}
    assert items["c1"].is_control and items["c2"].is_control
    assert not items["n1"].is_control and not items["n2"].is_control
    answers = {
        (a.item.external_id, a.task.key): (a.label.key, a.source)
        for a in ControlAnswer.objects.select_related("item", "task", "label")
    }
    assert answers == {
        ("c1", "sentiment"): ("positive", "imported"),
        ("c1", "emotion"): ("happiness", "imported"),
        ("c2", "desire"): ("romance", "imported"),
        ("c2", "sentiment"): ("positive", "imported"),
    }


@pytest.mark.parametrize(
    ("row", "column", "message"),
    [
        ({"control": {"mood": "positive"}}, "control", "unknown task 'mood'"),
        ({"control": {"sentiment": "ecstatic"}}, "control", "unknown label 'ecstatic'"),
        ({"control": ["sentiment", "positive"]}, "control", "must be a JSON object"),
        ({"control_sentiment": "ecstatic"}, "control_sentiment", "unknown label 'ecstatic'"),
        (
            {"control": {"sentiment": "positive"}, "control_sentiment": "negative"},
            "control_sentiment",
            "give different answers",
        ),
        (
            {"control": {"sentiment": "positive"}, "votes": [{"annotator": "ana", "labels": MSED_LABELS}]},
            "votes",
            "cannot come with votes",
        ),
    ],
)
def test_a_bad_control_cell_names_its_row_and_column_and_nothing_is_written(project, tmp_path, row, column, message):
    path = tmp_path / "items.jsonl"
    good = {"id": "ok", "text": "A good row"}
    path.write_text(json.dumps(good) + "\n" + json.dumps({"id": "bad", "text": "A bad row", **row}) + "\n")

    report = imports.import_path(project=project, path=path)

    assert not report.written
    assert any(e["row"] == 2 and e["column"] == column and message in e["message"] for e in report.errors), (
        report.errors
    )
    assert not Item.objects.filter(project=project).exists()
    assert not ControlAnswer.objects.exists()


# ---------------------------------------------------------------- marking from adjudicated gold


def _adjudicated(project, item, lead, answers: dict[str, str]) -> None:
    for task_key, label_key in answers.items():
        label = Label.objects.get(task__project=project, task__key=task_key, key=label_key)
        gold.adjudicate(item=item, task=label.task, label=label, lead=lead)


def test_a_lead_makes_items_with_adjudicated_gold_control_items_and_back(lead, project):
    settled, plain = make_items(project, 2)
    annotator = make_member(project, username="earlier")
    project.votes_per_item = 3
    project.save()
    claim_and_submit(annotator, project, WRONG)  # an ordinary vote on `settled`, before it is marked
    _adjudicated(project, settled, lead, {"sentiment": "positive", "emotion": "happiness"})

    result = controls.mark_from_gold(project=project, item_ids=[settled.pk, plain.pk], lead=lead)

    assert result.marked == 1 and result.without_gold == [plain.external_id]
    settled.refresh_from_db()
    assert settled.is_control
    assert {(a.task.key, a.label.key, a.source, a.created_by_id) for a in ControlAnswer.objects.all()} == {
        ("sentiment", "positive", "adjudicated", lead.pk),
        ("emotion", "happiness", "adjudicated", lead.pk),
    }
    with pytest.raises(DomainError, match="adjudicated gold"):
        controls.mark_from_gold(project=project, item_ids=[plain.pk], lead=lead)
    with pytest.raises(NotAllowed):
        controls.mark_from_gold(project=project, item_ids=[settled.pk], lead=annotator)

    # A control answer given on it, then unmarked: it becomes an ordinary, counted vote.
    project.control_every = 1
    project.save()
    other = make_member(project, username="later")
    claim = queue.claim_next_item(annotator=other, project=project)
    assert claim.item_id == settled.pk
    submit(other, claim, MSED_LABELS)
    assert Item.objects.get(pk=settled.pk).vote_count == 1  # the earlier ordinary vote only

    assert controls.unmark(project=project, item_ids=[settled.pk], lead=lead) == 1
    settled.refresh_from_db()
    assert not settled.is_control and settled.vote_count == 2
    assert not ControlAnswer.objects.exists()
    assert not Vote.objects.filter(is_control=True).exists()
    assert Gold.objects.get(item=settled, task__key="desire").votes_total == 2


# ---------------------------------------------------------------- the queue


def test_without_mixing_the_queue_never_hands_out_a_control_item(lead, seeded):
    for order in Project.QueueOrder.values:
        if order == Project.QueueOrder.UNCERTAIN:
            continue  # without suggestions it is finish_first
        project = _project(lead, name=f"No controls {order}", queue_order=order, votes_per_item=2)
        items = make_items(project, 6, start=100 * len(order))
        for item in items[::2]:
            make_control(item, {"sentiment": "positive"})
        (person,) = members(project, 1, prefix=f"p-{order}")
        handed = []
        while (claim := queue.claim_next_item(annotator=person, project=project)) is not None:
            handed.append(claim.item_id)
            submit(person, claim)
        assert sorted(handed) == sorted(item.pk for item in items[1::2]), order


def test_about_one_claim_in_control_every_is_a_control_item_never_twice_to_one_person(lead, seeded):
    project = _project(lead, every=4, votes_per_item=1)
    ordinary = make_items(project, 200)
    control_items = make_items(project, 80, start=1000)
    for item in control_items:
        make_control(item, {"sentiment": "positive"})
    (person,) = members(project, 1)
    controls_seen = []
    for _ in range(200):
        claim = queue.claim_next_item(annotator=person, project=project)
        if claim.item.is_control:
            controls_seen.append(claim.item_id)
        submit(person, claim)
    # 200 draws with p = 1/4: mean 50, sd 6.1; the seeded draw is fixed, the bound is 3 sd.
    assert 32 <= len(controls_seen) <= 68
    assert len(set(controls_seen)) == len(controls_seen)  # never twice to one person
    assert Annotation.objects.filter(annotator=person, is_control=True).count() == len(controls_seen)
    assert Item.objects.filter(pk__in=[i.pk for i in ordinary], vote_count=1).count() == 200 - len(controls_seen)


def test_once_a_person_has_seen_every_control_item_they_get_ordinary_items(lead, seeded):
    project = _project(lead, every=1, votes_per_item=2)  # every claim draws a control item
    make_items(project, 5)
    control_items = [make_control(item, {"sentiment": "positive"}) for item in make_items(project, 3, start=50)]
    people = members(project, 4)  # more people than votes_per_item: a control item never fills up
    for person in people:
        got = []
        for _ in range(5):
            claim = queue.claim_next_item(annotator=person, project=project)
            got.append(claim.item.is_control)
            submit(person, claim)
        assert got == [True, True, True, False, False]
    for item in control_items:
        item.refresh_from_db()
        assert item.vote_count == 0 and item.claim_count == 0
        assert Annotation.objects.filter(item=item, is_control=True).count() == len(people)


def test_a_skipped_control_item_does_not_come_back(lead, seeded):
    project = _project(lead, every=1, votes_per_item=1)
    control_item = make_control(make_items(project, 1)[0], {"sentiment": "positive"})
    (person,) = members(project, 1)
    claim = queue.claim_next_item(annotator=person, project=project)
    assert claim.item_id == control_item.pk
    votes.skip_item(annotator=person, item=claim.item)
    assert queue.claim_next_item(annotator=person, project=project) is None
    assert Item.objects.get(pk=control_item.pk).claim_count == 0


# ---------------------------------------------------------------- control votes count toward nothing


def test_control_votes_count_toward_no_votes_gold_or_agreement(lead, seeded):
    from analysis.selectors import DashboardFilters, get_vote_matrix

    project = _project(lead, every=1, votes_per_item=2)
    plain = make_items(project, 1)[0]
    control_item = make_control(make_items(project, 1, start=9)[0], {"sentiment": "positive"})
    people = members(project, 3)
    for person in people:
        claim = queue.claim_next_item(annotator=person, project=project)
        assert claim.item_id == control_item.pk
        result = submit(person, claim)
        assert result.created and not result.item_complete and result.control_feedback is None
        assert result.annotation.is_control
    claim_and_submit(people[0], project)  # then an ordinary item

    assert set(Vote.objects.filter(item=control_item).values_list("is_control", flat=True)) == {True}
    assert not Gold.objects.filter(item=control_item).exists()  # no gold recomputed
    assert Item.objects.get(pk=control_item.pk).vote_count == 0
    matrix = get_vote_matrix(project, DashboardFilters())
    assert matrix.item_ids.tolist() == [plain.pk]
    stats = get_project_stats(project, user=lead)
    assert stats["total"] == 1 and stats["control"] == 1 and stats["annotations"] == 1
    exported = list(exports.iter_export_rows(project=project))
    assert [row["id"] for row in exported] == [plain.external_id]


# ---------------------------------------------------------------- the labelling API: indistinguishable, feedback


def _next(api, project) -> dict:
    response = api.post(reverse("api:queue-next", args=[project.slug]), {}, format="json")
    assert response.status_code == 200
    return response.json()


def _submit(api, project, item_id: int, labels: dict) -> dict:
    body = {"labels": labels, "inference_order": list(labels), "client_key": str(uuid.uuid4())}
    response = api.post(reverse("api:item-submit", args=[project.slug, item_id]), body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.parametrize("feedback", [False, True])
def test_a_control_claim_looks_like_any_other_and_feedback_follows_the_setting(api, lead, seeded, feedback):
    project = _project(lead, every=1, feedback=feedback)
    make_items(project, 1)
    control_item = make_control(make_items(project, 1, start=7)[0], {"sentiment": "positive", "emotion": "sad"})
    person = make_member(project, username="rater")
    api.force_authenticate(person)

    first = _next(api, project)
    assert first["work"]["item"]["id"] == control_item.pk
    answer = _submit(api, project, control_item.pk, {**MSED_LABELS, "sentiment": "positive"})
    second = _next(api, project)
    assert second["work"]["item"]["id"] != control_item.pk
    ordinary = _submit(api, project, second["work"]["item"]["id"], MSED_LABELS)

    assert set(first["work"]) == set(second["work"]) and set(first["work"]["item"]) == set(second["work"]["item"])
    assert "control" not in json.dumps(first).lower()
    assert "control_feedback" not in ordinary
    if feedback:
        assert answer["control_feedback"] == {
            "sentiment": {"matched": True, "answer": "Positive"},
            "emotion": {"matched": False, "answer": Label.objects.get(task__project=project, key="sad").name},
        }
    else:
        assert set(answer) == set(ordinary)


# ---------------------------------------------------------------- permissions and pages


def test_only_leads_choose_control_items_and_see_the_report(api, lead, project, annotator, outsider):
    item = make_items(project, 1)[0]
    for user, status in ((annotator, 403), (outsider, 404)):
        api.force_authenticate(user)
        for name in ("api:controls-mark", "api:controls-unmark"):
            response = api.post(reverse(name, args=[project.slug]), {"items": [item.pk]}, format="json")
            assert response.status_code == status, (name, user)
        assert api.get(reverse("api:controls", args=[project.slug])).status_code == status
    assert not Item.objects.get(pk=item.pk).is_control

    api.force_authenticate(lead)
    refused = api.post(reverse("api:controls-mark", args=[project.slug]), {"items": [item.pk]}, format="json")
    assert refused.status_code == 400 and "adjudicated gold" in refused.json()["detail"]
    assert api.post(reverse("api:controls-mark", args=[project.slug]), {"items": []}, format="json").status_code == 400


def test_the_html_pages_refuse_annotators(annotator_client, project):
    item = make_items(project, 1)[0]
    assert annotator_client.get(reverse("analysis:controls", args=[project.slug])).status_code == 403
    response = annotator_client.post(reverse("annotator:controls-mark", args=[project.slug]), {"item": [item.pk]})
    assert response.status_code == 403


def test_the_lead_marks_from_the_item_page_and_reads_hostile_names_escaped(lead_client, lead, project):
    hostile = '<script>alert("x")</script>'
    item = Item.objects.create(project=project, external_id=hostile, text=f"<img src=x onerror=alert(1)> {hostile}")
    Label.objects.filter(task__project=project, key="positive").update(name=hostile)
    _adjudicated(project, item, lead, {"sentiment": "positive"})

    page = lead_client.get(reverse("annotator:item-detail", args=[project.slug, item.pk]))
    assert b'id="control-mark"' in page.content
    response = lead_client.post(
        reverse("annotator:controls-mark", args=[project.slug]), {"item": [item.pk], "next": "item"}
    )
    assert response.status_code == 302 and response.url.endswith(f"/items/{item.pk}/")
    assert Item.objects.get(pk=item.pk).is_control

    annotator = make_member(project, username=hostile.replace("<", "").replace(">", "")[:20].replace('"', ""))
    Annotation.objects.create(item=item, annotator=annotator, is_control=True)
    Vote.objects.create(
        annotation=Annotation.objects.get(item=item),
        item=item,
        annotator=annotator,
        round="multimodal",
        task=Label.objects.get(task__project=project, key="positive").task,
        label=Label.objects.get(task__project=project, key="positive"),
        is_control=True,
    )
    report = lead_client.get(reverse("analysis:controls", args=[project.slug]))
    content = report.content.decode()
    assert report.status_code == 200
    assert hostile not in content and "&lt;script&gt;" in content
    assert "<img src=x" not in content
    assert "1 of 1" in content  # the annotator matched the one known answer

    unmarked = lead_client.post(reverse("annotator:controls-unmark", args=[project.slug]), {"item": [item.pk]})
    assert unmarked.status_code == 302 and not Item.objects.get(pk=item.pk).is_control


def test_the_settings_take_the_mixing_rate_and_feedback(lead, project, api):
    update_project_settings(project=project, control_every=20, control_feedback=True)
    project.refresh_from_db()
    assert project.control_every == 20 and project.control_feedback
    with pytest.raises(DomainError):
        update_project_settings(project=project, control_every=5000)
    api.force_authenticate(lead)
    response = api.patch(
        reverse("api:project-detail", args=[project.slug]), {"control_every": 0, "control_feedback": False}, "json"
    )
    assert response.status_code == 200 and response.json()["control_every"] == 0
    bad = api.patch(reverse("api:project-detail", args=[project.slug]), {"control_every": -1}, format="json")
    assert bad.status_code == 400


def test_a_claim_held_on_a_control_item_is_given_back_when_it_expires(lead, seeded):
    from datetime import timedelta

    from django.utils import timezone

    project = _project(lead, every=1)
    control_item = make_control(make_items(project, 1)[0], {"sentiment": "positive"})
    (person,) = members(project, 1)
    claim = queue.claim_next_item(annotator=person, project=project)
    assert claim.item_id == control_item.pk and Item.objects.get(pk=control_item.pk).claim_count == 1
    Claim.objects.filter(pk=claim.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert queue.release_expired_claims(project=project) == 1
    assert Item.objects.get(pk=control_item.pk).claim_count == 0


def test_control_items_are_not_trained_on(lead, project):
    from inference import selectors as inference_selectors

    trained, checked = make_items(project, 2)
    Item.objects.filter(pk__in=[trained.pk, checked.pk]).update(split=Item.Split.TRAIN)
    for item in (trained, checked):
        _adjudicated(project, item, lead, {"sentiment": "positive"})
    controls.mark_from_gold(project=project, item_ids=[checked.pk], lead=lead)

    records = inference_selectors.list_training_records(project)

    assert [record["id"] for record in records] == [trained.pk]
    assert inference_selectors.count_train_gold(project) == 1
    assert inference_selectors.count_train_items_with_gold(project) == 1


def test_feedback_comes_again_on_a_retry_and_a_told_answer_can_no_longer_change(lead, seeded):
    from annotator.selectors import labelling

    project = _project(lead, every=1, feedback=True)
    control_item = make_control(make_items(project, 1)[0], {"sentiment": "negative"})
    (person,) = members(project, 1)
    claim = queue.claim_next_item(annotator=person, project=project)
    key = uuid.uuid4()
    first = submit(person, claim, MSED_LABELS, client_key=key)
    retry = submit(person, claim, MSED_LABELS, client_key=key)
    assert not retry.created and retry.annotation.pk == first.annotation.pk
    assert first.control_feedback == retry.control_feedback == {"sentiment": {"matched": False, "answer": "Negative"}}

    assert labelling.get_annotation_view(first.annotation, project=project)["annotation"]["editable"] is False
    with pytest.raises(DomainError, match="known answers"):
        votes.edit_annotation(
            annotation=first.annotation, editor=person, labels={**MSED_LABELS, "sentiment": "negative"}
        )
    assert Vote.objects.get(item=control_item, task__key="sentiment").label.key == "positive"

    # Without feedback nothing was told, and the annotation may change like any other.
    Project.objects.filter(pk=project.pk).update(control_feedback=False)
    project.refresh_from_db()
    annotation = Annotation.objects.get(pk=first.annotation.pk)
    votes.edit_annotation(annotation=annotation, editor=person, labels={**MSED_LABELS, "sentiment": "negative"})
    changed = Vote.objects.get(item=control_item, task__key="sentiment")
    assert changed.label.key == "negative" and changed.is_control
    assert not Gold.objects.filter(item=control_item).exists()


def test_control_items_and_unimodal_rounds_do_not_go_together(lead):
    project = make_project(lead=lead, name="Rounds", unimodal_rounds=True)
    with pytest.raises(DomainError, match="unimodal rounds"):
        update_project_settings(project=project, control_every=10)
    update_project_settings(project=project, unimodal_rounds=False, control_every=10)
    with pytest.raises(DomainError, match="unimodal rounds"):
        update_project_settings(project=project, unimodal_rounds=True)


def test_the_controls_page_lists_candidates_and_marks_several_at_once(lead_client, lead, project):
    first, second, plain = make_items(project, 3)
    for item in (first, second):
        _adjudicated(project, item, lead, {"emotion": "sad"})
    page = lead_client.get(reverse("analysis:controls", args=[project.slug]))
    assert page.status_code == 200
    content = page.content.decode()
    assert first.external_id in content and second.external_id in content and plain.external_id not in content

    response = lead_client.post(
        reverse("annotator:controls-mark", args=[project.slug]), {"item": [first.pk, second.pk, plain.pk]}
    )

    assert response.status_code == 302 and response.url == reverse("analysis:controls", args=[project.slug])
    assert set(Item.objects.filter(is_control=True).values_list("pk", flat=True)) == {first.pk, second.pk}
    after = lead_client.get(response.url).content.decode()
    assert "Control items (2)" in after and f"Left alone (no adjudicated gold): {plain.external_id}" in after


def test_the_item_api_shows_leads_which_items_are_control_items(api, lead, project):
    plain, checked = make_items(project, 2)
    make_control(checked, {"sentiment": "positive"})
    api.force_authenticate(lead)
    everything = api.get(reverse("api:item-list", args=[project.slug])).json()["results"]
    assert {row["id"]: row["is_control"] for row in everything} == {plain.pk: False, checked.pk: True}
    only = api.get(reverse("api:item-list", args=[project.slug]), {"status": "control"}).json()["results"]
    assert [row["id"] for row in only] == [checked.pk]
    unlabelled = api.get(reverse("api:item-list", args=[project.slug]), {"status": "unlabelled"}).json()["results"]
    assert [row["id"] for row in unlabelled] == [plain.pk]
