"""manage.py import_items SLUG PATH [--dry-run] [--on-duplicate skip|update] [--only-valid-rows] [--raw]

PATH is a CSV or JSONL file (image paths relative to its folder), a ZIP
holding one with its images, or an MSED-layout folder or ZIP. Prints the
counts, or the bad rows; exits non-zero when nothing could be imported
because of them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotator.errors import DomainError
from annotator.models import ImportJob, Project
from annotator.services.imports import import_path

log = logging.getLogger(__name__)


def get_project(slug: str) -> Project:
    project = Project.objects.filter(slug=slug).first()
    if project is None:
        known = ", ".join(Project.objects.order_by("slug").values_list("slug", flat=True)[:10]) or "none yet"
        raise CommandError(f"There is no project with the slug {slug!r} (projects: {known}).")
    return project


class Command(BaseCommand):
    help = "Validate and import items (with gold and votes) into a project."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The project's slug.")
        parser.add_argument("path", help="CSV, JSONL or ZIP file, or an MSED-layout folder.")
        parser.add_argument("--dry-run", action="store_true", help="Check the file and report; write nothing.")
        parser.add_argument(
            "--on-duplicate",
            default=ImportJob.OnDuplicate.SKIP,
            help="What to do with ids the project has already: skip (default) or update.",
        )
        parser.add_argument(
            "--only-valid-rows", action="store_true", help="Import the valid rows even when some rows have problems."
        )
        parser.add_argument(
            "--raw",
            action="store_true",
            help="CSV cells are exact values (an export made with --raw): keep a leading ' instead of removing it.",
        )

    def handle(self, *args, slug, path, dry_run, on_duplicate, only_valid_rows, raw=False, **options):
        project = get_project(slug)
        if on_duplicate not in ImportJob.OnDuplicate.values:
            raise CommandError(f"--on-duplicate must be skip or update, not {on_duplicate!r}.")
        if not Path(path).exists():
            raise CommandError(f"There is no file or folder at {path}.")
        try:
            report = import_path(
                project=project,
                path=path,
                on_duplicate=on_duplicate,
                dry_run=dry_run,
                only_valid_rows=only_valid_rows,
                raw=raw,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        except Exception as exc:  # the traceback is logged; the message names no internals
            log.exception("import_items %s %s failed", slug, path)
            raise CommandError("The import failed unexpectedly and nothing was written; the error was logged.") from exc
        for error in report.errors:
            where = []
            if error.get("file"):
                where.append(error["file"])
            if error.get("row") is not None:
                where.append(f"row {error['row']}")
            if error.get("column"):
                where.append(f"column {error['column']}")
            prefix = ", ".join(where)
            self.stderr.write(f"{prefix}: {error['message']}" if prefix else error["message"])
        counts = ", ".join(f"{key} {value}" for key, value in report.counts.items())
        self.stdout.write(
            f"{'Dry run' if dry_run else 'Import'} of {Path(path).name} ({report.format or 'unknown format'}): {counts}"
        )
        if report.file_error or (report.error_count and not report.written and not dry_run):
            raise CommandError(report.message)
        self.stdout.write(report.message)
        if dry_run and report.error_count:
            raise CommandError(report.message)
