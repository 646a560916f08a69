"""REST API: every endpoint refuses outsiders; leads and annotators see what their role allows."""

import pytest
from django.urls import reverse

from annotator.models import Annotation, Vote
from annotator.services.projects import SETTINGS_FIELDS
from tests.factories import ItemFactory, allow_project_creation

pytestmark = pytest.mark.django_db

PROJECT_ENDPOINTS = [
    ("get", "api:project-detail"),
    ("get", "api:project-schema"),
    ("get", "api:item-list"),
    ("get", "api:my-annotations"),
    ("get", "api:gold-list"),
    ("get", "api:member-list"),
    ("post", "api:import-create"),
    ("get", "api:export"),
    ("post", "api:assign-splits"),
]
LEAD_ONLY = {
    "api:item-list",
    "api:gold-list",
    "api:member-list",
    "api:import-create",
    "api:export",
    "api:assign-splits",
}


def test_anonymous_requests_are_refused(api, project):
    assert api.get(reverse("api:project-list")).status_code in (401, 403)
    assert api.get(reverse("api:project-detail", args=[project.slug])).status_code in (401, 403)


@pytest.mark.parametrize("method, name", PROJECT_ENDPOINTS)
def test_an_outsider_is_refused_every_project_endpoint(api, project, outsider, method, name):
    api.force_authenticate(outsider)
    assert getattr(api, method)(reverse(name, args=[project.slug])).status_code == 404


@pytest.mark.parametrize("method, name", [e for e in PROJECT_ENDPOINTS if e[1] in LEAD_ONLY])
def test_an_annotator_is_refused_lead_endpoints(api, project, annotator, method, name):
    api.force_authenticate(annotator)
    assert getattr(api, method)(reverse(name, args=[project.slug])).status_code == 403


def test_token_authentication_works(api, project, lead):
    from tests.factories import make_token

    api.credentials(HTTP_AUTHORIZATION=f"Token {make_token(lead)}")
    response = api.get(reverse("api:project-list"))
    assert response.status_code == 200 and [p["slug"] for p in response.json()] == [project.slug]


def test_create_project_and_read_its_schema(api, lead):
    allow_project_creation(lead)
    api.force_authenticate(lead)
    response = api.post(reverse("api:project-list"), {"name": "API study", "template": "sentiment"}, format="json")
    assert response.status_code == 201
    schema = api.get(reverse("api:project-schema", args=[response.json()["slug"]])).json()
    assert [l["key"] for l in schema["tasks"][0]["labels"]] == ["positive", "neutral", "negative"]


def test_a_schema_error_is_a_400_with_the_reason(api, project, lead):
    api.force_authenticate(lead)
    bad = {"tasks": [{"key": "t", "labels": [{"key": "a", "hotkey": "1"}, {"key": "b", "hotkey": "1"}]}]}
    response = api.put(reverse("api:project-schema", args=[project.slug]), bad, format="json")
    assert response.status_code == 400 and "hotkeys must be unique" in response.json()["detail"]


def test_a_project_reads_back_every_setting_a_lead_can_change(api, project, lead):
    """ProjectOut lists its fields by hand (in the order the API has always
    answered); none of the settings (SETTINGS_FIELDS) may be missing."""
    api.force_authenticate(lead)
    body = api.get(reverse("api:project-detail", args=[project.slug])).json()
    assert set(SETTINGS_FIELDS) <= set(body)
    assert set(body) - set(SETTINGS_FIELDS) == {"id", "slug", "task_gold_strategies", "gold_computed_at", "created_at"}


def test_an_annotator_cannot_change_settings(api, project, annotator):
    api.force_authenticate(annotator)
    response = api.patch(reverse("api:project-detail", args=[project.slug]), {"votes_per_item": 3}, format="json")
    assert response.status_code == 403


def test_items_are_cursor_paginated_and_filtered(api, project, lead):
    for i in range(5):
        ItemFactory(project=project, split="test" if i % 2 else "train")
    api.force_authenticate(lead)
    page = api.get(reverse("api:item-list", args=[project.slug]), {"page_size": 2, "split": "train"}).json()
    assert len(page["results"]) == 2 and page["next"]
    rest = api.get(page["next"]).json()
    assert len(rest["results"]) == 1 and rest["next"] is None
    assert {r["split"] for r in page["results"] + rest["results"]} == {"train"}


