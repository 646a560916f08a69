"""Training and prediction through a real Celery worker fed by Redis, on the
test database (tests/conftest.py's celery_worker_process): a tiny model on
60 demo items, suggestions, cancellation, a failing run, and a worker killed
mid-run whose run the next worker marks failed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from inference.models import PredictionRun, RunStatus, Suggestion, TrainingRun
from inference.services.prelabelling import mark_prelabeller
from inference.services.runs import cancel_run, start_training_run
from tests.inference.factories import make_demo_items, tiny_options, unlabelled_ids
from tests.inference.workers import finished, start_second_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(celery_worker_process):
    return celery_worker_process


@pytest.fixture
def items(project):
    return make_demo_items(project, 60)


def test_worker_trains_a_tiny_model_and_writes_suggestions(worker, project, items, tiny_bert, settings):
    run = start_training_run(project=project, options=tiny_options(tiny_bert))
    run = wait_for(run, finished, worker=worker)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert set(run.test_metrics) == {"desire", "sentiment", "emotion"} and len(run.history) == 3
    assert run.worker and str(worker.pid) in run.worker
    assert (Path(settings.MODEL_DIR) / "runs" / str(run.pk) / "artefact.json").is_file()

    mark_prelabeller(run=run)
    prediction = wait_for(PredictionRun.objects.get(training_run=run), finished, worker=worker)
    assert prediction.status == RunStatus.SUCCEEDED, prediction.error
    expected = set(unlabelled_ids(items))
    assert set(Suggestion.objects.filter(run=prediction).values_list("item_id", flat=True)) == expected
    assert Suggestion.objects.filter(run=prediction).count() == 3 * len(expected)


def test_worker_stops_a_cancelled_run_and_records_a_failing_one(worker, project, items, tiny_bert, tmp_path, settings):
    long_run = start_training_run(project=project, options=tiny_options(tiny_bert, epochs=200))
    wait_for(
        long_run,
        lambda r: r.status == RunStatus.RUNNING and r.epoch >= 1,
        what="the long run's first epoch",
        worker=worker,
    )
    cancel_run(run=long_run)
    long_run = wait_for(long_run, finished, worker=worker)
    assert long_run.status == RunStatus.CANCELLED and long_run.epoch < 200
    assert not (Path(settings.MODEL_DIR) / "runs" / str(long_run.pk)).exists()

    # A model folder that passes the checks (it has a config.json) but whose weights are garbage.
    broken = Path(shutil.copytree(tiny_bert, tmp_path / "broken-bert"))
    for weights in broken.glob("*.safetensors"):
        weights.write_bytes(b"not a safetensors file")
    failing = start_training_run(project=project, options=tiny_options(str(broken)))
    failing = wait_for(failing, finished, worker=worker)
    assert failing.status == RunStatus.FAILED and failing.error
    assert failing.artefact_path == "" and not (Path(settings.MODEL_DIR) / "runs" / str(failing.pk)).exists()


def test_a_killed_worker_leaves_its_run_failed_and_the_next_run_starts_cleanly(
    worker, project, items, tiny_bert, settings, tmp_path
):
    doomed = start_training_run(project=project, options=tiny_options(tiny_bert, epochs=200))
    wait_for(
        doomed, lambda r: r.status == RunStatus.RUNNING and r.epoch >= 2, what="the run's second epoch", worker=worker
    )
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    doomed.refresh_from_db()
    assert doomed.status == RunStatus.RUNNING  # nobody could record anything

    second = start_second_worker(settings, tmp_path)
    try:
        doomed = wait_for(doomed, finished, timeout=60, what="the abandoned run", worker=second)
        assert doomed.status == RunStatus.FAILED and "stopped before it finished" in doomed.error
        runs = Path(settings.MODEL_DIR) / "runs"
        assert (
            not any(p.name == str(doomed.pk) or p.name.startswith(f".{doomed.pk}.tmp") for p in runs.glob("*"))
            if runs.exists()
            else True
        )

        fresh = start_training_run(project=project, options=tiny_options(tiny_bert))
        fresh = wait_for(fresh, finished, worker=second)
        assert fresh.status == RunStatus.SUCCEEDED, fresh.error
        assert sorted(p.name for p in (Path(settings.MODEL_DIR) / "runs").iterdir()) == [str(fresh.pk)]
    finally:
        second.terminate()
        try:
            second.wait(timeout=20)
        except subprocess.TimeoutExpired:
            second.kill()
    assert TrainingRun.objects.filter(status=RunStatus.RUNNING).count() == 0
