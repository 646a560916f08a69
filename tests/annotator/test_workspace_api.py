"""The workspace API: claims, submits, skips, own history; the lead's item
record, adjudication and disputed list. Refusals for outsiders (404) and
annotators on lead endpoints (403)."""

from __future__ import annotations

import json
import uuid

import pytest
from django.urls import reverse

from annotator.models import Annotation, AnnotationEdit, Claim, Gold, Skip
from tests.annotator.factories import MSED_LABELS, MSED_ORDER, claim_and_submit, make_items, members
from tests.factories import make_project


@pytest.fixture
def item(project):
    return make_items(project, 2)[0]


def url(name, project, *args):
    return reverse(f"api:{name}", args=[project.slug, *args])


def submit_body(**overrides):
    return {
        "labels": MSED_LABELS,
        "inference_order": MSED_ORDER,
        "client_key": str(uuid.uuid4()),
        "duration_ms": 900,
        **overrides,
    }


def member_requests(project, item, annotation_id):
    return [
        ("post", url("queue-next", project), {}),
        ("post", url("queue-heartbeat", project), {}),
        ("post", url("item-submit", project, item.pk), submit_body()),
        ("post", url("item-skip", project, item.pk), {"reason": "no"}),
        ("get", url("my-annotation", project, annotation_id), None),
        ("patch", url("my-annotation", project, annotation_id), {"labels": MSED_LABELS}),
        ("get", url("my-annotation-step", project), None),
    ]


def lead_requests(project, item):
    return [
        ("get", url("item-detail", project, item.pk), None),
        ("post", url("item-adjudicate", project, item.pk), {"task": "sentiment", "label": "neutral"}),
        ("get", url("disputed-list", project), None),
    ]


def call(api, method, path, body):
    return getattr(api, method)(path, body, format="json") if body is not None else getattr(api, method)(path)


def test_outsiders_get_404_from_every_endpoint(api, outsider, annotator, project, item):
    annotation = claim_and_submit(annotator, project).annotation
    api.force_authenticate(outsider)
    for method, path, body in member_requests(project, item, annotation.pk) + lead_requests(project, item):
        assert call(api, method, path, body).status_code == 404, (method, path)
    assert not Claim.objects.filter(annotator=outsider).exists()


def test_annotators_get_403_from_the_lead_endpoints(api, annotator, project, item):
    claim_and_submit(annotator, project)
    api.force_authenticate(annotator)
    for method, path, body in lead_requests(project, item):
        response = call(api, method, path, body)
        assert response.status_code == 403, (method, path)
        assert "leads" in response.json()["detail"]
    assert not Gold.objects.filter(source=Gold.Source.ADJUDICATED).exists()


def test_signed_out_clients_are_refused(api, project, item):
    assert api.post(url("queue-next", project), {}, format="json").status_code in (401, 403)


def test_an_annotator_cannot_read_or_change_another_annotators_votes(api, annotator, other_annotator, project, item):
    theirs = claim_and_submit(other_annotator, project).annotation
    api.force_authenticate(annotator)
    assert api.get(url("my-annotation", project, theirs.pk)).status_code == 404
    assert (
        api.patch(url("my-annotation", project, theirs.pk), {"labels": MSED_LABELS}, format="json").status_code == 404
    )
    assert api.get(url("my-annotation-step", project)).status_code == 404  # they have none of their own
    next_body = api.post(url("queue-next", project), {"include_progress": True}, format="json").json()
    text = json.dumps(next_body)
    assert "gold" not in text and "votes" not in text and other_annotator.username not in text


def test_next_claims_and_returns_the_item_with_progress(api, annotator, project, item):
    api.force_authenticate(annotator)
    body = api.post(url("queue-next", project), {"include_progress": True}, format="json").json()
    assert body["work"]["item"] == {
        "id": item.pk,
        "external_id": item.external_id,
        "round": "multimodal",
        "text": item.text,
        "image_url": None,
        "has_text": True,
        "has_image": False,
        "hidden": None,
    }
    assert body["progress"]["project_total"] == 2
    ahead = api.post(url("queue-next", project), {"current_item": item.pk}, format="json").json()
    assert ahead["work"]["item"]["id"] != item.pk


def test_next_says_when_nothing_is_left(api, annotator, project):
    api.force_authenticate(annotator)
    body = api.post(url("queue-next", project), {}, format="json").json()
    assert body["work"] is None and "Nothing is left" in body["message"]


