"""Items as plain records, label schemas and per-split counts (no torch).

A record is what the Django side hands over for one item:

    {"id": 17, "text": "so happy to see you", "image_path": "/media/ab/cd.jpg",
     "image_sha256": "abcd...", "labels": {"desire": 3, "sentiment": 0, "emotion": -1},
     "split": "train"}

`text` is the caption; an optional `title` (MSED's Title) is read when a
model's text_fields say so (model_text). `text` may be "" and `image_path`
None (a missing modality); a label of -1 (or
a task left out of `labels`) means "no gold label for this task". Optional
`text_labels` / `image_labels` hold CH-SIMS style unimodal labels; when given
for a task they train the text-only / image-only heads instead of `labels`.
Optional `soft_labels` ({"sentiment": [0.67, 0.0, 0.33], ...}, probabilities
in label order) are the targets of a run with targets="soft" (issue 14.4).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SPLITS = ("train", "dev", "test")
_SPLIT_ALIASES = {"val": "dev", "valid": "dev", "validation": "dev"}

Schema = list[tuple[str, int]]


@dataclass(frozen=True)
class Record:
    id: Any
    text: str = ""
    image_path: str | None = None
    image_sha256: str | None = None
    labels: Mapping[str, int] = field(default_factory=dict)
    split: str = ""
    text_labels: Mapping[str, int] = field(default_factory=dict)
    image_labels: Mapping[str, int] = field(default_factory=dict)
    title: str = ""
    soft_labels: Mapping[str, Sequence[float]] = field(default_factory=dict)

    @classmethod
    def from_value(cls, value: Record | Mapping[str, Any]) -> Record:
        if isinstance(value, Record):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(f"a record must be a mapping or Record, got {type(value).__name__}")
        if "id" not in value:
            raise ValueError("every record needs an 'id'")
        split = str(value.get("split") or "").strip().lower()
        image_path = value.get("image_path") or None
        return cls(
            id=value["id"],
            text=str(value.get("text") or ""),
            image_path=str(image_path) if image_path is not None else None,
            image_sha256=value.get("image_sha256") or None,
            labels=dict(value.get("labels") or {}),
            split=_SPLIT_ALIASES.get(split, split),
            text_labels=dict(value.get("text_labels") or {}),
            image_labels=dict(value.get("image_labels") or {}),
            title=str(value.get("title") or ""),
            soft_labels=dict(value.get("soft_labels") or {}),
        )

    @property
    def has_text(self) -> bool:
        return bool(self.text.strip())

    @property
    def has_image(self) -> bool:
        return self.image_path is not None

    @property
    def text_sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def as_records(values: Iterable[Record | Mapping[str, Any]]) -> list[Record]:
    return [Record.from_value(value) for value in values]


# Between title and caption: titles are noun phrases without a full stop
# ("Overweight man and woman jogging in the city"), so a sentence break
# keeps the two apart for any tokenizer, special tokens or not.
TITLE_SEPARATOR = ". "


def model_text(record: Record, text_fields: str) -> str:
    """The text a model reads: the caption, or "title. caption" for
    "title+caption" (whichever is empty is left out; a title already
    ending in . ! ? : or ; is followed by a space only)."""
    if text_fields == "caption":
        return record.text
    if text_fields != "title+caption":
        raise ValueError(f"unknown text_fields {text_fields!r}")
    title, caption = record.title.strip(), record.text.strip()
    if not title or not caption:
        return title or caption
    separator = " " if title[-1] in ".!?:;" else TITLE_SEPARATOR
    return f"{title}{separator}{caption}"


def with_model_text(records: Sequence[Record], text_fields: str) -> list[Record]:
    """The records with `text` replaced by model_text, so masks and the
    feature cache's content hash follow what the encoder actually reads."""
    if text_fields == "caption":
        return list(records)
    return [dataclasses.replace(record, text=model_text(record, text_fields)) for record in records]


def normalise_schema(schema: Sequence[Sequence[Any]]) -> Schema:
    """Check an ordered [(task_key, n_labels), ...] and return it as a list of tuples."""
    out: Schema = []
    for entry in schema:
        if len(entry) != 2:
            raise ValueError(f"schema entries are (task_key, n_labels); got {entry!r}")
        key, n_labels = str(entry[0]), entry[1]
        if not isinstance(n_labels, (int, np.integer)) or n_labels < 2:
            raise ValueError(f"task {key!r} needs at least 2 labels, got {n_labels!r}")
        out.append((key, int(n_labels)))
    keys = [key for key, _ in out]
    if not out:
        raise ValueError("the schema has no tasks")
    if len(set(keys)) != len(keys):
        raise ValueError(f"the schema repeats a task: {keys}")
    return out


