"""Per-project limits on queued or running training runs, experiments and predictions."""

import threading

import pytest
from django.db import close_old_connections
from django.urls import reverse

from annotator.errors import DomainError
from inference.models import PredictionRun, RunStatus, TrainingRun
from inference.services.runs import start_experiment, start_prediction_run, start_training_run
from tests.inference.factories import make_demo_items

pytestmark = pytest.mark.django_db

CHEAP = {"text_encoder": "cnn", "image_encoder": "tiny-cnn", "epochs": 1}
DEMO_ITEMS = 12  # how many demo_items (tests/inference/conftest.py) makes here: enough for these cheap runs


@pytest.fixture
def limits(settings):
    settings.MAX_ACTIVE_TRAINING_RUNS_PER_PROJECT = 2
    settings.MAX_ACTIVE_EXPERIMENTS_PER_PROJECT = 1
    settings.MAX_ACTIVE_PREDICTIONS_PER_PROJECT = 1
    return settings


def test_training_runs_beyond_the_limit_are_refused(project, demo_items, limits, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        start_training_run(project=project, options=CHEAP)
        start_training_run(project=project, options=CHEAP)
        with pytest.raises(DomainError, match="2 training runs queued or running"):
            start_training_run(project=project, options=CHEAP)
    assert TrainingRun.objects.filter(project=project).count() == 2


def test_finished_runs_and_other_projects_do_not_count(
    project, demo_items, limits, lead, django_capture_on_commit_callbacks
):
    from tests.factories import make_project

    other = make_project(lead=lead, name="Other study")
    TrainingRun.objects.create(project=other, status=RunStatus.QUEUED)
    TrainingRun.objects.create(project=other, status=RunStatus.RUNNING)
    TrainingRun.objects.create(project=project, status=RunStatus.FAILED)
    TrainingRun.objects.create(project=project, status=RunStatus.SUCCEEDED)
    with django_capture_on_commit_callbacks(execute=False):
        start_training_run(project=project, options=CHEAP)
        start_training_run(project=project, options=CHEAP)


def test_a_second_experiment_waits_for_the_first(project, demo_items, limits, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        runs = start_experiment(project=project, options=CHEAP, grids=["modalities"])
        with pytest.raises(DomainError, match="1 experiment queued or running"):
            start_experiment(project=project, options=CHEAP, grids=["modalities"])
        # An experiment's runs do not use up the single runs' allowance.
        start_training_run(project=project, options=CHEAP)
    TrainingRun.objects.filter(experiment=runs[0].experiment).update(status=RunStatus.SUCCEEDED)
    with django_capture_on_commit_callbacks(execute=False):
        start_experiment(project=project, options=CHEAP, grids=["modalities"])


def test_prediction_runs_beyond_the_limit_are_refused(project, limits, django_capture_on_commit_callbacks):
    first = TrainingRun.objects.create(project=project, status=RunStatus.SUCCEEDED, artefact_path="x")
    second = TrainingRun.objects.create(project=project, status=RunStatus.SUCCEEDED, artefact_path="y")
    with django_capture_on_commit_callbacks(execute=False):
        queued = start_prediction_run(project=project, training_run=first)
        # Asking again for the same model returns the queued run: no new load.
        assert start_prediction_run(project=project, training_run=first) == queued
        with pytest.raises(DomainError, match="1 prediction run queued or running"):
            start_prediction_run(project=project, training_run=second)
    assert PredictionRun.objects.filter(project=project).count() == 1


def test_the_api_answers_400_with_the_limit_message(
    api, lead, project, demo_items, limits, django_capture_on_commit_callbacks
):
    TrainingRun.objects.create(project=project, status=RunStatus.QUEUED)
    TrainingRun.objects.create(project=project, status=RunStatus.RUNNING)
    api.force_authenticate(lead)
    response = api.post(reverse("api:run-list", args=[project.slug]), CHEAP, format="json")
    assert response.status_code == 400 and "training runs queued or running" in response.json()["detail"]
    TrainingRun.objects.create(project=project, status=RunStatus.QUEUED, experiment="e1")
    response = api.post(
        reverse("api:experiment-create", args=[project.slug]),
        {**CHEAP, "grids": ["modalities"]},
        format="json",
    )
    assert response.status_code == 400 and "experiment queued or running" in response.json()["detail"]
    done = TrainingRun.objects.create(project=project, status=RunStatus.SUCCEEDED, artefact_path="x")
    PredictionRun.objects.create(project=project, training_run=done, status=RunStatus.RUNNING)
    response = api.post(reverse("api:prediction-list", args=[project.slug]), {"training_run": done.pk}, format="json")
    assert response.status_code == 400 and "prediction run queued or running" in response.json()["detail"]


def test_the_train_page_shows_the_limit_as_a_form_error(lead_client, project, demo_items, limits):
    TrainingRun.objects.create(project=project, status=RunStatus.QUEUED)
    TrainingRun.objects.create(project=project, status=RunStatus.QUEUED)
    response = lead_client.post(
        reverse("inference:run-create", args=[project.slug]),
        {**CHEAP, "modalities": "both", "fusion": "concat", "recipe": "cached"},
    )
    assert response.status_code == 200 and "training runs queued or running" in response.content.decode()
    assert TrainingRun.objects.filter(project=project).count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_starts_never_exceed_the_limit(project, limits, settings):
    """Two requests counting at once would both see room; the project row lock
    makes the second count after the first committed."""
    settings.MAX_ACTIVE_TRAINING_RUNS_PER_PROJECT = 1
    make_demo_items(project, n=12)
    barrier = threading.Barrier(4)
    outcomes = []

    def start():
        barrier.wait()
        try:
            start_training_run(project=project, options=CHEAP, enqueue=False)
            outcomes.append("ok")
        except DomainError:
            outcomes.append("refused")
        finally:
            close_old_connections()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "refused", "refused", "refused"]
    assert TrainingRun.objects.filter(project=project).count() == 1