def test_submit_then_retry_answers_201_then_200_with_the_same_annotation(api, annotator, project, item):
    api.force_authenticate(annotator)
    api.post(url("queue-next", project), {}, format="json")
    body = submit_body()
    first = api.post(url("item-submit", project, item.pk), body, format="json")
    retry = api.post(url("item-submit", project, item.pk), body, format="json")
    assert (first.status_code, retry.status_code) == (201, 200)
    assert first.json()["annotation"] == retry.json()["annotation"]
    assert retry.json()["created"] is False
    assert Annotation.objects.count() == 1


def test_a_refused_submit_answers_400_with_a_message_to_act_on(api, annotator, project, item):
    api.force_authenticate(annotator)
    response = api.post(url("item-submit", project, item.pk), submit_body(), format="json")
    assert response.status_code == 400
    assert "not assigned to you" in response.json()["detail"]
    api.post(url("queue-next", project), {}, format="json")
    response = api.post(url("item-submit", project, item.pk), submit_body(labels={"desire": "joy"}), format="json")
    assert response.status_code == 400 and response.json()["field"] == "labels"
    assert "'joy' is not a label of Desire" in response.json()["detail"]


def test_skip_releases_the_claim(api, annotator, project, item):
    api.force_authenticate(annotator)
    api.post(url("queue-next", project), {}, format="json")
    response = api.post(url("item-skip", project, item.pk), {"reason": "blurry"}, format="json")
    assert response.status_code == 200
    assert not Claim.objects.exists() and Skip.objects.get().reason == "blurry"


def test_heartbeat_renews_or_says_nothing_is_held(api, annotator, project, item):
    api.force_authenticate(annotator)
    assert api.post(url("queue-heartbeat", project)).json()["expires_at"] is None
    api.post(url("queue-next", project), {}, format="json")
    assert api.post(url("queue-heartbeat", project)).json()["expires_at"] is not None


