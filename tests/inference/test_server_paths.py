"""Encoders and weights are chosen by name from what the server offers; no
answer tells whether a path exists, and no page or API answer shows an
absolute server path."""

import json
import re
from pathlib import Path

import pytest
from django.urls import reverse

from inference.models import PredictionRun, RunStatus, TrainingRun
from inference.services.execution import _error_message
from inference.services.files import hide_server_paths
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHEAP = {"text_encoder": "cnn", "image_encoder": "tiny-cnn", "epochs": 1}
DEMO_ITEMS = 12  # how many demo_items (tests/inference/conftest.py) makes here: enough for these cheap runs


@pytest.fixture
def staff(db):
    return UserFactory(username="stella-staff", is_staff=True)


def model_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    return path


@pytest.fixture
def operator_weights(settings) -> Path:
    """What an operator placed in MODEL_DIR/weights/: a text encoder folder and an image weights file."""
    weights = Path(settings.MODEL_DIR) / "weights"
    model_folder(weights / "tiny-bert-de")
    (weights / "resnet18-imagenet.pth").write_bytes(b"not really a state dict")
    return weights


def post_run(api, project, body):
    return api.post(reverse("api:run-list", args=[project.slug]), {**CHEAP, **body}, format="json")


@pytest.mark.parametrize(
    "field, existing, missing",
    [
        ("image_weights", "/etc/passwd", "/nonexistent"),
        ("text_encoder", "/etc", "/nonexistent"),
        ("tokenizer", "/etc", "/nonexistent"),
    ],
)
def test_a_lead_cannot_tell_which_server_paths_exist(api, lead, project, demo_items, field, existing, missing):
    api.force_authenticate(lead)
    first, second = post_run(api, project, {field: existing}), post_run(api, project, {field: missing})
    assert first.status_code == second.status_code == 400
    assert first.json() == second.json() and first.json()["field"] == field
    assert "exist" not in first.json()["detail"] and not TrainingRun.objects.exists()


def test_a_lead_cannot_reach_model_dir_by_a_relative_path(api, lead, project, demo_items, operator_weights):
    api.force_authenticate(lead)
    response = post_run(api, project, {"text_encoder": "weights/tiny-bert-de"})
    assert response.status_code == 400 and response.json()["field"] == "text_encoder"


def test_operator_placed_weights_are_offered_and_accepted_by_name(
    api, lead_client, lead, project, demo_items, operator_weights, django_capture_on_commit_callbacks
):
    page = lead_client.get(reverse("inference:run-create", args=[project.slug])).content.decode()
    assert '<select name="text_encoder"' in page and '<select name="image_weights"' in page
    assert '<option value="tiny-bert-de"' in page and '<option value="resnet18-imagenet.pth"' in page
    api.force_authenticate(lead)
    options = api.get(reverse("api:train-options", args=[project.slug])).json()
    assert "tiny-bert-de" in options["text_encoders"] and "all-MiniLM-L6-v2" in options["text_encoders"]
    assert options["image_weights"] == ["resnet18-imagenet.pth"]
    with django_capture_on_commit_callbacks(execute=False):
        response = post_run(
            api,
            project,
            {"text_encoder": "tiny-bert-de", "image_encoder": "resnet18", "image_weights": "resnet18-imagenet.pth"},
        )
    assert response.status_code == 201, response.json()
    run = TrainingRun.objects.get()
    # The worker gets a real path; the answer only the name.
    assert Path(run.config["text_encoder"]) == operator_weights / "tiny-bert-de"
    assert response.json()["config"]["text_encoder"] == "tiny-bert-de"
    assert response.json()["config"]["image_weights"] == "resnet18-imagenet.pth"


def test_the_train_form_refuses_a_name_the_server_does_not_offer(lead_client, project, demo_items, operator_weights):
    response = lead_client.post(
        reverse("inference:run-create", args=[project.slug]),
        {**CHEAP, "text_encoder": "/etc", "modalities": "both", "fusion": "concat", "recipe": "cached"},
    )
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not TrainingRun.objects.exists()


