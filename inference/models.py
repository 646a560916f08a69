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
    # {task_key: metrics} of the best epoch on the dev split (MSED Table 6 "Validation").
    dev_metrics = models.JSONField(default=dict, blank=True)
    best_epoch = models.PositiveIntegerField(default=0)
    # What the worker is doing now ("encoding images 120/600"), for the progress bar.
    phase = models.CharField(max_length=200, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    # Started by the retrain policy: becomes the pre-labeller when it succeeds.
    auto_promote = models.BooleanField(default=False)
    # "host:pid" of the process running the run, and when it last reported:
    # a run whose process is gone (killed worker) is marked failed.
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When the broker took the run's message; null while it waits to be sent
    # (broker unreachable), see annotator/jobs.py.
    sent_at = models.DateTimeField(null=True, blank=True)
    # {task_key: inference.modeling.calibration.calibrate_task(...)}: the
    # temperature fitted on the dev split (applied to the run's suggestions)
    # and the test split's ECE and reliability bins before and after scaling.
    # {} for runs trained before calibration was measured.
    calibration = models.JSONField(default=dict, blank=True)
    # Wall seconds per phase of a succeeded run (issue 13): {"reading",
    # "encoding", "training", "evaluation", "saving", "map"}; {} for older runs.
    timings = models.JSONField(default=dict, blank=True)
    # Fused versus unimodal heads on the items with text and image, per split:
    # {"dev" | "test": {"items": n, "macro_f1": {"fused" | "text" | "image":
    # {task_key: macro-F1}}}} (inference.modeling.training.score_branches);
    # {} for a model without both a fused and a unimodal head, or older runs.
    branch_metrics = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one pre-labeller per project.
            models.UniqueConstraint(
                fields=["project"], condition=Q(is_prelabeller=True), name="one_prelabeller_per_project"
            ),
        ]
        indexes = [models.Index(fields=["status"], name="trainingrun_status")]

    def __str__(self) -> str:
        return self.name or f"run {self.pk}"

    @property
    def progress(self) -> float:
        if self.status == RunStatus.SUCCEEDED:
            return 1.0  # finished, also when early stopping left epochs unused
        return self.epoch / self.epochs_total if self.epochs_total else 0.0

    @property
    def stopped_early(self) -> bool:
        return self.status == RunStatus.SUCCEEDED and 0 < self.epoch < self.epochs_total

    @property
    def stop_note(self) -> str:
        """Why a succeeded run ended before its last epoch, in words ("" if it did not)."""
        if not self.stopped_early:
            return ""
        note = f"Stopped early at epoch {self.epoch} of {self.epochs_total}"
        if self.best_epoch and self.epoch > self.best_epoch:
            stale = self.epoch - self.best_epoch
            return f"{note}: dev macro-F1 had not improved for {stale} epoch{'s' if stale != 1 else ''} (best at epoch {self.best_epoch})."
        return f"{note}: dev macro-F1 had stopped improving."

    @property
    def waiting_for_broker(self) -> bool:
        return self.status == RunStatus.QUEUED and self.sent_at is None

    @property
    def temperatures(self) -> dict[str, float]:
        """{task_key: T} to divide the logits by when predicting (1 where none was fitted)."""
        return {
            key: float(entry.get("temperature") or 1.0)
            for key, entry in (self.calibration or {}).items()
            if isinstance(entry, dict)
        }


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
    started_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Why it ran: "manual", "new pre-labeller", "new items".
    reason = models.CharField(max_length=40, blank=True)
    # Items the model could not read (no modality it was trained on): no suggestions.
    items_skipped = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status"], name="predictionrun_status")]

    def __str__(self) -> str:
        return f"prediction run {self.pk} ({self.status})"

    @property
    def progress(self) -> float:
        return self.items_done / self.items_total if self.items_total else 0.0

    @property
    def waiting_for_broker(self) -> bool:
        return self.status == RunStatus.QUEUED and self.sent_at is None


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

    def __str__(self) -> str:
        return f"suggestion for item {self.item_id}, task {self.task_id}"


class EmbeddingMap(models.Model):
    """A 2-D PCA projection of a run's learned item representations (CH-SIMS Fig. 4).

    item_ids: [n] item ids. spaces: {"text" | "image" | "fused":
    {"xy": [[x, y] | null, ...] aligned with item_ids (null where the item
    has no such vector), "explained": [share of variance of PC1, PC2]}}.
    Computed by the worker after training, so web processes never need torch.
    """

    run = models.OneToOneField(TrainingRun, on_delete=models.CASCADE, related_name="embedding_map")
    item_ids = models.JSONField(default=list)
    spaces = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"embedding map of run {self.run_id}"
