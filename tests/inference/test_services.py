"""inference.services (options, runs, pre-labelling, execution) and
inference.reports with tiny models: a 2-layer BERT (hidden 64) saved to a
temporary folder and a tiny CNN, trained for a few epochs on synthetic
MSED-like demo items. Celery runs eagerly; on-commit callbacks are run with
django_capture_on_commit_callbacks(execute=True).

The shared fixtures are in tests/inference/conftest.py (the tiny BERT in
tests/conftest.py), the builders in tests/inference/factories.py.
"""

from __future__ import annotations

import os
import shutil
import socket
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import pytest
from django.db import IntegrityError, transaction

from annotator import jobs
from annotator.errors import DomainError
from annotator.models import Item, Label, PrelabelPolicy, Task
from inference import selectors
from inference.models import EmbeddingMap, PredictionRun, RunStatus, Suggestion, TrainingRun
from inference.reports import comparison_rows, model_vs_annotators
from inference.services import execution
from inference.services.execution import _Progress, fail_abandoned_runs
from inference.services.options import build_train_config, describe_config
from inference.services.prelabelling import mark_prelabeller, on_gold_changed, on_items_added, update_policy
from inference.services.runs import cancel_run, start_experiment, start_training_run
from tests.inference.factories import TASKS, add_votes, make_demo_items, tiny_options, train, unlabelled_ids

# ---------------------------------------------------------------- training


@pytest.mark.django_db
def test_training_run_succeeds_with_test_metrics_per_task(trained_run, settings):
    run = trained_run
    assert set(run.test_metrics) == set(TASKS)
    for metrics in run.test_metrics.values():
        assert {"precision", "recall", "macro_f1", "weighted_f1", "accuracy", "confusion"} <= set(metrics)
        assert 0.0 <= metrics["macro_f1"] <= 1.0
    assert set(run.dev_metrics) == set(TASKS)
    assert [h["epoch"] for h in run.history] == [1, 2, 3]
    assert all(h["train_loss"] > 0 for h in run.history)
    assert run.epoch == 3 and run.epochs_total == 3 and run.best_epoch in (1, 2, 3)
    assert set(run.data_counts) >= {"train", "dev", "test"}
    assert sum(run.data_counts["train"]["labels"]["desire"]["counts"]) > 0
    assert run.artefact_path == f"runs/{run.pk}"  # its name in storages["models"], rooted at MODEL_DIR
    assert (Path(settings.MODEL_DIR) / "runs" / str(run.pk) / "artefact.json").is_file()
    assert run.started_at and run.finished_at and run.error == ""
    assert run.config["fusion"] == "concat" and Path(run.config["text_encoder"]).is_absolute()
    embedding = EmbeddingMap.objects.get(run=run)
    assert {"fused", "text", "image"} <= set(embedding.spaces)
    assert len(embedding.spaces["fused"]["xy"]) == len(embedding.item_ids) == 60


@pytest.mark.django_db
def test_queued_run_cancelled_before_it_starts_never_trains(
    project, demo_items, options, django_capture_on_commit_callbacks, settings
):
    with django_capture_on_commit_callbacks(execute=True):
        run = start_training_run(project=project, options=options)
        cancel_run(run=run)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and run.started_at is None
    assert not (Path(settings.MODEL_DIR) / "runs" / str(run.pk)).exists()


@pytest.mark.django_db
def test_running_run_cancelled_by_a_lead_ends_cancelled_without_artefact(
    project, demo_items, tiny_bert, django_capture_on_commit_callbacks, settings, monkeypatch
):
    monkeypatch.setattr(execution, "CHECK_SECONDS", 0.0)
    original = _Progress.epoch

    def epoch_then_cancel(self, epoch, *args):
        original(self, epoch, *args)
        if epoch == 1:  # a lead presses Cancel while the worker trains
            cancel_run(run=TrainingRun.objects.get(pk=self.run_id))

    monkeypatch.setattr(_Progress, "epoch", epoch_then_cancel)
    run = train(project, tiny_options(tiny_bert, epochs=20), django_capture_on_commit_callbacks)
    assert run.status == RunStatus.CANCELLED
    assert run.cancel_requested and run.epoch == 1
    assert run.artefact_path == ""
    runs = Path(settings.MODEL_DIR) / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []


