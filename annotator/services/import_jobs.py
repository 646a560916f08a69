"""Browser imports: an upload kept in the media storage, an ImportJob that
records it, and the Celery task `annotator.tasks.run_import_job` that checks
and writes it through annotator.services.imports.

While the write transaction is open, its progress is invisible in the
ImportJob row, so progress is published through Django's cache as well;
`annotator.selectors.imports.get_import_progress` reads the cache first (use
a shared cache such as Redis, CACHE_URL, when a separate worker runs the
imports). The sweep (`sweep_imports`, registered in annotator/apps.py) fails
imports whose worker is gone and removes uploads nobody needs any more.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import SuspiciousFileOperation
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from .. import jobs, selectors, storage
from ..errors import DomainError, NotAllowed
from ..models import ImportJob, Project
from ..selectors.imports import progress_key
from .imports import MB, ImportReport, check_and_write, check_on_duplicate

log = logging.getLogger(__name__)

UPLOAD_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".zip")
PROGRESS_TIMEOUT_S = 12 * 3600


def _publish_progress(job_id: int, data: dict) -> None:
    cache.set(progress_key(job_id), data, PROGRESS_TIMEOUT_S)


# Uploads wait in the media storage under imports/<uuid>/<name> until imported.
UPLOADS = "imports"


def _job_file(job: ImportJob) -> str:
    """The stored name of the job's upload, imports/<uuid>/<name>."""
    parts = PurePosixPath(job.path).parts
    if len(parts) < 3 or parts[0] != UPLOADS or ".." in parts:
        raise DomainError("This import's file is not where uploads are kept; upload it again.")
    return job.path


def _job_folder(job: ImportJob) -> str:
    return str(PurePosixPath(_job_file(job)).parent)


def _upload_kept(job: ImportJob) -> bool:
    return bool(list(storage.list_files(storage.media_storage(), _job_folder(job))))


def _save_upload(upload: Any, dest: str) -> None:
    if isinstance(upload, (str, Path)):
        source = Path(upload)
        if not source.exists():
            raise DomainError(f"There is no file or folder at {source}.")
        storage.upload_folder(storage.media_storage(), source, dest)
        return
    storage.media_storage().save(dest, upload)


def create_import_job(
    *,
    project: Project,
    user,
    upload: Any,
    original_name: str | None = None,
    on_duplicate: str = ImportJob.OnDuplicate.SKIP,
    dry_run: bool = False,
    only_valid_rows: bool = False,
) -> ImportJob:
    """Keep an uploaded dataset (a Django UploadedFile, or a path) under
    imports/<uuid>/ in the media storage and queue its validation.

    dry_run=True validates only: the job stops at `valid` or `invalid` and
    waits for confirm_import. dry_run=False imports right after validation
    when the file is clean (or when only_valid_rows); a file with bad rows
    stops at `invalid` with its errors listed, and nothing is written.
    The task starts when the surrounding transaction commits.
    """
    from ..tasks import run_import_job

    if not selectors.is_lead(user, project):
        raise NotAllowed("Only the project's leads can import items.")
    check_on_duplicate(on_duplicate)
    name = original_name or getattr(upload, "name", None) or Path(str(upload)).name
    is_dir = isinstance(upload, (str, Path)) and Path(upload).is_dir()
    suffix = Path(name).suffix.lower()
    if not is_dir and suffix not in UPLOAD_SUFFIXES:
        raise DomainError(f"Upload a .csv, .jsonl or .zip file; {name!r} is not one of them.", field="file")
    size = getattr(upload, "size", None)
    if size is None and not is_dir and isinstance(upload, (str, Path)) and Path(upload).is_file():
        size = Path(upload).stat().st_size
    if size is not None and size > settings.MAX_UPLOAD_MB * MB:
        raise DomainError(
            f"The file is {size / MB:,.0f} MB; uploads may be at most {settings.MAX_UPLOAD_MB:,} MB. Split it into smaller files.",
            field="file",
        )
    folder = f"{UPLOADS}/{uuid.uuid4().hex}"
    try:
        safe_name = get_valid_filename(Path(name).name) if not is_dir else "dataset"
    except SuspiciousFileOperation:  # a name with nothing usable left, e.g. "..."
        safe_name = f"upload{suffix}"
    if not is_dir and not safe_name.lower().endswith(suffix):
        safe_name = f"upload{suffix}"
    dest = f"{folder}/{safe_name}"
    try:
        _save_upload(upload, dest)
        with transaction.atomic():
            job = ImportJob.objects.create(
                project=project,
                created_by=user,
                original_name=name[:255],
                path=dest,
                format="msed" if is_dir else suffix.lstrip("."),
                on_duplicate=on_duplicate,
                only_valid_rows=only_valid_rows,
                check_only=dry_run,
                message="Waiting to be checked.",
            )
            jobs.enqueue_on_commit(run_import_job, job.pk, not dry_run, model=ImportJob, pk=job.pk)
    except BaseException:
        storage.delete_tree(storage.media_storage(), folder)
        raise
    return job


