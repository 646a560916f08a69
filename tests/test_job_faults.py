"""Fault tests, bounded and on loopback: the database drops every connection
(what a PostgreSQL restart does to its clients: pg_terminate_backend on the
test database only, so nothing else on the server is disturbed) during
annotation, an import and training; a worker is killed with SIGKILL during
an import and during training. Every job finishes, or is failed by the
sweep and then retried; no acknowledged vote is lost."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid

import pytest
from django.db import InterfaceError, OperationalError, connection
from django.db.models import Count

from annotator import jobs
from annotator.models import Annotation, ImportJob, Item, Vote
from annotator.services import import_jobs, queue, votes
from annotator.tasks import sweep_jobs
from inference.models import RunStatus
from inference.services.runs import start_training_run
from tests.annotator.factories import MSED_LABELS, MSED_ORDER, make_items, members
from tests.factories import make_project
from tests.inference.factories import make_demo_items, tiny_options
from tests.inference.workers import start_second_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
DISCONNECTS = (OperationalError, InterfaceError)


def drop_other_connections() -> int:
    """Terminate every other backend of this test database: to its clients,
    what a restart of PostgreSQL looks like. Returns how many were dropped."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def big_csv(tmp_path, rows: int):
    path = tmp_path / "many.csv"
    path.write_text("id,text\n" + "".join(f"r{i:06d},A walk by the river number {i}\n" for i in range(rows)))
    return path


def wait_for_job(job, condition, *, timeout=240, worker=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job.refresh_from_db()
        if condition(job):
            return job
        time.sleep(0.05)
    log = worker.log_path.read_text()[-3000:] if worker is not None else ""
    pytest.fail(f"the import did not get there (status {job.status}: {job.message})\n{log}")


def test_annotators_keep_every_acknowledged_vote_while_the_database_drops_connections(lead):
    threads, votes_per_item = 10, 3
    project = make_project(lead=lead, name="Blinking database", votes_per_item=votes_per_item)
    make_items(project, 60)
    people = members(project, threads, prefix="blink")
    acknowledged: list[uuid.UUID] = []
    dropped: list[int] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    stop = threading.Event()

    def again(call, *args, **kwargs):
        """A client retrying its request after a dropped connection (the
        submit keeps its client_key, so a retry never counts twice)."""
        for _ in range(200):
            try:
                return call(*args, **kwargs)
            except DISCONNECTS:
                dropped.append(1)
                connection.close()
                time.sleep(0.05)
        raise AssertionError("the database never came back")

    def annotate(person):
        try:
            for _ in range(15):
                claim = again(queue.claim_next_item, annotator=person, project=project)
                if claim is None:
                    return
                key = uuid.uuid4()
                again(
                    votes.submit_annotation,
                    annotator=person,
                    item=claim.item,
                    round_=claim.round,
                    labels=MSED_LABELS,
                    inference_order=MSED_ORDER,
                    client_key=key,
                    duration_ms=900,
                )
                with lock:
                    acknowledged.append(key)
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    def blink():
        # A bounded number of drops: on a loaded machine one claim or submit can take longer than
        # the gap between two drops, and an endless blink would then starve it (not what we test).
        try:
            for _ in range(30):
                if stop.wait(0.15):
                    break
                drop_other_connections()
        finally:
            connection.close()

    blinker = threading.Thread(target=blink)
    workers = [threading.Thread(target=annotate, args=(person,)) for person in people]
    blinker.start()
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=180)
    stop.set()
    blinker.join(timeout=30)
    connection.close()  # this thread's connection was dropped too

    assert not failures, failures[:3]
    assert len(acknowledged) >= 60 and len(dropped) >= 5  # real work, really interrupted
    stored = set(Annotation.objects.filter(client_key__in=acknowledged).values_list("client_key", flat=True))
    assert stored == set(acknowledged)  # every acknowledged vote is stored, once
    assert Annotation.objects.filter(item__project=project).count() == len(acknowledged)
    per_item = Annotation.objects.filter(item__project=project).values("item").annotate(n=Count("id"))
    assert max(row["n"] for row in per_item) <= votes_per_item
    for item in Item.objects.filter(project=project):
        assert item.vote_count == Annotation.objects.filter(item=item).count()
    assert Vote.objects.filter(annotation__item__project=project).count() == 3 * len(acknowledged)


