"""Importing datasets: validate every row first, then write all at once.

Two passes over the file, both streaming:

1. Validation reads every row, checks it against the project's schema
   (annotator.io.validate), checks every image (annotator.io.images) and
   counts what would happen. Nothing is written. Errors are counted in full
   and listed up to MAX_STORED_ERRORS.
2. The write reads the file again and writes it in one transaction, in
   batches of BATCH_SIZE rows (bulk_create, COPY for votes). It runs only if
   the file is clean, or if the lead chose to import only the valid rows.
   Image files stored (annotator.storage) during a write that fails are
   removed again; content-addressed files that existed before are left alone.

Browser imports go through an ImportJob and the Celery task
`annotator.tasks.run_import_job`; the command and tests call `import_path`.
While the write transaction is open, its progress is invisible in the
ImportJob row, so progress is published through Django's cache as well;
`get_import_progress` reads the cache first (use a shared cache such as
Redis, CACHE_URL, when a separate worker runs the imports).

Votes name their annotator. A name matches a project member with that
username (or the username `<name>.<project slug>`, which is what an earlier
import created when the name was taken); otherwise an inactive user with an
unusable password is created and added as an annotator. An existing account
outside the project is never attached from a file.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import SuspiciousFileOperation
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from .. import jobs, selectors, storage, suggestions
from ..errors import DomainError, NotAllowed
from ..io import DatasetError
from ..io import images as image_io
from ..io.readers import Dataset, Limits, open_dataset
from ..io.validate import CleanRow, RowError, RowValidator, check_columns
from ..models import Annotation, Gold, ImageAsset, ImportJob, Item, Membership, Project
from ..schemas import ProjectSchema
from .bulk import AnnotationRow, refresh_vote_counts, write_annotations
from .gold import recompute_gold
from .projects import add_member

log = logging.getLogger(__name__)

BATCH_SIZE = 2000
MAX_STORED_ERRORS = 1000
UPLOAD_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".zip")
PROGRESS_EVERY_ROWS = 500
PROGRESS_TIMEOUT_S = 12 * 3600
_MB = 1024 * 1024
COUNT_KEYS = ("created", "updated", "skipped", "invalid", "votes", "gold", "images", "annotators")

ProgressCallback = Callable[[str, int, int, float, dict], None]


@dataclass
class ImportReport:
    """What an import did (or, for a dry run or a file with errors, would do).

    counts: created / updated / skipped items, invalid rows, votes (one per
    task label), gold labels given by the file, new images, new annotators.
    errors: [{"row", "column", "message"}] (plus "file" for MSED), the first
    MAX_STORED_ERRORS of error_count.
    """

    counts: dict[str, int]
    errors: list[dict]
    error_count: int
    rows_total: int
    dry_run: bool
    written: bool
    format: str = ""
    message: str = ""
    file_error: bool = False

    @property
    def ok(self) -> bool:
        return self.error_count == 0


def _limits(*, raw: bool = False) -> Limits:
    return Limits(
        raw_cells=raw,
        max_image_bytes=settings.MAX_IMAGE_MB * _MB,
        max_image_pixels=settings.MAX_IMAGE_PIXELS,
        max_zip_bytes=settings.MAX_ZIP_UNCOMPRESSED_MB * _MB,
        max_items_file_bytes=settings.MAX_ZIP_UNCOMPRESSED_MB * _MB,
    )


def _check_on_duplicate(on_duplicate: str) -> None:
    if on_duplicate not in ImportJob.OnDuplicate.values:
        raise DomainError(f"on_duplicate must be skip or update, not {on_duplicate!r}.", field="on_duplicate")


def _image_checker(dataset: Dataset, limits: Limits) -> Callable[[str], image_io.ImageInfo]:
    def check(name: str) -> image_io.ImageInfo:
        data = dataset.read_image(name)
        return image_io.inspect_image(
            data, name=name, max_bytes=limits.max_image_bytes, max_pixels=limits.max_image_pixels
        )

    return check


# ----------------------------------------------------------------- pass 1: validation


@dataclass
class _Validation:
    format: str = ""
    rows_total: int = 0
    invalid: int = 0
    error_count: int = 0
    errors: list[dict] = field(default_factory=list)
    file_error: bool = False
    counts: Counter = field(default_factory=Counter)
    images: dict[str, Any] = field(default_factory=dict)
    new_shas: set[str] = field(default_factory=set)
    new_annotators: set[str] = field(default_factory=set)

    def add(self, errors: list[RowError]) -> None:
        self.error_count += len(errors)
        room = MAX_STORED_ERRORS - len(self.errors)
        if room > 0:
            self.errors.extend(e.as_dict() for e in errors[:room])


class _Members:
    """Project members by lower-cased username, for matching vote annotators."""

    def __init__(self, project: Project):
        self.project = project
        self.by_name = {
            name.lower(): user_id
            for name, user_id in Membership.objects.filter(project=project).values_list("user__username", "user_id")
        }

    def alias(self, name: str) -> str:
        return f"{name}.{self.project.slug}"[:150]

    def find(self, name: str) -> int | None:
        return self.by_name.get(name.lower()) or self.by_name.get(self.alias(name).lower())


def _tally(project: Project, rows: list[CleanRow], on_duplicate: str, members: _Members, result: _Validation) -> None:
    """Count what writing these (valid) rows would do: a few queries per batch."""
    existing = set(
        Item.objects.filter(project=project, external_id__in=[r.external_id for r in rows]).values_list(
            "external_id", flat=True
        )
    )
    shas = {r.image_info.sha256 for r in rows if r.image_info} - result.new_shas
    known = set(ImageAsset.objects.filter(sha256__in=shas).values_list("sha256", flat=True))
    for row in rows:
        if row.external_id in existing:
            if on_duplicate == ImportJob.OnDuplicate.SKIP:
                result.counts["skipped"] += 1
                continue
            result.counts["updated"] += 1
        else:
            result.counts["created"] += 1
        if row.image_info and row.image_info.sha256 not in known and row.image_info.sha256 not in result.new_shas:
            result.new_shas.add(row.image_info.sha256)
        result.counts["gold"] += sum(1 for g in row.gold.values() if g.source != Gold.Source.MAJORITY)
        for vote in row.votes:
            result.counts["votes"] += len(vote.labels)
            if members.find(vote.annotator) is None:
                result.new_annotators.add(vote.annotator.lower())
    result.counts["images"] = len(result.new_shas)
    result.counts["annotators"] = len(result.new_annotators)


def _validate(
    project: Project, path: Path, *, on_duplicate: str, progress: ProgressCallback | None, raw: bool = False
) -> _Validation:
    result = _Validation()
    limits = _limits(raw=raw)
    try:
        with open_dataset(path, limits=limits) as dataset:
            result.format = dataset.format
            schema = selectors.get_project_schema(project)
            file_errors = [RowError(row=None, column="", message=p) for p in dataset.column_problems]
            if not dataset.per_row_keys:
                file_errors += check_columns(
                    dataset.columns, schema, display=dataset.display, ignorable=dataset.ignorable_columns
                )
            if file_errors:
                result.file_error = True
                result.add(file_errors)
                return result
            validator = RowValidator(
                schema,
                image_check=_image_checker(dataset, limits),
                display=dataset.display,
                per_row_keys=dataset.per_row_keys,
                ignorable=dataset.ignorable_columns,
            )
            members = _Members(project)
            pending: list[CleanRow] = []
            for raw in dataset.rows():
                result.rows_total += 1
                clean, errors = validator.validate(raw)
                if errors:
                    result.invalid += 1
                    result.add(errors)
                else:
                    pending.append(clean)
                if len(pending) >= BATCH_SIZE:
                    _tally(project, pending, on_duplicate, members, result)
                    pending = []
                if progress and result.rows_total % PROGRESS_EVERY_ROWS == 0:
                    progress("validating", result.rows_total, 0, 100 * (dataset.progress() or 0), _counts(result))
            _tally(project, pending, on_duplicate, members, result)
            result.images = validator.images
    except DatasetError as exc:
        result.file_error = True
        result.add([RowError(row=None, column="", message=exc.message)])
    if not result.file_error and result.rows_total == 0:
        result.file_error = True
        result.add([RowError(row=None, column="", message="The file has no rows of items; nothing to import.")])
    result.counts["invalid"] = result.invalid
    return result


def _counts(result: _Validation) -> dict[str, int]:
    return {key: int(result.counts.get(key, 0)) for key in COUNT_KEYS}


# ----------------------------------------------------------------- pass 2: the write


class _BatchWriter:
    """Writes batches of valid rows inside the import's transaction."""

    def __init__(
        self, *, project: Project, schema: ProjectSchema, on_duplicate: str, dataset: Dataset, created_files: list[str]
    ):
        self.project, self.schema, self.on_duplicate = project, schema, on_duplicate
        self.dataset, self.created_files = dataset, created_files
        self.task_ids = dict(project.tasks.values_list("key", "id"))
        self.label_ids = {
            (task_key, label_key): label_id
            for label_id, task_key, label_key in project.tasks.values_list("labels__id", "key", "labels__key")
            if label_id is not None
        }
        self.members = _Members(project)
        self.user_ids: dict[str, int] = {}
        self.sha_ids: dict[str, int] = {}
        self.counts: Counter = Counter()

    # images
    def _store_file(self, info: image_io.ImageInfo, data: bytes) -> None:
        # content-addressed: when the same bytes are stored already, nothing is written
        if storage.save_image(info.storage_name, data):
            self.created_files.append(info.storage_name)

    def _image_ids(self, rows: list[CleanRow]) -> None:
        wanted = {r.image_info.sha256: r for r in rows if r.image_info and r.image_info.sha256 not in self.sha_ids}
        if not wanted:
            return
        self.sha_ids.update(ImageAsset.objects.filter(sha256__in=wanted).values_list("sha256", "id"))
        new: list[ImageAsset] = []
        for sha, row in wanted.items():
            if sha in self.sha_ids:
                continue
            info = row.image_info
            data = self.dataset.read_image(row.image)
            if image_io.sha256_of(data) != sha:
                raise DomainError(
                    f"The image {row.image} changed while the file was being imported; start the import again."
                )
            self._store_file(info, data)
            new.append(
                ImageAsset(
                    sha256=sha,
                    file=info.storage_name,
                    format=info.format,
                    width=info.width,
                    height=info.height,
                    size_bytes=info.size_bytes,
                )
            )
        # ignore_conflicts: a concurrent import may have stored the same image.
        ImageAsset.objects.bulk_create(new, ignore_conflicts=True)
        self.sha_ids.update(ImageAsset.objects.filter(sha256__in=[a.sha256 for a in new]).values_list("sha256", "id"))
        self.counts["images"] += len(new)

    # annotators
    def _user_id(self, name: str) -> int:
        key = name.lower()
        if key in self.user_ids:
            return self.user_ids[key]
        user_id = self.members.find(name)
        if user_id is None:
            user_id = self._create_annotator(name)
        self.user_ids[key] = user_id
        return user_id

    def _create_annotator(self, name: str) -> int:
        users = get_user_model()
        candidates = [name[:150], self.members.alias(name)] + [
            f"{self.members.alias(name)[:140]}-{i}" for i in range(2, 100)
        ]
        username = next((c for c in candidates if not users.objects.filter(username__iexact=c).exists()), None)
        if username is None:
            raise DomainError(f"No free username could be found for the annotator {name!r}; rename them in the file.")
        user = users(username=username, is_active=False)
        user.set_unusable_password()
        user.save()
        add_member(project=self.project, user=user, role=Membership.Role.ANNOTATOR)
        self.members.by_name[username.lower()] = user.pk
        self.counts["annotators"] += 1
        return user.pk

    def write(self, rows: list[CleanRow]) -> None:
        if not rows:
            return
        existing = {
            item.external_id: item
            for item in Item.objects.select_for_update()
            .filter(project=self.project, external_id__in=[r.external_id for r in rows])
            .order_by("id")
        }
        creates: list[CleanRow] = []
        updates: list[tuple[Item, CleanRow]] = []
        for row in rows:
            item = existing.get(row.external_id)
            if item is None:
                creates.append(row)
            elif self.on_duplicate == ImportJob.OnDuplicate.SKIP:
                self.counts["skipped"] += 1
            else:
                updates.append((item, row))
        self._image_ids(list(creates) + [r for _, r in updates])

        def image_id(row: CleanRow) -> int | None:
            return self.sha_ids[row.image_info.sha256] if row.image_info else None

        def metadata(row: CleanRow, old: dict | None) -> dict:
            meta = dict(row.metadata) if row.metadata is not None else dict(old or {})
            if row.inference_order is not None:
                meta["inference_order"] = list(row.inference_order)
            return meta

        new_items = Item.objects.bulk_create(
            [
                Item(
                    project=self.project,
                    external_id=row.external_id,
                    text=row.text,
                    image_id=image_id(row),
                    metadata=metadata(row, None),
                    split=row.split or Item.Split.UNASSIGNED,
                )
                for row in creates
            ],
            batch_size=BATCH_SIZE,
        )
        for item, row in updates:
            item.text, item.image_id = row.text, image_id(row)
            item.split = row.split or item.split
            item.metadata = metadata(row, item.metadata)
        Item.objects.bulk_update(
            [item for item, _ in updates], ["text", "image", "split", "metadata"], batch_size=BATCH_SIZE
        )
        self.counts["created"] += len(new_items)
        self.counts["updated"] += len(updates)
        written = [(item.pk, row) for item, row in zip(new_items, creates)] + [(item.pk, row) for item, row in updates]
        updated_ids = {item.pk for item, _ in updates}

        # Gold the file gives; gold it marks as majority is recomputed below.
        gold: list[Gold] = []
        back_to_majority: dict[int, list[int]] = defaultdict(list)
        for item_id, row in written:
            for task_key, value in row.gold.items():
                task_id = self.task_ids[task_key]
                if value.source == Gold.Source.MAJORITY:
                    if item_id in updated_ids:
                        back_to_majority[task_id].append(item_id)
                    continue
                gold.append(
                    Gold(
                        item_id=item_id,
                        task_id=task_id,
                        label_id=self.label_ids[(task_key, value.label)],
                        source=value.source,
                        is_tie=False,
                    )
                )
        for task_id, item_ids in back_to_majority.items():
            Gold.objects.filter(task_id=task_id, item_id__in=item_ids).exclude(source=Gold.Source.MAJORITY).delete()
        Gold.objects.bulk_create(
            gold,
            batch_size=BATCH_SIZE,
            update_conflicts=True,
            unique_fields=["item", "task"],
            update_fields=["label", "source", "is_tie", "adjudicated_by"],
        )
        self.counts["gold"] += len(gold)

        # Votes: on update, the file's vote replaces that annotator's vote in that round.
        annotations = [
            AnnotationRow(
                item_id=item_id,
                annotator_id=self._user_id(vote.annotator),
                labels=vote.labels,
                round=vote.round,
                inference_order=vote.inference_order,
                duration_ms=vote.duration_ms,
            )
            for item_id, row in written
            for vote in row.votes
        ]
        if updated_ids and annotations:
            incoming = {(a.item_id, a.annotator_id, a.round) for a in annotations if a.item_id in updated_ids}
            stale = [
                pk
                for pk, item_id, annotator_id, round_ in Annotation.objects.filter(item_id__in=updated_ids).values_list(
                    "id", "item_id", "annotator_id", "round"
                )
                if (item_id, annotator_id, round_) in incoming
            ]
            Annotation.objects.filter(id__in=stale).delete()
        if annotations:
            result = write_annotations(project=self.project, rows=annotations, update_items=False)
            self.counts["votes"] += result["votes"]
        item_ids = sorted(item_id for item_id, _ in written)
        refresh_vote_counts(item_ids)
        recompute_gold(item_ids=item_ids)
        if new_items:
            # New items get suggestions from the project's pre-labeller (queued on commit).
            suggestions.get_provider().on_items_added(project=self.project, item_ids=[item.pk for item in new_items])