@transaction.atomic
def confirm_import(*, job: ImportJob, user, only_valid_rows: bool, on_duplicate: str) -> ImportJob:
    """Import a file that was checked: a clean one, or only the valid rows
    of one with problems. Queues the write when the transaction commits."""
    from ..tasks import run_import_job

    if not selectors.is_lead(user, job.project):
        raise NotAllowed("Only the project's leads can import items.")
    check_on_duplicate(on_duplicate)
    # Lock the job: two confirms must not queue two imports of one file.
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    allowed = (ImportJob.Status.VALID, ImportJob.Status.INVALID, ImportJob.Status.FAILED)
    if job.status not in allowed:
        raise DomainError(f"This import is {job.get_status_display().lower()}; only a checked import can be confirmed.")
    if job.status == ImportJob.Status.INVALID:
        file_level = any(error.get("row") is None for error in job.errors or [])
        if file_level or job.rows_total == 0 or job.counts.get("invalid", 0) >= job.rows_total:
            raise DomainError(f"No row of this file can be imported. {job.message}")
        if not only_valid_rows:
            raise DomainError(
                f"{job.counts.get('invalid', 0)} rows of this file have problems. Fix them and upload the file again, "
                "or choose to import only the valid rows."
            )
    if not _upload_kept(job):
        raise DomainError("The uploaded file is no longer kept; upload it again.")
    job.status = ImportJob.Status.QUEUED
    job.on_duplicate = on_duplicate
    job.only_valid_rows = only_valid_rows
    job.check_only = False  # confirmed: a retry or a re-send imports too
    job.message = "Waiting to be imported."
    job.finished_at = None
    job.sent_at = None
    job.save(
        update_fields=["status", "on_duplicate", "only_valid_rows", "check_only", "message", "finished_at", "sent_at"]
    )
    jobs.enqueue_on_commit(run_import_job, job.pk, True, model=ImportJob, pk=job.pk)
    return job


@transaction.atomic
def retry_import(*, job: ImportJob, user) -> ImportJob:
    """Run a failed import again from the file kept since its upload (a
    killed worker, a database outage): checked and, unless it was a check
    only, imported, with the options chosen at upload."""
    from ..tasks import run_import_job

    if not selectors.is_lead(user, job.project):
        raise NotAllowed("Only the project's leads can import items.")
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportJob.Status.FAILED:
        raise DomainError(f"This import is {job.get_status_display().lower()}; only a failed import can be retried.")
    if not _upload_kept(job):
        raise DomainError("The uploaded file is no longer kept; upload it again.")
    job.status = ImportJob.Status.QUEUED
    job.message = "Waiting to be checked again."
    job.rows_done = 0
    job.finished_at = None
    job.sent_at = None
    job.save(update_fields=["status", "message", "rows_done", "finished_at", "sent_at"])
    jobs.enqueue_on_commit(run_import_job, job.pk, not job.check_only, model=ImportJob, pk=job.pk)
    return job


@transaction.atomic
def discard_import(*, job: ImportJob, user) -> ImportJob:
    """Give up an import that was checked, failed or has errors: its kept
    file is removed and it can no longer be confirmed or retried."""
    if not selectors.is_lead(user, job.project):
        raise NotAllowed("Only the project's leads can import items.")
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    discardable = (ImportJob.Status.VALID, ImportJob.Status.INVALID, ImportJob.Status.FAILED)
    if job.status not in discardable:
        raise DomainError(f"This import is {job.get_status_display().lower()}; it cannot be discarded now.")
    job.status = ImportJob.Status.DISCARDED
    job.message = "Discarded; nothing was imported and the uploaded file was removed."
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "message", "finished_at"])
    try:
        folder = _job_folder(job)
    except DomainError:  # no file kept where uploads are: nothing to remove
        return job
    transaction.on_commit(lambda: storage.delete_tree(storage.media_storage(), folder))
    return job


