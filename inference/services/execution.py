"""Running training and prediction runs, in a worker or a command.

execute_* claims a queued run (queued -> running; a redelivered message
loses the race), does the work with progress, heartbeat and the cancel flag
written to the row, and always ends it: succeeded, failed with an error a
person can read (server paths made relative), or cancelled. A run whose
process is gone (a dead pid on this machine, elsewhere no heartbeat) is
failed by fail_abandoned_runs, and nothing it did is kept.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from annotator import jobs
from annotator.errors import DomainError
from annotator.jobs import Heartbeat, fresh_connection, retry_db, worker_id
from annotator.models import Project

from .. import selectors
from .. import storage as model_files
from ..models import EmbeddingMap, PredictionRun, RunStatus, Suggestion, TrainingRun
from ..storage import feature_cache_dir, remove_run_files
from .files import hide_server_paths
from .prelabelling import mark_prelabeller
from .uncertainty import refresh_item_uncertainty

log = logging.getLogger(__name__)

# Points of the embedding map: enough to see clusters, few enough to draw.
MAP_POINTS = 1500
# Records per predict() call: bounds the worker's memory on large projects.
PREDICT_BATCH = 2048
SUGGESTION_BATCH = 2000
# How often a running job reads its cancel flag and writes its heartbeat
# (a Heartbeat thread stamps it too, in phases that report nothing).
CHECK_SECONDS = 1.0


def fail_abandoned_runs() -> int:
    """Mark failed every running run whose process is gone: on this machine
    a dead pid, elsewhere no heartbeat for STALE_AFTER. Removes their
    artefacts and suggestions so the next run starts cleanly. Called when a
    worker starts and before each run (and by the sweep, inference/jobs.py).
    Returns how many were failed."""
    now = timezone.now()
    return sum(
        fail_abandoned_run(model=model, pk=pk, worker=worker, now=now) for model, pk, worker in list_abandoned_runs(now)
    )


def list_abandoned_runs(now) -> list[tuple[type, int, str]]:
    """(model, pk, worker) of the running runs whose process is gone."""
    found = []
    for model in (TrainingRun, PredictionRun):
        for pk, worker, heartbeat in model.objects.filter(status=RunStatus.RUNNING).values_list(
            "pk", "worker", "heartbeat_at"
        ):
            if worker and jobs.is_abandoned(worker, heartbeat, now):
                found.append((model, pk, worker))
    return found


def fail_abandoned_run(*, model, pk: int, worker: str, now) -> bool:
    """running -> failed for a run whose worker is gone; its artefact or
    suggestions are removed. False when it ended meanwhile."""
    message = (
        f"The worker running this job ({worker}) stopped before it finished (killed, out of memory or crashed); "
        "nothing it did was kept. Start it again."
    )
    fields = {"status": RunStatus.FAILED, "error": message, "finished_at": now}
    if model is TrainingRun:
        fields["phase"] = ""
    # Conditional: the run may have finished between the read and here.
    if not model.objects.filter(pk=pk, status=RunStatus.RUNNING, worker=worker).update(**fields):
        return False
    log.warning("%s %s failed: %s", model.__name__, pk, message)
    if model is TrainingRun:
        remove_run_files(pk)
    else:
        Suggestion.objects.filter(run_id=pk).delete()
    return True


def _claim(model, run) -> bool:
    """queued -> running. Race: a redelivered message (acks_late) can reach
    two workers; only the conditional update that changes one row wins."""

    def claim() -> bool:
        now = timezone.now()
        return bool(
            model.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
                status=RunStatus.RUNNING, started_at=now, heartbeat_at=now, worker=worker_id(), sent_at=now
            )
        )

    return retry_db(claim, what=f"claiming {model.__name__} {run.pk}")


def _finish(model, run_id: int, status: str, **fields) -> bool:
    """running -> a final status; False when the run was already ended
    (e.g. failed as abandoned) or deleted. Rides out a database blip."""

    def finish() -> bool:
        return bool(
            model.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
                status=status, finished_at=timezone.now(), **fields
            )
        )

    return retry_db(finish, what=f"ending {model.__name__} {run_id}")


class _Progress:
    """Callbacks the modeling code calls: progress, heartbeat and the cancel flag."""

    def __init__(self, model, run_id: int, report: Callable[[str], None] | None = None):
        self.model = model
        self.run_id = run_id
        self.report = report
        self.history: list[dict] = []
        self._checked = 0.0
        self._stop = False

    def _rows(self):
        return self.model.objects.filter(pk=self.run_id)

    def _update(self, **fields) -> None:
        """Write progress, riding out a database blip (a restart costs a pause)."""
        retry_db(
            lambda: self._rows().update(heartbeat_at=timezone.now(), **fields),
            what=f"{self.model.__name__} {self.run_id}'s progress",
        )

    def should_stop(self) -> bool:
        now = time.monotonic()
        if now - self._checked >= CHECK_SECONDS:
            self._checked = now

            def check() -> Any:
                self._rows().update(heartbeat_at=timezone.now())
                return self._rows().values_list("cancel_requested", flat=True).first()

            flag = retry_db(check, what=f"{self.model.__name__} {self.run_id}'s heartbeat")
            self._stop = flag is None or bool(flag)  # a deleted run stops too
        return self._stop

    def epoch(self, epoch: int, total: int, train_loss: float, dev_macro_f1: float | None) -> None:
        self.history.append({"epoch": epoch, "train_loss": _finite(train_loss), "dev_macro_f1": _finite(dev_macro_f1)})
        self._update(epoch=epoch, epochs_total=total, history=self.history, phase="training")
        if self.report:
            dev = "n/a" if dev_macro_f1 is None else f"{dev_macro_f1:.4f}"
            self.report(f"epoch {epoch}/{total}: training loss {train_loss:.4f}, dev macro-F1 {dev}")

    def encode(self, modality: str, done: int, total: int) -> None:
        self._update(phase=f"encoding {modality}s {done} of {total}")
        if self.report and (done == total or done % 256 < 32):
            self.report(f"encoding {modality}s: {done} of {total}")

    def items(self, done: int, total: int) -> None:
        self._update(items_done=done)
        if self.report:
            self.report(f"predicted {done} of {total} items")


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


def _error_message(exc: BaseException) -> str:
    """What a failed run shows: the message, server paths made relative (the log keeps them)."""
    if isinstance(exc, (ValueError, FileNotFoundError, FileExistsError, RuntimeError, DomainError)) and str(exc):
        return hide_server_paths(str(getattr(exc, "message", exc)))[:2000]
    return hide_server_paths(f"{type(exc).__name__}: {exc}")[:2000]


def _clean_json(value: Any) -> Any:
    """NaN / inf -> None so PostgreSQL's jsonb accepts the metrics."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_json(v) for v in value]
    if isinstance(value, np.generic):
        return _clean_json(value.item())
    return value