def test_my_annotations_never_include_other_peoples_votes(api, project, annotator, other_annotator):
    item = ItemFactory(project=project)
    task = project.tasks.get(key="sentiment")
    for user, key in [(annotator, "positive"), (other_annotator, "negative")]:
        a = Annotation.objects.create(item=item, annotator=user)
        Vote.objects.create(
            annotation=a, item=item, annotator=user, round=a.round, task=task, label=task.labels.get(key=key)
        )
    api.force_authenticate(annotator)
    results = api.get(reverse("api:my-annotations", args=[project.slug])).json()["results"]
    assert len(results) == 1 and results[0]["votes"] == [{"task": "sentiment", "label": "positive"}]


def test_openapi_schema_documents_the_endpoints(api, lead):
    api.force_authenticate(lead)
    response = api.get(reverse("api-schema"), {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/projects/{slug}/imports/" in paths and "/api/projects/{slug}/export/" in paths


def test_the_schema_needs_a_login(api):
    assert api.get(reverse("api-schema")).status_code in (401, 403)


# ----------------------------------------------------------------- export: every file format, safe or raw


def _download(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def export_project(project):
    ItemFactory(project=project, external_id="=1+2", text="@SUM(1+1)", split="train")
    ItemFactory(project=project, external_id="plain", text="-2+3", split="test")
    return project


@pytest.mark.parametrize("param", ["file_format", "format"])
@pytest.mark.parametrize(
    "fmt, content_type",
    [("csv", "text/csv; charset=utf-8"), ("jsonl", "application/x-ndjson; charset=utf-8"), ("msed", "application/zip")],
)
def test_every_export_format_downloads_through_the_api(api, export_project, lead, param, fmt, content_type):
    import io
    import json
    import zipfile

    api.force_authenticate(lead)
    response = api.get(reverse("api:export", args=[export_project.slug]), {param: fmt})

    assert response.status_code == 200, response.content if not response.streaming else ""
    assert response["Content-Type"] == content_type
    body = _download(response)
    if fmt == "jsonl":
        assert [json.loads(line)["id"] for line in body.decode().splitlines()] == ["=1+2", "plain"]
    elif fmt == "msed":
        assert {"train/train.csv", "test/test.csv"} <= set(zipfile.ZipFile(io.BytesIO(body)).namelist())
    else:
        assert body.decode().splitlines()[1].startswith("'=1+2,'@SUM(1+1)")


@pytest.mark.parametrize("fmt, member", [("csv", None), ("msed", "train/train.csv")])
def test_the_raw_option_exports_exact_csv_values(api, export_project, lead, fmt, member):
    import csv
    import io
    import zipfile

    api.force_authenticate(lead)
    url = reverse("api:export", args=[export_project.slug])

    def cells(query) -> list[str]:
        body = _download(api.get(url, query))
        text = zipfile.ZipFile(io.BytesIO(body)).read(member).decode() if member else body.decode()
        return [c for row in csv.reader(io.StringIO(text)) for c in row]

    assert "=1+2" in cells({"file_format": fmt, "raw": "true"}) and "@SUM(1+1)" in cells(
        {"file_format": fmt, "raw": "true"}
    )
    safe = cells({"file_format": fmt})
    assert "'=1+2" in safe and "=1+2" not in safe


def test_an_unknown_export_format_is_a_json_400(api, export_project, lead):
    api.force_authenticate(lead)
    response = api.get(reverse("api:export", args=[export_project.slug]), {"file_format": "xlsx"})
    assert response.status_code == 400
    assert response.json() == {"detail": "file_format must be csv, jsonl or msed.", "field": "file_format"}


def test_the_schema_documents_the_export_formats_raw_option_and_media_types(api, lead):
    api.force_authenticate(lead)
    operation = api.get(reverse("api-schema"), {"format": "json"}).json()["paths"]["/api/projects/{slug}/export/"][
        "get"
    ]
    parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert parameters["file_format"]["enum"] == ["csv", "jsonl", "msed"] and parameters["format"]["enum"] == [
        "csv",
        "jsonl",
        "msed",
    ]
    assert parameters["raw"]["type"] == "boolean"
    assert set(operation["responses"]["200"]["content"]) == {"text/csv", "application/x-ndjson", "application/zip"}
