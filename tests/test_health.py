"""/healthz and /readyz: open to probes, and a failed dependency is named
without revealing anything else about the server."""

import pytest
from django.db import OperationalError, connection

REDIS = "redis://127.0.0.1:6379/0"
NOTHING_LISTENS = "redis://127.0.0.1:1/0"  # port 1: refused at once, on loopback


def test_healthz_answers_anonymous_probes_without_touching_the_database(client):
    # No django_db mark: any database access here would raise.
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_reports_every_dependency_ok(client, settings):
    settings.CELERY_BROKER_URL = REDIS
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "cache": "ok", "storage": "ok"},
    }


@pytest.mark.django_db
def test_readyz_says_tasks_run_in_process_when_no_broker_is_configured(client, settings):
    settings.CELERY_BROKER_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json()["checks"]["broker"] == "in-process"


@pytest.mark.django_db
def test_readyz_names_an_unreachable_broker_and_nothing_more(client, settings):
    settings.CELERY_BROKER_URL = NOTHING_LISTENS
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"] == {"database": "ok", "broker": "unreachable", "cache": "ok", "storage": "ok"}
    assert "127.0.0.1" not in response.content.decode() and "redis" not in response.content.decode()


@pytest.mark.django_db
def test_readyz_names_an_unreachable_cache(client, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": NOTHING_LISTENS}
    }
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["cache"] == "unreachable"
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_readyz_names_storage_it_cannot_write_to(client, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings.MEDIA_ROOT = blocker / "media"
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["storage"] == "unreachable"
    assert str(tmp_path) not in response.content.decode()


@pytest.mark.django_db
def test_readyz_names_an_unreachable_database(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "ensure_connection", refuse)
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["database"] == "unreachable"
    assert "refused" not in response.content.decode()


@pytest.mark.django_db
def test_readyz_leaves_no_probe_files_behind(client, settings):
    assert client.get("/readyz").status_code == 200
    probes = settings.MEDIA_ROOT / "readyz"
    assert not probes.exists() or not any(probes.iterdir())


def test_health_endpoints_refuse_writes(client):
    assert client.post("/healthz").status_code == 405