def test_stepping_back_and_changing_an_annotation(api, annotator, project, item):
    api.force_authenticate(annotator)
    first = claim_and_submit(annotator, project).annotation
    second = claim_and_submit(annotator, project).annotation
    latest = api.get(url("my-annotation-step", project)).json()
    assert latest["annotation"]["id"] == second.pk
    # The page asks for a neighbour only when there is one (no 404 in its console).
    assert latest["annotation"]["has_earlier"] and not latest["annotation"]["has_later"]
    earlier = api.get(url("my-annotation-step", project) + f"?before={second.pk}").json()
    assert earlier["annotation"]["id"] == first.pk and earlier["item"]["text"] == first.item.text
    assert not earlier["annotation"]["has_earlier"] and earlier["annotation"]["has_later"]
    assert api.get(url("my-annotation-step", project) + f"?before={first.pk}").status_code == 404
    forward = api.get(url("my-annotation-step", project) + f"?after={first.pk}").json()
    assert forward["annotation"]["id"] == second.pk
    changed = api.patch(
        url("my-annotation", project, first.pk), {"labels": {**MSED_LABELS, "emotion": "sad"}}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["annotation"]["labels"]["emotion"] == "sad"
    assert AnnotationEdit.objects.get().new["labels"]["emotion"] == "sad"


def test_the_lead_reads_the_item_record(api, lead, annotator, project, item):
    claim_and_submit(annotator, project)
    api.force_authenticate(lead)
    body = api.get(url("item-detail", project, item.pk)).json()
    assert [a["annotator"] for a in body["annotations"]] == ["ana-annotator"]
    assert {g["task"]: g["label"] for g in body["gold"]} == MSED_LABELS
    assert body["counts"] == {"multimodal": {"votes": 1, "claims": 0}}


def test_the_lead_adjudicates_and_the_item_leaves_the_disputed_list(api, lead):
    project = make_project(lead=lead, name="API disputes", votes_per_item=2)
    (item,) = make_items(project, 1)
    a, b = members(project, 2)
    claim_and_submit(a, project)
    claim_and_submit(b, project, labels={**MSED_LABELS, "desire": "romance"})
    api.force_authenticate(lead)
    disputed = api.get(url("disputed-list", project)).json()
    assert [i["id"] for i in disputed["items"]] == [item.pk]
    response = api.post(url("item-adjudicate", project, item.pk), {"task": "desire", "label": "romance"}, format="json")
    assert response.status_code == 200 and response.json()["source"] == "adjudicated"
    assert api.get(url("disputed-list", project)).json()["items"] == []
    bad = api.post(url("item-adjudicate", project, item.pk), {"task": "desire", "label": "joy"}, format="json")
    assert bad.status_code == 400 and "not a label of Desire" in bad.json()["detail"]


def test_the_openapi_schema_documents_every_workspace_endpoint(api, lead):
    api.force_authenticate(lead)
    schema = api.get(reverse("api-schema"), {"format": "json"}).json()
    for path in [
        "/api/projects/{slug}/queue/next/",
        "/api/projects/{slug}/queue/heartbeat/",
        "/api/projects/{slug}/items/{item_id}/submit/",
        "/api/projects/{slug}/items/{item_id}/skip/",
        "/api/projects/{slug}/annotations/mine/{annotation_id}/",
        "/api/projects/{slug}/annotations/mine/previous/",
        "/api/projects/{slug}/items/{item_id}/",
        "/api/projects/{slug}/items/{item_id}/adjudicate/",
        "/api/projects/{slug}/disputed/",
    ]:
        assert path in schema["paths"], path
    assert "client_key" in json.dumps(schema["components"]["schemas"]["SubmitInRequest"])


def test_the_labelling_loop_answers_exactly_what_its_serializers_document(api, annotator, project, item):
    # The two hot views build their answers without serializers; the
    # documented serializers must reproduce them field for field.
    from annotator.api import workspace_serializers as s

    api.force_authenticate(annotator)
    body = api.post(url("queue-next", project), {"include_progress": True}, format="json").json()
    assert body["work"] and body["progress"]
    assert json.loads(json.dumps(s.NextOut(body).data)) == body
    done = api.post(url("item-submit", project, body["work"]["item"]["id"]), submit_body(), format="json").json()
    assert json.loads(json.dumps(s.SubmitOut(done).data)) == done


@pytest.mark.parametrize(
    "body, field",
    [
        ({"current_item": "abc"}, "current_item"),
        ({"current_item": [1]}, "current_item"),
        ({"include_progress": "maybe"}, "include_progress"),
    ],
)
def test_next_refuses_malformed_input_naming_the_field(api, annotator, project, item, body, field):
    api.force_authenticate(annotator)
    response = api.post(url("queue-next", project), body, format="json")
    assert response.status_code == 400 and response.json()["field"] == field
    assert not Claim.objects.exists()


@pytest.mark.parametrize(
    "body, expected",
    [
        ([], "JSON object"),
        (submit_body(client_key=None), "client_key"),
        (submit_body(client_key="not-a-uuid"), "UUID"),
        (submit_body(suggestion_run="x"), "whole number"),
        (submit_body(labels="positive"), "labels as an object"),
        (submit_body(duration_ms="long"), "milliseconds"),
        (submit_body(inference_order="desire"), "list of task keys"),
        (submit_body(round="audio"), "no 'audio' round"),
    ],
)
def test_submit_refuses_malformed_input_with_a_message_and_saves_nothing(api, annotator, project, item, body, expected):
    api.force_authenticate(annotator)
    claimed = api.post(url("queue-next", project), {}, format="json").json()["work"]["item"]["id"]
    response = api.post(url("item-submit", project, claimed), body, format="json")
    assert response.status_code == 400 and expected in response.json()["detail"]
    assert not Annotation.objects.exists() and Claim.objects.filter(item_id=claimed).exists()


def test_a_label_added_to_the_schema_can_be_used_at_once(api, lead, annotator, project, item):
    from annotator.selectors import get_project_schema
    from annotator.services.projects import save_schema

    api.force_authenticate(annotator)
    first = api.post(url("queue-next", project), {}, format="json").json()["work"]["item"]["id"]
    assert api.post(url("item-submit", project, first), submit_body(), format="json").status_code == 201
    tasks = get_project_schema(project).as_dicts()
    tasks[2]["labels"].append({"key": "awe", "name": "Awe", "description": "", "hotkey": ""})
    save_schema(project=project, tasks=tasks)  # after the schema was cached by the first submit
    second = api.post(url("queue-next", project), {}, format="json").json()["work"]["item"]["id"]
    response = api.post(
        url("item-submit", project, second), submit_body(labels={**MSED_LABELS, "emotion": "awe"}), format="json"
    )
    assert response.status_code == 201


def test_a_bad_or_inactive_token_is_refused(annotator, project, item):
    from rest_framework.test import APIClient

    from tests.factories import make_token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 64)
    assert client.post(url("queue-next", project), {}, format="json").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(annotator)}")
    assert client.post(url("queue-next", project), {}, format="json").status_code == 200
    annotator.is_active = False
    annotator.save(update_fields=["is_active"])
    assert client.post(url("queue-next", project), {}, format="json").status_code == 401
