"""Loading a saved model, predicting labels, and extracting representations.

model = load_model(artefact_dir)
predictions = predict(model, records, cache_dir=MODEL_DIR / "features")
maps = embed(model, records, cache_dir=MODEL_DIR / "features")
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .calibration import scale_probabilities
from .config import TrainConfig
from .data import Record, Schema, as_records, normalise_schema
from .features import FeatureCache
from .inputs import Encoders, Outputs, build_table, pick_device, run_network
from .network import BRANCH_OF_ROUTE, ROUTE_FUSED, Network
from .structure import Nesting
from .training import ARTEFACT_META, ARTEFACT_WEIGHTS, _build_network

# Records per chunk: bounds memory and sets how often progress is reported.
PREDICT_CHUNK = 512


@dataclass
class TrainedModel:
    """A network loaded from an artefact, with what it needs to read records."""

    config: TrainConfig
    schema: Schema
    net: Network
    encoders: Encoders
    meta: dict[str, Any]
    artefact_dir: Path

    @property
    def task_keys(self) -> list[str]:
        return [key for key, _ in self.schema]

    @property
    def nestings(self) -> list[Nesting]:
        """The nested tasks training found (joint_decoding); none in older artefacts."""
        return [Nesting.from_dict(nesting) for nesting in self.meta.get("nestings") or ()]


@dataclass
class TaskPrediction:
    """probabilities: in the task's label order; label: their argmax;
    probability: its probability; entropy: -sum p ln p, in nats (0 = certain,
    ln n_labels = uniform)."""

    probabilities: list[float]
    label: int
    probability: float
    entropy: float


@dataclass
class ItemPrediction:
    """branch: the head that predicted the item ("fused", "text" or "image"),
    or None when the item has no modality the model can read (tasks is then
    empty)."""

    id: Any
    branch: str | None
    tasks: dict[str, TaskPrediction]


@dataclass
class Embeddings:
    """Learned vectors (n, hidden_size) per item, for a 2-D map: the projected
    text and image vectors and the fused vector. A row is NaN where the item
    lacks that modality or (fused) is not predicted by the fused head; an
    array is None when the model has no such branch."""

    ids: list
    text: np.ndarray | None
    image: np.ndarray | None
    fused: np.ndarray | None


def load_model(artefact_dir: str | os.PathLike[str], *, device: str = "auto") -> TrainedModel:
    """Rebuild the network saved by train() and load its weights.

    Frozen encoders are not part of the artefact: they are the ones the
    config names (loaded lazily, only if a feature is missing from the
    cache). Raises FileNotFoundError when artefact_dir is not a complete
    artefact.
    """
    artefact_dir = Path(artefact_dir)
    meta_path = artefact_dir / ARTEFACT_META
    if not meta_path.is_file():
        raise FileNotFoundError(f"{artefact_dir} is not a model artefact (no {ARTEFACT_META})")
    meta = json.loads(meta_path.read_text())
    config = TrainConfig.from_dict(meta["config"])
    schema = normalise_schema(meta["schema"])
    torch_device = pick_device(device if device != "auto" else config.device)
    tokenizer_dir = artefact_dir / "tokenizer"
    encoders = Encoders(
        config,
        torch_device,
        tokenizer_source=str(tokenizer_dir) if tokenizer_dir.is_dir() else None,
        dims=(int(meta["text_dim"]), int(meta["image_dim"])),
    )
    net = _build_network(config, schema, encoders, pretrained=False, artefact_dir=artefact_dir)
    state = torch.load(artefact_dir / ARTEFACT_WEIGHTS, map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    net.to(torch_device).eval()
    return TrainedModel(config, schema, net, encoders, meta, artefact_dir)


def _check_encoders(model: TrainedModel) -> None:
    """Features of other weights than the model was trained on would be
    silently wrong: refuse when a frozen encoder's identity has changed."""
    for modality, featurizer in (
        ("text", model.encoders.text_featurizer),
        ("image", model.encoders.image_featurizer),
    ):
        expected = model.meta.get(f"{modality}_encoder_identity")
        if featurizer is not None and expected and featurizer.spec.identity != expected:
            raise RuntimeError(
                f"the {modality} encoder differs from the one this model was trained with "
                f"({featurizer.spec.identity} != {expected}); retrain the model"
            )


