"""Starting and cancelling training runs, experiments and prediction runs.

Each start_* checks the options and the per-project limit inside one
transaction and enqueues its Celery task on commit; the worker side is in
execution.py.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotator import jobs
from annotator.errors import DomainError
from annotator.models import Project

from .. import selectors
from ..modeling.options import FUSION_ALIASES
from ..models import PredictionRun, RunStatus, TrainingRun
from .options import build_train_config, describe_config, path_access_for

MAX_EXPERIMENT_RUNS = 24
EXPERIMENT_GRIDS = ("modalities", "fusions", "orders")


def _require_train_gold(project: Project) -> None:
    if selectors.count_train_gold(project) == 0:
        raise DomainError(
            "No item of the train split has a gold label yet: assign splits on the project page "
            "and collect votes (or import labelled items) before training."
        )


# ---------------------------------------------------------------------------
# Per-project limits on queued or running jobs


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


def _lock_and_check_limit(project: Project, kind: str) -> None:
    """Inside the creating transaction: lock the project row, then count its
    active jobs of `kind` (training | experiment | prediction) against the
    MAX_ACTIVE_* setting. Race: two requests counting at once would both see
    room; the lock makes the second count after the first has committed."""
    Project.objects.select_for_update().filter(pk=project.pk).first()
    if kind == "training":
        limit = settings.MAX_ACTIVE_TRAINING_RUNS_PER_PROJECT
        active = TrainingRun.objects.filter(project=project, status__in=ACTIVE_STATUSES, experiment="").count()
        what = "training runs"
    elif kind == "experiment":
        limit = settings.MAX_ACTIVE_EXPERIMENTS_PER_PROJECT
        active = (
            TrainingRun.objects.filter(project=project, status__in=ACTIVE_STATUSES)
            .exclude(experiment="")
            .order_by()
            .values("experiment")
            .distinct()
            .count()
        )
        what = "experiments"
    else:
        limit = settings.MAX_ACTIVE_PREDICTIONS_PER_PROJECT
        active = PredictionRun.objects.filter(project=project, status__in=ACTIVE_STATUSES).count()
        what = "prediction runs"
    if active >= limit:
        if limit == 1:
            what = what[:-1]
        raise DomainError(
            f"This project already has {limit} {what} queued or running, the most allowed at once; "
            "wait for one to finish or cancel one."
        )


# ---------------------------------------------------------------------------
# Starting, cancelling and choosing runs


def start_training_run(
    *,
    project: Project,
    user=None,
    options: Mapping[str, Any] | None = None,
    name: str = "",
    experiment: str = "",
    enqueue: bool = True,
) -> TrainingRun:
    """Create a queued training run on the project's gold labels and enqueue
    it (enqueue=False: the caller runs execute_training_run itself, as
    `manage.py train` does). Raises DomainError on bad options or when the
    train split has no gold label."""
    config = build_train_config(project, options or {}, path_access=path_access_for(user))
    _require_train_gold(project)
    with transaction.atomic():
        _lock_and_check_limit(project, "experiment" if experiment else "training")
        run = TrainingRun.objects.create(
            project=project,
            created_by=user if getattr(user, "is_authenticated", False) else None,
            name=(name or "").strip()[:200] or describe_config(config)[:200],
            experiment=experiment,
            config=config,
            epochs_total=config["epochs"],
        )
        if enqueue:
            enqueue_training(run.pk)
    return run


def enqueue_training(run_id: int) -> None:
    from ..tasks import train_model

    jobs.enqueue_on_commit(train_model, run_id, model=TrainingRun, pk=run_id)


def enqueue_prediction(run_id: int) -> None:
    from ..tasks import predict_items

    jobs.enqueue_on_commit(predict_items, run_id, model=PredictionRun, pk=run_id)


def experiment_variants(
    config: Mapping[str, Any], task_keys: Sequence[str], grids: Iterable[str], fusions: Sequence[str] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """(name, config) of each run of an experiment grid, duplicates removed.

    modalities: text only, image only and fused (MSED Table 5);
    fusions: every fusion strategy on both modalities (Table 6);
    orders: every task order of the chained heads (Table 8).
    """
    from inference.modeling.config import FUSIONS

    base = {**config, "modalities": "both"}
    variants: list[tuple[str, dict[str, Any]]] = []
    grids = list(grids)
    if "modalities" in grids:
        text_recipe = "finetune-text" if config["recipe"] == "finetune-all" else config["recipe"]
        variants += [
            ("text only", {**config, "modalities": "text", "recipe": text_recipe}),
            ("image only", {**config, "modalities": "image"}),
            (f"text + image ({base['fusion']})", base),
        ]
    if "fusions" in grids:
        for fusion in fusions or FUSIONS:
            variants.append((f"fusion: {fusion}", {**base, "fusion": FUSION_ALIASES.get(fusion, fusion)}))
    if "orders" in grids:
        for order in itertools.permutations(task_keys):
            variants.append((f"order: {' → '.join(order)}", {**base, "chain": list(order)}))
    seen: set[str] = set()
    unique = []
    for name, variant in variants:
        key = json.dumps(variant, sort_keys=True)
        if key not in seen:
            seen.add(key)
            unique.append((name, variant))
    return unique


def start_experiment(
    *,
    project: Project,
    user=None,
    options: Mapping[str, Any] | None = None,
    grids: Sequence[str] = EXPERIMENT_GRIDS,
    fusions: Sequence[str] | None = None,
    name: str = "",
) -> list[TrainingRun]:
    """Queue a grid of training runs sharing one experiment id: text-only,
    image-only and fused; each fusion strategy; each task order (MSED Tables
    5, 6 and 8). options are the shared options of start_training_run; the
    variants train one network each unless options ask for an ensemble."""
    from inference.modeling.config import FUSIONS, ConfigError, TrainConfig

    grids = list(dict.fromkeys(grids or ()))
    if not grids or any(grid not in EXPERIMENT_GRIDS for grid in grids):
        raise DomainError(f"Choose one or more grids among {', '.join(EXPERIMENT_GRIDS)}.", field="grids")
    fusions = [FUSION_ALIASES.get(f, f) for f in (fusions or ())] or None
    if fusions and any(f not in FUSIONS for f in fusions):
        raise DomainError(
            f"Unknown fusion in {', '.join(fusions)}; choose among {', '.join(FUSIONS)}.", field="fusions"
        )
    schema = selectors.get_project_schema(project)
    # A grid compares architectures: one network per variant, unless the lead asks for an ensemble.
    options = {"ensemble": 1, **(options or {})}
    config = build_train_config(project, options, schema=schema, path_access=path_access_for(user))
    _require_train_gold(project)
    variants = experiment_variants(config, schema.keys, grids, fusions)
    if len(variants) > MAX_EXPERIMENT_RUNS:
        raise DomainError(
            f"This grid has {len(variants)} runs; at most {MAX_EXPERIMENT_RUNS} per experiment. Choose fewer grids or fusions.",
            field="grids",
        )
    for variant_name, variant in variants:
        try:
            TrainConfig.from_dict(variant).validate(schema.keys)
        except ConfigError as exc:
            raise DomainError(f"The run “{variant_name}” of this grid is invalid: {exc}.") from None
    label = (name or "").strip() or ", ".join(grids)
    experiment = f"{timezone.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]} {label}"[:100]
    runs = []
    with transaction.atomic():
        _lock_and_check_limit(project, "experiment")
        for variant_name, variant in variants:
            run = TrainingRun.objects.create(
                project=project,
                created_by=user if getattr(user, "is_authenticated", False) else None,
                name=variant_name,
                experiment=experiment,
                config=variant,
                epochs_total=variant["epochs"],
            )
            enqueue_training(run.pk)
            runs.append(run)
    return runs


def cancel_run(*, run: TrainingRun | PredictionRun) -> TrainingRun | PredictionRun:
    """Cancel a queued run at once; ask a running one to stop (its worker
    reads cancel_requested between batches and ends it cancelled, leaving no
    artefact or suggestions). A finished run is a DomainError."""
    model = type(run)
    now = timezone.now()
    # Conditional updates: the worker may claim or finish the run meanwhile.
    if model.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.CANCELLED, cancel_requested=True, finished_at=now, error="Cancelled before it started."
    ):
        pass
    elif not model.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(cancel_requested=True):
        run.refresh_from_db()
        raise DomainError(
            f"This run has already finished ({run.get_status_display().lower()}); there is nothing to cancel."
        )
    run.refresh_from_db()
    return run


def start_prediction_run(
    *,
    project: Project,
    training_run: TrainingRun | None = None,
    user=None,
    reason: str = "manual",
    enqueue: bool = True,
    limit: bool = True,
) -> PredictionRun:
    """Queue a prediction run of a succeeded training run (default: the
    pre-labeller) over every item that still needs labels (see
    selectors.list_items_to_suggest). While one is still queued for the same
    model it is returned instead: it reads its items only when it starts, so
    it will cover the new ones too. limit=False skips the per-project limit:
    the app's own follow-ups (a new pre-labeller, new items) must not fail."""
    training_run = training_run or selectors.get_prelabeller(project)
    if training_run is None:
        raise DomainError(
            "This project has no pre-labeller yet: mark a succeeded training run as the pre-labeller first."
        )
    if training_run.project_id != project.pk:
        raise DomainError("That training run belongs to another project.")
    if training_run.config.get("simulated"):
        raise DomainError(
            "This pre-labeller is simulated (the demo's stored suggestions) and has no model to predict with:"
            " train a model and mark it as the pre-labeller first."
        )
    if training_run.status != RunStatus.SUCCEEDED or not training_run.artefact_path:
        raise DomainError(
            f"Only a succeeded training run can predict; this one is {training_run.get_status_display().lower()}."
        )
    with transaction.atomic():
        TrainingRun.objects.select_for_update().filter(pk=training_run.pk).first()
        queued = (
            PredictionRun.objects.filter(training_run=training_run, status=RunStatus.QUEUED).order_by("-id").first()
        )
        if queued is not None and enqueue:
            return queued
        if limit:
            _lock_and_check_limit(project, "prediction")
        run = PredictionRun.objects.create(
            project=project,
            training_run=training_run,
            created_by=user if getattr(user, "is_authenticated", False) else None,
            reason=reason[:40],
        )
        if enqueue:
            enqueue_prediction(run.pk)
    return run
