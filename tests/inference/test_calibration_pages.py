"""Calibration of training runs end to end (issue 14.5): stored by training,
applied to suggestions, shown on the run page, printed by `evaluate` and
answered by the API. Pages, command and API read a run whose calibration is
computed from synthetic numbers; the tiny demo model covers training and
prediction."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse

from annotator.models import Task
from inference import figures
from inference.modeling.calibration import calibrate_task, scale_probabilities
from inference.models import PredictionRun, RunStatus, Suggestion, TrainingRun
from inference.services.runs import start_prediction_run

pytestmark = pytest.mark.django_db
TASKS = ("desire", "sentiment", "emotion")
EVIL_NAME = "<img src=x onerror=alert(1)>"


def synthetic_calibration(n_labels: int, *, temperature: float = 2.0, seed: int = 0) -> dict:
    """calibrate_task on logits whose labels follow softmax(logits / temperature)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, size=(600, n_labels))
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    model = shifted / shifted.sum(axis=1, keepdims=True)
    truth = scale_probabilities(model, temperature)
    labels = (truth.cumsum(axis=1) > rng.random((600, 1))).argmax(axis=1)
    return calibrate_task(model[:300], labels[:300], model[300:], labels[300:])


@pytest.fixture
def calibrated_run(project):
    calibration = {key: synthetic_calibration(n, seed=i) for i, (key, n) in enumerate(zip(TASKS, (7, 3, 6)))}
    return TrainingRun.objects.create(
        project=project, name="calibrated", status=RunStatus.SUCCEEDED, config={"epochs": 1}, calibration=calibration
    )


def suggestions_of(prediction: PredictionRun) -> dict[tuple[int, int], Suggestion]:
    return {(s.item_id, s.task_id): s for s in Suggestion.objects.filter(run=prediction)}


# ------------------------------------------------------------ training ----


def test_a_trained_run_stores_its_calibration_and_keeps_t_1_with_few_dev_items(trained_run):
    run = trained_run
    assert set(run.calibration) == set(TASKS)
    for key, entry in run.calibration.items():
        # 60 demo items give a handful of dev items: too few to fit a temperature.
        assert entry["dev_items"] < 30 and not entry["fitted"] and entry["temperature"] == 1.0
        assert "T = 1" in entry["note"]
        assert entry["n_bins"] == 15 and len(entry["bins_before"]["counts"]) == 15
        assert sum(entry["bins_before"]["counts"]) == entry["test_items"] > 0
        assert 0.0 <= entry["ece_before"] == entry["ece_after"] <= 1.0
        assert entry["test_items"] == sum(map(sum, run.test_metrics[key]["confusion"]))
    assert run.temperatures == dict.fromkeys(TASKS, 1.0)


def test_suggestions_carry_the_runs_temperature_scaled_probabilities(
    project, demo_items, trained_run, django_capture_on_commit_callbacks
):
    def predict() -> dict[tuple[int, int], Suggestion]:
        with django_capture_on_commit_callbacks(execute=True):
            prediction = start_prediction_run(project=project, training_run=trained_run)
        prediction.refresh_from_db()
        assert prediction.status == RunStatus.SUCCEEDED, prediction.error
        return suggestions_of(prediction)

    raw = predict()
    calibration = trained_run.calibration
    for entry, temperature in zip(calibration.values(), (2.5, 0.5, 1.7)):
        entry.update(temperature=temperature, fitted=True)
    TrainingRun.objects.filter(pk=trained_run.pk).update(calibration=calibration)
    trained_run.refresh_from_db()
    scaled = predict()

    assert raw.keys() == scaled.keys() and raw
    key_of_task = dict(Task.objects.filter(project=project).values_list("pk", "key"))
    for key, before in raw.items():
        after = scaled[key]
        temperature = trained_run.temperatures[key_of_task[key[1]]]
        expected = scale_probabilities(before.probabilities, temperature)
        np.testing.assert_allclose(after.probabilities, expected, atol=2e-6)
        assert after.label_id == before.label_id  # the suggested label never moves
        assert after.probability == pytest.approx(max(after.probabilities))
        assert after.entropy == pytest.approx(-sum(p * np.log(p) for p in after.probabilities if p > 0), abs=1e-6)
        if temperature > 1:
            assert after.probability <= before.probability + 1e-9 and after.entropy >= before.entropy - 1e-9


