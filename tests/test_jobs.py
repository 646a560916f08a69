"""Jobs never stay stuck (annotator/jobs.py): database blips are ridden out,
a broker outage leaves a job waiting that the sweep sends later, dead
workers' jobs are failed with a message, failed imports are retried from
their kept file, and stale files are removed."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.db import OperationalError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from annotator import jobs
from annotator.models import ImportJob, Item
from annotator.services import import_jobs
from inference.models import RunStatus, TrainingRun

REDIS = "redis://127.0.0.1:6379/15"
NOTHING_LISTENS = "redis://127.0.0.1:1/0"  # port 1: refused at once, on loopback
ROWS = "id,text\nw1,A walk by the river\nw2,Sunset over the bay\nw3,A quiet morning\n"


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def this_host_worker(pid: int) -> str:
    return jobs.worker_id().rpartition(":")[0] + f":{pid}"


def upload(tmp_path, project, lead, *, dry_run=False, text=ROWS) -> ImportJob:
    """A job through the service (queued; run at once only where on_commit runs eagerly)."""
    path = tmp_path / f"items-{uuid.uuid4().hex[:6]}.csv"
    path.write_text(text)
    return import_jobs.create_import_job(project=project, user=lead, upload=str(path), dry_run=dry_run)


def artefact_dir_for(run_id: int) -> Path:
    """Where the models storage (a folder in these tests) keeps a run's artefact."""
    return Path(settings.MODEL_DIR) / "runs" / str(run_id)


def stored_upload(job: ImportJob) -> Path:
    """Where the media storage (a folder in these tests) keeps a job's upload."""
    return Path(settings.MEDIA_ROOT) / job.path


def kept_job(project, lead, **fields) -> ImportJob:
    """A job row with its upload kept, as a worker left it (no task runs)."""
    name = f"imports/{uuid.uuid4().hex}/items.csv"
    (Path(settings.MEDIA_ROOT) / name).parent.mkdir(parents=True)
    (Path(settings.MEDIA_ROOT) / name).write_text(ROWS)
    return ImportJob.objects.create(
        project=project,
        created_by=lead,
        original_name="items.csv",
        format="csv",
        sent_at=timezone.now(),
        path=name,
        **fields,
    )


# ---------------------------------------------------------------- retry_db


def test_retry_db_rides_out_a_dropped_connection(monkeypatch):
    monkeypatch.setattr(jobs, "RETRY_WAITS_S", (0, 0, 0))
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("terminating connection due to administrator command")
        return "written"

    assert jobs.retry_db(flaky) == "written" and len(calls) == 3


def test_retry_db_gives_up_after_its_attempts(monkeypatch):
    monkeypatch.setattr(jobs, "RETRY_WAITS_S", (0, 0))
    calls = []

    def down():
        calls.append(1)
        raise OperationalError("connection refused")

    with pytest.raises(OperationalError):
        jobs.retry_db(down)
    assert len(calls) == 3


@pytest.mark.django_db
def test_retry_db_never_retries_inside_the_callers_transaction(monkeypatch):
    monkeypatch.setattr(jobs, "RETRY_WAITS_S", (0, 0))
    calls = []

    def down():
        calls.append(1)
        raise OperationalError("gone")

    with pytest.raises(OperationalError), transaction.atomic():
        jobs.retry_db(down)
    assert len(calls) == 1


@pytest.mark.django_db(transaction=True)
def test_a_real_backend_termination_costs_a_retry_not_the_write(project):
    item = Item.objects.create(project=project, external_id="blip", text="x")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    killer = connection.copy()
    try:
        with killer.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    finally:
        killer.close()
    with pytest.raises(OperationalError):  # what a job's write met before
        Item.objects.filter(pk=item.pk).update(text="before")
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    with killer.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    killer.close()
    assert jobs.retry_db(Item.objects.filter(pk=item.pk).update, text="after") == 1
    assert Item.objects.get(pk=item.pk).text == "after"


# ---------------------------------------------------------------- broker outage


@pytest.fixture
def broker(settings):
    """The Celery app sending for real (not eagerly) to a per-test Redis queue."""
    from config.celery import app
    from tests.conftest import _drop_broker_pools

    queue = f"test-{uuid.uuid4().hex[:8]}"
    old = {k: app.conf.get(k) for k in ("task_always_eager", "broker_url", "task_default_queue", "task_routes")}

    def point_at(url):
        app.conf.update(task_always_eager=False, broker_url=url, task_default_queue=queue, task_routes={})
        _drop_broker_pools(app)

    point_at.queue = queue
    try:
        yield point_at
    finally:
        app.conf.update(old)
        _drop_broker_pools(app)
        redis.Redis.from_url(REDIS).delete(queue)


def queued_messages(queue: str) -> int:
    return redis.Redis.from_url(REDIS).llen(queue)


