"""Training and prediction workers keep model files in storages["models"]
and read images from storages["default"], whatever backs them: here
Django's InMemoryStorage for both, as an S3 bucket would be. Workers get
local copies only where PyTorch and transformers need paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.storage import storages

from annotator.storage import upload_folder
from inference.models import PredictionRun, RunStatus, Suggestion
from inference.services.prelabelling import mark_prelabeller
from inference.storage import remove_run_files
from tests.inference.factories import make_demo_items, tiny_options, train

MEMORY = {"BACKEND": "django.core.files.storage.InMemoryStorage"}


@pytest.mark.django_db
def test_training_and_prediction_read_and_write_model_files_through_the_storage(
    project, request, settings, tmp_path, django_capture_on_commit_callbacks
):
    bert_folder = request.getfixturevalue("tiny_bert")  # session-wide, from test_services
    settings.STORAGES = {**settings.STORAGES, "default": MEMORY, "models": MEMORY}
    settings.MODEL_DIR = tmp_path / "worker-models"  # this worker's local copies of offered weights
    settings.IMAGE_CACHE_DIR = tmp_path / "worker-images"
    settings.INFERENCE_FEATURE_CACHE_DIR = tmp_path / "worker-features"
    upload_folder(storages["models"], Path(bert_folder), "weights/tiny-bert")  # what an operator offers
    make_demo_items(project, n=24)

    run = train(project, tiny_options("tiny-bert", epochs=2), django_capture_on_commit_callbacks)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.artefact_path == f"runs/{run.pk}"
    assert storages["models"].exists(f"runs/{run.pk}/artefact.json")
    assert not (tmp_path / "worker-models" / "runs").exists()  # the artefact went to the storage
    assert any((tmp_path / "worker-images").iterdir())  # images were fetched from the media storage

    with django_capture_on_commit_callbacks(execute=True):
        mark_prelabeller(run=run)
    prediction = PredictionRun.objects.get(training_run=run)
    assert prediction.status == RunStatus.SUCCEEDED, prediction.error
    assert Suggestion.objects.filter(run=prediction).exists()

    remove_run_files(run.pk)
    assert not storages["models"].exists(f"runs/{run.pk}/artefact.json")