def test_staff_may_give_a_path_inside_model_dir(
    api, staff, project, demo_items, settings, django_capture_on_commit_callbacks
):
    folder = model_folder(Path(settings.MODEL_DIR) / "experiments" / "bert-x")
    api.force_authenticate(staff)
    with django_capture_on_commit_callbacks(execute=False):
        response = post_run(api, project, {"text_encoder": str(folder)})
        relative = post_run(api, project, {"text_encoder": "experiments/bert-x"})
    assert response.status_code == 201 and relative.status_code == 201, (response.json(), relative.json())
    assert response.json()["config"]["text_encoder"] == "experiments/bert-x"


def test_staff_paths_outside_model_dir_are_refused_symlinks_included(
    api, staff, project, demo_items, settings, tmp_path
):
    outside = model_folder(tmp_path / "outside" / "bert")
    link = Path(settings.MODEL_DIR) / "sneaky"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside)
    api.force_authenticate(staff)
    for value in (str(outside), "sneaky", str(link), "../outside/bert", "/etc"):
        response = post_run(api, project, {"text_encoder": value})
        assert response.status_code == 400 and "inside the server's model folder" in response.json()["detail"], (
            value,
            response.json(),
        )
    weights = post_run(api, project, {"image_weights": "/etc/passwd"})
    assert weights.status_code == 400 and "inside the server's model folder" in weights.json()["detail"]
    assert not TrainingRun.objects.exists()


ABSOLUTE = re.compile(r"(?<![\w/:.~-])/(?:tmp|etc|srv|home|work|var|usr|data)\b")


@pytest.fixture
def failed_run(project, settings):
    model_dir = Path(settings.MODEL_DIR)
    run = TrainingRun.objects.create(
        project=project,
        status=RunStatus.FAILED,
        config={
            "text_encoder": str(model_dir / "weights" / "tiny-bert-de"),
            "image_encoder": "resnet18",
            "image_weights": str(model_dir / "weights" / "r18.pth"),
            "tokenizer": None,
            "epochs": 1,
        },
        artefact_path=str(model_dir / "runs" / "1"),
        error=f"FileNotFoundError: image_weights '{model_dir}/weights/r18.pth' is not a file",
        warnings=[f"No embedding map: cannot read {model_dir}/features/x.npy", "unreadable image /srv/media/ab/cd.jpg"],
    )
    PredictionRun.objects.create(
        project=project, training_run=run, status=RunStatus.FAILED, error=f"missing {model_dir}/runs/1/model.pt"
    )
    return run


def test_run_json_and_pages_show_no_absolute_server_path(api, lead, lead_client, project, failed_run, settings):
    api.force_authenticate(lead)
    answers = {
        "api detail": api.get(reverse("api:run-detail", args=[project.slug, failed_run.pk])).content.decode(),
        "api list": api.get(reverse("api:run-list", args=[project.slug])).content.decode(),
        "api predictions": api.get(reverse("api:prediction-list", args=[project.slug])).content.decode(),
        "run page": lead_client.get(
            reverse("inference:run-detail", args=[project.slug, failed_run.pk])
        ).content.decode(),
        "run list page": lead_client.get(reverse("inference:run-list", args=[project.slug])).content.decode(),
    }
    for where, body in answers.items():
        assert str(settings.MODEL_DIR) not in body, where
        assert "artefact_path" not in body, where
        assert not ABSOLUTE.search(body), (where, ABSOLUTE.search(body))
    detail = json.loads(answers["api detail"])
    assert detail["error"] == "FileNotFoundError: image_weights 'weights/r18.pth' is not a file"
    assert detail["config"]["text_encoder"] == "tiny-bert-de" and detail["config"]["image_weights"] == "r18.pth"
    assert "weights/r18.pth" in answers["run page"]


def test_a_failed_runs_message_names_model_dir_files_relatively(settings):
    message = _error_message(FileNotFoundError(f"{settings.MODEL_DIR}/weights/r18.pth is not a file"))
    assert message == "weights/r18.pth is not a file"
    assert (
        hide_server_paths("see /usr/lib/python3/x.py and http://example.org/a/b, 3/4 done")
        == "see x.py and http://example.org/a/b, 3/4 done"
    )
