"""bench/msed.py: it skips cleanly without the release, copies only train and
dev, and measures a recipe through the app's import and training services
on a tiny MSED-shaped folder."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import common, msed
from tests.bench.factories import write_msed_folder

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("extra", [[], ["--data", "/nonexistent/msed"]], ids=["no data", "missing folder"])
def test_without_the_release_it_says_why_in_one_line_and_exits_0(extra):
    done = subprocess.run(
        [sys.executable, "bench/msed.py", *extra], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bench/msed.py: skipped")


def test_a_folder_without_the_msed_layout_is_skipped(tmp_path):
    (tmp_path / "train").mkdir()
    assert "not an MSED release folder" in msed.skip_reason(str(tmp_path))
    write_msed_folder(tmp_path, {"train": 2, "dev": 1})
    assert msed.skip_reason(str(tmp_path)) is None


def test_recipes_and_options_combine_and_bad_ones_are_refused():
    assert msed.recipe_options("title", ["epochs=3", "fusion=attention"]) == {
        "text_fields": "title+caption",
        "epochs": 3,
        "fusion": "attention",
    }
    with pytest.raises(ValueError, match="unknown recipe"):
        msed.recipe_options("magic", [])
    with pytest.raises(ValueError, match="KEY=VALUE"):
        msed.recipe_options("default", ["epochs"])


def test_runs_with_other_options_are_stored_under_other_keys():
    assert msed.result_key("default", []) == "default"
    assert msed.result_key("title", [], 3000) == "title_limit3000"
    with_options = msed.result_key("title", ["fusion=attention", "seed=7"], 3000)
    assert with_options == "title__fusion=attention__seed=7_limit3000"
    assert with_options != msed.result_key("title", ["fusion=attention"], 3000)


def test_a_new_benchmark_database_clears_the_old_runs_artefacts_but_keeps_features(tmp_path):
    (tmp_path / "runs" / "1").mkdir(parents=True)
    (tmp_path / "runs" / "1" / "artefact.json").write_text("{}")
    (tmp_path / "features" / "enc").mkdir(parents=True)
    (tmp_path / "features" / "enc" / "ab.npy").write_bytes(b"x")
    msed.clear_stale_runs(tmp_path)
    assert not (tmp_path / "runs").exists()
    assert (tmp_path / "features" / "enc" / "ab.npy").read_bytes() == b"x"
    msed.clear_stale_runs(tmp_path)  # nothing left to clear: no error


def test_training_gets_the_workers_torch_threads(monkeypatch):
    import torch

    before = torch.get_num_threads()
    monkeypatch.setenv("TORCH_THREADS", "1")
    try:
        assert msed.use_worker_threads() == 1 == torch.get_num_threads()
        monkeypatch.setenv("TORCH_THREADS", "2")
        assert msed.use_worker_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_the_working_copy_has_train_and_dev_only_sampled_with_their_own_images(tmp_path):
    source = write_msed_folder(tmp_path / "release", {"train": 30, "dev": 10, "test": 8})
    counts = msed.copy_release(source, tmp_path / "copy", limit=20)
    assert counts == {"train": 15, "dev": 5}
    assert not (tmp_path / "copy" / "test").exists()
    with open(tmp_path / "copy" / "train" / "train.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[1:]
    assert len(rows) == 15
    for new, row in enumerate(rows, start=1):
        old = int(row[0].rsplit(" ", 1)[1])  # "train title <n>"
        copied = (tmp_path / "copy" / "train" / "images" / f"{new}.jpg").read_bytes()
        assert copied == (source / "train" / "images" / f"{old}.jpg").read_bytes()
    assert msed.copy_release(source, tmp_path / "whole") == {"train": 30, "dev": 10}


@pytest.mark.django_db
def test_a_recipe_is_measured_on_dev_through_the_apps_services(tmp_path, tiny_bert, monkeypatch):
    source = write_msed_folder(tmp_path / "release", {"train": 36, "dev": 12, "test": 9})
    msed.copy_release(source, tmp_path / "copy")
    options = msed.recipe_options(
        "title",
        [
            f"text_encoder={tiny_bert}",
            "pooling=cls",
            "image_encoder=tiny-cnn",
            "hidden_size=16",
            "epochs=2",
            "batch_size=16",
            "max_length=32",
        ],
    )
    result = msed.measure(folder=tmp_path / "copy", options=options)
    assert result["items"] == {"train": 36, "dev": 12}
    assert result["config"]["text_fields"] == "title+caption"
    assert list(result["dev"]) == ["desire", "sentiment", "emotion"]
    assert all(0.0 <= task["macro_f1"] <= 1.0 for task in result["dev"].values())
    assert set(result["dev_branches"]["macro_f1"]) == {"fused", "text", "image"}
    assert list(result["seconds"])[:5] == ["import", "reading", "encoding", "training", "evaluation"]

    table = msed.summary_table(result)
    assert "dev macro-F1" in table and "encoding" in table and "(vs " in table
    monkeypatch.setattr(common, "RESULTS_DIR", tmp_path / "results")
    path = common.write_results(msed.RESULTS_FILE, "title", result)
    stored = json.loads(path.read_text())["title"]
    # Only dev numbers: no key of what the script stores names the test split.
    assert not any("test" in key or "calibration" in key for key in all_keys(stored))
    assert "dev" in all_keys(stored)


def all_keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in all_keys(item)}
    if isinstance(value, list):
        return {key for item in value for key in all_keys(item)}
    return set()
