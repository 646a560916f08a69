"""The API takes the JSON types and query values its OpenAPI schema states,
and the schema documents the error answers (tests/test_api_schema_fuzz.py
checks the whole API; these are the fast, named cases)."""

import pytest
from django.urls import reverse

from tests.factories import ItemFactory, allow_project_creation

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": 123}, "name"),
        ({"name": "x", "votes_per_item": "5"}, "votes_per_item"),
        ({"name": "x", "ask_inference_order": 1}, "ask_inference_order"),
    ],
)
def test_a_value_of_the_wrong_json_type_is_a_400_naming_the_field(api, lead, body, field):
    allow_project_creation(lead)
    api.force_authenticate(lead)
    response = api.post(reverse("api:project-list"), body, format="json")
    assert response.status_code == 400 and field in response.json()


def test_form_encoded_bodies_are_refused(api, lead, project):
    api.force_authenticate(lead)
    response = api.patch(reverse("api:project-detail", args=[project.slug]), {"votes_per_item": 3})  # multipart
    assert response.status_code == 415


@pytest.mark.parametrize("body", [{"include_progress": 0}, {"include_progress": "true"}, {"current_item": "12"}])
def test_the_queue_takes_json_booleans_and_integers_only(api, annotator, project, body):
    ItemFactory(project=project)
    api.force_authenticate(annotator)
    assert api.post(reverse("api:queue-next", args=[project.slug]), body, format="json").status_code == 400


@pytest.mark.parametrize(
    "name, query",
    [
        ("api:item-list", {"page_size": "many"}),
        ("api:item-list", {"status": "lost"}),
        ("api:disputed-list", {"complete": "maybe"}),
        ("api:export", {"pseudonymise": "perhaps"}),
    ],
)
def test_a_query_value_the_schema_does_not_allow_is_a_400(api, lead, project, name, query):
    api.force_authenticate(lead)
    response = api.get(reverse(name, args=[project.slug]), query)
    assert response.status_code == 400 and list(query)[0] in response.json()


def test_the_schema_documents_error_answers_and_export_types(api, lead):
    api.force_authenticate(lead)
    schema = api.get("/api/schema/?format=json").json()
    submit = schema["paths"]["/api/projects/{slug}/items/{item_id}/submit/"]["post"]["responses"]
    assert {"400", "401", "403", "404"} <= set(submit)
    assert "404" not in schema["paths"]["/api/projects/"]["get"]["responses"]
    export = schema["paths"]["/api/projects/{slug}/export/"]["get"]["responses"]["200"]["content"]
    assert {"text/csv", "application/x-ndjson", "application/zip"} <= set(export)
    runs = schema["paths"]["/api/projects/{slug}/runs/"]["post"]
    assert set(runs["requestBody"]["content"]) == {"application/json"}
