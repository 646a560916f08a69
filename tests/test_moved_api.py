"""The dashboards' and the models' JSON moved from /analysis/api/ and
/inference/api/ to /api/ (config/moved_api.py): each old endpoint answers a
308 to its new path, keeping the query string, the method and the body, so
old scripts that follow redirects keep working; nothing else under the old
prefixes answers."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import resolve

from analysis import api_urls as analysis_api_urls
from inference import api_urls as inference_api_urls
from tests.factories import make_token

pytestmark = pytest.mark.django_db

IDS = {"slug": "msed", "run_id": "3", "prediction_id": "4"}


def old_and_new_paths():
    for old_prefix, module in (("analysis/api/", analysis_api_urls), ("inference/api/", inference_api_urls)):
        for entry in getattr(module, "moved_urlpatterns", module.urlpatterns):
            route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: IDS[m[1]], str(entry.pattern))
            yield f"/{old_prefix}projects/msed/{route}", f"/api/projects/msed/{route}", entry.name


OLD_AND_NEW = list(old_and_new_paths())


def test_all_nineteen_old_endpoints_have_a_new_home():
    assert len(OLD_AND_NEW) == 19


def test_an_endpoint_added_after_the_move_has_no_old_path(client):
    assert client.get("/analysis/api/projects/msed/anchoring/").status_code == 404


@pytest.mark.parametrize("old, new, name", OLD_AND_NEW, ids=[old for old, _, _ in OLD_AND_NEW])
def test_every_old_endpoint_answers_308_to_the_same_endpoint_under_api(client, old, new, name):
    response = client.get(old, {"split": "test"})

    assert response.status_code == 308
    assert response["Location"] == f"{new}?split=test"
    match = resolve(new)
    assert match.namespace == "api" and match.url_name == name


def test_a_write_through_an_old_path_keeps_its_method_and_body(api, project, lead):
    api.force_authenticate(lead)

    response = api.put(
        f"/inference/api/projects/{project.slug}/policy/",
        {"retrain_every_n_gold": 50, "suggest_new_items": False},
        format="json",
        follow=True,
    )

    assert response.status_code == 200 and response.redirect_chain == [(f"/api/projects/{project.slug}/policy/", 308)]
    assert api.get(f"/api/projects/{project.slug}/policy/").json()["retrain_every_n_gold"] == 50


def test_a_token_post_to_an_old_path_is_redirected_not_refused_for_csrf(project, lead):
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        f"/inference/api/projects/{project.slug}/runs/", {}, headers={"authorization": f"Token {make_token(lead)}"}
    )

    assert response.status_code == 308 and response["Location"] == f"/api/projects/{project.slug}/runs/"


@pytest.mark.parametrize("path", ["/analysis/api/projects/msed/members/", "/inference/api/projects/msed/queue/next/"])
def test_what_was_never_under_an_old_prefix_is_not_redirected(client, path):
    assert client.get(path).status_code == 404