def _cached_checker(images: dict[str, Any], dataset: Dataset, limits: Limits) -> Callable[[str], image_io.ImageInfo]:
    """Images were decoded in the validation pass; reuse what it found."""
    full = _image_checker(dataset, limits)

    def check(name: str) -> image_io.ImageInfo:
        found = images.get(name)
        if isinstance(found, image_io.ImageInfo):
            return found
        if isinstance(found, str):
            raise DatasetError(found)
        return full(name)

    return check


def _write(
    project: Project,
    path: Path,
    *,
    on_duplicate: str,
    only_valid_rows: bool,
    validation: _Validation,
    progress: ProgressCallback | None,
    raw: bool = False,
) -> Counter:
    limits = _limits(raw=raw)
    created_files: list[str] = []
    try:
        with transaction.atomic():
            # One import at a time per project, and no schema edits meanwhile.
            locked = Project.objects.select_for_update().get(pk=project.pk)
            schema = selectors.get_project_schema(locked)  # the locked row's token: the current schema
            with open_dataset(path, limits=limits) as dataset:
                validator = RowValidator(
                    schema,
                    image_check=_cached_checker(validation.images, dataset, limits),
                    display=dataset.display,
                    per_row_keys=dataset.per_row_keys,
                    ignorable=dataset.ignorable_columns,
                )
                writer = _BatchWriter(
                    project=project,
                    schema=schema,
                    on_duplicate=on_duplicate,
                    dataset=dataset,
                    created_files=created_files,
                )
                batch: list[CleanRow] = []
                done = reported = 0
                for raw in dataset.rows():
                    done += 1
                    clean, errors = validator.validate(raw)
                    if errors:
                        if only_valid_rows:
                            continue
                        where = f"row {raw.number}" + (f" of {raw.file}" if raw.file else "")
                        raise DomainError(
                            f"{where} no longer passes the checks ({errors[0].message}); the file or the project's "
                            "labels changed since the file was checked. Check it again."
                        )
                    batch.append(clean)
                    if len(batch) >= BATCH_SIZE:
                        writer.write(batch)
                        batch = []
                        if progress:
                            reported = done
                            progress(
                                "running",
                                done,
                                validation.rows_total,
                                100 * done / max(validation.rows_total, 1),
                                _merged(writer.counts, validation),
                            )
                writer.write(batch)
                counts = writer.counts
    except DatasetError as exc:
        _remove(created_files)
        raise DomainError(f"The file could not be read a second time: {exc.message}") from exc
    except BaseException:
        _remove(created_files)
        raise
    if progress and reported != validation.rows_total:
        progress("running", validation.rows_total, validation.rows_total, 100.0, _merged(counts, validation))
    return counts