def _forward_chunks(
    model: TrainedModel,
    records: list[Record],
    cache_dir,
    batch_size: int,
    on_progress: Callable[[int, int], None] | None,
    should_stop: Callable[[], bool] | None,
):
    _check_encoders(model)
    cache = FeatureCache(cache_dir) if cache_dir is not None else None
    nestings = model.nestings
    done = 0
    for start in range(0, len(records), PREDICT_CHUNK):
        chunk = records[start : start + PREDICT_CHUNK]
        table = build_table(chunk, model.schema, model.encoders, cache, warnings=[], should_stop=should_stop)
        outputs = run_network(
            model.net, table, model.encoders, batch_size=batch_size, should_stop=should_stop, nestings=nestings
        )
        done += len(chunk)
        if on_progress is not None:
            on_progress(done, len(records))
        yield chunk, outputs


def predict(
    model: TrainedModel,
    records: Iterable[Record | Mapping[str, Any]],
    *,
    cache_dir: str | os.PathLike[str] | None,
    batch_size: int = 64,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    temperatures: Mapping[str, float] | None = None,
) -> list[ItemPrediction]:
    """One ItemPrediction per record, in order. Labels and splits of the
    records are ignored. Features missing from the cache are encoded and
    cached. on_progress(done, total) after each chunk of 512 records;
    should_stop() is polled between batches and raises Cancelled.

    temperatures: {task_key: T} fitted by training (TrainResult.calibration);
    each task's probabilities (and so probability and entropy) are those of
    the logits divided by T. The predicted labels are the same either way.
    A task left out keeps T = 1."""
    records = as_records(records)
    out: list[ItemPrediction] = []
    for chunk, outputs in _forward_chunks(model, records, cache_dir, batch_size, on_progress, should_stop):
        out.extend(_item_predictions(chunk, outputs, model.task_keys, temperatures or {}))
    return out


def _item_predictions(
    records: list[Record], outputs: Outputs, task_keys: list[str], temperatures: Mapping[str, float]
) -> list[ItemPrediction]:
    per_task = {}
    for task in task_keys:
        probabilities = outputs.probabilities[task].astype(np.float64)
        temperature = float(temperatures.get(task, 1.0))
        if temperature != 1.0:
            probabilities = scale_probabilities(probabilities, temperature)
        with np.errstate(divide="ignore", invalid="ignore"):
            entropy = -np.where(probabilities > 0, probabilities * np.log(probabilities), 0.0).sum(axis=1)
        labels = probabilities.argmax(axis=1)
        per_task[task] = (probabilities, labels, entropy)
    items = []
    for row, record in enumerate(records):
        branch = BRANCH_OF_ROUTE.get(int(outputs.route[row]))
        tasks = {}
        if branch is not None:
            for task, (probabilities, labels, entropy) in per_task.items():
                label = int(labels[row])
                tasks[task] = TaskPrediction(
                    probabilities=probabilities[row].tolist(),
                    label=label,
                    probability=float(probabilities[row, label]),
                    entropy=float(entropy[row]),
                )
        items.append(ItemPrediction(id=record.id, branch=branch, tasks=tasks))
    return items


def embed(
    model: TrainedModel,
    records: Iterable[Record | Mapping[str, Any]],
    *,
    cache_dir: str | os.PathLike[str] | None,
    batch_size: int = 64,
) -> Embeddings:
    """The text, image and fused vectors the model computes for each record."""
    records = as_records(records)
    parts: dict[str, list[np.ndarray]] = {"text": [], "image": [], "fused": []}
    for _chunk, outputs in _forward_chunks(model, records, cache_dir, batch_size, None, None):
        present = {"text": outputs.has_text, "image": outputs.has_image, "fused": outputs.route == ROUTE_FUSED}
        for name in parts:
            array = getattr(outputs, name)
            if array is None:
                continue
            array = array.copy()
            array[~present[name]] = np.nan
            parts[name].append(array)

    def join(name: str) -> np.ndarray | None:
        return np.concatenate(parts[name]) if parts[name] else None

    return Embeddings(
        ids=[record.id for record in records], text=join("text"), image=join("image"), fused=join("fused")
    )