@pytest.mark.django_db(transaction=True)
def test_an_upload_while_the_broker_is_down_waits_and_the_sweep_sends_it_later(
    project, lead, lead_client, broker, tmp_path
):
    broker(NOTHING_LISTENS)
    rows = tmp_path / "items.csv"
    rows.write_text(ROWS)
    with rows.open("rb") as handle:
        response = lead_client.post(
            reverse("annotator:import-upload", args=[project.slug]), {"file": handle, "on_duplicate": "skip"}
        )
    assert response.status_code == 302  # not a 500
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.QUEUED and job.sent_at is None
    assert Path(job.path) and stored_upload(job).is_file()  # the upload is kept
    page = lead_client.get(response["Location"]).content.decode()
    assert "Waiting for the job queue" in page

    report = jobs.sweep()  # still down, and too recent anyway: nothing sent
    assert ImportJob.objects.get().sent_at is None

    broker(REDIS)
    ImportJob.objects.update(created_at=timezone.now() - timedelta(minutes=1))
    report = jobs.sweep()
    assert f"sent import {job.pk} to the job queue" in report.lines
    assert ImportJob.objects.get().sent_at is not None and queued_messages(broker.queue) == 1
    assert jobs.sweep().lines == [] or all("sent import" not in line for line in jobs.sweep().lines)  # sent once


@pytest.mark.django_db(transaction=True)
def test_a_training_run_started_while_the_broker_is_down_waits_for_it(project, lead, lead_client, broker):
    from inference.reports import run_status
    from tests.inference.factories import make_demo_items

    make_demo_items(project, 24)
    broker(NOTHING_LISTENS)
    response = lead_client.post(
        reverse("inference:run-create", args=[project.slug]), {"name": "while down", "recipe": "cached"}
    )
    assert response.status_code in (200, 302)
    run = TrainingRun.objects.get()
    assert run.status == RunStatus.QUEUED and run.sent_at is None
    assert run_status(run)["phase"].startswith("Waiting for the job queue")

    broker(REDIS)
    TrainingRun.objects.update(created_at=timezone.now() - timedelta(minutes=1))
    assert f"sent training run {run.pk} to the job queue" in jobs.sweep().lines
    assert queued_messages(broker.queue) == 1


# ---------------------------------------------------------------- dead workers and retries


@pytest.mark.django_db(transaction=True)
def test_the_sweep_fails_an_import_whose_worker_died_and_a_retry_imports_it(
    project, lead, tmp_path, django_capture_on_commit_callbacks
):
    job = kept_job(
        project,
        lead,
        status=ImportJob.Status.VALIDATING,
        worker=this_host_worker(dead_pid()),
        heartbeat_at=timezone.now(),
        rows_done=2,
    )
    dry = jobs.sweep(dry_run=True)
    assert f"would fail import {job.pk}: its worker stopped while checking the file" in dry.lines
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.VALIDATING  # dry: nothing changed

    assert f"failed import {job.pk}: its worker stopped while checking the file" in jobs.sweep().lines
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and "Retry it" in job.message and "Nothing was written" in job.message
    assert stored_upload(job).is_file()  # kept for the retry

    with django_capture_on_commit_callbacks(execute=True):
        import_jobs.retry_import(job=job, user=lead)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert Item.objects.filter(project=project).count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_job_on_another_machine_is_failed_only_once_its_heartbeat_is_stale(project, lead, tmp_path):
    job = kept_job(project, lead, status=ImportJob.Status.RUNNING, worker="elsewhere:123", heartbeat_at=timezone.now())
    assert jobs.sweep().lines == []
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - jobs.STALE_AFTER - timedelta(seconds=1))
    assert f"failed import {job.pk}: its worker stopped while importing the file" in jobs.sweep().lines


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_writes_heartbeats(project, lead, tmp_path):
    import time

    job = kept_job(project, lead, status=ImportJob.Status.RUNNING)
    with jobs.Heartbeat(ImportJob, job.pk, every_s=0.05):
        time.sleep(0.4)
    assert ImportJob.objects.get(pk=job.pk).heartbeat_at is not None


@pytest.mark.django_db
def test_a_lead_retries_a_failed_import_from_its_page_and_discards_another(
    project, lead, lead_client, tmp_path, django_capture_on_commit_callbacks
):
    job = upload(tmp_path, project, lead)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.FAILED, message="The worker stopped.")
    page = lead_client.get(reverse("annotator:import-detail", args=[project.slug, job.pk])).content.decode()
    assert "Retry this import" in page and "Discard it" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = lead_client.post(reverse("annotator:import-retry", args=[project.slug, job.pk]))
    assert response.status_code == 302
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.SUCCEEDED

    other = upload(tmp_path, project, lead, dry_run=True)
    with django_capture_on_commit_callbacks(execute=True):
        import_jobs.run_import(job=other, write=False)
    other.refresh_from_db()
    assert other.status == ImportJob.Status.VALID
    folder = stored_upload(other).parent
    with django_capture_on_commit_callbacks(execute=True):
        lead_client.post(reverse("annotator:import-discard", args=[project.slug, other.pk]))
    other.refresh_from_db()
    assert other.status == ImportJob.Status.DISCARDED and not folder.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = lead_client.post(
            reverse("annotator:import-confirm", args=[project.slug, other.pk]), {"on_duplicate": "skip"}, follow=True
        )
    assert "only a checked import can be confirmed" in response.content.decode()