def _remove(files: list[str]) -> None:
    for name in files:
        try:
            storage.delete_file(name)
        except OSError:  # pragma: no cover - best effort; the sweeper is the fallback
            log.warning("Could not remove %s after a failed import", name)


def _merged(counts: Counter, validation: _Validation) -> dict[str, int]:
    merged = {key: int(counts.get(key, 0)) for key in COUNT_KEYS}
    merged["invalid"] = validation.invalid
    return merged


def _message(report: ImportReport) -> str:
    c = report.counts
    summary = (
        f"{c['created']} items created, {c['updated']} updated, {c['skipped']} skipped as duplicates; "
        f"{c['votes']} votes, {c['gold']} gold labels, {c['images']} new images"
    )
    more = ""
    if report.error_count > len(report.errors):
        more = f" Showing the first {len(report.errors)} of {report.error_count} problems."
    if report.file_error:
        return f"The file cannot be imported: {report.errors[0]['message'] if report.errors else 'unknown problem'}"
    if report.written:
        skipped = f" {c['invalid']} rows with problems were left out." if c["invalid"] else ""
        return f"Imported {report.rows_total} rows: {summary}.{skipped}{more}"
    if report.error_count and c["invalid"] >= report.rows_total:
        rows = (
            "The file's only row has a problem"
            if report.rows_total == 1
            else f"All {report.rows_total} rows have problems"
        )
        return f"{rows}, so nothing was imported. Fix them and upload the file again.{more}"
    if report.error_count:
        return (
            f"{c['invalid']} of {report.rows_total} rows have problems, so nothing was imported. Fix them and import the "
            f"file again, or choose to import only the valid rows.{more}"
        )
    return f"The file is valid ({report.rows_total} rows). Importing it would give: {summary}. Nothing was written yet."