@pytest.mark.django_db
def test_failing_run_is_recorded_failed_with_its_error_and_no_artefact(
    project, demo_items, tiny_bert, tmp_path, django_capture_on_commit_callbacks, settings
):
    encoder = Path(shutil.copytree(tiny_bert, tmp_path / "doomed-bert"))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = start_training_run(project=project, options=tiny_options(str(encoder)))
    shutil.rmtree(encoder)  # the folder disappears between the click and the worker
    for callback in callbacks:
        callback()
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.error and "Traceback" not in run.error
    assert run.finished_at is not None and run.artefact_path == ""
    runs = Path(settings.MODEL_DIR) / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []
    assert not EmbeddingMap.objects.filter(run=run).exists()


@pytest.mark.django_db
def test_a_forced_exception_inside_training_fails_the_run_and_the_next_run_starts_cleanly(
    project, demo_items, options, django_capture_on_commit_callbacks, monkeypatch, settings
):
    import inference.modeling.training as training

    def explode(*args, **kwargs):
        raise RuntimeError("disk full while writing the model")

    monkeypatch.setattr(training, "write_artefact", explode)
    failed = train(project, options, django_capture_on_commit_callbacks)
    assert failed.status == RunStatus.FAILED and failed.error == "disk full while writing the model"
    assert not (Path(settings.MODEL_DIR) / "runs" / str(failed.pk)).exists()
    monkeypatch.undo()
    ok = train(project, options, django_capture_on_commit_callbacks)
    assert ok.status == RunStatus.SUCCEEDED, ok.error
    assert sorted(p.name for p in (Path(settings.MODEL_DIR) / "runs").iterdir()) == [str(ok.pk)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "override, field, words",
    [
        ({"fusion": "sum"}, "fusion", "fusion must be one of"),
        ({"chain": "desire > emotion"}, "chain", "exactly once"),
        ({"chain": ["desire", "desire", "emotion"]}, "chain", "exactly once"),
        ({"epochs": 0}, "epochs", "between 1 and 200"),
        ({"epochs": 500}, "epochs", "between 1 and 200"),
        ({"epochs": "many"}, "epochs", "integer"),
        ({"text_encoder": "/no/such/encoder"}, "text_encoder", "does not exist"),
        ({"text_encoder": "someone/unknown-model"}, "text_encoder", "never downloads"),
        ({"image_encoder": "resnet18", "image_weights": "/no/such/weights.pt"}, "image_weights", "does not exist"),
        ({"image_encoder": "alexnet"}, "image_encoder", "image_encoder must be one of"),
        ({"recipe": "finetune-all", "modalities": "text"}, "recipe", "text-only"),
        ({"colour": "red"}, "colour", "Unknown training options"),
        ({"lr": -1}, "lr", "between"),
    ],
)
def test_bad_options_are_refused_with_a_message_naming_the_field(project, demo_items, options, override, field, words):
    with pytest.raises(DomainError) as info:
        start_training_run(project=project, options={**options, **override})
    assert words in info.value.message
    assert info.value.field == field
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_training_needs_gold_labels_in_the_train_split(project, options):
    make_demo_items(project, 12, unlabelled_every=1)  # every item unlabelled
    with pytest.raises(DomainError, match="No item of the train split has a gold label"):
        start_training_run(project=project, options=options)


@pytest.mark.django_db
def test_chain_accepts_a_written_order_and_joint_pooling_its_alias(project, demo_items, options):
    config = build_train_config(
        project, {**options, "chain": "sentiment > emotion > desire", "fusion": "joint-pooling"}
    )
    assert config["chain"] == ["sentiment", "emotion", "desire"] and config["fusion"] == "joint"
    assert build_train_config(project, {**options, "chain": ""})["chain"] is None