@pytest.mark.django_db
def test_retry_and_discard_through_the_api_refuse_what_does_not_apply(project, lead, annotator, api, tmp_path):
    job = upload(tmp_path, project, lead)
    url = f"/api/projects/{project.slug}/imports/{job.pk}/retry/"
    api.force_authenticate(annotator)
    assert api.post(url).status_code == 403
    api.force_authenticate(lead)
    refused = api.post(url)
    assert refused.status_code == 400 and "only a failed import can be retried" in refused.json()["detail"]
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.FAILED)
    assert api.post(f"/api/projects/{project.slug}/imports/{job.pk}/discard/").json()["status"] == "discarded"


@pytest.mark.django_db
def test_the_sweep_fails_a_training_run_whose_worker_died(project):
    run = TrainingRun.objects.create(
        project=project, status=RunStatus.RUNNING, worker=this_host_worker(dead_pid()), heartbeat_at=timezone.now()
    )
    artefact_dir_for(run.pk).mkdir(parents=True)
    assert f"failed training run {run.pk}: its worker {run.worker} is gone" in jobs.sweep().lines
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "stopped before it finished" in run.error
    assert not artefact_dir_for(run.pk).exists()


# ---------------------------------------------------------------- files


@pytest.mark.django_db
def test_the_sweep_removes_stale_uploads_and_unkept_model_files_and_dry_run_only_lists(
    project, lead, tmp_path, settings, capsys
):
    settings.IMPORT_UPLOAD_RETENTION_DAYS = 7
    old_failed = upload(tmp_path, project, lead)
    recent_failed = upload(tmp_path, project, lead)
    waiting = upload(tmp_path, project, lead)
    long_ago = timezone.now() - timedelta(days=8)
    ImportJob.objects.filter(pk=old_failed.pk).update(status=ImportJob.Status.FAILED, finished_at=long_ago)
    ImportJob.objects.filter(pk=recent_failed.pk).update(status=ImportJob.Status.FAILED, finished_at=timezone.now())
    orphan = Path(settings.MEDIA_ROOT) / "imports" / "orphan"
    orphan.mkdir(parents=True)
    os.utime(orphan, (long_ago.timestamp(), long_ago.timestamp()))
    kept = TrainingRun.objects.create(project=project, status=RunStatus.SUCCEEDED)
    failed = TrainingRun.objects.create(project=project, status=RunStatus.FAILED)
    for run_id in (kept.pk, failed.pk, 99999):
        artefact_dir_for(run_id).mkdir(parents=True)
    leftover = artefact_dir_for(kept.pk).parent / f".{failed.pk}.tmp-abc"
    leftover.mkdir()

    call_command("sweep_jobs", "--dry-run")
    listed = capsys.readouterr().out
    assert (
        f"would remove the upload {stored_upload(old_failed).parent.name} (import {old_failed.pk} is failed)" in listed
    )
    assert "would remove the upload orphan (no import refers to it)" in listed
    assert f"would remove model files {failed.pk} (its run ended failed)" in listed
    assert "would remove model files 99999 (its run was deleted)" in listed
    assert stored_upload(old_failed).exists() and orphan.exists() and artefact_dir_for(99999).exists()

    call_command("sweep_jobs")
    assert not stored_upload(old_failed).exists() and not orphan.exists()
    assert stored_upload(recent_failed).exists() and stored_upload(waiting).exists()
    assert artefact_dir_for(kept.pk).exists()
    assert not artefact_dir_for(failed.pk).exists() and not artefact_dir_for(99999).exists() and not leftover.exists()
    call_command("sweep_jobs")
    assert capsys.readouterr().out.strip().endswith("Nothing to do.")


# ---------------------------------------------------------------- workers line


@pytest.mark.django_db
def test_the_models_page_says_which_queues_have_workers(project, lead_client, settings):
    from annotator.models import WorkerPresence

    url = reverse("inference:run-list", args=[project.slug])
    settings.CELERY_TASK_ALWAYS_EAGER = False
    assert "no worker is running" in lead_client.get(url).content.decode()

    WorkerPresence.objects.create(
        name="celery@jobs", queues=["celery", "imports", "predictions"], seen_at=timezone.now()
    )
    WorkerPresence.objects.create(
        name="celery@gone", queues=["training"], seen_at=timezone.now() - jobs.STALE_AFTER - timedelta(seconds=5)
    )
    page = lead_client.get(url).content.decode()
    assert '1 on <span class="mono">imports</span>' in page
    assert "No worker listens for training: training runs will wait." in page

    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert "jobs run inside the web process" in lead_client.get(url).content.decode()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_announces_its_queues_while_it_runs(celery_worker_process):
    import time

    from annotator.models import WorkerPresence
    from config.celery import app

    deadline = time.time() + 30
    while not WorkerPresence.objects.exists() and time.time() < deadline:
        time.sleep(0.2)
    presence = WorkerPresence.objects.get()
    assert presence.queues == [app.conf.task_default_queue]
    celery_worker_process.terminate()
    celery_worker_process.wait(timeout=30)
    assert not WorkerPresence.objects.exists()  # a worker that stops says so