def execute_training_run(*, run: TrainingRun, report: Callable[[str], None] | None = None) -> TrainingRun:
    """Train the run's model on the project's gold labels (worker or
    `manage.py train`). Never raises for a failing run: the run ends
    succeeded, failed (with its error) or cancelled; only a failed or
    cancelled run's artefact folder is removed."""
    fail_abandoned_runs()
    if not _claim(TrainingRun, run):
        run.refresh_from_db()
        return run
    progress = _Progress(TrainingRun, run.pk, report)
    artefact_dir = model_files.writing_run_folder(run.pk)
    heartbeat = Heartbeat(TrainingRun, run.pk).__enter__()
    try:
        from inference.modeling import TrainConfig, train

        schema = retry_db(selectors.get_project_schema, run.project, what="reading the project's schema")
        model_files.ensure_local_weights(run.config)
        config = TrainConfig.from_dict(run.config)
        reading_started = time.perf_counter()
        records = retry_db(
            selectors.list_training_records,
            run.project,
            schema,
            targets=config.targets,
            what="reading the labelled items",
        )
        timings = {"reading": time.perf_counter() - reading_started}
        progress._update(phase=f"reading {len(records)} labelled items")
        result = train(
            config,
            records,
            schema=schema.as_modeling_schema(),
            cache_dir=feature_cache_dir(),
            artefact_dir=artefact_dir,
            on_progress=progress.epoch,
            should_stop=progress.should_stop,
            on_encode=progress.encode,
        )
        warnings = list(result.warnings)
        fresh_connection()  # training may have outlived the connection
        progress._update(phase="projecting representations for the map")
        embedding = None
        timings.update(result.timings)
        map_started = time.perf_counter()
        try:
            embedding = _compute_embedding_map(run.project, result.artefact_path)
        except Exception as exc:  # the map is a bonus: keep the model
            log.exception("embedding map of run %s", run.pk)
            warnings.append(f"No embedding map: {_error_message(exc)}")
        timings["map"] = time.perf_counter() - map_started
        model_files.publish_run_folder(run.pk, artefact_dir)

        def succeed() -> bool:
            with transaction.atomic():
                done = _finish(
                    TrainingRun,
                    run.pk,
                    RunStatus.SUCCEEDED,
                    test_metrics=_clean_json(result.test_metrics),
                    calibration=_clean_json(result.calibration),
                    branch_metrics=_clean_json(result.branch_metrics),
                    timings={phase: round(seconds, 3) for phase, seconds in timings.items()},
                    dev_metrics=_clean_json(result.dev_metrics),
                    history=_clean_json(result.history),
                    data_counts=_clean_json(result.data_counts),
                    artefact_path=model_files.run_name(run.pk),
                    best_epoch=result.best_epoch,
                    epoch=result.epochs_run,
                    warnings=[hide_server_paths(str(warning)) for warning in warnings],
                    phase="",
                    error="",
                )
                if done and embedding is not None:
                    EmbeddingMap.objects.create(run_id=run.pk, **embedding)
            return done

        done = retry_db(succeed, what=f"saving training run {run.pk}")
        if not done:
            remove_run_files(run.pk)
    except BaseException as exc:
        from inference.modeling import Cancelled

        if isinstance(exc, Cancelled):
            _finish(TrainingRun, run.pk, RunStatus.CANCELLED, error="Cancelled by a lead.", phase="")
        else:
            if isinstance(exc, Exception):
                log.exception("training run %s failed", run.pk)
                message = _error_message(exc)
            else:
                message = "The worker was stopped while this run was training."
            _finish(TrainingRun, run.pk, RunStatus.FAILED, error=message, phase="")
        remove_run_files(run.pk)
        if not isinstance(exc, Exception):
            raise
    finally:
        heartbeat.__exit__(None, None, None)
    retry_db(run.refresh_from_db, what="reading the run")
    if run.status == RunStatus.SUCCEEDED and run.auto_promote:
        try:
            mark_prelabeller(run=run, reset_policy=False)
        except DomainError as exc:
            log.warning("retrained run %s not promoted: %s", run.pk, exc.message)
        run.refresh_from_db()
    return run


