"""What a run bought (issue 13): per-task dev and test macro-F1, the fused
head's margin over the best unimodal head, and wall time per phase, from
the training loop through the run row to the run page."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np
import pytest
import torch
from django.urls import reverse

from inference.modeling import TrainConfig, train
from inference.modeling.inputs import InputTable, Outputs
from inference.modeling.network import ROUTE_FUSED, ROUTE_TEXT
from inference.modeling.training import score_branches
from inference.reports import duration_text, fused_margin, run_scores
from inference.selectors import get_project_schema

SCHEMA = [("desire", 3), ("sentiment", 2)]


def one_hot(labels: list[int], n: int) -> np.ndarray:
    return np.eye(n)[labels]


def test_branch_scores_compare_heads_on_the_items_with_both_modalities():
    truth = torch.tensor([[0, 1], [1, 0], [2, 1], [0, -1], [1, 1]])
    table = InputTable(
        ids=list(range(5)),
        texts=[""] * 5,
        image_paths=[None] * 5,
        has_text=torch.ones(5, dtype=torch.bool),
        has_image=torch.tensor([True, True, True, True, False]),
        labels=truth,
        text_labels=truth,
        image_labels=truth,
    )
    fused = {"desire": one_hot([0, 1, 2, 0, 0], 3), "sentiment": one_hot([1, 0, 1, 0, 0], 2)}
    text = {"desire": one_hot([0, 0, 0, 0, 1], 3), "sentiment": one_hot([1, 0, 1, 1, 1], 2)}
    outputs = Outputs(
        probabilities=fused,
        route=np.array([ROUTE_FUSED] * 4 + [ROUTE_TEXT]),
        has_text=np.ones(5, bool),
        has_image=np.ones(5, bool),
        text=None,
        image=None,
        fused=None,
        branch_probabilities={"fused": fused, "text": text},
    )
    scores = score_branches(outputs, table, SCHEMA)
    # The text-only item (row 4) is left out; so is the missing sentiment label of row 3.
    assert scores["items"] == 4
    assert scores["macro_f1"]["fused"] == {"desire": 1.0, "sentiment": 1.0}
    # Text head on desire: gold 0, 1, 2, 0 predicted 0, 0, 0, 0: F1 2/3, 0, 0.
    assert scores["macro_f1"]["text"]["desire"] == pytest.approx(2 / 9)
    assert scores["macro_f1"]["text"]["sentiment"] == 1.0


def test_the_fused_margin_is_against_the_better_unimodal_head():
    entry = {"macro_f1": {"fused": {"desire": 0.80}, "text": {"desire": 0.75}, "image": {"desire": 0.60}}}
    difference, branch, best = fused_margin(entry, "desire")
    assert (round(difference, 6), branch, best) == (0.05, "text", 0.75)
    assert fused_margin(entry, "emotion") is None
    assert fused_margin({"macro_f1": {"fused": {"desire": 0.8}}}, "desire") is None
    assert fused_margin(None, "desire") is None


@pytest.mark.parametrize("seconds, text", [(3.14, "3.1 s"), (245, "4 min 05 s"), (3720, "1 h 02 min")])
def test_durations_read_as_people_say_them(seconds, text):
    assert duration_text(seconds) == text


def titled_items(folder) -> list[dict]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(24):
        c = i % 2
        path = folder / f"{i}.png"
        Image.new("RGB", (32, 32), ((220, 30, 30), (30, 30, 220))[c]).save(path)
        records.append(
            {
                "id": i,
                "text": ("happy joy", "sad tears")[c] + f" {i}",
                "image_path": str(path),
                "labels": {"desire": c, "sentiment": c},
                "split": ("train", "train", "dev", "test")[i % 4],
            }
        )
    return records


@pytest.mark.parametrize("unimodal_heads", [True, False])
def test_training_reports_phase_timings_and_branch_scores(tiny_bert, tmp_path, unimodal_heads):
    config = TrainConfig(
        text_encoder=tiny_bert,
        pooling="cls",
        image_encoder="tiny-cnn",
        hidden_size=16,
        epochs=1,
        batch_size=8,
        unimodal_heads=unimodal_heads,
    )
    result = train(
        config, titled_items(tmp_path / "img"), schema=SCHEMA, cache_dir=tmp_path / "c", artefact_dir=tmp_path / "r"
    )
    assert set(result.timings) == {"encoding", "training", "evaluation", "saving"}
    assert all(seconds >= 0 for seconds in result.timings.values())
    assert sum(result.timings.values()) <= result.seconds
    if not unimodal_heads:
        assert result.branch_metrics == {}
        return
    assert set(result.branch_metrics) == {"dev", "test"}
    for entry in result.branch_metrics.values():
        assert entry["items"] == 6
        assert set(entry["macro_f1"]) == {"fused", "text", "image"}
        for scores in entry["macro_f1"].values():
            assert set(scores) == {"desire", "sentiment"}
            assert all(0.0 <= value <= 1.0 for value in scores.values())


@pytest.mark.django_db
def test_a_finished_run_stores_its_timings_and_the_page_shows_what_it_bought(lead_client, project, trained_run):
    run = trained_run
    assert set(run.timings) == {"reading", "encoding", "training", "evaluation", "saving", "map"}
    assert set(run.branch_metrics) <= {"dev", "test"} and run.branch_metrics
    scores = run_scores(run, get_project_schema(project))
    assert [task["key"] for task in scores["tasks"]] == ["desire", "sentiment", "emotion"]
    assert all(task["dev"] != "—" and task["test"] != "—" for task in scores["tasks"])
    assert all("(vs " in task["margin_dev"] for task in scores["tasks"])
    assert [phase["key"] for phase in scores["phases"]][:3] == ["reading", "encoding", "training"]

    html = lead_client.get(reverse("inference:run-detail", args=[project.slug, run.pk])).content.decode()
    assert "What this run bought" in html
    assert scores["tasks"][0]["margin_dev"] in html
    assert "embedding map" in html and scores["total"] in html


@pytest.mark.django_db
def test_an_older_run_without_timings_shows_dashes_not_errors(lead_client, project, trained_run):
    trained_run.timings = {}
    trained_run.branch_metrics = {}
    trained_run.save(update_fields=["timings", "branch_metrics"])
    html = lead_client.get(reverse("inference:run-detail", args=[project.slug, trained_run.pk])).content.decode()
    assert "What this run bought" in html
    assert "No margin" in html
    assert "Wall time" not in html