def _run(
    *,
    project: Project,
    path: Path,
    on_duplicate: str,
    dry_run: bool,
    only_valid_rows: bool,
    progress: ProgressCallback | None = None,
    before_write: Callable[[int], None] | None = None,
    raw: bool = False,
) -> ImportReport:
    _check_on_duplicate(on_duplicate)
    validation = _validate(project, path, on_duplicate=on_duplicate, progress=progress, raw=raw)
    counts = _counts(validation)
    report = ImportReport(
        counts=counts,
        errors=validation.errors,
        error_count=validation.error_count,
        rows_total=validation.rows_total,
        dry_run=dry_run,
        written=False,
        format=validation.format,
        file_error=validation.file_error,
    )
    can_write = not validation.file_error and (validation.error_count == 0 or only_valid_rows)
    if dry_run or not can_write:
        report.message = _message(report)
        return report
    if before_write:
        before_write(validation.rows_total)
    written = _write(
        project,
        path,
        on_duplicate=on_duplicate,
        only_valid_rows=only_valid_rows,
        validation=validation,
        progress=progress,
        raw=raw,
    )
    report.counts = _merged(written, validation)
    report.written = True
    report.message = _message(report)
    return report


def import_path(
    *,
    project: Project,
    path: str | Path,
    on_duplicate: str = ImportJob.OnDuplicate.SKIP,
    dry_run: bool = False,
    only_valid_rows: bool = False,
    user=None,
    raw: bool = False,
) -> ImportReport:
    """Validate and (unless dry_run) import a CSV / JSONL / ZIP file or an
    MSED-layout folder, synchronously. Used by `manage.py import_items` and
    tests; the browser goes through create_import_job.

    CSV cells lose the ' a safe export put before = + - @ (see
    writers.unescape_formula); raw=True keeps every cell exactly as written,
    for a raw export whose texts may start with ' themselves.

    Nothing is written when any row is bad, unless only_valid_rows. Call it
    outside any transaction: the write is its own transaction, and image
    files are cleaned up only when that transaction fails.
    Raises DomainError when the write fails (nothing is then written).
    """
    if user is not None and not selectors.is_lead(user, project):
        raise NotAllowed("Only the project's leads can import items.")
    return _run(
        project=project,
        path=Path(path),
        on_duplicate=on_duplicate,
        dry_run=dry_run,
        only_valid_rows=only_valid_rows,
        raw=raw,
    )


