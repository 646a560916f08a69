"""Model pages: leads train, watch, compare, choose the pre-labeller;
annotators get a 403 and outsiders a 404 on every page."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from annotator.models import Item, PrelabelPolicy
from inference.forms import TrainForm
from inference.modeling.options import PRESETS
from inference.models import PredictionRun, RunStatus, TrainingRun
from inference.services.prelabelling import mark_prelabeller
from inference.services.runs import start_training_run
from tests.inference.factories import add_votes, tiny_options

pytestmark = pytest.mark.django_db


def curve_on_page(client, project, run) -> dict:
    """The training curve the run page hands to Plotly (its json_script block)."""
    html = client.get(reverse("inference:run-detail", args=[project.slug, run.pk])).content.decode()
    found = re.search(r'<script id="figure-curve" type="application/json">(.*?)</script>', html, re.S)
    assert found, "the run page carries its curve"
    return json.loads(found.group(1))


def page_urls(slug: str, run_id: int = 1, prediction_id: int = 1) -> list[tuple[str, str]]:
    return [
        ("get", reverse("inference:run-list", args=[slug])),
        ("get", reverse("inference:run-create", args=[slug])),
        ("post", reverse("inference:run-create", args=[slug])),
        ("get", reverse("inference:experiment-create", args=[slug])),
        ("post", reverse("inference:experiment-create", args=[slug])),
        ("get", reverse("inference:run-compare", args=[slug])),
        ("get", reverse("inference:run-detail", args=[slug, run_id])),
        ("post", reverse("inference:run-cancel", args=[slug, run_id])),
        ("post", reverse("inference:run-prelabeller", args=[slug, run_id])),
        ("post", reverse("inference:run-predict", args=[slug, run_id])),
        ("get", reverse("inference:prediction-detail", args=[slug, prediction_id])),
        ("post", reverse("inference:prediction-cancel", args=[slug, prediction_id])),
        ("post", reverse("inference:policy-update", args=[slug])),
        ("get", reverse("inference:model-vs-annotators", args=[slug])),
    ]


@pytest.fixture
def finished_run(project):
    run = TrainingRun.objects.create(project=project, name="finished", status=RunStatus.SUCCEEDED, config={"epochs": 1})
    prediction = PredictionRun.objects.create(project=project, training_run=run)
    return run, prediction


def test_annotators_are_refused_every_model_page(annotator_client, project, finished_run):
    run, prediction = finished_run
    for method, url in page_urls(project.slug, run.pk, prediction.pk):
        response = getattr(annotator_client, method)(url)
        assert response.status_code == 403, (method, url, response.status_code)
    assert TrainingRun.objects.count() == 1 and not run.is_prelabeller


def test_outsiders_do_not_learn_the_project_exists(outsider_client, project, finished_run):
    run, prediction = finished_run
    for method, url in page_urls(project.slug, run.pk, prediction.pk):
        assert getattr(outsider_client, method)(url).status_code == 404, (method, url)


def test_anonymous_visitors_are_sent_to_log_in(client, project):
    response = client.get(reverse("inference:run-list", args=[project.slug]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_run_of_another_project_is_not_found(lead_client, lead, project):
    from tests.factories import make_project

    other = make_project(lead=lead, name="Other study")
    run = TrainingRun.objects.create(project=other, status=RunStatus.SUCCEEDED)
    assert lead_client.get(reverse("inference:run-detail", args=[project.slug, run.pk])).status_code == 404
    assert lead_client.post(reverse("inference:run-prelabeller", args=[project.slug, run.pk])).status_code == 404


def test_the_project_nav_links_leads_to_the_models(lead_client, project):
    response = lead_client.get(reverse("annotator:project-detail", args=[project.slug]))
    assert reverse("inference:run-list", args=[project.slug]) in response.content.decode()


def test_lead_trains_from_the_form_and_watches_the_run(
    lead_client, project, demo_items, offered_tiny_bert, django_capture_on_commit_callbacks
):
    # The form has no hidden-size or batch options: those keys are ignored and keep their defaults.
    form = {
        **tiny_options(offered_tiny_bert),
        "chain": "desire > sentiment > emotion",
        "unimodal_heads": "on",
        "contrastive_weight": 0,
        "common_space_weight": 0,
        "name": "first try",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = lead_client.post(reverse("inference:run-create", args=[project.slug]), form)
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "inference:run-detail", args=[project.slug, run.pk]
    )
    assert run.name == "first try" and run.config["chain"] == ["desire", "sentiment", "emotion"]
    assert run.status == RunStatus.SUCCEEDED, run.error

    polled = lead_client.get(reverse("api:run-detail", args=[project.slug, run.pk])).json()
    assert polled["status"] == "succeeded" and polled["finished_at"] and polled["epoch"] == run.epochs_total
    assert [h["epoch"] for h in polled["history"]] == list(range(1, run.epochs_total + 1))
    assert curve_on_page(lead_client, project, run)["data"][0]["name"] == "training loss"

    page = lead_client.get(reverse("inference:run-detail", args=[project.slug, run.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="figure-curve"' in html and 'id="figure-confusion-desire"' in html and 'id="figure-map"' in html
    assert "vendor/plotly/plotly.min.js" in html and "js/figures.js" in html
    for colour in ("disagreement", "confidence"):
        assert (
            lead_client.get(
                reverse("inference:run-detail", args=[project.slug, run.pk]), {"colour": colour, "space": "text"}
            ).status_code
            == 200
        )
    listing = lead_client.get(reverse("inference:run-list", args=[project.slug])).content.decode()
    assert "first try" in listing


@pytest.mark.parametrize(
    "override, field, message",
    [
        ({"fusion": "sum"}, "fusion", "Select a valid choice"),
        ({"chain": "desire > emotion"}, "chain", "exactly once"),
        ({"epochs": 0}, "epochs", "between 1 and 200"),
        ({"epochs": 999}, "epochs", "between 1 and 200"),
        ({"text_encoder": "/no/such/folder"}, "text_encoder", "Select a valid choice"),
        ({"image_encoder": "resnet50", "image_weights": "/no/weights.pt"}, "image_weights", "Select a valid choice"),
    ],
)
def test_bad_training_options_come_back_as_form_errors(
    lead_client, project, demo_items, offered_tiny_bert, override, field, message
):
    form = {**tiny_options(offered_tiny_bert), "contrastive_weight": 0, "common_space_weight": 0, **override}
    response = lead_client.post(reverse("inference:run-create", args=[project.slug]), form)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not TrainingRun.objects.exists()


def test_a_recipe_trains_with_one_click_and_an_unknown_one_is_refused(lead_client, project, demo_items):
    url = reverse("inference:run-create", args=[project.slug])
    page = lead_client.get(url).content.decode()
    for preset in PRESETS:
        assert f'name="preset" value="{preset}"' in page and f"Train the {preset} recipe" in page
    response = lead_client.post(url, {"one_click": "1", "preset": "accurate"})
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "inference:run-detail", args=[project.slug, run.pk]
    )
    assert run.config["preset"] == "accurate" and run.config["ensemble"] == PRESETS["accurate"]["ensemble"]
    assert run.name.startswith("accurate recipe · ")

    response = lead_client.post(url, {"one_click": "1", "preset": "<b>fastest</b>"})
    assert response.status_code == 200 and TrainingRun.objects.count() == 1
    assert "Unknown recipe" in response.context["recipe_error"]
    html = response.content.decode()
    assert "Unknown recipe &#x27;&lt;b&gt;fastest&lt;/b&gt;&#x27;" in html and "<b>fastest</b>" not in html


@pytest.mark.parametrize("ensemble, expected", [(None, "recipe"), (3, 3)], ids=["left-as-shown", "changed"])
def test_form_fields_left_at_their_shown_default_follow_the_chosen_recipe(
    lead_client, project, demo_items, offered_tiny_bert, ensemble, expected
):
    shown = TrainForm.base_fields["ensemble"].initial
    form = {
        **tiny_options(offered_tiny_bert),
        "preset": "accurate",
        "ensemble": shown if ensemble is None else ensemble,
        "contrastive_weight": 0,
        "common_space_weight": 0,
    }
    response = lead_client.post(reverse("inference:run-create", args=[project.slug]), form)
    assert response.status_code == 302, response.context["form"].errors
    run = TrainingRun.objects.get()
    assert run.config["ensemble"] == (PRESETS["accurate"]["ensemble"] if expected == "recipe" else expected)
    assert run.config["ensemble"] != shown and run.config["epochs"] == 3


def test_training_without_gold_labels_says_what_to_do(lead_client, project, offered_tiny_bert):
    form = {**tiny_options(offered_tiny_bert), "contrastive_weight": 0, "common_space_weight": 0}
    response = lead_client.post(reverse("inference:run-create", args=[project.slug]), form)
    assert response.status_code == 200
    assert "No item of the train split has a gold label" in " ".join(response.context["form"].non_field_errors())


def test_experiment_form_queues_a_grid_and_shows_its_comparison(
    lead_client, project, demo_items, offered_tiny_bert, django_capture_on_commit_callbacks
):
    form = {
        **tiny_options(offered_tiny_bert),
        "contrastive_weight": 0,
        "common_space_weight": 0,
        "grids": ["modalities"],
        "name": "baselines",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = lead_client.post(reverse("inference:experiment-create", args=[project.slug]), form)
    runs = list(TrainingRun.objects.order_by("id"))
    assert len(runs) == 3 and all(run.status == RunStatus.SUCCEEDED for run in runs)
    assert response.status_code == 302
    page = lead_client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200 and "baselines" in html
    for name in ("text only", "image only", "text + image (concat)"):
        assert name in html
    assert 'id="figure-compare"' in html and "inf-best" in html
    chosen = lead_client.get(
        reverse("inference:run-compare", args=[project.slug]), {"runs": f"{runs[0].pk},{runs[2].pk}"}
    )
    assert chosen.status_code == 200 and len(chosen.context["comparison"]["rows"]) == 2


def test_lead_cancels_a_queued_run(lead_client, project, demo_items, options, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        run = start_training_run(project=project, options=options)
    response = lead_client.post(reverse("inference:run-cancel", args=[project.slug, run.pk]))
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    again = lead_client.post(reverse("inference:run-cancel", args=[project.slug, run.pk]), follow=True)
    assert "already finished" in again.content.decode()


def test_lead_marks_the_prelabeller_and_unlabelled_items_get_suggestions(
    lead_client, project, demo_items, trained_run, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = lead_client.post(reverse("inference:run-prelabeller", args=[project.slug, trained_run.pk]))
    assert response.status_code == 302
    trained_run.refresh_from_db()
    assert trained_run.is_prelabeller
    prediction = PredictionRun.objects.get()
    assert prediction.status == RunStatus.SUCCEEDED and prediction.suggestions.exists()
    polled = lead_client.get(reverse("api:prediction-detail", args=[project.slug, prediction.pk])).json()
    assert polled["status"] == "succeeded" and polled["items_done"] == polled["items_total"] > 0
    listing = lead_client.get(reverse("inference:run-list", args=[project.slug])).content.decode()
    assert "pre-labeller" in listing and "Prediction runs" in listing


def test_a_failed_run_cannot_become_the_prelabeller(lead_client, project):
    run = TrainingRun.objects.create(project=project, status=RunStatus.FAILED, error="no luck")
    response = lead_client.post(reverse("inference:run-prelabeller", args=[project.slug, run.pk]), follow=True)
    assert "Only a succeeded run" in response.content.decode()
    run.refresh_from_db()
    assert not run.is_prelabeller


def test_lead_sets_the_retrain_policy(lead_client, project):
    response = lead_client.post(
        reverse("inference:policy-update", args=[project.slug]),
        {"retrain_every_n_gold": 200, "suggest_new_items": "on"},
    )
    assert response.status_code == 302
    policy = PrelabelPolicy.objects.get(project=project)
    assert policy.retrain_every_n_gold == 200 and policy.suggest_new_items
    bad = lead_client.post(
        reverse("inference:policy-update", args=[project.slug]), {"retrain_every_n_gold": -3}, follow=True
    )
    assert "0 or more" in bad.content.decode()


def test_model_vs_annotators_page(lead_client, project, demo_items, trained_run, django_capture_on_commit_callbacks):
    page = lead_client.get(reverse("inference:model-vs-annotators", args=[project.slug]))
    assert page.status_code == 200 and "Choose a pre-labeller" in page.content.decode()
    add_votes(project, [item for item in demo_items if item.split != Item.Split.TRAIN])
    with django_capture_on_commit_callbacks(execute=True):
        mark_prelabeller(run=trained_run)
    page = lead_client.get(reverse("inference:model-vs-annotators", args=[project.slug]), {"run": trained_run.pk})
    html = page.content.decode()
    assert page.status_code == 200
    assert "voter0" in html and "Annotators&#x27; mean" in html and 'id="figure-human"' in html


def test_run_detail_json_of_a_running_run_shows_its_progress(lead_client, project):
    run = TrainingRun.objects.create(
        project=project,
        status=RunStatus.RUNNING,
        epoch=2,
        epochs_total=8,
        phase="training, epoch 2 of 8",
        history=[
            {"epoch": 1, "train_loss": 1.2, "dev_macro_f1": 0.3},
            {"epoch": 2, "train_loss": 0.9, "dev_macro_f1": 0.4},
        ],
    )
    polled = lead_client.get(reverse("api:run-detail", args=[project.slug, run.pk])).json()
    assert polled["progress"] == 0.25 and polled["finished_at"] is None and polled["phase"] == "training, epoch 2 of 8"
    assert curve_on_page(lead_client, project, run)["data"][1]["y"] == [0.3, 0.4]
    page = lead_client.get(reverse("inference:run-detail", args=[project.slug, run.pk])).content.decode()
    assert 'hx-trigger="every 1500ms"' in page and "Cancel" in page


def test_web_modules_never_import_torch():
    """Pages, API, services and tasks load without torch (a fresh interpreter)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, django; django.setup()\n"
        "import config.urls, inference.views, inference.api, inference.services.runs, inference.services.prelabelling, inference.services.execution, inference.reports, inference.tasks, inference.figures\n"
        "from inference.modeling import TrainConfig; TrainConfig.from_dict({'fusion': 'add'})\n"
        "print(sorted(m for m in ('torch', 'transformers', 'torchvision') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_models_page_links_to_the_setting_that_turns_suggestions_on(lead_client, project):
    TrainingRun.objects.create(project=project, name="pre", status=RunStatus.SUCCEEDED, is_prelabeller=True)
    settings_url = reverse("annotator:project-settings", args=[project.slug])
    listing = lead_client.get(reverse("inference:run-list", args=[project.slug])).content.decode()
    assert f'href="{settings_url}#id_show_suggestions"' in listing and "now off" in listing
    assert 'id="id_show_suggestions"' in lead_client.get(settings_url).content.decode()  # the anchor exists
    project.show_suggestions = True
    project.save()
    listing = lead_client.get(reverse("inference:run-list", args=[project.slug])).content.decode()
    assert "now off" not in listing and "after the annotator's own first choice" in listing
