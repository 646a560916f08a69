"""Importing datasets: validate every row first, then write all at once.

Two passes over the file, both streaming:

1. Validation reads every row, checks it against the project's schema
   (annotator.io.validate), checks every image (annotator.io.images) and
   counts what would happen. Nothing is written. Errors are counted in full
   and listed up to MAX_STORED_ERRORS.
2. The write reads the file again and writes it in one transaction, in
   batches of BATCH_SIZE rows (import_writer.BatchWriter: bulk_create, COPY
   for votes). It runs only if the file is clean, or if the lead chose to
   import only the valid rows. Image files stored (annotator.storage) during
   a write that fails are removed again; content-addressed files that existed
   before are left alone.

The command and tests call `import_path`; browser imports go through an
ImportJob (import_jobs), which runs `check_and_write` in the worker.
How votes name their annotators is told in import_writer.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from .. import selectors, storage
from ..errors import DomainError, NotAllowed
from ..io import DatasetError
from ..io import images as image_io
from ..io.readers import Dataset, Limits, open_dataset
from ..io.validate import CleanRow, RowError, RowValidator, check_columns
from ..models import Gold, ImageAsset, ImportJob, Item, Project
from .import_writer import BATCH_SIZE, BatchWriter, Members

log = logging.getLogger(__name__)

MAX_STORED_ERRORS = 1000
PROGRESS_EVERY_ROWS = 500
MB = 1024 * 1024
COUNT_KEYS = ("created", "updated", "skipped", "invalid", "votes", "gold", "images", "annotators", "control")

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


def import_limits(*, raw: bool = False) -> Limits:
    return Limits(
        raw_cells=raw,
        max_image_bytes=settings.MAX_IMAGE_MB * MB,
        max_image_pixels=settings.MAX_IMAGE_PIXELS,
        max_zip_bytes=settings.MAX_ZIP_UNCOMPRESSED_MB * MB,
        max_items_file_bytes=settings.MAX_ZIP_UNCOMPRESSED_MB * MB,
    )


def check_on_duplicate(on_duplicate: str) -> None:
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


def _tally(project: Project, rows: list[CleanRow], on_duplicate: str, members: Members, result: _Validation) -> None:
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
        result.counts["control"] += bool(row.control)
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
    limits = import_limits(raw=raw)
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
            members = Members(project)
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
    limits = import_limits(raw=raw)
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
                writer = BatchWriter(
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


def check_and_write(
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
    """Both passes over the file at `path`: check every row, then (unless
    dry_run, and only if the file is clean or only_valid_rows) write them.
    `progress` hears of both passes; `before_write` is called with the row
    count just before the write starts. No permission check: import_path and
    the import jobs do that."""
    check_on_duplicate(on_duplicate)
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
    tests; the browser goes through import_jobs.create_import_job.

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
    return check_and_write(
        project=project,
        path=Path(path),
        on_duplicate=on_duplicate,
        dry_run=dry_run,
        only_valid_rows=only_valid_rows,
        raw=raw,
    )
