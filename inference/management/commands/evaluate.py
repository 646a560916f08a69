"""manage.py evaluate RUN_ID

Prints a training run's status, configuration summary, training targets
(hard or soft) and test metrics per
task (precision, recall, macro-F1, weighted-F1, accuracy, confusion) as JSON,
with each task's calibration: the temperature fitted on the dev split and
the test split's expected calibration error (15 bins) before and after
temperature scaling ({} for a run trained before calibration was measured).
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from inference.models import RunStatus, TrainingRun
from inference.selectors import targets_of
from inference.services.options import describe_config

CALIBRATION_KEYS = ("temperature", "fitted", "dev_items", "test_items", "n_bins", "ece_before", "ece_after", "note")


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
            "targets": targets_of(run.config),
            "best_epoch": run.best_epoch,
            "test_metrics": {task: {k: m.get(k) for k in keys} for task, m in run.test_metrics.items()},
            "dev_metrics": {
                task: {k: m.get(k) for k in keys if k != "confusion"} for task, m in run.dev_metrics.items()
            },
            "calibration": {
                task: {k: c.get(k) for k in CALIBRATION_KEYS}
                for task, c in (run.calibration or {}).items()
                if isinstance(c, dict)
            },
        }
        self.stdout.write(json.dumps(body))
