"""Waiting on runs that a real Celery worker executes, and starting Celery workers
(the celery_worker_process fixture's, and a second one)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inference.models import RunStatus

FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


def wait_for(run, condition, *, timeout: float = 240, what: str = "the run", worker=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        run.refresh_from_db()
        if condition(run):
            return run
        time.sleep(0.3)
    log = worker.log_path.read_text()[-3000:] if worker is not None else ""
    pytest.fail(f"{what} did not get there in {timeout} s (status {run.status}, error {run.error!r})\n{log}")


def finished(run) -> bool:
    return run.status in FINISHED


def start_second_worker(settings, tmp_path) -> subprocess.Popen:
    """Another worker on the same queue and database as the celery_worker_process fixture's."""
    from config.celery import app

    return start_worker(
        settings,
        tmp_path,
        broker=app.conf.broker_url,
        queue=app.conf.task_default_queue,
        log_name="worker2.log",
        what="The second worker",
    )


def start_worker(settings, tmp_path, *, broker: str, queue: str, log_name: str, what: str) -> subprocess.Popen:
    """A real Celery worker process on `queue` of `broker`, on the test database,
    logging to tmp_path/log_name (its path is proc.log_path); returns once it is
    ready. The one recipe for the celery_worker_process fixture (tests/conftest.py)
    and start_second_worker."""
    from django.db import connection

    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
        "TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "TEST_MODEL_DIR": str(settings.MODEL_DIR),
    }
    log = tmp_path / log_name
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "INFO",
        ],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    proc.log_path = log
    deadline = time.time() + 60
    while "ready" not in log.read_text():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"{what} did not start:\n{log.read_text()}")
        time.sleep(0.2)
    return proc