def _check_model_schema(training_run: TrainingRun, schema: selectors.ProjectSchema) -> None:
    """The model's labels must still be the project's: indices map to labels by position."""
    try:
        saved = [tuple(entry) for entry in model_files.read_run_meta(training_run.pk)["schema"]]
    except (OSError, ValueError, KeyError) as exc:
        raise RuntimeError(
            f"The model files of training run {training_run.pk} are missing or unreadable; train it again."
        ) from exc
    if [(key, n) for key, n in saved] != schema.as_modeling_schema():
        raise RuntimeError(
            "The project's tasks or labels changed since this model was trained "
            f"(model: {saved}, project: {schema.as_modeling_schema()}); train a new model."
        )


def execute_prediction_run(*, run: PredictionRun, report: Callable[[str], None] | None = None) -> PredictionRun:
    """Write suggestions for every item that needs labels (worker or
    `manage.py predict`). Suggestions are written batch by batch so progress
    shows; pages only read succeeded runs, and a failed or cancelled run's
    suggestions are deleted."""
    fail_abandoned_runs()
    if not _claim(PredictionRun, run):
        run.refresh_from_db()
        return run
    progress = _Progress(PredictionRun, run.pk, report)
    heartbeat = Heartbeat(PredictionRun, run.pk).__enter__()
    model_folder = ExitStack()  # the model's files stay on this machine while it predicts
    try:
        from inference.modeling import Cancelled, load_model, predict

        training_run = retry_db(TrainingRun.objects.get, pk=run.training_run_id, what="reading the training run")
        if training_run.status != RunStatus.SUCCEEDED:
            raise RuntimeError(f"Training run {training_run.pk} is {training_run.status}, not succeeded.")
        schema = retry_db(selectors.get_project_schema, run.project, what="reading the project's schema")
        _check_model_schema(training_run, schema)
        records = retry_db(selectors.list_prediction_records, run.project, len(schema.tasks), what="reading the items")
        progress._update(items_total=len(records), items_done=0)
        model_files.ensure_local_weights(training_run.config)
        model = load_model(model_folder.enter_context(model_files.local_run_folder(training_run.pk)))
        done = skipped = 0
        for start in range(0, len(records), PREDICT_BATCH):
            chunk = records[start : start + PREDICT_BATCH]
            predictions = predict(
                model,
                chunk,
                cache_dir=feature_cache_dir(),
                should_stop=progress.should_stop,
                temperatures=training_run.temperatures,  # calibrated confidences (issue 14.5)
            )
            rows = []
            for prediction in predictions:
                if not prediction.tasks:
                    skipped += 1
                    continue
                for spec in schema.tasks:
                    task = prediction.tasks[spec.key]
                    rows.append(
                        Suggestion(
                            run_id=run.pk,
                            item_id=prediction.id,
                            task_id=spec.id,
                            label_id=spec.label_ids[task.label],
                            probability=float(task.probability),
                            probabilities=[float(p) for p in task.probabilities],
                            entropy=float(task.entropy),
                        )
                    )
            # A batch is one transaction: after a blip it is written again whole.
            retry_db(
                Suggestion.objects.bulk_create,
                rows,
                batch_size=SUGGESTION_BATCH,
                ignore_conflicts=True,
                what="writing suggestions",
            )
            done += len(chunk)
            progress.items(done, len(records))
            if progress.should_stop():
                raise Cancelled("prediction cancelled")
        if not _finish(PredictionRun, run.pk, RunStatus.SUCCEEDED, items_done=done, items_skipped=skipped, error=""):
            Suggestion.objects.filter(run_id=run.pk).delete()
    except BaseException as exc:
        from inference.modeling import Cancelled

        if isinstance(exc, Cancelled):
            _finish(PredictionRun, run.pk, RunStatus.CANCELLED, error="Cancelled by a lead.")
        elif isinstance(exc, Exception):
            log.exception("prediction run %s failed", run.pk)
            _finish(PredictionRun, run.pk, RunStatus.FAILED, error=_error_message(exc))
        else:
            _finish(
                PredictionRun, run.pk, RunStatus.FAILED, error="The worker was stopped while this run was predicting."
            )
        retry_db(Suggestion.objects.filter(run_id=run.pk).delete, what="removing a failed run's suggestions")
        if not isinstance(exc, Exception):
            raise
    finally:
        heartbeat.__exit__(None, None, None)
        model_folder.close()
    retry_db(run.refresh_from_db, what="reading the run")
    if run.status == RunStatus.SUCCEEDED:
        _refresh_uncertainty(run)
    return run


def _refresh_uncertainty(run: PredictionRun) -> None:
    """The run may now be the project's current one: store its items'
    uncertainty for the queue. A failure here keeps the run succeeded (its
    suggestions are good); the next refresh (a later run) writes the values."""
    try:
        retry_db(refresh_item_uncertainty, project=run.project, what="storing the items' uncertainty")
    except Exception:
        log.exception("storing the items' uncertainty after prediction run %s", run.pk)


# ---------------------------------------------------------------------------
# Embedding map (worker side; stored, so pages need no torch)


def _compute_embedding_map(project: Project, artefact_path: str) -> dict[str, Any]:
    """Item ids and the 2-D PCA of each representation (fused, text, image) of up to MAP_POINTS items."""
    from inference.modeling import embed, load_model
    from inference.modeling.projection import pca_2d

    records = selectors.list_map_records(project, MAP_POINTS)
    vectors = embed(load_model(artefact_path), records, cache_dir=feature_cache_dir())
    spaces = {
        name: pca_2d(array) for name in ("fused", "text", "image") if (array := getattr(vectors, name)) is not None
    }
    return {"item_ids": [int(i) for i in vectors.ids], "spaces": spaces}
