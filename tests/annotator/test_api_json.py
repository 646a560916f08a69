"""Hostile JSON bodies get a 400 naming the problem on every JSON write
endpoint (found in the OpenAPI schema, so new endpoints are covered), and
an unexpected error anywhere in the JSON APIs is a JSON 500 without
internals, logged once."""

from __future__ import annotations

import logging
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.views import APIView

from annotator.models import Annotation, ImportJob
from tests.factories import ItemFactory

pytestmark = pytest.mark.django_db

API_PREFIX = "api/"
NESTED = "[" * 1500 + "]" * 1500  # 3 KB; json.loads dies of RecursionError on it


def json_write_operations() -> list[tuple[str, str]]:
    """(method, path template) of every operation that takes a JSON body."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (method, path)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    )


OPERATIONS = json_write_operations()


@pytest.fixture
def lead(lead):
    """The conftest's lead, also allowed to create projects (POST /api/projects/)."""
    from tests.factories import allow_project_creation

    allow_project_creation(lead)
    return type(lead).objects.get(pk=lead.pk)  # a fresh permission cache


@pytest.fixture
def targets(project, lead):
    """Values for every path parameter, owned by the lead, so each request
    passes its permission and object checks and reaches the body."""
    item = ItemFactory(project=project)
    return {
        "slug": project.slug,
        "item_id": item.pk,
        "annotation_id": Annotation.objects.create(item=item, annotator=lead).pk,
        "job_id": ImportJob.objects.create(project=project, created_by=lead, path="imports/x/items.csv").pk,
    }


def call(api, method: str, template: str, targets: dict, body: str):
    names = re.findall(r"{(\w+)}", template)
    missing = [n for n in names if n not in targets]
    assert not missing, f"{template}: give the targets fixture a value for {missing}"
    path = template.format(**{n: targets[n] for n in names})
    return getattr(api, method)(path, data=body, content_type="application/json")


def test_the_schema_lists_the_json_write_endpoints():
    assert len(OPERATIONS) >= 14
    assert ("post", "/api/projects/{slug}/items/{item_id}/submit/") in OPERATIONS
    assert ("post", "/api/projects/{slug}/runs/") in OPERATIONS


@pytest.mark.parametrize("method, template", OPERATIONS)
def test_a_deeply_nested_body_is_a_json_400_on_every_json_write_endpoint(api, lead, targets, method, template):
    api.force_authenticate(lead)

    response = call(api, method, template, targets, NESTED)

    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert "more than 32 levels deep" in response.json()["detail"]


@pytest.mark.parametrize("method, template", OPERATIONS)
def test_a_body_over_the_size_limit_is_a_json_400_on_every_json_write_endpoint(
    api, lead, targets, settings, method, template
):
    settings.API_MAX_JSON_BYTES = 1000
    api.force_authenticate(lead)

    response = call(api, method, template, targets, '{"name": "' + "x" * 2000 + '"}')

    assert response.status_code == 400
    assert response.json() == {"detail": "The JSON body is larger than 1,000 bytes; send less at once."}


@pytest.mark.parametrize(
    "body, words",
    [
        ('{"current_item": NaN}', "NaN is not a number JSON allows"),
        ('{"current_item": ' + "9" * 5000 + "}", "5,000 digits is too long"),
        ('{"current_item": ', "not valid JSON"),
    ],
)
def test_the_labelling_loop_refuses_bad_json_with_a_400(api, project, annotator, body, words):
    api.force_authenticate(annotator)
    response = api.post(reverse("api:queue-next", args=[project.slug]), data=body, content_type="application/json")
    assert response.status_code == 400 and words in response.json()["detail"]


def test_a_body_with_brackets_inside_strings_is_not_mistaken_for_nesting(api, project, lead):
    api.force_authenticate(lead)
    name = "[" * 40 + "{" * 40
    response = api.post(reverse("api:project-list"), data={"name": name, "template": "sentiment"}, format="json")
    assert response.status_code == 201 and response.json()["name"] == name


# ----------------------------------------------------------------- unexpected errors: JSON 500


@pytest.mark.parametrize(
    "target, url",
    [
        ("annotator.api.views.selectors.list_projects_for_member", lambda p: reverse("api:project-list")),
        ("analysis.api.dashboards.get_dashboard", lambda p: reverse("api:agreement", args=[p.slug])),
        ("inference.api.selectors.list_training_runs", lambda p: reverse("api:run-list", args=[p.slug])),
    ],
    ids=["api", "analysis-api", "inference-api"],
)
def test_an_unexpected_error_in_an_api_view_is_a_json_500_logged_once(
    api, project, lead, monkeypatch, caplog, target, url
):
    def broken(*args, **kwargs):
        raise RuntimeError('relation "secret_table" does not exist')

    monkeypatch.setattr(target, broken)
    api.force_authenticate(lead)

    with caplog.at_level(logging.ERROR):
        response = api.get(url(project))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["detail"] and "secret_table" not in body["detail"] and "RuntimeError" not in body["detail"]
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1 and tracebacks[0].exc_info[0] is RuntimeError


def _patterns(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, route)
        elif isinstance(entry, URLPattern):
            yield route, entry.callback


def test_every_view_under_the_json_api_prefix_is_a_drf_view_so_its_errors_are_json():
    views = [(route, callback) for route, callback in _patterns(get_resolver()) if route.startswith(API_PREFIX)]
    assert len(views) > 30
    not_drf = [route for route, callback in views if not issubclass(getattr(callback, "cls", object), APIView)]
    assert not_drf == []
