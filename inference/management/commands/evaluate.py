"""manage.py evaluate RUN_ID

Prints a training run's status, configuration summary and test metrics per
task (precision, recall, macro-F1, weighted-F1, accuracy, confusion) as JSON.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from inference.models import RunStatus, TrainingRun
from inference.services.options import describe_config


class Command(BaseCommand):
    help = "Print a training run's test metrics as JSON."

    def add_arguments(self, parser):
        parser.add_argument("run_id", type=int, help="The training run's id.")

    def handle(self, *args, run_id, **options):
        run = TrainingRun.objects.filter(pk=run_id).first()
        if run is None:
            raise CommandError(f"There is no training run {run_id}.")
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(
                f"Training run {run_id} is {run.status}{': ' + run.error if run.error else ''}; it has no test metrics."
            )
        keys = ("precision", "recall", "macro_f1", "weighted_f1", "accuracy", "confusion")
        body = {
            "run": run.pk,
            "project": run.project.slug,
            "name": run.name,
            "summary": describe_config(run.config),
            "best_epoch": run.best_epoch,
            "test_metrics": {task: {k: m.get(k) for k in keys} for task, m in run.test_metrics.items()},
            "dev_metrics": {
                task: {k: m.get(k) for k in keys if k != "confusion"} for task, m in run.dev_metrics.items()
            },
        }
        self.stdout.write(json.dumps(body))
