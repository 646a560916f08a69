"""manage.py predict SLUG [--run ID]

Writes suggestions for every item that still needs labels, in the
foreground with the worker's code (execute_prediction_run); the
model is the pre-labeller unless --run names another succeeded run. Prints
a JSON summary on the last line.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from annotator.errors import DomainError
from annotator.models import Project
from inference.models import RunStatus, TrainingRun
from inference.services.execution import execute_prediction_run
from inference.services.runs import start_prediction_run
from inference.tasks import limit_torch_threads


class Command(BaseCommand):
    help = "Write suggestions for unlabelled items with the pre-labeller (or --run); JSON summary on the last line."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The project's slug.")
        parser.add_argument(
            "--run", type=int, help="A succeeded training run of the project (default: the pre-labeller)."
        )

    def handle(self, *args, slug, run, **options):
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            raise CommandError(f"There is no project {slug!r}.")
        training_run = None
        if run is not None:
            training_run = TrainingRun.objects.filter(pk=run, project=project).first()
            if training_run is None:
                raise CommandError(f"Project {slug!r} has no training run {run}.")
        limit_torch_threads()  # a worker's threads: one to score, every core to encode
        try:
            prediction = start_prediction_run(project=project, training_run=training_run, enqueue=False)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        prediction = execute_prediction_run(run=prediction, report=lambda line: self.stdout.write(line))
        if prediction.status != RunStatus.SUCCEEDED:
            raise CommandError(f"Prediction run {prediction.pk} {prediction.status}: {prediction.error}")
        summary = {
            "prediction_run": prediction.pk,
            "training_run": prediction.training_run_id,
            "items": prediction.items_done,
            "skipped": prediction.items_skipped,
            "suggestions": prediction.suggestions.count(),
        }
        self.stdout.write(json.dumps(summary))
