"""manage.py train SLUG [--text-encoder NAME_OR_PATH] [--image-encoder NAME] [--fusion F]
[--recipe R] [--chain ORDER] [--epochs N] [--seed S] ...

Runs a training run in the foreground with the same code as the worker
(services.execute_training_run), prints progress, and prints the run's test
metrics as JSON on the last line. Bad options or a failed run exit non-zero.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from annotator.errors import DomainError
from annotator.models import Project
from inference import services
from inference.models import RunStatus


class Command(BaseCommand):
    help = "Train a model on a project's gold labels in the foreground; prints test metrics as JSON on the last line."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The project's slug.")
        parser.add_argument("--text-encoder", help="all-MiniLM-L6-v2 (default), bilstm, cnn, or a model folder.")
        parser.add_argument("--image-encoder", help="efficientnet-lite0 (default), resnet18, resnet50 or tiny-cnn.")
        parser.add_argument("--image-weights", help="A torchvision state-dict file for resnet18 / resnet50.")
        parser.add_argument(
            "--modalities", choices=["both", "text", "image"], help="Train on both (default) or one modality."
        )
        parser.add_argument("--fusion", help="concat, add, multiply, max, attention, tfn, lmf or joint-pooling.")
        parser.add_argument("--recipe", help="cached (default), finetune-text or finetune-all.")
        parser.add_argument(
            "--chain", help='Task order of chained heads, e.g. "desire>sentiment>emotion"; default independent heads.'
        )
        parser.add_argument("--epochs", type=int, help=f"{services.EPOCHS_MIN}-{services.EPOCHS_MAX} (default 30).")
        parser.add_argument("--lr", type=float, help="Learning rate (default 1e-3).")
        parser.add_argument("--seed", type=int, help="Random seed (default 13).")
        parser.add_argument("--hidden-size", type=int, help="Size of the projected and fused vectors (default 256).")
        parser.add_argument("--batch-size", type=int, help="Batch size (default 32).")
        parser.add_argument("--name", default="", help="A name for the run.")

    def handle(self, *args, slug, name, **options):
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            raise CommandError(f"There is no project {slug!r}.")
        keys = (
            "text_encoder",
            "image_encoder",
            "image_weights",
            "modalities",
            "fusion",
            "recipe",
            "chain",
            "epochs",
            "lr",
            "seed",
            "hidden_size",
            "batch_size",
        )
        chosen = {key: options[key] for key in keys if options.get(key) is not None}
        try:
            run = services.start_training_run(project=project, options=chosen, name=name, enqueue=False)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"training run {run.pk}: {run.name}")
        run = services.execute_training_run(run=run, report=lambda line: self.stdout.write(line))
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"Training run {run.pk} {run.status}: {run.error}")
        self.stdout.write(f"training run {run.pk} succeeded; model stored as {run.artefact_path} (models storage)")
        self.stdout.write(json.dumps(_summary(run.test_metrics)))


def _summary(metrics: dict) -> dict:
    """Per task P / R / macro-F1 / weighted-F1 / accuracy and the confusion matrix."""
    keys = ("precision", "recall", "macro_f1", "weighted_f1", "accuracy", "confusion")
    return {task: {key: values.get(key) for key in keys} for task, values in metrics.items()}
