"""Celery tasks of the annotator app: each takes ids, loads rows and calls one service."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready, worker_shutdown

from . import jobs
from .models import ImportJob
from .services import import_jobs


@shared_task(name="annotator.run_import_job")
def run_import_job(job_id: int, write: bool) -> str:
    """Check, and when `write` import, the file of an ImportJob. The service
    records the outcome (and any failure) on the job itself, so the task
    does not retry: an import is all-or-nothing and is re-run by the lead."""
    job = ImportJob.objects.filter(pk=job_id).select_related("project").first()
    if job is None:  # deleted before the worker got to it
        return "missing"
    return import_jobs.run_import(job=job, write=write).status


@shared_task(name="annotator.sweep_jobs")
def sweep_jobs() -> int:
    """For Celery beat: every job kind's sweep (annotator/jobs.py). Returns how many actions it took."""
    return len(jobs.sweep().lines)


_presence: jobs.WorkerPresenceBeat | None = None


@worker_ready.connect
def announce_worker(sender=None, **kwargs) -> None:
    """Tell leads (the Models page) this worker listens, and on which queues."""
    global _presence
    try:
        queues = list(sender.app.amqp.queues.consume_from or sender.app.amqp.queues)
        _presence = jobs.WorkerPresenceBeat(sender.hostname, queues)
        _presence.start()
    except Exception:  # never keep a worker from starting
        import logging

        logging.getLogger(__name__).exception("could not announce the worker")


@worker_shutdown.connect
def retire_worker(sender=None, **kwargs) -> None:
    if _presence is not None:
        _presence.stop()
