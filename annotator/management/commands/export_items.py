"""manage.py export_items SLUG --format csv|jsonl|msed OUT [--pseudonymise] [--with-images] [--raw]

csv / jsonl write a file (a ZIP with the images when OUT ends in .zip;
--with-images copies the images beside the file instead). msed writes a
folder in the MSED release layout (or a ZIP when OUT ends in .zip).
CSV cells are formula-escaped for spreadsheets unless --raw.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from annotator.errors import DomainError
from annotator.management.commands.import_items import get_project
from annotator.services.exports import FORMATS, write_export
from annotator.services.security import record_security_event


class Command(BaseCommand):
    help = "Export a project's items with their gold labels and every vote."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The project's slug.")
        parser.add_argument("out", help="Output file (csv, jsonl, .zip) or folder (msed).")
        parser.add_argument("--format", dest="fmt", required=True, help=f"One of {', '.join(FORMATS)}.")
        parser.add_argument("--pseudonymise", action="store_true", help="Name annotators by their project pseudonym.")
        parser.add_argument("--with-images", action="store_true", help="csv / jsonl: copy the images beside the file.")
        parser.add_argument("--raw", action="store_true", help="CSV: exact values for scripts (no ' before = + - @).")

    def handle(self, *args, slug, out, fmt, pseudonymise, with_images, raw, **options):
        project = get_project(slug)
        if fmt not in FORMATS:
            raise CommandError(f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
        try:
            counts = write_export(
                project=project, fmt=fmt, path=out, pseudonymise=pseudonymise, with_images=with_images, raw=raw
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        except OSError as exc:
            raise CommandError(f"Could not write {out}: {exc}") from exc
        record_security_event(
            kind="export",
            project=project,
            format=fmt,
            pseudonymise=pseudonymise,
            path=str(out),
            via="export_items",
            items=counts["items"],
        )
        if counts.get("left_out"):
            self.stderr.write(
                f"{counts['left_out']} items without a train/dev/test split were left out; run assign splits first."
            )
        self.stdout.write(
            f"Exported {counts['items']} items, {counts['votes']} votes and {counts['images']} images to {out}."
        )
