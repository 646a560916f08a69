"""The demo shows quality control (issue 14): control items whose known
answers are the simulated truth, answered blind by every simulated annotator
and counted nowhere but control accuracy, and a careless annotator whom the
Annotators page's reliability measures flag."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from analysis.dashboards.annotators import build_annotators
from analysis.selectors import DashboardFilters
from annotator import demo
from annotator.models import Annotation, ControlAnswer, Gold, Item, Project, Vote
from annotator.selectors.controls import get_control_scores
from annotator.services import demo as demo_service

pytestmark = pytest.mark.django_db

N_ITEMS = 200  # 160 labelled, 40 waiting: 20 of those become control items


@pytest.fixture
def logins_file(settings, tmp_path):
    settings.DEMO_LOGINS_FILE = tmp_path / "demo-logins.json"


@pytest.fixture
def demo_project(logins_file) -> Project:
    call_command("seed_demo", items=N_ITEMS, stdout=io.StringIO())
    return Project.objects.get(slug=demo_service.DEMO_SLUG)


def test_control_items_have_the_simulated_truth_as_known_answers(demo_project):
    project = demo_project
    assert project.control_every == demo_service.CONTROL_EVERY == 10 and project.control_feedback
    controls = list(Item.objects.filter(project=project, is_control=True).order_by("id"))
    assert len(controls) == 20
    truth = {s.external_id: s.labels for s in demo.generate_items(N_ITEMS, seed=0, with_images=False)}
    answers = ControlAnswer.objects.filter(item__in=controls).select_related("task", "label", "item")
    assert answers.count() == 3 * len(controls)
    for answer in answers:
        assert answer.source == ControlAnswer.Source.IMPORTED
        assert truth[answer.item.external_id][answer.task.key] == answer.label.key


def test_control_answers_are_blind_and_counted_nowhere_else(demo_project):
    project = demo_project
    controls = Item.objects.filter(project=project, is_control=True)
    on_controls = Annotation.objects.filter(item__in=controls)
    # Taken from the waiting items: nobody had labelled them before.
    assert on_controls.exists() and not on_controls.filter(is_control=False).exists()
    assert not Vote.objects.filter(item__in=controls, is_control=False).exists()
    assert Vote.objects.filter(item__in=controls, is_control=True).count() == 3 * on_controls.count()
    assert not Annotation.objects.filter(item__project=project, is_control=True).exclude(item__in=controls).exists()
    assert set(on_controls.values_list("annotator__username", flat=True)) == set(demo_service.ANNOTATORS)
    # Not in any vote counter or gold: the labelled items have exactly votes_per_item votes.
    assert set(controls.values_list("vote_count", flat=True)) == {0}
    labelled = Item.objects.filter(project=project, is_control=False, vote_count__gt=0)
    assert labelled.count() == int(round(0.8 * N_ITEMS))
    assert set(labelled.values_list("vote_count", flat=True)) == {project.votes_per_item} == {5}
    assert not Gold.objects.filter(item__in=controls).exclude(label=None).exists()


def test_the_careless_annotator_is_flagged_and_the_careful_ones_are_not(demo_project):
    project = demo_project
    careless = demo_service.ANNOTATORS[demo_service.ERROR_RATES.index(demo.CARELESS_ERROR_RATE)]
    careful = [name for name, rate in zip(demo_service.ANNOTATORS, demo_service.ERROR_RATES) if rate <= 0.1]
    assert careless == "annotator5" and careful == ["annotator1", "annotator2"]
    names = dict(Annotation.objects.values_list("annotator_id", "annotator__username").distinct())
    accuracy = {names[i]: s.accuracy for i, s in get_control_scores(project).items()}
    assert accuracy[careless] < 0.4 and min(a for name, a in accuracy.items() if name != careless) > 0.6

    page = build_annotators(project, DashboardFilters())
    flags = {a["name"]: a["flags"] for a in page["data"]["annotators"]}
    assert set(flags) == set(demo_service.ANNOTATORS)
    for task in ("Desire", "Sentiment", "Emotion"):
        for measure in ("competence", "gold agreement", "control accuracy"):
            assert f"{task}: {measure}" in flags[careless], flags[careless]
    # A few control answers each (about 16 here) leave the others' control
    # accuracy noisy, and annotator4 copies suggestions on control items too;
    # the careful two stay clear of every flag.
    assert not any(flags[name] for name in careful), flags


def test_the_leads_quality_control_pages_show_the_demo(demo_project, client):
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    client.force_login(get_user_model().objects.get(username=demo_service.LEAD))
    slug = demo_project.slug
    controls = client.get(reverse("analysis:controls", args=[slug]))
    assert controls.status_code == 200
    body = controls.content.decode()
    assert "annotator5" in body and Item.objects.filter(is_control=True).first().external_id in body
    annotators = client.get(reverse("analysis:annotators", args=[slug]))
    assert annotators.status_code == 200 and "Flagged: annotator5" in annotators.content.decode()
    assert client.get(reverse("annotator:project-settings", args=[slug])).status_code == 200


def _counts() -> tuple[int, ...]:
    return (
        Item.objects.count(),
        Annotation.objects.count(),
        Annotation.objects.filter(is_control=True).count(),
        ControlAnswer.objects.count(),
    )


def test_seed_demo_runs_again_without_adding_anything(demo_project):
    before = _counts()
    out = io.StringIO()
    call_command("seed_demo", items=N_ITEMS, stdout=out)
    assert "exists" in out.getvalue() and _counts() == before
