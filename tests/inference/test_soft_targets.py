"""Training on soft targets (issue 14.4): the option on every surface, the
targets built from gold and votes, the loss against distributions, a tiny
run end to end, and the run page comparing soft with hard targets."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from django.core.management import call_command, load_command_class
from django.urls import reverse

from annotator.errors import DomainError
from annotator.models import Gold, Item, Vote
from inference import selectors
from inference.api import TrainIn
from inference.forms import TrainForm
from inference.modeling.config import ConfigError, TrainConfig
from inference.modeling.data import Record, label_matrix, soft_target_matrices
from inference.modeling.losses import masked_cross_entropy, soft_cross_entropy
from inference.models import RunStatus, TrainingRun
from inference.services.options import build_train_config
from tests.inference.factories import add_votes, make_demo_items, train

SCHEMA = [("sentiment", 3), ("emotion", 2)]
EVIL = "<script>alert(1)</script>"

# ---------------------------------------------------------------- the option


def test_targets_is_offered_by_the_form_the_api_and_the_command_with_hard_by_default():
    form_field = TrainForm.base_fields["targets"]
    assert [value for value, _ in form_field.choices] == ["hard", "soft"] and form_field.initial == "hard"
    assert "targets" in TrainIn().fields
    parser = load_command_class("inference", "train").create_parser("manage.py", "train")
    assert parser.parse_args(["demo", "--targets", "soft"]).targets == "soft"
    assert TrainConfig().targets == "hard"


@pytest.mark.django_db
def test_the_service_stores_soft_targets_and_refuses_unknown_ones(project):
    assert build_train_config(project, {"targets": "soft"})["targets"] == "soft"
    with pytest.raises(DomainError, match="targets must be one of hard, soft") as error:
        build_train_config(project, {"targets": "fuzzy"})
    assert error.value.field == "targets"
    with pytest.raises(ConfigError):
        TrainConfig.from_dict({"targets": "fuzzy"})


# ---------------------------------------------------------------- targets (pure)


def test_soft_target_matrices_normalise_distributions_and_fall_back_to_one_hot():
    records = [
        Record(id=1, labels={"sentiment": 0, "emotion": 1}, soft_labels={"sentiment": [2, 1, 1]}),
        Record(id=2, labels={"sentiment": 2}),
        Record(id=3, soft_labels={"emotion": [0.5, 0.5]}),  # a tie: no gold, still a target
    ]
    targets = soft_target_matrices(records, SCHEMA, label_matrix(records, SCHEMA))

    np.testing.assert_allclose(targets["sentiment"], [[0.5, 0.25, 0.25], [0, 0, 1], [0, 0, 0]])
    np.testing.assert_allclose(targets["emotion"], [[0, 1], [0, 0], [0.5, 0.5]])
    assert targets["sentiment"].dtype == np.float32


@pytest.mark.parametrize("bad", [[1, 0], [0, 0, 0], [1, -1, 1], [np.nan, 1, 0]])
def test_soft_target_matrices_name_the_item_of_a_bad_distribution(bad):
    records = [Record(id="post-9", soft_labels={"sentiment": bad})]
    with pytest.raises(ValueError, match="item 'post-9'"):
        soft_target_matrices(records, SCHEMA, label_matrix(records, SCHEMA))


# ---------------------------------------------------------------- the loss (pure)


@pytest.mark.parametrize("weighted", [False, True])
def test_soft_cross_entropy_of_one_hot_targets_is_the_hard_cross_entropy(weighted):
    torch.manual_seed(0)
    logits = torch.randn(6, 3, requires_grad=True)
    labels = torch.tensor([0, 2, 1, -1, 2, 0])
    mask = torch.tensor([True, True, True, True, False, True])
    weight = torch.tensor([0.5, 2.0, 1.5]) if weighted else None
    one_hot = torch.zeros(6, 3)
    one_hot[labels >= 0, labels[labels >= 0]] = 1.0

    hard = masked_cross_entropy(logits, labels, mask, weight)
    soft = soft_cross_entropy(logits, one_hot, mask, weight)

    assert torch.allclose(hard, soft)
    (hard_grad,) = torch.autograd.grad(hard, logits)
    (soft_grad,) = torch.autograd.grad(soft, logits)
    assert torch.allclose(hard_grad, soft_grad)


def test_soft_cross_entropy_is_lowest_at_the_target_distribution_and_zero_without_targets():
    target = torch.tensor([[0.7, 0.2, 0.1]])
    mask = torch.tensor([True])
    at_target = soft_cross_entropy(target.log(), target, mask)
    confident = soft_cross_entropy(torch.tensor([[9.0, 0.0, 0.0]]), target, mask)

    assert at_target < confident
    assert torch.isclose(at_target, -(target * target.log()).sum())  # the entropy of the target
    assert soft_cross_entropy(torch.randn(2, 3), torch.zeros(2, 3), torch.ones(2, dtype=torch.bool)) == 0


# ---------------------------------------------------------------- the data layer


@pytest.mark.django_db
def test_training_records_carry_the_vote_distribution_posterior_or_one_hot_of_train_items(project, annotator):
    items = make_demo_items(project, n=24, unlabelled_every=0)
    add_votes(project, items, n_annotators=3)
    train_items = [item for item in items if item.split == "train"]
    voted, modelled, imported, control = train_items[:4]
    sentiment = project.tasks.get(key="sentiment")
    keys = list(sentiment.labels.values_list("key", flat=True))
    Gold.objects.filter(item=modelled, task=sentiment).update(
        source=Gold.Source.DAWID_SKENE, posterior={"positive": 0.1, "neutral": 0.1, "negative": 0.8}
    )
    Gold.objects.filter(item=imported, task=sentiment).update(
        source=Gold.Source.IMPORTED, label=sentiment.labels.get(key="neutral")
    )
    Item.objects.filter(pk=control.pk).update(is_control=True)
    first_vote = Vote.objects.filter(item=voted, task=sentiment).order_by("id").first()
    Vote.objects.filter(pk=first_vote.pk).update(is_control=True)

    hard = {r["id"]: r for r in selectors.list_training_records(project)}
    soft = {r["id"]: r for r in selectors.list_training_records(project, targets="soft")}

    assert all("soft_labels" not in r for r in hard.values())
    counted = [v.label.key for v in Vote.objects.filter(item=voted, task=sentiment, is_control=False)]
    assert soft[voted.pk]["soft_labels"]["sentiment"] == pytest.approx([counted.count(k) / 2 for k in keys])
    expected = {"positive": 0.1, "neutral": 0.1, "negative": 0.8}
    assert soft[modelled.pk]["soft_labels"]["sentiment"] == pytest.approx([expected[k] for k in keys])
    assert soft[imported.pk]["soft_labels"]["sentiment"] == [1.0 if k == "neutral" else 0.0 for k in keys]
    # Control items measure annotators: never trained on, hard or soft.
    assert control.pk not in soft and control.pk not in hard
    held_out = [item.pk for item in items if item.split != "train"]
    assert held_out and all("soft_labels" not in soft[pk] for pk in held_out if pk in soft)


# ---------------------------------------------------------------- end to end


@pytest.mark.django_db
def test_a_tiny_soft_run_trains_and_its_page_compares_it_with_the_hard_run(
    project, options, lead_client, django_capture_on_commit_callbacks
):
    items = make_demo_items(project, n=60, unlabelled_every=0)
    add_votes(project, items, n_annotators=3)
    options = {**options, "epochs": 2}

    soft = train(project, {**options, "targets": "soft"}, django_capture_on_commit_callbacks)
    hard = train(project, options, django_capture_on_commit_callbacks)

    assert soft.status == RunStatus.SUCCEEDED, soft.error
    assert hard.status == RunStatus.SUCCEEDED, hard.error
    assert soft.config["targets"] == "soft" and hard.config["targets"] == "hard"
    assert set(soft.test_metrics) == {"desire", "sentiment", "emotion"} and soft.calibration
    assert selectors.get_other_targets_run(soft) == hard and selectors.get_other_targets_run(hard) == soft
    page = lead_client.get(reverse("inference:run-detail", args=[project.slug, soft.pk])).content.decode()
    assert "soft targets" in page and 'id="targets-comparison"' in page
    f1 = soft.test_metrics["sentiment"]["macro_f1"] - hard.test_metrics["sentiment"]["macro_f1"]
    assert f"{'+' if f1 >= 0 else ''}{f1:.3f}" in page


# ---------------------------------------------------------------- the run page


def finished_run(project, name: str, targets: str | None, *, f1: float, ece: float, **config) -> TrainingRun:
    base = {"epochs": 3, "seed": 7, "fusion": "concat", **config}
    if targets is not None:
        base["targets"] = targets
    return TrainingRun.objects.create(
        project=project,
        name=name,
        status=RunStatus.SUCCEEDED,
        config=base,
        test_metrics={"sentiment": {"macro_f1": f1}},
        calibration={"sentiment": {"ece_before": ece, "ece_after": ece / 2}},
    )


@pytest.mark.django_db
def test_the_run_page_says_which_targets_and_compares_with_the_run_of_the_other_targets(project, lead_client):
    hard = finished_run(project, EVIL, None, f1=0.50, ece=0.20)  # trained before the option: hard
    soft = finished_run(project, "soft one", "soft", f1=0.55, ece=0.10)

    page = lead_client.get(reverse("inference:run-detail", args=[project.slug, soft.pk])).content.decode()

    assert '<span id="run-targets">soft targets</span>' in page
    section = page[page.index('id="targets-comparison"') :]
    row = section[section.index('data-task="sentiment"') :]
    assert "0.500" in row and "0.550" in row and "+0.050" in row  # macro-F1 hard, soft, soft - hard
    assert "-0.100" in row and "-0.050" in row  # ECE before and after scaling
    summary = section[section.index('id="targets-summary"') :]
    assert "macro-F1 +0.050" in " ".join(summary.split())
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert reverse("inference:run-detail", args=[project.slug, hard.pk]) in section


@pytest.mark.django_db
def test_the_run_api_answers_the_comparison_with_the_other_targets(project, api, lead):
    hard = finished_run(project, "hard", "hard", f1=0.50, ece=0.20)
    soft = finished_run(project, "soft", "soft", f1=0.55, ece=0.10)
    api.force_authenticate(lead)

    data = api.get(reverse("api:run-detail", args=[project.slug, hard.pk])).data["targets_comparison"]

    assert data["other_run"] == soft.pk
    assert data["tasks"]["sentiment"]["diff"]["macro_f1"] == pytest.approx(0.05)
    assert data["tasks"]["sentiment"]["soft"]["ece_after"] == pytest.approx(0.05)


@pytest.mark.django_db
def test_no_comparison_without_a_run_of_the_other_targets_and_the_same_options(project, lead_client):
    soft = finished_run(project, "soft", "soft", f1=0.5, ece=0.1)
    finished_run(project, "other seed", "hard", f1=0.5, ece=0.1, seed=8)
    finished_run(project, "also soft", "soft", f1=0.5, ece=0.1)

    page = lead_client.get(reverse("inference:run-detail", args=[project.slug, soft.pk])).content.decode()

    assert selectors.get_other_targets_run(soft) is None
    assert 'id="targets-comparison"' not in page and "soft targets" in page


@pytest.mark.django_db
def test_evaluate_prints_the_runs_targets(project):
    soft = finished_run(project, "soft", "soft", f1=0.5, ece=0.1)
    old = finished_run(project, "old", None, f1=0.5, ece=0.1)
    printed = {}
    for run in (soft, old):
        out = io.StringIO()
        call_command("evaluate", str(run.pk), stdout=out)
        printed[run.name] = json.loads(out.getvalue().strip().splitlines()[-1])["targets"]

    assert printed == {"soft": "soft", "old": "hard"}


def test_the_command_help_mentions_soft_targets():
    out = io.StringIO()
    load_command_class("inference", "train").create_parser("manage.py", "train").print_help(out)
    assert "--targets" in out.getvalue() and "soft" in out.getvalue()


@pytest.mark.django_db
def test_the_training_page_offers_soft_targets_and_the_api_starts_a_soft_run(
    project, demo_items, lead_client, api, lead
):
    page = lead_client.get(reverse("inference:run-create", args=[project.slug])).content.decode()
    assert "Training targets" in page and '<option value="soft">' in page
    api.force_authenticate(lead)
    url = reverse("api:run-list", args=[project.slug])
    refused = api.post(url, {"targets": "fuzzy"}, format="json")
    started = api.post(url, {"targets": "soft", "epochs": 1}, format="json")  # queued; no worker runs it here

    assert refused.status_code == 400 and "targets" in str(refused.data)
    assert started.status_code == 201 and started.data["config"]["targets"] == "soft"