@pytest.mark.django_db
def test_experiment_grid_covers_modalities_fusions_and_task_orders(
    project, demo_items, options, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        runs = start_experiment(project=project, options=options)
    names = [run.name for run in runs]
    assert names[:3] == ["text only", "image only", "text + image (concat)"]
    assert sum(name.startswith("fusion: ") for name in names) == 7  # concat is the fused run above
    assert sum(name.startswith("order: ") for name in names) == 6
    assert len({run.experiment for run in runs}) == 1 and len(callbacks) == len(runs) == 16
    assert {run.config["modalities"] for run in runs} == {"text", "image", "both"}


@pytest.mark.django_db
def test_an_experiment_compares_single_networks_unless_asked_for_ensembles(
    project, demo_items, options, django_capture_on_commit_callbacks
):
    without = {key: value for key, value in options.items() if key != "ensemble"}
    assert build_train_config(project, without)["ensemble"] > 1  # the default recipe trains an ensemble
    with django_capture_on_commit_callbacks(execute=False):
        runs = start_experiment(project=project, options=without, grids=["modalities"])
    assert {run.config["ensemble"] for run in runs} == {1}
    TrainingRun.objects.all().delete()  # one experiment at a time per project
    with django_capture_on_commit_callbacks(execute=False):
        asked = start_experiment(project=project, options={**without, "ensemble": 3}, grids=["modalities"])
    assert {run.config["ensemble"] for run in asked} == {3}


@pytest.mark.django_db
def test_small_experiment_trains_every_run_and_compares_them(
    project, demo_items, options, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        runs = start_experiment(project=project, options=options, grids=["modalities"])
    runs = selectors.list_experiment_runs(project, runs[0].experiment)
    assert [run.status for run in runs] == [RunStatus.SUCCEEDED] * 3
    table = comparison_rows(runs, list(TASKS))
    assert [row["name"] for row in table["rows"]] == ["text only", "image only", "text + image (concat)"]
    for key in TASKS:
        assert sum(row["tasks"][key]["best"] for row in table["rows"]) >= 1
        assert all(0 <= row["tasks"][key]["macro_f1"] <= 1 for row in table["rows"])
    assert EmbeddingMap.objects.get(run=runs[0]).spaces.keys() == {"text"}


@pytest.mark.django_db
def test_experiment_refuses_unknown_grids(project, demo_items, options):
    with pytest.raises(DomainError, match="Choose one or more grids"):
        start_experiment(project=project, options=options, grids=["everything"])


# ---------------------------------------------------------------- pre-labeller and suggestions


@pytest.mark.django_db
def test_only_one_prelabeller_per_project(
    project, demo_items, options, trained_run, django_capture_on_commit_callbacks
):
    second = train(project, options, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False):
        mark_prelabeller(run=trained_run)
        mark_prelabeller(run=second)
    assert list(TrainingRun.objects.filter(is_prelabeller=True)) == [second]
    with pytest.raises(IntegrityError), transaction.atomic():
        TrainingRun.objects.filter(pk=trained_run.pk).update(is_prelabeller=True)


@pytest.mark.django_db
def test_a_run_that_did_not_succeed_cannot_be_the_prelabeller(project):
    run = TrainingRun.objects.create(project=project, status=RunStatus.FAILED, error="boom")
    with pytest.raises(DomainError, match="Only a succeeded run"):
        mark_prelabeller(run=run)


@pytest.mark.django_db
def test_prelabeller_writes_one_suggestion_per_unlabelled_item_and_task(
    project, demo_items, trained_run, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        mark_prelabeller(run=trained_run)
    prediction = PredictionRun.objects.get(training_run=trained_run)
    assert prediction.status == RunStatus.SUCCEEDED, prediction.error
    expected = set(unlabelled_ids(demo_items))
    assert prediction.items_total == prediction.items_done == len(expected)
    suggestions = list(Suggestion.objects.filter(run=prediction).select_related("task", "label"))
    assert len(suggestions) == len(expected) * len(TASKS)
    assert {s.item_id for s in suggestions} == expected
    n_labels = {"desire": 7, "sentiment": 3, "emotion": 6}
    for s in suggestions:
        assert len(s.probabilities) == n_labels[s.task.key]
        assert sum(s.probabilities) == pytest.approx(1.0, abs=1e-5)
        assert s.label.task_id == s.task_id
        order = list(Label.objects.filter(task=s.task).order_by("position", "id").values_list("pk", flat=True))
        assert order[int(np.argmax(s.probabilities))] == s.label_id
        assert s.probability == pytest.approx(max(s.probabilities))
        assert 0.0 <= s.entropy <= np.log(n_labels[s.task.key]) + 1e-6
    current = selectors.list_current_suggestions(project, expected)
    assert set(current) == expected


@pytest.mark.django_db
def test_new_items_get_suggestions_from_the_prelabeller(
    project, demo_items, trained_run, django_capture_on_commit_callbacks
):
    assert on_items_added(project=project, item_ids=[demo_items[0].pk]) is None  # no pre-labeller yet
    with django_capture_on_commit_callbacks(execute=True):
        mark_prelabeller(run=trained_run)
    new = make_demo_items(project, 6, seed=5, unlabelled_every=1, prefix="new")
    with django_capture_on_commit_callbacks(execute=True):
        prediction = on_items_added(project=project, item_ids=[item.pk for item in new])
    prediction.refresh_from_db()
    assert prediction.status == RunStatus.SUCCEEDED and prediction.reason == "new items"
    suggested = set(Suggestion.objects.filter(run=prediction).values_list("item_id", flat=True))
    assert {item.pk for item in new} <= suggested
    PrelabelPolicy.objects.create(project=project, suggest_new_items=False)
    assert on_items_added(project=project, item_ids=[new[0].pk]) is None


@pytest.mark.django_db
def test_a_queued_prediction_run_absorbs_later_requests(
    project, demo_items, trained_run, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        mark_prelabeller(run=trained_run)
        first = PredictionRun.objects.get()
        again = on_items_added(project=project, item_ids=[demo_items[0].pk])
    assert again == first and PredictionRun.objects.count() == 1


@pytest.mark.django_db
def test_retrain_policy_retrains_and_promotes_after_n_new_gold_labels(
    project, demo_items, trained_run, options, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        mark_prelabeller(run=trained_run)
    update_policy(project=project, retrain_every_n_gold=6, suggest_new_items=True)
    assert on_gold_changed(project=project) is None
    new = make_demo_items(project, 4, seed=9, prefix="gold")  # 3 labelled items x 3 tasks = 9 new gold labels
    assert len(new) == 4
    with django_capture_on_commit_callbacks(execute=True):
        retrain = on_gold_changed(project=project)
    assert retrain is not None and retrain.auto_promote
    retrain.refresh_from_db()
    assert retrain.status == RunStatus.SUCCEEDED, retrain.error
    assert retrain.is_prelabeller and retrain.config == trained_run.config
    assert PredictionRun.objects.filter(training_run=retrain, status=RunStatus.SUCCEEDED).exists()
    assert on_gold_changed(project=project) is None  # counting starts again


@pytest.mark.django_db
def test_policy_off_never_retrains(project, demo_items):
    assert on_gold_changed(project=project) is None
    with pytest.raises(DomainError):
        update_policy(project=project, retrain_every_n_gold=-1, suggest_new_items=True)


# ---------------------------------------------------------------- killed workers


@pytest.mark.django_db
def test_runs_of_a_dead_worker_are_failed_and_cleaned_up(project, demo_items, trained_run, settings):
    host = socket.gethostname()
    stuck = TrainingRun.objects.create(project=project, status=RunStatus.RUNNING, worker=f"{host}:999999")
    half = Path(settings.MODEL_DIR) / "runs" / f".{stuck.pk}.tmp-abc"
    half.mkdir(parents=True)
    prediction = PredictionRun.objects.create(
        project=project, training_run=trained_run, status=RunStatus.RUNNING, worker=f"{host}:999999"
    )
    task = Task.objects.get(project=project, key="sentiment")
    Suggestion.objects.create(
        run=prediction,
        item=demo_items[0],
        task=task,
        label=task.labels.first(),
        probability=1.0,
        probabilities=[1, 0, 0],
        entropy=0.0,
    )
    alive = TrainingRun.objects.create(project=project, status=RunStatus.RUNNING, worker=f"{host}:{os.getpid()}")
    assert fail_abandoned_runs() == 2
    stuck.refresh_from_db()
    prediction.refresh_from_db()
    alive.refresh_from_db()
    assert stuck.status == prediction.status == RunStatus.FAILED
    assert "stopped before it finished" in stuck.error
    assert not half.exists() and not Suggestion.objects.filter(run=prediction).exists()
    assert alive.status == RunStatus.RUNNING


@pytest.mark.django_db
def test_a_silent_run_on_another_machine_is_failed_after_the_stale_period(project):
    from django.utils import timezone

    old = timezone.now() - jobs.STALE_AFTER - timedelta(minutes=1)
    run = TrainingRun.objects.create(project=project, status=RunStatus.RUNNING, worker="elsewhere:12", heartbeat_at=old)
    recent = TrainingRun.objects.create(
        project=project, status=RunStatus.RUNNING, worker="elsewhere:13", heartbeat_at=timezone.now()
    )
    assert fail_abandoned_runs() == 1
    assert TrainingRun.objects.get(pk=run.pk).status == RunStatus.FAILED
    assert TrainingRun.objects.get(pk=recent.pk).status == RunStatus.RUNNING


# ---------------------------------------------------------------- model vs annotators (MSED Table 7)


@pytest.mark.django_db
def test_model_vs_annotators_compares_accuracy_with_the_majority(
    project, demo_items, trained_run, django_capture_on_commit_callbacks
):
    held_out = [item for item in demo_items if item.split != Item.Split.TRAIN]
    add_votes(project, held_out)
    assert model_vs_annotators(project=project)["message"].startswith("Choose a pre-labeller")
    with django_capture_on_commit_callbacks(execute=True):
        mark_prelabeller(run=trained_run)
    table = model_vs_annotators(project=project)
    assert table["message"] is None and table["prediction_run"] is not None
    assert [t["key"] for t in table["tasks"]] == list(TASKS)
    for task in table["tasks"]:
        assert task["n_items"] == len(held_out)
        assert 0 <= task["model"]["accuracy"] <= 1 and 0 < task["model"]["n"] <= len(held_out)
        assert [a["name"] for a in task["annotators"]] == ["voter0", "voter1", "voter2"]
        assert task["mean"] == pytest.approx(np.mean([a["accuracy"] for a in task["annotators"]]))
    # the careful annotator agrees with the others more often than the sloppy one
    sentiment = next(t for t in table["tasks"] if t["key"] == "sentiment")
    assert sentiment["annotators"][0]["accuracy"] >= sentiment["annotators"][2]["accuracy"]
    assert [row["name"] for row in table["rows"]][-2:] == ["Annotators' mean", "Model"]


# ---------------------------------------------------------------- pure helpers


def test_describe_config_summarises_the_choices():
    text = describe_config(
        {
            "text_encoder": "all-MiniLM-L6-v2",
            "image_encoder": "efficientnet-lite0",
            "modalities": "both",
            "fusion": "add",
            "chain": ["desire", "emotion"],
            "recipe": "cached",
            "epochs": 5,
            "seed": 1,
        }
    )
    assert text == "MiniLM + efficientnet-lite0 · add · desire → emotion · cached · 5 epochs · seed 1"


def test_describe_config_names_the_packaged_text_encoders_short():
    base = {"image_encoder": "efficientnet-lite0", "modalities": "text", "recipe": "cached", "epochs": 30, "seed": 0}
    assert describe_config({**base, "text_encoder": "sentence-transformers/all-mpnet-base-v2"}).startswith("MPNet ·")
    assert describe_config({**base, "text_encoder": "mpnet"}).startswith("MPNet ·")
    assert describe_config({**base, "text_encoder": "minilm"}).startswith("MiniLM ·")
