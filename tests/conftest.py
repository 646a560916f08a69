"""Personas shared by every test: a lead, an annotator and an outsider
around one MSED project, so permission tests read like stories."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotator.models import Membership
from tests.factories import UserFactory, login, make_member, make_project


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MODEL_DIR = tmp_path / "models"


@pytest.fixture(autouse=True)
def _empty_cache():
    """Throttle counters (DRF, invalid API tokens) live in the cache: each
    test starts from none, whatever the tests before it sent. Only the
    in-process cache: a shared Redis is never flushed."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()


@pytest.fixture
def lead(db):
    return UserFactory(username="lena-lead")


@pytest.fixture
def project(lead):
    return make_project(lead=lead)


@pytest.fixture
def annotator(project):
    return make_member(project, role=Membership.Role.ANNOTATOR, username="ana-annotator")


@pytest.fixture
def other_annotator(project):
    return make_member(project, role=Membership.Role.ANNOTATOR, username="otto-annotator")


@pytest.fixture
def outsider(db):
    return UserFactory(username="oscar-outsider")


def _client_for(client, user):
    assert login(client, user)
    return client


@pytest.fixture
def lead_client(client, lead):
    return _client_for(client, lead)


@pytest.fixture
def annotator_client(client, annotator):
    return _client_for(client, annotator)


@pytest.fixture
def outsider_client(client, outsider):
    return _client_for(client, outsider)


@pytest.fixture
def api():
    """An API client; call api.force_authenticate(user) in the test."""
    return APIClient()


@pytest.fixture
def celery_worker_process(transactional_db, settings, tmp_path):
    """A real Celery worker process, fed through Redis, on the test database.

    The test's data must be committed for the worker to see it, hence
    transactional_db. Each run uses its own queue so concurrent test runs on
    one Redis never steal each other's tasks.
    """
    import os
    import subprocess
    import uuid

    import redis

    from config.celery import app
    from tests.inference.workers import start_worker

    broker = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(broker, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:  # pragma: no cover - environment problem, said plainly
        pytest.fail(f"Redis is not reachable at {broker}: {exc}. Start it (see .ci/run).")
    queue = f"test-{uuid.uuid4().hex[:8]}"
    proc = start_worker(settings, tmp_path, broker=broker, queue=queue, log_name="worker.log", what="The Celery worker")
    # Every task goes to this run's own queue (no per-kind routes here).
    old = {k: app.conf.get(k) for k in ("task_always_eager", "broker_url", "task_default_queue", "task_routes")}
    app.conf.update(task_always_eager=False, broker_url=broker, task_default_queue=queue, task_routes={})
    _drop_broker_pools(app)
    try:
        yield proc
    finally:
        app.conf.update(old)
        _drop_broker_pools(app)
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _drop_broker_pools(app) -> None:
    """Forget the Celery app's cached connection and producer pools.

    Eager tasks earlier in the same process leave a pool bound to the broker
    URL of that time (kombu's amqp://localhost default); changing broker_url
    does not replace it, so tasks would never reach the test's worker. Not
    closed: kombu keeps pools per URL in a registry and would hand a closed
    one back later.
    """
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> str:
    """A 2-layer BERT saved to disk once per session (inference and job-fault tests)."""
    from tests.inference.factories import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))
