"""Celery tasks of the annotator app: each takes ids, loads rows and calls one service."""

from __future__ import annotations

from celery import shared_task

from . import jobs
from .models import ImportJob
from .services import imports


@shared_task(name="annotator.run_import_job")
def run_import_job(job_id: int, write: bool) -> str:
    """Check, and when `write` import, the file of an ImportJob. The service
    records the outcome (and any failure) on the job itself, so the task
    does not retry: an import is all-or-nothing and is re-run by the lead."""
    job = ImportJob.objects.filter(pk=job_id).select_related("project").first()
    if job is None:  # deleted before the worker got to it
        return "missing"
    return imports.run_import(job=job, write=write).status


@shared_task(name="annotator.sweep_jobs")
def sweep_jobs() -> int:
    """For Celery beat: every job kind's sweep (annotator/jobs.py). Returns how many actions it took."""
    return len(jobs.sweep().lines)
