"""The demo runs the anchoring experiment (issue 14.6): a simulated
pre-labeller's suggestions, half the pairs shown them, and one simulated
annotator who follows them too often."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import call_command

from annotator import anchoring, demo, suggestions
from annotator.models import Annotation, Project
from annotator.services import demo as demo_service

# ---- the simulation (no database)


def test_the_simulated_model_is_right_about_as_often_as_asked():
    truth = demo.label_index_matrix(demo.generate_items(600, seed=1, with_images=False))
    labels, vectors = demo.simulate_suggestions(truth, accuracy=(0.65, 0.8, 0.7), seed=2)
    accuracy = (labels == truth).mean(axis=0)
    assert np.allclose(accuracy, (0.65, 0.8, 0.7), atol=0.06)
    for t, p in enumerate(vectors):
        assert np.allclose(p.sum(axis=1), 1) and (p.argmax(axis=1) == labels[:, t]).all()


def test_a_follower_copies_shown_suggestions_and_nobody_copies_hidden_ones():
    rng = np.random.default_rng(0)
    votes = rng.integers(0, 3, (4000, 2, 3)).astype(np.int8)
    suggested = np.zeros((4000, 3), dtype=np.int8) + 2
    shown = np.zeros((4000, 2), dtype=bool)
    shown[:2000] = True
    anchored, followed = demo.simulate_anchoring(votes, suggested, shown, (0.0, 0.6), seed=1)
    assert not followed[2000:].any() and (anchored[2000:] == votes[2000:]).all()
    assert not followed[:, 0].any()
    assert followed[:2000, 1].mean() == pytest.approx(0.6, abs=0.03)
    assert (anchored[followed] == 2).all()


# ---- seed_demo


@pytest.fixture
def logins_file(settings, tmp_path):
    settings.DEMO_LOGINS_FILE = tmp_path / "demo-logins.json"


@pytest.mark.django_db
def test_seed_demo_runs_the_experiment_with_a_follower(logins_file):
    from inference.models import PredictionRun

    call_command("seed_demo", items=60, stdout=io.StringIO())
    project = Project.objects.get(slug=demo_service.DEMO_SLUG)
    assert project.show_suggestions and project.suggestion_share == demo_service.SUGGESTION_SHARE == 0.5
    run = PredictionRun.objects.get(project=project)
    assert run.training_run.config == {"simulated": True} and "no model was trained" in run.training_run.name
    assert suggestions.get_provider().current_run_id(project) == run.pk
    assert run.suggestions.count() == 60 * 3  # every item, labelled or not, for the live page too

    experiment = Annotation.objects.filter(item__project=project, round="multimodal")
    assert set(experiment.values_list("suggestion_arm", flat=True)) == {"shown", "hidden"}
    assert set(experiment.values_list("suggestion_run_id", flat=True)) == {run.pk}
    # The arms are those the live assignment gives: a person picking up the demo continues the same experiment.
    for a in experiment.only("annotator_id", "item_id", "suggestion_arm")[:50]:
        assert a.suggestion_arm == anchoring.suggestion_arm(project, annotator_id=a.annotator_id, item_id=a.item_id)
    assert not Annotation.objects.filter(item__project=project, round__in=["text", "image"]).exclude(suggestion_arm="")

    # Exactly one follower, and the data show it.
    (follower,) = [name for name, rate in zip(demo_service.ANNOTATORS, demo_service.FOLLOW_RATES) if rate >= 0.5]

    def agreement(arm: str) -> float:
        kept = [
            v
            for d in experiment.filter(annotator__username=follower, suggestion_arm=arm).values_list(
                "suggestion_accepted", flat=True
            )
            for v in d.values()
        ]
        return sum(kept) / len(kept)

    assert agreement("shown") > agreement("hidden") + 0.1


@pytest.mark.django_db
def test_seed_demo_without_a_suggestion_provider_runs_no_experiment(logins_file):
    installed = suggestions.get_provider()
    suggestions.register_provider(suggestions.SuggestionProvider())
    try:
        call_command("seed_demo", items=12, stdout=io.StringIO())
    finally:
        suggestions.register_provider(installed)
    project = Project.objects.get(slug=demo_service.DEMO_SLUG)
    assert not project.show_suggestions and project.suggestion_share == 1.0
    assert not Annotation.objects.exclude(suggestion_arm="").exists()


@pytest.mark.django_db
def test_the_demo_models_pages_show_the_simulated_run(logins_file, client):
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    from inference.models import PredictionRun

    call_command("seed_demo", items=12, stdout=io.StringIO())
    client.force_login(get_user_model().objects.get(username=demo_service.LEAD))
    run = PredictionRun.objects.get()
    slug = demo_service.DEMO_SLUG
    pages = [
        reverse("inference:run-list", args=[slug]),
        reverse("inference:run-detail", args=[slug, run.training_run_id]),
        reverse("inference:model-vs-annotators", args=[slug]),
        reverse("inference:prediction-detail", args=[slug, run.pk]),
        reverse("analysis:anchoring", args=[slug]),
        reverse("annotator:item-annotate", args=[slug]),
    ]
    for page in pages:
        response = client.get(page, follow=True)  # a finished prediction run's page is its training run's
        assert response.status_code == 200, page
    assert "no model was trained" in client.get(pages[0]).content.decode()