def run_import(*, job: ImportJob, write: bool) -> ImportJob:
    """Check (and, when `write`, import) the file of a queued job, recording
    the outcome on the job. Called by the Celery task; never raises for a
    bad file or a failed write: the job ends `invalid` or `failed` with a
    message."""
    # Claim the job: a redelivered task (acks_late) must not run it twice.
    now = timezone.now()
    claimed = jobs.retry_db(
        ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.QUEUED).update,
        status=ImportJob.Status.VALIDATING,
        rows_done=0,
        message="Checking the file.",
        worker=jobs.worker_id(),
        heartbeat_at=now,
        sent_at=now,
        what=f"claiming import {job.pk}",
    )
    jobs.retry_db(job.refresh_from_db, what=f"reading import {job.pk}")
    if not claimed:
        return job
    key_job = job.pk
    with jobs.Heartbeat(ImportJob, job.pk):
        return _run_claimed(job, key_job, write)


def _run_claimed(job: ImportJob, key_job: int, write: bool) -> ImportJob:

    def progress(phase: str, rows_done: int, rows_total: int, percent: float, counts: dict) -> None:
        status = ImportJob.Status.VALIDATING if phase == "validating" else ImportJob.Status.RUNNING
        _publish_progress(
            key_job,
            {
                "status": status,
                "rows_done": rows_done,
                "rows_total": rows_total,
                "percent": round(percent, 1),
                "counts": counts,
            },
        )
        if phase == "validating":  # no transaction is open yet, so the row shows it too
            ImportJob.objects.filter(pk=key_job).update(rows_done=rows_done)

    def before_write(rows_total: int) -> None:
        ImportJob.objects.filter(pk=key_job).update(
            status=ImportJob.Status.RUNNING, rows_total=rows_total, rows_done=0, message="Importing."
        )
        _publish_progress(
            key_job, {"status": ImportJob.Status.RUNNING, "rows_done": 0, "rows_total": rows_total, "percent": 0.0}
        )

    def attempt() -> ImportReport:
        # All or nothing: after a database blip the whole check and write
        # run again (the interrupted write was rolled back).
        jobs.fresh_connection()
        with ExitStack() as stack:
            try:
                path = stack.enter_context(storage.local_copy(storage.media_storage(), _job_file(job)))
            except FileNotFoundError as exc:
                raise DomainError("The uploaded file is no longer kept; upload it again.") from exc
            return check_and_write(
                project=job.project,
                path=path,
                on_duplicate=job.on_duplicate,
                dry_run=not write,
                only_valid_rows=job.only_valid_rows,
                progress=progress,
                before_write=before_write,
            )

    try:
        report = jobs.retry_db(attempt, what=f"import {job.pk}")
    except DomainError as exc:
        return _finish(
            job, status=ImportJob.Status.FAILED, message=f"The import failed and nothing was written: {exc.message}"
        )
    except Exception:  # never a 500 or a job stuck in "running"
        # The traceback goes to the log; the person sees no exception text or SQL.
        log.exception("Import job %s failed", job.pk)
        return _finish(
            job,
            status=ImportJob.Status.FAILED,
            message=f"The import failed unexpectedly and nothing was written. Try again, or tell an administrator (import {job.pk}).",
        )
    finally:
        cache.delete(progress_key(key_job))
    if report.written:
        status = ImportJob.Status.SUCCEEDED
    elif report.error_count:
        status = ImportJob.Status.INVALID
    else:
        status = ImportJob.Status.VALID
    job = _finish(job, status=status, message=report.message, report=report)
    if status == ImportJob.Status.SUCCEEDED:
        storage.delete_tree(storage.media_storage(), _job_folder(job))
    return job


def _finish(job: ImportJob, *, status: str, message: str, report: ImportReport | None = None) -> ImportJob:
    return jobs.retry_db(
        _save_ending, job, status=status, message=message, report=report, what=f"ending import {job.pk}"
    )