def test_an_import_survives_the_database_dropping_its_connections(celery_worker_process, project, lead, tmp_path):
    worker = celery_worker_process
    rows = 12_000
    job = import_jobs.create_import_job(project=project, user=lead, upload=str(big_csv(tmp_path, rows)))
    wait_for_job(job, lambda j: j.status == ImportJob.Status.VALIDATING and j.rows_done > 0, worker=worker)
    dropped_while_checking = drop_other_connections()
    wait_for_job(
        job, lambda j: j.status == ImportJob.Status.RUNNING or j.status not in ImportJob.ACTIVE_STATUSES, worker=worker
    )
    dropped_while_writing = drop_other_connections() if job.status == ImportJob.Status.RUNNING else 0
    job = wait_for_job(job, lambda j: j.status not in ImportJob.ACTIVE_STATUSES, worker=worker)
    assert dropped_while_checking >= 1 and dropped_while_writing >= 1, "the faults did not hit the job"
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert Item.objects.filter(project=project).count() == rows
    assert "database unreachable" in worker.log_path.read_text()  # it did meet the fault


def test_training_survives_the_database_dropping_its_connections(celery_worker_process, project, tiny_bert):
    worker = celery_worker_process
    make_demo_items(project, 60)
    run = start_training_run(project=project, options=tiny_options(tiny_bert, epochs=80, patience=0))
    wait_for(
        run, lambda r: r.status == RunStatus.RUNNING and r.epoch >= 2, what="the run's second epoch", worker=worker
    )
    # Drop the worker's connections until it has met the fault (bounded).
    for _ in range(20):
        drop_other_connections()
        time.sleep(0.5)
        run.refresh_from_db()
        if "database unreachable" in worker.log_path.read_text() or run.status != RunStatus.RUNNING:
            break
    assert "database unreachable" in worker.log_path.read_text(), (
        f"the fault never hit the run ({run.status}, epoch {run.epoch}):\n{worker.log_path.read_text()[-3000:]}"
    )
    run = wait_for(
        run, lambda r: r.status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED), worker=worker
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.epoch == 80 and set(run.test_metrics) == {"desire", "sentiment", "emotion"}


def test_a_killed_worker_leaves_an_import_that_the_sweep_fails_and_a_retry_finishes(
    celery_worker_process, project, lead, tmp_path, settings
):
    worker = celery_worker_process
    rows = 12_000
    job = import_jobs.create_import_job(project=project, user=lead, upload=str(big_csv(tmp_path, rows)))
    wait_for_job(job, lambda j: j.status == ImportJob.Status.VALIDATING and j.rows_done > 0, worker=worker)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.VALIDATING  # nobody could record anything

    sweep_jobs()  # what Celery beat runs every jobs.SWEEP_EVERY_S
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and "stopped before it finished" in job.message
    assert Item.objects.filter(project=project).count() == 0

    second = start_second_worker(settings, tmp_path)
    try:
        import_jobs.retry_import(job=job, user=lead)
        job = wait_for_job(job, lambda j: j.status not in ImportJob.ACTIVE_STATUSES, worker=second)
        assert job.status == ImportJob.Status.SUCCEEDED, job.message
        assert Item.objects.filter(project=project).count() == rows
    finally:
        second.kill()
        second.wait(timeout=20)


def test_a_killed_worker_leaves_a_training_run_that_the_sweep_fails(celery_worker_process, project, tiny_bert):
    worker = celery_worker_process
    make_demo_items(project, 60)
    run = start_training_run(project=project, options=tiny_options(tiny_bert, epochs=200))
    wait_for(run, lambda r: r.status == RunStatus.RUNNING and r.epoch >= 1, what="the run's first epoch", worker=worker)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    lines = jobs.sweep().lines
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "stopped before it finished" in run.error
    assert f"failed training run {run.pk}: its worker {run.worker} is gone" in lines
