"""Celery tasks: take ids, load the row, call one service.

The services record every ending on the run row (succeeded, failed with its
error, cancelled), so these tasks never need retries: a failed run is
started again by a lead, as a new run.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_process_init, worker_ready

from annotator.models import PrelabelPolicy, Project

from .models import PredictionRun, TrainingRun
from .services.execution import execute_prediction_run, execute_training_run, fail_abandoned_runs
from .services.prelabelling import on_gold_changed

log = logging.getLogger(__name__)


@shared_task(name="inference.train_model")
def train_model(run_id: int) -> str:
    run = TrainingRun.objects.select_related("project").filter(pk=run_id).first()
    if run is None:
        return "missing"
    return execute_training_run(run=run).status


@shared_task(name="inference.predict_items")
def predict_items(run_id: int) -> str:
    run = PredictionRun.objects.select_related("project").filter(pk=run_id).first()
    if run is None:
        return "missing"
    return execute_prediction_run(run=run).status


@shared_task(name="inference.check_retrain_policies")
def check_retrain_policies() -> int:
    """For Celery beat: apply every project's retrain policy (see on_gold_changed)."""
    started = 0
    project_ids = PrelabelPolicy.objects.filter(retrain_every_n_gold__gt=0).values_list("project_id", flat=True)
    for project in Project.objects.filter(pk__in=list(project_ids)):
        started += on_gold_changed(project=project) is not None
    return started


@worker_ready.connect
def fail_runs_of_dead_workers(sender=None, **kwargs) -> None:
    """A worker that starts marks failed the runs a killed worker left running."""
    try:
        failed = fail_abandoned_runs()
    except Exception:  # never keep a worker from starting
        log.exception("could not check for abandoned runs")
        return
    if failed:
        log.warning("marked %s abandoned run(s) failed", failed)


@worker_process_init.connect
def limit_torch_threads(**kwargs) -> None:
    """One intra-op thread per worker process: with several processes on a
    few cores, torch's default of one thread per core makes every process
    fight for every core (measured: a training step 18 ms with 1 thread,
    0.6-1.5 s with 2 on a loaded 2-core machine). TORCH_THREADS overrides.

    Frozen encoders are the exception: they encode on ENCODE_THREADS
    threads (default: every core), since a batch of image convolutions
    does scale with threads. `manage.py train` and `predict` use the same
    policy, so their times are a worker's."""
    import os

    import torch

    from .modeling.encoders import set_encode_threads

    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
    set_encode_threads(int(os.environ.get("ENCODE_THREADS", "0")) or os.cpu_count())
