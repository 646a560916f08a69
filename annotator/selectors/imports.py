"""Reads of an import's progress and result, worded for the import page."""

from __future__ import annotations

from django.core.cache import cache

from ..models import ImportJob


def progress_key(job_id: int) -> str:
    """The cache key under which a running import publishes its progress
    (annotator.services.import_jobs writes it; the write transaction hides
    the ImportJob row's updates until it commits)."""
    return f"annotator:import-progress:{job_id}"


def get_import_progress(job: ImportJob) -> dict:
    """{status, rows_done, rows_total, percent, counts, errors, error_count,
    message} of an import, live while it runs (from the cache: the write
    transaction hides the row's updates), else from the ImportJob row."""
    job = ImportJob.objects.get(pk=job.pk)
    if job.status == ImportJob.Status.SUCCEEDED:
        percent = 100.0
    elif job.rows_total:
        percent = round(100 * job.rows_done / job.rows_total, 1)
    else:
        percent = 0.0
    data = {
        "status": job.status,
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        "percent": percent,
        "counts": job.counts or {},
        "errors": job.errors or [],
        "error_count": job.error_count,
        "message": job.message,
    }
    if job.waiting_for_broker:
        data["message"] = (
            "Waiting for the job queue, which cannot be reached just now. "
            "Nothing is lost: the import starts by itself when the queue is back."
        )
    if job.status in (ImportJob.Status.QUEUED, ImportJob.Status.VALIDATING, ImportJob.Status.RUNNING):
        live = cache.get(progress_key(job.pk))
        if live:
            data.update({k: v for k, v in live.items() if v is not None})
            data["status"] = str(data["status"])
    data.update(describe_import_result(data))
    return data


# What the counts mean once the job has settled: done (written), would be
# done (a check), or nothing (the file could not be read). "{s}" is the
# plural ending.
_DONE = {
    "created": "created {n} item{s}",
    "updated": "updated {n} item{s}",
    "skipped": "skipped {n} duplicate{s}",
    "invalid": "left out {n} row{s} with problems",
    "votes": "added {n} vote{s}",
    "gold": "set {n} gold label{s}",
    "images": "stored {n} new image{s}",
    "annotators": "added {n} new annotator{s}",
}
_WOULD = {
    "created": "would create {n} item{s}",
    "updated": "would update {n} item{s}",
    "skipped": "would skip {n} duplicate{s}",
    "invalid": "{n} row{s} with problems",
    "votes": "would add {n} vote{s}",
    "gold": "would set {n} gold label{s}",
    "images": "would store {n} new image{s}",
    "annotators": "would add {n} new annotator{s}",
}


def describe_import_result(progress: dict) -> dict:
    """Read-only view of a progress dict for the import page: file-level
    errors apart from row errors (a file that cannot be read has no rows),
    the number of valid rows, and the counts worded for what happened —
    "items created" after a write, "would be created" after a check, and
    none for a file that could not be read or a job still running.
    Returns {file_errors, row_errors, file_error, valid_rows, summary: [phrase], summary_kind}."""
    errors = progress.get("errors") or []
    file_errors = [e["message"] for e in errors if e.get("row") is None]
    row_errors = [e for e in errors if e.get("row") is not None]
    status, counts = progress["status"], progress.get("counts") or {}
    file_error = bool(file_errors)
    invalid = int(counts.get("invalid", 0))
    valid_rows = 0 if file_error else max(int(progress.get("rows_total") or 0) - invalid, 0)
    if status == ImportJob.Status.SUCCEEDED:
        kind, words = "done", _DONE
    elif status in (ImportJob.Status.VALID, ImportJob.Status.INVALID) and not file_error:
        kind, words = "would", _WOULD
    else:
        kind, words = "", {}
    summary = [
        text.format(n=int(counts.get(key, 0)), s="" if counts.get(key) == 1 else "s")
        for key, text in words.items()
        if counts.get(key) or key == "created"
    ]
    return {
        "file_error": file_error,
        "file_errors": file_errors,
        "row_errors": row_errors,
        "valid_rows": valid_rows,
        "summary": summary,
        "summary_kind": kind,
    }