def label_matrix(records: Sequence[Record], schema: Schema, attribute: str = "labels") -> np.ndarray:
    """Labels as an int64 array (n_items, n_tasks), -1 where missing.

    attribute: "labels", "text_labels" or "image_labels". Raises ValueError
    naming the item when a label is outside 0..n_labels-1 or a task is unknown.
    """
    task_index = {key: column for column, (key, _) in enumerate(schema)}
    matrix = np.full((len(records), len(schema)), -1, dtype=np.int64)
    for row, record in enumerate(records):
        for key, label in getattr(record, attribute).items():
            if key not in task_index:
                raise ValueError(f"item {record.id!r}: task {key!r} is not in the schema {list(task_index)}")
            if label is None:
                continue
            label = int(label)
            n_labels = schema[task_index[key]][1]
            if not -1 <= label < n_labels:
                raise ValueError(f"item {record.id!r}: label {label} of task {key!r} is outside 0..{n_labels - 1}")
            matrix[row, task_index[key]] = label
    return matrix


def one_hot(labels: np.ndarray, n_labels: int) -> np.ndarray:
    """(n,) int labels -> (n, n_labels) float32 one-hot rows; -1 gives a zero row."""
    out = np.zeros((len(labels), n_labels), dtype=np.float32)
    known = np.flatnonzero(labels >= 0)
    out[known, labels[known]] = 1.0
    return out


def soft_target_matrices(records: Sequence[Record], schema: Schema, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Per task the training targets of soft-label training: (n_items, n_labels)
    float32, each row a probability distribution, or zeros (no target).

    A record's soft_labels[task] (normalised to sum 1) where given, else
    one-hot on its hard label (labels: label_matrix of the same records),
    else zeros. Raises ValueError naming the item when a distribution has
    the wrong length, a negative or non-finite entry, or no mass.
    """
    out: dict[str, np.ndarray] = {}
    for column, (key, n_labels) in enumerate(schema):
        targets = one_hot(labels[:, column], n_labels)
        for row, record in enumerate(records):
            given = record.soft_labels.get(key)
            if given is None:
                continue
            vector = np.asarray(given, dtype=np.float64)
            if vector.shape != (n_labels,) or not np.isfinite(vector).all() or (vector < 0).any() or vector.sum() <= 0:
                raise ValueError(
                    f"item {record.id!r}: soft label of task {key!r} must be {n_labels} non-negative numbers "
                    f"with a positive sum, got {list(given)!r}"
                )
            targets[row] = (vector / vector.sum()).astype(np.float32)
        out[key] = targets
    return out


def split_records(records: Sequence[Record]) -> dict[str, list[Record]]:
    """Group records by split ("train", "dev", "test"); other splits are left out."""
    groups: dict[str, list[Record]] = {split: [] for split in SPLITS}
    for record in records:
        if record.split in groups:
            groups[record.split].append(record)
    return groups


def data_counts(splits: Mapping[str, Sequence[Record]], schema: Schema) -> dict[str, Any]:
    """Counts per split: items, modalities present and labels per task.

    {"train": {"items": 120, "with_text": 118, "with_image": 110, "with_both": 108,
               "labels": {"desire": {"counts": [n_0, ..., n_k-1], "unlabelled": 4}, ...}}, ...}
    """
    out: dict[str, Any] = {}
    for split, records in splits.items():
        labels = label_matrix(records, schema)
        per_task = {}
        for column, (key, n_labels) in enumerate(schema):
            values = labels[:, column]
            known = values[values >= 0]
            per_task[key] = {
                "counts": np.bincount(known, minlength=n_labels).astype(int).tolist(),
                "unlabelled": int((values < 0).sum()),
            }
        out[split] = {
            "items": len(records),
            "with_text": sum(record.has_text for record in records),
            "with_image": sum(record.has_image for record in records),
            "with_both": sum(record.has_text and record.has_image for record in records),
            "labels": per_task,
        }
    return out
