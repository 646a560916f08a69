"""Training runs, prediction runs and the suggestions they store.

A run is a persisted job record (queued -> running -> succeeded | failed |
cancelled, with an error message); pages poll the row, never Celery's result
backend.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class TrainingRun(models.Model):
    project = models.ForeignKey("annotator.Project", on_delete=models.CASCADE, related_name="training_runs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=200, blank=True)
    # Several runs started by one click (text-only / image-only / fused, ...).
    experiment = models.CharField(max_length=100, blank=True, db_index=True)
    config = models.JSONField(default=dict)
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    epoch = models.PositiveIntegerField(default=0)
    epochs_total = models.PositiveIntegerField(default=0)
    # [{"epoch": 1, "train_loss": 0.9, "dev_macro_f1": 0.41}, ...]
    history = models.JSONField(default=list, blank=True)
    # Counts per split and label of the data the run saw.
    data_counts = models.JSONField(default=dict, blank=True)
    # {task_key: {precision, recall, macro_f1, weighted_f1, accuracy, confusion}}
    test_metrics = models.JSONField(default=dict, blank=True)
    artefact_path = models.CharField(max_length=500, blank=True)
    is_prelabeller = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one pre-labeller per project.
            models.UniqueConstraint(fields=["project"], condition=Q(is_prelabeller=True), name="one_prelabeller_per_project"),
        ]

    def __str__(self) -> str:
        return self.name or f"run {self.pk}"

    @property
    def progress(self) -> float:
        return self.epoch / self.epochs_total if self.epochs_total else 0.0


class PredictionRun(models.Model):
    project = models.ForeignKey("annotator.Project", on_delete=models.CASCADE, related_name="prediction_runs")
    training_run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="prediction_runs")
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    items_total = models.PositiveIntegerField(default=0)
    items_done = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def progress(self) -> float:
        return self.items_done / self.items_total if self.items_total else 0.0


class Suggestion(models.Model):
    """A model's suggested label of one item for one task."""

    run = models.ForeignKey(PredictionRun, on_delete=models.CASCADE, related_name="suggestions")
    item = models.ForeignKey("annotator.Item", on_delete=models.CASCADE, related_name="suggestions")
    task = models.ForeignKey("annotator.Task", on_delete=models.CASCADE, related_name="+")
    label = models.ForeignKey("annotator.Label", on_delete=models.CASCADE, related_name="+")
    probability = models.FloatField()
    # The full probability vector, in the task's label order.
    probabilities = models.JSONField()
    entropy = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "item", "task"], name="suggestion_unique")]
        indexes = [models.Index(fields=["item", "task"], name="suggestion_item_task")]
