"""A Redis cache outage costs speed, never a 500 (config/cache.py)."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from annotator.models import ImportJob
from config.cache import FailSoftRedisCache
from tests.analysis.factories import make_voted_project

REDIS = "redis://127.0.0.1:6379/15"
NOTHING_LISTENS = "redis://127.0.0.1:1/0"  # port 1: refused at once, on loopback
OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}


def fail_soft(location):
    return FailSoftRedisCache(location, {"OPTIONS": OPTIONS})


def test_an_unreachable_cache_misses_and_drops_writes_without_raising():
    down = fail_soft(NOTHING_LISTENS)
    assert down.get("k") is None and down.get("k", "fallback") == "fallback"
    down.set("k", "v")
    assert down.add("k", "v") is False and down.get_many(["a", "b"]) == {}
    assert down.set_many({"a": 1, "b": 2}) == ["a", "b"]  # Django's contract: the keys not stored
    assert down.delete("k") is False and down.has_key("k") is False
    down.delete_many(["a"])


def test_a_reachable_cache_still_caches():
    up = fail_soft(REDIS)
    up.set("fail-soft-test", {"n": 1}, 10)
    assert up.get("fail-soft-test") == {"n": 1}
    assert up.add("fail-soft-test", 2) is False
    up.delete("fail-soft-test")
    assert up.get("fail-soft-test") is None


@pytest.fixture
def cache_down(settings):
    settings.CACHES = {
        "default": {"BACKEND": "config.cache.FailSoftRedisCache", "LOCATION": NOTHING_LISTENS, "OPTIONS": OPTIONS}
    }
    assert cache.get("anything", "miss") == "miss"  # the outage is real


@pytest.mark.django_db
def test_the_agreement_dashboard_answers_while_the_cache_is_down(project, lead_client, cache_down):
    make_voted_project(project, n_items=12, n_annotators=3)
    response = lead_client.get(reverse("analysis:agreement", args=[project.slug]))
    assert response.status_code == 200 and b"figure-" in response.content


@pytest.mark.django_db
def test_an_import_page_answers_while_the_cache_is_down(project, lead, lead_client, cache_down):
    job = ImportJob.objects.create(
        project=project,
        created_by=lead,
        original_name="items.csv",
        path="imports/x/items.csv",
        status=ImportJob.Status.VALIDATING,
        rows_total=10,
    )
    response = lead_client.get(reverse("annotator:import-detail", args=[project.slug, job.pk]))
    assert response.status_code == 200
