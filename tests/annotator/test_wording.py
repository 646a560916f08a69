"""Pages show names, not raw keys, count in words and say precisely what they count."""

from __future__ import annotations

import pytest
from django.urls import reverse

from analysis import figures
from annotator.models import Annotation, Membership
from annotator.services import projects as project_services
from inference.models import RunStatus, TrainingRun
from tests.analysis.factories import make_voted_project
from tests.factories import UserFactory, make_project

pytestmark = pytest.mark.django_db


def test_item_page_names_rounds_labels_and_tasks_instead_of_keys(lead_client, project):
    items, _ = make_voted_project(project, n_items=2, n_annotators=2)
    html = lead_client.get(reverse("annotator:item-detail", args=[project.slug, items[0].pk])).content.decode()
    votes = html.split('id="votes"')[1].split('id="suggestions"')[0]
    assert "<td>Text and image</td>" in votes and "<td>multimodal</td>" not in votes
    desire = Annotation.objects.filter(item=items[0]).first().votes.get(task__key="desire").label
    assert f"<td>{desire.name}</td>" in votes
    assert desire.key == desire.key.lower() and f"<td>{desire.key}</td>" not in votes
    assert "Desire → Sentiment → Emotion" in votes or "Sentiment → Desire → Emotion" in votes
    assert "Text and image: 2 of 5 votes" in html


def test_one_vote_is_singular(lead_client, lead):
    project = make_project(lead=lead, name="One vote each", votes_per_item=1)
    items, _ = make_voted_project(project, n_items=1, n_annotators=1)
    html = lead_client.get(reverse("annotator:item-detail", args=[project.slug, items[0].pk])).content.decode()
    assert "1 of 1 vote" in html and "1 of 1 votes" not in html


def test_first_annotator_is_annotator_01_and_the_lead_is_lead_01(lead):
    project = make_project(lead=lead, name="Pseudonyms")
    first = project_services.add_member(project=project, user=UserFactory(username="first"))
    second = project_services.add_member(project=project, user=UserFactory(username="second"))
    assert Membership.objects.get(project=project, user=lead).pseudonym == "lead-01"
    assert (first.pseudonym, second.pseudonym) == ("annotator-01", "annotator-02")
    # A removed member's number is not given to the next one.
    project_services.remove_member(project=project, user=first.user)
    third = project_services.add_member(project=project, user=UserFactory(username="third"))
    assert third.pseudonym == "annotator-03"


def test_train_form_says_items_and_labels_precisely(lead_client, project):
    make_voted_project(project, n_items=4, n_annotators=3)
    html = lead_client.get(reverse("inference:run-create", args=[project.slug])).content.decode()
    assert "The train split has 2 items with gold" in html
    assert "6 gold labels in all, one per item and task" in html


def test_train_form_options_have_words_not_paper_numbers(lead_client, project):
    html = lead_client.get(reverse("inference:run-create", args=[project.slug])).content.decode()
    assert "(001)" not in html.replace("seed paper 001", "")
    assert ">joint max-pooling</option>" in html and "copes with a missing one" in html
    assert "Text-image alignment loss weight" in html and "seed paper 001" in html
    # The recipe menu's options are short enough not to be cut in the select.
    assert all(
        len(text) <= 24 for text in ("frozen encoders (fast)", "fine-tune text encoder", "fine-tune both (slow)")
    )
    assert ">frozen encoders (fast)</option>" in html


def test_a_run_that_stopped_early_shows_a_full_bar_and_why(lead_client, project):
    run = TrainingRun.objects.create(
        project=project,
        status=RunStatus.SUCCEEDED,
        epoch=12,
        epochs_total=30,
        best_epoch=7,
        config={"epochs": 30},
        history=[{"epoch": e, "train_loss": 1.0 / e, "dev_macro_f1": 0.3} for e in range(1, 13)],
    )
    html = lead_client.get(reverse("inference:run-detail", args=[project.slug, run.pk])).content.decode()
    assert 'id="run-bar" style="width:100%"' in html
    assert "Stopped early at epoch 12 of 30: dev macro-F1 had not improved for 5 epochs (best at epoch 7)." in html
    polled = lead_client.get(reverse("api:run-detail", args=[project.slug, run.pk])).json()
    assert polled["progress"] == 1.0


def test_a_run_that_used_every_epoch_has_no_stop_note(lead_client, project):
    run = TrainingRun.objects.create(
        project=project, status=RunStatus.SUCCEEDED, epoch=3, epochs_total=3, best_epoch=3, config={}
    )
    html = lead_client.get(reverse("inference:run-detail", args=[project.slug, run.pk])).content.decode()
    assert "Stopped early" not in html and 'style="width:100%"' in html


def test_compare_with_no_runs_picked_asks_to_pick(lead_client, project):
    a = TrainingRun.objects.create(project=project, name="late fusion", status=RunStatus.SUCCEEDED, config={})
    b = TrainingRun.objects.create(project=project, name="text only", status=RunStatus.SUCCEEDED, config={})
    html = lead_client.get(reverse("inference:run-compare", args=[project.slug])).content.decode()
    assert "Pick the runs to compare" in html
    assert f'name="runs" value="{a.pk}"' in html and f'name="runs" value="{b.pk}"' in html
    picked = lead_client.get(
        reverse("inference:run-compare", args=[project.slug]) + f"?runs={a.pk}&runs={b.pk}"
    ).content.decode()
    assert "late fusion" in picked and "text only" in picked and "Pick the runs" not in picked


def test_compare_with_no_runs_at_all_says_to_train_first(lead_client, project):
    html = lead_client.get(reverse("inference:run-compare", args=[project.slug])).content.decode()
    assert "nothing to compare" in html and reverse("inference:run-create", args=[project.slug]) in html


def test_inference_order_heat_map_grows_with_the_annotators():
    names = [f"annotator-{i:02d}" for i in range(40)]
    fig = figures.share_heatmap(
        names, ["D → S", "S → D"], [[0.5, 0.5]] * 40, [[1, 1]] * 40, row_title="annotator", column_title="order"
    )
    assert fig.layout.height >= 40 * 28
    small = figures.share_heatmap(
        names[:3], ["D → S"], [[1.0]] * 3, [[1]] * 3, row_title="annotator", column_title="order"
    )
    assert small.layout.height < fig.layout.height


def test_table_headers_are_not_upper_cased(settings):
    css = (settings.BASE_DIR / "static" / "css" / "app.css").read_text()
    th_rules = [line for line in css.splitlines() if line.startswith("th ")]
    assert th_rules and not any("uppercase" in line for line in th_rules)


def test_my_annotations_names_the_inference_order(client, project):
    from tests.factories import login

    _, annotators = make_voted_project(project, n_items=2, n_annotators=1)
    assert login(client, annotators[0])
    html = client.get(reverse("annotator:my-annotations", args=[project.slug])).content.decode()
    assert "Desire → Sentiment → Emotion" in html or "Sentiment → Desire → Emotion" in html
    assert "desire → sentiment" not in html and "sentiment → desire" not in html