# ----------------------------------------------------------------- jobs (browser uploads)


def _progress_key(job_id: int) -> str:
    return f"annotator:import-progress:{job_id}"


def _publish_progress(job_id: int, data: dict) -> None:
    cache.set(_progress_key(job_id), data, PROGRESS_TIMEOUT_S)


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
    _check_on_duplicate(on_duplicate)
    name = original_name or getattr(upload, "name", None) or Path(str(upload)).name
    is_dir = isinstance(upload, (str, Path)) and Path(upload).is_dir()
    suffix = Path(name).suffix.lower()
    if not is_dir and suffix not in UPLOAD_SUFFIXES:
        raise DomainError(f"Upload a .csv, .jsonl or .zip file; {name!r} is not one of them.", field="file")
    size = getattr(upload, "size", None)
    if size is None and not is_dir and isinstance(upload, (str, Path)) and Path(upload).is_file():
        size = Path(upload).stat().st_size
    if size is not None and size > settings.MAX_UPLOAD_MB * _MB:
        raise DomainError(
            f"The file is {size / _MB:,.0f} MB; uploads may be at most {settings.MAX_UPLOAD_MB:,} MB. Split it into smaller files.",
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
    _check_on_duplicate(on_duplicate)
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
            return _run(
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
        cache.delete(_progress_key(key_job))
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
        live = cache.get(_progress_key(job.pk))
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


# ----------------------------------------------------------------- single images


def save_image_asset(*, data: bytes, name: str = "image") -> ImageAsset:
    """Check and store one image, content-addressed; returns its ImageAsset
    (the existing one when the same bytes were stored before). For the demo
    seeder and tests; imports store images in bulk."""
    limits = _limits()
    try:
        info = image_io.inspect_image(
            data, name=name, max_bytes=limits.max_image_bytes, max_pixels=limits.max_image_pixels
        )
    except DatasetError as exc:
        raise DomainError(exc.message) from exc
    created = storage.save_image(info.storage_name, data)
    try:
        with transaction.atomic():
            asset, _ = ImageAsset.objects.get_or_create(
                sha256=info.sha256,
                defaults={
                    "file": info.storage_name,
                    "format": info.format,
                    "width": info.width,
                    "height": info.height,
                    "size_bytes": info.size_bytes,
                },
            )
    except BaseException:
        if created:
            storage.delete_file(info.storage_name)
        raise
    return asset


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
            cache.delete(_progress_key(job.pk))
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
