"""Sample import files built from a project's schema, one per format a lead
can upload: CSV, JSONL, a ZIP of a CSV with its images, and the MSED
release layout. Each one imports cleanly into the project it was built for
(tests/annotator/test_import_samples.py). No Django: the schema arrives as
an annotator.schemas.ProjectSchema.
"""

from __future__ import annotations

import io
import zipfile

from ..schemas import ProjectSchema
from .writers import MSED_EXTRA_HEADER, MSED_HEADER, MSED_TASKS, csv_lines, jsonl_lines, msed_sequence

FORMATS = {
    "csv": ("items-sample.csv", "text/csv; charset=utf-8"),
    "jsonl": ("items-sample.jsonl", "application/x-ndjson; charset=utf-8"),
    "zip": ("items-sample-with-images.zip", "application/zip"),
    "msed": ("items-sample-msed.zip", "application/zip"),
}
_TEXTS = [
    "A family picnic by the lake on a sunny afternoon.",
    "Friends cheering together at the end of a long race.",
    "An empty street in the rain, late at night.",
]
_SPLITS = ["train", "dev", "test"]
_COLORS = [(214, 96, 77), (67, 147, 195), (120, 170, 90)]
SAMPLE_ANNOTATOR = "sample-annotator"


def _image(n: int) -> bytes:
    from PIL import Image  # only needed for the formats with images

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), _COLORS[n % len(_COLORS)]).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def sample_rows(schema: ProjectSchema, *, images: bool) -> list[dict]:
    """Three items (ids sample-1..3, one per split) with the generic columns:
    gold in a column per task (a label key), the inference order, and on the
    first item one vote, to show the votes column's shape."""
    order = list(schema.keys)
    rows = []
    for n, text in enumerate(_TEXTS):
        row = {
            "id": f"sample-{n + 1}",
            "text": text,
            "image": f"images/sample-{n + 1}.jpg" if images else "",
            "split": _SPLITS[n],
        }
        for task in schema.tasks:
            labels = task.label_keys
            row[task.key] = labels[n % len(labels)] if labels else ""
        row["inference_order"] = order if n == 0 else None
        if n == 0 and schema.tasks:
            labels = {t.key: t.label_keys[0] for t in schema.tasks if t.labels}
            row["votes"] = [
                {"annotator": SAMPLE_ANNOTATOR, "round": "multimodal", "inference_order": order, "labels": labels}
            ]
        else:
            row["votes"] = None
        rows.append(row)
    return rows


def _columns(schema: ProjectSchema) -> list[str]:
    return ["id", "text", "image", "split", *schema.keys, "inference_order", "votes"]


def csv_sample(schema: ProjectSchema, *, images: bool = False) -> bytes:
    return "".join(csv_lines(_columns(schema), sample_rows(schema, images=images))).encode("utf-8")


def jsonl_sample(schema: ProjectSchema) -> bytes:
    rows = [{k: v for k, v in row.items() if v not in (None, "")} for row in sample_rows(schema, images=False)]
    return "".join(jsonl_lines(rows)).encode("utf-8")


def zip_sample(schema: ProjectSchema) -> bytes:
    """items.csv naming images/sample-N.jpg, and those images."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("items.csv", csv_sample(schema, images=True))
        for n in range(len(_TEXTS)):
            archive.writestr(f"images/sample-{n + 1}.jpg", _image(n))
    return buffer.getvalue()


def msed_sample(schema: ProjectSchema) -> bytes:
    """The MSED release layout: <split>/<split>.csv with the release's
    columns (labels by name; only the project's tasks among Sentiment,
    Emotion and Desire) and the image of row n at <split>/images/n.jpg."""
    header = [c for c in MSED_HEADER if MSED_TASKS.get(c, "") in schema.keys or c not in MSED_TASKS] + MSED_EXTRA_HEADER
    msed_order = [key for key in schema.keys if key in MSED_TASKS.values()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for n, (split, text) in enumerate(zip(_SPLITS, _TEXTS)):
            row = {
                "Title": f"Sample {n + 1}",
                "Caption": text,
                "Id": f"sample-{n + 1}",
                "Image": "images/1.jpg",
                "Votes": None,
            }
            row["Inference Sequence"] = msed_sequence(msed_order) if n == 0 else ""
            for column, key in MSED_TASKS.items():
                task = schema.get_task(key)
                if task is not None and task.labels:
                    labels = task.label_names
                    row[column] = labels[n % len(labels)]
            archive.writestr(f"{split}/{split}.csv", "".join(csv_lines(header, [row])).encode("utf-8"))
            archive.writestr(f"{split}/images/1.jpg", _image(n))
    return buffer.getvalue()


def build_sample(schema: ProjectSchema, fmt: str) -> tuple[str, str, bytes]:
    """(filename, content type, bytes) of the sample in `fmt` (a FORMATS key)."""
    filename, content_type = FORMATS[fmt]
    data = {
        "csv": lambda: csv_sample(schema),
        "jsonl": lambda: jsonl_sample(schema),
        "zip": lambda: zip_sample(schema),
        "msed": lambda: msed_sample(schema),
    }[fmt]()
    return filename, content_type, data
