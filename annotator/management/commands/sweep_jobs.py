"""Run the job sweep now (Celery beat runs it every 30 s): fail the jobs whose
worker is gone, send the jobs the broker never got, remove stale uploads and
model files. --dry-run lists what it would do and changes nothing."""

from django.core.management.base import BaseCommand

from annotator import jobs


class Command(BaseCommand):
    help = "Fail dead jobs, re-send unsent ones and remove stale uploads and model files (--dry-run: only list)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List what would be done; change nothing.")

    def handle(self, *args, dry_run: bool, **options):
        report = jobs.sweep(dry_run=dry_run)
        for line in report.lines:
            self.stdout.write(line)
        if not report.lines:
            self.stdout.write("Nothing to do.")
