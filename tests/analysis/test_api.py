"""The dashboards' JSON API: same numbers as the pages, for leads only."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from analysis import dashboards
from analysis.dashboards.common import N_BOOT
from analysis.selectors import DashboardFilters
from tests.analysis.factories import make_anchoring_project, make_voted_project

PAGES = list(dashboards.PAGES)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def endpoint(page: str, project) -> str:
    return reverse(f"api:{page}", args=[project.slug])


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_outsider_gets_404_from_every_endpoint(page, api, project, outsider):
    api.force_authenticate(outsider)
    assert api.get(endpoint(page, project)).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_annotator_gets_403_from_every_endpoint(page, api, project, annotator):
    api.force_authenticate(annotator)
    assert api.get(endpoint(page, project)).status_code == 403


@pytest.mark.django_db
def test_anonymous_request_is_refused(api, project):
    assert api.get(endpoint("agreement", project)).status_code in (401, 403)


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_lead_gets_json_from_every_endpoint(page, api, project, lead):
    if page == "anchoring":  # needs the experiment's arms
        make_anchoring_project(project, pull=0.3, n_items=12, n_annotators=3)
    else:
        make_voted_project(project, n_items=12, n_annotators=3, with_unimodal=True)
    api.force_authenticate(lead)
    response = api.get(endpoint(page, project))
    assert response.status_code == 200
    body = response.json()
    assert body["page"] == page and body["empty"] is None
    assert body["tables"] and body["filters"]["round"] == "multimodal"
    assert "tasks" in body or "annotators" in body


@pytest.mark.django_db
def test_agreement_json_matches_the_page_numbers(api, project, lead):
    make_voted_project(project, n_items=20, n_annotators=4)
    api.force_authenticate(lead)
    body = api.get(endpoint("agreement", project)).json()
    assert body["n_boot"] == N_BOOT
    desire = body["tasks"][0]
    assert desire["key"] == "desire"
    fleiss = desire["summary"]["fleiss"]
    assert fleiss["ci_low"] <= fleiss["value"] <= fleiss["ci_high"]
    assert fleiss["band"] in {"poor", "slight", "fair", "moderate", "substantial", "almost perfect"}
    assert len(desire["per_category"]) == 7
    assert len(desire["pairwise"]["annotators"]) == 4
    payload = dashboards.get_dashboard(project=project, page="agreement", filters=DashboardFilters())
    assert payload["data"]["tasks"][0]["summary"]["fleiss"]["value"] == fleiss["value"]


@pytest.mark.django_db
def test_filters_are_validated_and_applied(api, project, lead):
    items, annotators = make_voted_project(project, n_items=20, n_annotators=4)
    api.force_authenticate(lead)
    url = endpoint("agreement", project)
    everyone = api.get(url).json()["n_votes"]
    two = api.get(url, {"annotator": [annotators[0].pk, annotators[1].pk]}).json()["n_votes"]
    assert two == everyone // 2
    assert api.get(url, {"split": "test"}).json()["n_items"] == 10
    assert api.get(url, {"split": "nope"}).status_code == 400
    assert api.get(url, {"date_from": "2024-02-01", "date_to": "2024-01-01"}).status_code == 400
    empty = api.get(url, {"split": "dev"}).json()
    assert empty["empty"].startswith("No votes match") and "tasks" not in empty


@pytest.mark.django_db
def test_modalities_json_says_why_it_is_empty(api, project, lead):
    make_voted_project(project, n_items=6, n_annotators=2)
    api.force_authenticate(lead)
    body = api.get(endpoint("modalities", project)).json()
    assert "no unimodal rounds" in body["empty"]


@pytest.mark.django_db
def test_endpoints_are_documented_in_the_schema(api, lead):
    api.force_authenticate(lead)
    schema = api.get(reverse("api-schema"), {"format": "json"}).json()
    for page in PAGES:
        operation = schema["paths"][f"/api/projects/{{slug}}/{page}/"]["get"]
        assert {p["name"] for p in operation["parameters"]} >= {
            "slug",
            "split",
            "round",
            "annotator",
            "date_from",
            "date_to",
        }
    assert "AgreementOut" in schema["components"]["schemas"]
