"""From records to batches: feature caching, tokenising, image loading, and
batched forward passes shared by training and prediction."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .config import TrainConfig
from .data import Record, Schema, label_matrix, one_hot, soft_target_matrices, with_model_text
from .encoders import (
    ImageEncoderSpec,
    ImageFeaturizer,
    TextEncoderSpec,
    TextFeaturizer,
    image_is_readable,
    load_image,
)
from .features import Cancelled, FeatureCache, cached_features, file_sha256
from .network import Batch, Network
from .structure import Nesting, decode_jointly

# Encoding batch sizes: frozen encoders in inference mode on a CPU.
TEXT_ENCODE_BATCH = 64
IMAGE_ENCODE_BATCH = 16


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class Encoders:
    """The text and image side of one configuration: specs, the frozen
    featurisers (loaded lazily, only when a feature is missing from the
    cache), the tokenizer of a trained text encoder and the image transform
    of a trained image encoder."""

    def __init__(
        self,
        config: TrainConfig,
        device: torch.device,
        *,
        tokenizer_source: str | None = None,
        dims: tuple[int, int] | None = None,
    ):
        self.config = config
        self.device = device
        uses_text = config.modalities in ("both", "text")
        uses_image = config.modalities in ("both", "image")
        self.text_spec = TextEncoderSpec.from_config(config) if uses_text else None
        # One spec per text view (config.text_views): the same encoder reading
        # other fields has features of its own in the cache.
        self.text_view_specs = (
            tuple(dataclasses.replace(self.text_spec, text_fields=view) for view in config.text_views)
            if self.text_spec
            else ()
        )
        self.image_spec = ImageEncoderSpec.from_config(config) if uses_image else None
        self.trains_text = config.trains_text_encoder
        self.trains_image = config.trains_image_encoder
        self._tokenizer_source = tokenizer_source
        # A saved model knows its input sizes; reading them from the encoder's
        # config would need the original weights folder.
        self._dims = dims
        self._tokenizer = None
        self._transform = None
        self.text_featurizer = (
            TextFeaturizer(self.text_spec, device) if self.text_spec and not self.trains_text else None
        )
        self.image_featurizer = (
            ImageFeaturizer(self.image_spec, device) if self.image_spec and not self.trains_image else None
        )

    @property
    def text_dim(self) -> int:
        if self._dims is not None:
            return self._dims[0]
        return self.text_spec.dim if self.text_spec else 1

    @property
    def image_dim(self) -> int:
        if self._dims is not None:
            return self._dims[1]
        return self.image_spec.dim if self.image_spec else 1

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            if self._tokenizer_source is not None:
                from .encoders import load_tokenizer

                self._tokenizer = load_tokenizer(self._tokenizer_source)
            else:
                self._tokenizer = self.text_spec.load_tokenizer()
        return self._tokenizer

    @property
    def transform(self):
        if self._transform is None:
            self._transform = self.image_spec.transform()
        return self._transform

    def warnings(self) -> list[str]:
        message = self.image_spec.random_init_warning if self.image_spec else None
        return [message] if message else []


@dataclass
class InputTable:
    """Everything about a list of records that batches are cut from."""

    ids: list
    texts: list[str]
    image_paths: list[str | None]
    has_text: torch.Tensor
    has_image: torch.Tensor
    labels: torch.Tensor
    text_labels: torch.Tensor
    image_labels: torch.Tensor
    text_features: torch.Tensor | None = None
    image_features: torch.Tensor | None = None
    encoded: dict[str, int] = field(default_factory=lambda: {"text": 0, "image": 0})
    # Soft-label training only: {task: (N, n_labels)} target distributions
    # (zero rows: no target) of the fused head and of the unimodal heads.
    soft_labels: dict[str, torch.Tensor] | None = None
    text_soft_labels: dict[str, torch.Tensor] | None = None
    image_soft_labels: dict[str, torch.Tensor] | None = None

    def __len__(self) -> int:
        return len(self.ids)


def build_table(
    records: Sequence[Record],
    schema: Schema,
    encoders: Encoders,
    cache: FeatureCache | None,
    *,
    warnings: list[str],
    should_stop: Callable[[], bool] | None = None,
    on_encode: Callable[[str, int, int], None] | None = None,
    soft: bool = False,
) -> InputTable:
    """Labels, modality masks and, for frozen encoders, cached features;
    with soft=True also the soft targets (data.soft_target_matrices; a
    unimodal head's own CH-SIMS label, where given, stays one-hot).

    An image that is missing or unreadable is dropped (the item counts as
    text-only) with a warning naming the item; nothing else is guessed.
    Texts are what the config's text_fields make of each record. With
    several text views ("mixed") text_features is (N, views, dim), view v
    being what config.text_views[v] makes of each record (zeros where a view
    has no text), and an item has text when any view does; texts are the
    first view's.
    """
    views = [with_model_text(records, view) for view in encoders.config.text_views]
    records = views[0]
    n = len(records)
    texts = [record.text for record in records]
    paths = [record.image_path for record in records]
    # (views, N): which texts each view has; an item has text when any view does.
    view_has_text = np.array([[record.has_text for record in view] for view in views], dtype=bool).reshape(
        len(views), n
    )
    has_text = view_has_text.any(axis=0) & (encoders.text_spec is not None)
    has_image = np.array([encoders.image_spec is not None and record.has_image for record in records], dtype=bool)
    labels = label_matrix(records, schema)
    own_text, own_image = label_matrix(records, schema, "text_labels"), label_matrix(records, schema, "image_labels")
    text_labels = np.where(own_text >= 0, own_text, labels)
    image_labels = np.where(own_image >= 0, own_image, labels)

    # Content hashes of images: given by the caller, or computed here.
    image_hashes: list[str | None] = [None] * n
    for row in np.flatnonzero(has_image):
        record = records[row]
        if not os.path.isfile(record.image_path):
            warnings.append(f"item {record.id!r}: image {record.image_path} is missing; treated as text-only")
            has_image[row] = False
            continue
        image_hashes[row] = (record.image_sha256 or file_sha256(record.image_path)).lower()

    table = InputTable(
        ids=[record.id for record in records],
        texts=texts,
        image_paths=paths,
        has_text=torch.from_numpy(has_text),
        has_image=torch.from_numpy(has_image),
        labels=torch.from_numpy(labels),
        text_labels=torch.from_numpy(text_labels),
        image_labels=torch.from_numpy(image_labels),
    )
    if soft:
        fused = soft_target_matrices(records, schema, labels)
        table.soft_labels = {key: torch.from_numpy(value) for key, value in fused.items()}
        for attribute, own in (("text_soft_labels", own_text), ("image_soft_labels", own_image)):
            setattr(
                table,
                attribute,
                {
                    key: torch.from_numpy(
                        np.where((own[:, column] >= 0)[:, None], one_hot(own[:, column], n), fused[key])
                    )
                    for column, (key, n) in enumerate(schema)
                },
            )

    if encoders.text_featurizer is not None:
        features = np.zeros((n, len(views), encoders.text_dim), dtype=np.float32)
        for column, (spec, view) in enumerate(zip(encoders.text_view_specs, views, strict=True)):
            rows = np.flatnonzero(has_text & view_has_text[column])
            if not rows.size:
                continue
            encoded, count = cached_features(
                cache,
                spec.identity,
                [view[row].text_sha256 for row in rows],
                [view[row].text for row in rows],
                encoders.text_featurizer.encode,
                encoders.text_dim,
                batch_size=TEXT_ENCODE_BATCH,
                should_stop=should_stop,
                on_batch=(lambda done, total: on_encode("text", done, total)) if on_encode else None,
                size=len,
            )
            features[rows, column] = encoded
            table.encoded["text"] += count
        table.text_features = torch.from_numpy(features[:, 0] if len(views) == 1 else features)

    if encoders.image_featurizer is not None:
        rows = np.flatnonzero(has_image)
        features = np.zeros((n, encoders.image_dim), dtype=np.float32)
        if rows.size:
            encoded, count = cached_features(
                cache,
                encoders.image_spec.identity,
                [image_hashes[row] for row in rows],
                [paths[row] for row in rows],
                encoders.image_featurizer.encode,
                encoders.image_dim,
                batch_size=IMAGE_ENCODE_BATCH,
                should_stop=should_stop,
                on_batch=(lambda done, total: on_encode("image", done, total)) if on_encode else None,
            )
            unreadable = ~np.isfinite(encoded).all(axis=1)
            for row in rows[unreadable]:
                warnings.append(f"item {records[row].id!r}: image {paths[row]} could not be read; treated as text-only")
            encoded[unreadable] = 0.0
            has_image[rows[unreadable]] = False
            features[rows] = encoded
            table.encoded["image"] = count
        table.image_features = torch.from_numpy(features)
        table.has_image = torch.from_numpy(has_image)
    elif encoders.trains_image:
        for row in np.flatnonzero(has_image):
            if not image_is_readable(paths[row]):
                warnings.append(f"item {records[row].id!r}: image {paths[row]} could not be read; treated as text-only")
                has_image[row] = False
        table.has_image = torch.from_numpy(has_image)
    return table


def make_batch(table: InputTable, index: torch.Tensor, encoders: Encoders) -> Batch:
    """Cut rows `index` (int64) out of the table, tokenising texts and
    loading images only for encoders that are trained."""
    has_text = table.has_text[index]
    has_image = table.has_image[index]
    batch = Batch(
        has_text=has_text,
        has_image=has_image,
        labels=table.labels[index],
        text_labels=table.text_labels[index],
        image_labels=table.image_labels[index],
    )
    if table.soft_labels is not None:
        batch.soft_labels = {key: value[index] for key, value in table.soft_labels.items()}
        batch.text_soft_labels = {key: value[index] for key, value in table.text_soft_labels.items()}
        batch.image_soft_labels = {key: value[index] for key, value in table.image_soft_labels.items()}
    if table.text_features is not None:
        batch.text_features = table.text_features[index]
    elif encoders.trains_text and bool(has_text.any()):
        texts = [table.texts[row] for row, present in zip(index.tolist(), has_text.tolist()) if present]
        batch.text_inputs = encoders.text_spec.tokenize(encoders.tokenizer, texts)
    if table.image_features is not None:
        batch.image_features = table.image_features[index]
    elif encoders.trains_image and bool(has_image.any()):
        paths = [table.image_paths[row] for row, present in zip(index.tolist(), has_image.tolist()) if present]
        batch.pixels = torch.stack([encoders.transform(load_image(path)) for path in paths])
    return batch


@dataclass
class Outputs:
    """Batched forward pass over a table: per task probabilities (N, n_labels)
    from each item's routed head, routes (N,), the modality masks actually
    used (N,) and the projected text, image and fused vectors (N, H) or None.
    branch_probabilities[branch][task] (N, n_labels): every head's own
    answer for every item ("fused", "text", "image"), when asked for."""

    probabilities: dict[str, np.ndarray]
    route: np.ndarray
    has_text: np.ndarray
    has_image: np.ndarray
    text: np.ndarray | None
    image: np.ndarray | None
    fused: np.ndarray | None
    branch_probabilities: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def run_network(
    net: Network,
    table: InputTable,
    encoders: Encoders,
    *,
    batch_size: int,
    should_stop: Callable[[], bool] | None = None,
    branches: bool = False,
    nestings: Sequence[Nesting] = (),
) -> Outputs:
    """The network over the table in batches; branches=True also keeps each
    head's own probabilities (to score unimodal heads against the fused one).
    nestings: nested tasks whose heads answer jointly (structure.decode_jointly),
    in the routed and in every branch's probabilities."""
    net.eval()
    device = encoders.device
    probabilities: dict[str, list[np.ndarray]] = {}
    per_branch: dict[str, dict[str, list[np.ndarray]]] = {}
    routes, text, image, fused = [], [], [], []
    with torch.inference_mode():
        for start in range(0, len(table), batch_size):
            if should_stop is not None and should_stop():
                raise Cancelled("cancelled")
            index = torch.arange(start, min(start + batch_size, len(table)))
            output = net(make_batch(table, index, encoders).to(device))
            for task, logits in output.routed_logits().items():
                probabilities.setdefault(task, []).append(torch.softmax(logits.float(), -1).cpu().numpy())
            if branches:
                for branch, branch_logits in output.logits.items():
                    for task, logits in branch_logits.items():
                        per_branch.setdefault(branch, {}).setdefault(task, []).append(
                            torch.softmax(logits.float(), -1).cpu().numpy()
                        )
            routes.append(output.route.cpu().numpy())
            for store, value in ((text, output.text), (image, output.image), (fused, output.fused)):
                if value is not None:
                    store.append(value.float().cpu().numpy())
    join = lambda parts: np.concatenate(parts) if parts else None  # noqa: E731
    return Outputs(
        probabilities=decode_jointly({task: np.concatenate(parts) for task, parts in probabilities.items()}, nestings),
        route=np.concatenate(routes) if routes else np.zeros(0, dtype=np.int64),
        has_text=table.has_text.numpy().copy(),
        has_image=table.has_image.numpy().copy(),
        text=join(text),
        image=join(image),
        fused=join(fused),
        branch_probabilities={
            branch: decode_jointly({task: np.concatenate(parts) for task, parts in tasks.items()}, nestings)
            for branch, tasks in per_branch.items()
        },
    )