def _save_ending(job: ImportJob, *, status: str, message: str, report: ImportReport | None = None) -> ImportJob:
    job.status, job.message = status, message
    fields = ["status", "message"]
    if report is not None:
        job.format = report.format or job.format
        job.rows_total = report.rows_total
        job.rows_done = report.rows_total if report.written or status != ImportJob.Status.FAILED else 0
        job.counts = report.counts
        job.errors = report.errors
        job.error_count = report.error_count
        fields += ["format", "rows_total", "rows_done", "counts", "errors", "error_count"]
    if status in (ImportJob.Status.SUCCEEDED, ImportJob.Status.FAILED):
        job.finished_at = timezone.now()
        fields.append("finished_at")
    job.save(update_fields=fields)
    return job


# ----------------------------------------------------------------- the sweep (annotator/jobs.py)


def sweep_imports(report: jobs.SweepReport, now) -> None:
    """Fail the imports whose worker is gone, send the ones whose message
    never reached the broker, and remove uploads nobody needs any more:
    those of ended imports after IMPORT_UPLOAD_RETENTION_DAYS (a failed
    import can be retried until then), and folders no import refers to."""
    from ..tasks import run_import_job

    for job in ImportJob.objects.filter(status__in=ImportJob.WORKING_STATUSES).only(
        "pk", "status", "worker", "heartbeat_at"
    ):
        if not jobs.is_abandoned(job.worker, job.heartbeat_at, now):
            continue
        doing = "checking" if job.status == ImportJob.Status.VALIDATING else "importing"
        if report.dry_run:
            report.add(f"would fail import {job.pk}: its worker stopped while {doing} the file")
            continue
        message = (
            f"The worker {doing} this file stopped before it finished (killed or crashed). "
            "Nothing was written. Retry it: the uploaded file is kept."
        )
        failed = ImportJob.objects.filter(pk=job.pk, status=job.status, worker=job.worker).update(
            status=ImportJob.Status.FAILED, message=message, finished_at=now
        )
        if failed:
            cache.delete(progress_key(job.pk))
            report.add(f"failed import {job.pk}: its worker stopped while {doing} the file")

    jobs.send_unsent(
        report,
        now,
        model=ImportJob,
        queued_status=ImportJob.Status.QUEUED,
        kind="import",
        send=lambda job: run_import_job.apply_async((job.pk, not job.check_only), retry=False),
    )

    _remove_stale_uploads(report, now)


def _remove_stale_uploads(report: jobs.SweepReport, now) -> None:
    media = storage.media_storage()
    try:
        folders, _ = media.listdir(UPLOADS)
    except storage.MISSING:
        return
    keep_until = now - timedelta(days=settings.IMPORT_UPLOAD_RETENTION_DAYS)
    by_folder = {}
    for pk, path, status, created_at, finished_at in ImportJob.objects.values_list(
        "pk", "path", "status", "created_at", "finished_at"
    ):
        parts = Path(path).parts
        if len(parts) >= 2 and parts[0] == "imports":
            by_folder[parts[1]] = (pk, status, finished_at or created_at)
    for name in sorted(folders):
        folder = f"{UPLOADS}/{name}"
        job = by_folder.get(name)
        if job is None:
            # No import refers to it (an upload cut off half-way): give it a
            # day, an upload in progress has no job row yet.
            if _last_modified(media, folder) > now - timedelta(days=1):
                continue
            why = "no import refers to it"
        else:
            pk, status, ended = job
            if status in ImportJob.ACTIVE_STATUSES:
                continue
            if status != ImportJob.Status.SUCCEEDED and status != ImportJob.Status.DISCARDED and ended > keep_until:
                continue
            why = f"import {pk} is {ImportJob.Status(status).label.lower()}"
        if report.dry_run:
            report.add(f"would remove the upload {name} ({why})")
        else:
            storage.delete_tree(media, folder)
            report.add(f"removed the upload {name} ({why})")


def _last_modified(media, folder: str) -> datetime:
    """When anything in a stored upload folder last changed (the folder's own
    time when it holds nothing; object stores have no folder times)."""
    times = [media.get_modified_time(name) for name in storage.list_files(media, folder)]
    if not times:
        try:
            times = [media.get_modified_time(folder)]
        except (*storage.MISSING, NotImplementedError, OSError):
            times = [datetime.min.replace(tzinfo=UTC)]
    return max(times)