# --------------------------------------------------------------- pages ----


def test_run_page_shows_temperature_ece_before_and_after_and_reliability_diagrams(lead_client, project, calibrated_run):
    page = lead_client.get(reverse("inference:run-detail", args=[project.slug, calibrated_run.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="calibration"' in html and "Calibration (test split)" in html
    for key in TASKS:
        entry = calibrated_run.calibration[key]
        assert f'id="figure-reliability-{key}"' in html
        assert f"{entry['ece_before']:.3f}" in html and f"{entry['ece_after']:.3f}" in html
        assert f"{entry['temperature']:.3f}" in html
        assert entry["ece_after"] < entry["ece_before"]
    script = re.search(r'<script id="figure-reliability-desire" type="application/json">(.*?)</script>', html)
    figure = json.loads(script.group(1))
    assert [trace["name"] for trace in figure["data"]][0] == "before scaling"
    assert figure["data"][1]["name"].startswith("after scaling (T = ")


def test_task_names_in_the_reliability_diagram_are_escaped(lead_client, project, calibrated_run):
    Task.objects.filter(project=project, key="desire").update(name=EVIL_NAME)
    html = lead_client.get(reverse("inference:run-detail", args=[project.slug, calibrated_run.pk])).content.decode()
    assert EVIL_NAME not in html
    entry = calibrated_run.calibration["desire"]
    figure = figures.reliability_diagram(
        EVIL_NAME, entry["bins_before"], entry["bins_after"], temperature=1.5, ece_before=0.2, ece_after=0.05
    )
    title = figure.layout.title.text
    assert title.startswith("&lt;img src=x onerror=alert(1)&gt;") and "ECE 0.200 → 0.050" in title


def test_a_run_trained_before_calibration_says_it_has_none(lead_client, project):
    run = TrainingRun.objects.create(project=project, name="old", status=RunStatus.SUCCEEDED, config={"epochs": 1})
    html = lead_client.get(reverse("inference:run-detail", args=[project.slug, run.pk])).content.decode()
    assert "trained before calibration was measured" in html and "figure-reliability-" not in html
    assert run.temperatures == {}


def test_a_task_without_test_items_shows_no_diagram_but_says_why(lead_client, project):
    calibration = {"desire": calibrate_task(np.zeros((0, 7)), np.zeros(0, int), np.zeros((0, 7)), np.zeros(0, int))}
    run = TrainingRun.objects.create(
        project=project, name="empty", status=RunStatus.SUCCEEDED, config={"epochs": 1}, calibration=calibration
    )
    html = lead_client.get(reverse("inference:run-detail", args=[project.slug, run.pk])).content.decode()
    assert "No labelled dev items" in html and "not measured" in html and "figure-reliability-" not in html


# ------------------------------------------------------- command and API ----


def test_evaluate_prints_each_tasks_temperature_and_ece_before_and_after(calibrated_run):
    out = io.StringIO()
    call_command("evaluate", str(calibrated_run.pk), stdout=out)
    body = json.loads(out.getvalue().strip().splitlines()[-1])
    assert set(body["calibration"]) == set(TASKS)
    for key, printed in body["calibration"].items():
        stored = calibrated_run.calibration[key]
        assert printed == {
            k: stored[k]
            for k in ("temperature", "fitted", "dev_items", "test_items", "n_bins", "ece_before", "ece_after", "note")
        }


def test_the_run_api_answers_the_calibration(api, lead, project, calibrated_run):
    api.force_authenticate(lead)
    detail = api.get(reverse("api:run-detail", args=[project.slug, calibrated_run.pk])).data
    assert detail["calibration"]["sentiment"]["ece_after"] == calibrated_run.calibration["sentiment"]["ece_after"]
