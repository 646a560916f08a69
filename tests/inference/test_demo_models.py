"""On the demo dataset the fused model beats the best single modality.

600 synthetic MSED-style items (annotator/demo.py, seed 0) with five
simulated annotators' votes and majority gold, trained through the real
services (an experiment of the "modalities" grid: text only, image only,
text + image) with the default recipe's encoders, all-mpnet-base-v2 and
EfficientNet-Lite0, and the `cached` recipe.

The demo writes each label partly into the text and partly into the image
(see annotator/demo.py), so only the fused model can get all of it: it must
beat the better single modality by at least 3 macro-F1 points on every task.

Encoder outputs are cached under var/test-feature-cache (keyed by encoder
and content hash, so reusing it across runs is safe): the first run encodes
600 images and texts once, later runs only train.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest
from django.conf import settings as django_settings

from annotator import demo
from annotator.models import Gold, Item
from annotator.services.bulk import write_annotations
from annotator.services.image_assets import save_image_asset
from inference import selectors
from inference.models import RunStatus
from inference.services.runs import start_experiment
from tests.factories import UserFactory

N_ITEMS = 600
MARGIN = 0.03


def load_demo(project, n: int = N_ITEMS, seed: int = 0) -> None:
    synthetic = demo.generate_items(n, seed=seed)
    items = Item.objects.bulk_create(
        [
            Item(
                project=project,
                external_id=s.external_id,
                text=s.text or "",
                image=save_image_asset(data=s.image_bytes, name=f"{s.external_id}.jpg") if s.image_bytes else None,
                split=s.split,
            )
            for s in synthetic
        ]
    )
    annotators = [UserFactory(username=f"demo-annotator-{a}") for a in range(5)]
    votes = demo.simulate_votes(demo.label_index_matrix(synthetic), 5, seed=seed)
    write_annotations(
        project=project,
        rows=(
            {
                "item_id": item.pk,
                "annotator_id": annotators[a].pk,
                "labels": {task: demo.LABEL_KEYS[task][votes[i, a, t]] for t, task in enumerate(demo.TASKS)},
            }
            for i, item in enumerate(items)
            for a in range(5)
        ),
    )


@pytest.mark.slow
@pytest.mark.django_db
def test_fused_model_beats_the_best_single_modality_on_every_task(
    project, settings, django_capture_on_commit_callbacks
):
    settings.INFERENCE_FEATURE_CACHE_DIR = Path(django_settings.BASE_DIR) / "var" / "test-feature-cache"
    load_demo(project)
    assert Gold.objects.filter(item__project=project, label__isnull=False).count() > 0.9 * N_ITEMS * 3

    started = time.perf_counter()
    with django_capture_on_commit_callbacks(execute=True):
        runs = start_experiment(project=project, options={"seed": 13}, grids=["modalities"])
    runs = selectors.list_experiment_runs(project, runs[0].experiment)
    seconds = time.perf_counter() - started
    by_name = {run.name: run for run in runs}
    assert [run.status for run in runs] == [RunStatus.SUCCEEDED] * 3, [(run.name, run.error) for run in runs]

    report = {}
    for task in demo.TASKS:
        scores = {name: run.test_metrics[task]["macro_f1"] for name, run in by_name.items()}
        report[task] = {name: round(100 * score, 1) for name, score in scores.items()}
    print(f"\ndemo macro-F1 (test split, {N_ITEMS} items, {seconds:.0f} s for 3 runs): {report}")
    for task in demo.TASKS:
        fused = by_name["text + image (concat)"].test_metrics[task]["macro_f1"]
        single = max(
            by_name["text only"].test_metrics[task]["macro_f1"], by_name["image only"].test_metrics[task]["macro_f1"]
        )
        assert fused >= single + MARGIN, (
            f"{task}: fused {fused:.3f} vs best single modality {single:.3f} ({report[task]})"
        )
