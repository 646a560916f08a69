"""manage.py train SLUG [--text-encoder NAME_OR_PATH] [--image-encoder NAME] [--fusion F]
[--recipe R] [--chain ORDER] [--epochs N] [--seed S] ... (every training option:
`manage.py train --help` lists them with their defaults)

Runs a training run in the foreground with the same code as the worker
(execute_training_run), prints progress, and prints the run's test
metrics as JSON on the last line. Bad options or a failed run exit non-zero.
"""

from __future__ import annotations

import argparse
import json

from django.core.management.base import BaseCommand, CommandError

from annotator.errors import DomainError
from annotator.models import Project
from inference.modeling.options import COMMAND, options_for
from inference.models import RunStatus
from inference.services.execution import execute_training_run
from inference.services.runs import start_training_run
from inference.tasks import limit_torch_threads


class Command(BaseCommand):
    help = "Train a model on a project's gold labels in the foreground; prints test metrics as JSON on the last line."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The project's slug.")
        # One argument per training option, from the one description (inference.modeling.options);
        # an option left out keeps its default. Values are checked by the service, as the API's.
        for spec in options_for(COMMAND):
            flag = "--" + spec.name.replace("_", "-")
            help_text = spec.help_text.replace("%", "%%")  # argparse formats help with %
            if spec.type is bool:
                parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
            else:
                parser.add_argument(flag, type=spec.type, default=None, help=help_text)
        parser.add_argument("--name", default="", help="A name for the run.")

    def handle(self, *args, slug, name, **options):
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            raise CommandError(f"There is no project {slug!r}.")
        chosen = {spec.name: options[spec.name] for spec in options_for(COMMAND) if options[spec.name] is not None}
        limit_torch_threads()  # a worker's threads: one to train, every core to encode
        try:
            run = start_training_run(project=project, options=chosen, name=name, enqueue=False)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"training run {run.pk}: {run.name}")
        run = execute_training_run(run=run, report=lambda line: self.stdout.write(line))
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"Training run {run.pk} {run.status}: {run.error}")
        self.stdout.write(f"training run {run.pk} succeeded; model stored as {run.artefact_path} (models storage)")
        self.stdout.write(json.dumps(_summary(run.test_metrics)))


def _summary(metrics: dict) -> dict:
    """Per task P / R / macro-F1 / weighted-F1 / accuracy and the confusion matrix."""
    keys = ("precision", "recall", "macro_f1", "weighted_f1", "accuracy", "confusion")
    return {task: {key: values.get(key) for key in keys} for task, values in metrics.items()}
