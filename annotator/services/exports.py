"""Exports: one row per item with its gold and every vote, streamed.

Items are read in keyset-paginated chunks (by id), with the gold and the
votes of each chunk fetched in one query each, so exporting a million votes
keeps memory bounded. Every format is a generator: `stream_export` feeds a
StreamingHttpResponse, `write_export` writes a file or folder for the
command. Both re-import with `annotator.services.imports`.

Formats
* csv / jsonl: columns id, text, image, split, inference_order, metadata,
  gold_<task>, gold_<task>_source, gold_<task>_support, <task>_votes,
  <task>_posterior, votes. `image` is
  the stored name (images/ab/<sha256>.<ext>), which is also the path inside
  a ZIP export and beside a file written with images.
  votes: [{"annotator", "round", "inference_order", "duration_ms", "labels": {task: label}}].
  Soft labels (issue 14.4; annotator.io.soft_labels has the rules):
  <task>_votes: {label key: count} over every label of the task, counting
  the multimodal round's votes only, without control votes (a control
  item's are all 0). <task>_posterior: {label key: probability, 4 decimals}
  under the project's gold strategy: one-hot for adjudicated or imported
  gold, else the stored Dawid-Skene / MACE posterior, else the normalised
  votes; empty (null) when the item has neither gold nor votes. In CSV
  both are JSON text; the import ignores them (they are derived).
* msed: the MSED release layout (train/train.csv + train/images/<row>.jpg,
  dev/, test/) with gold label names in Sentiment / Emotion / Desire, plus
  Id, Image and Votes columns. Image bytes are copied as stored, so a PNG
  keeps its bytes under the .jpg name the paper's code expects (Pillow
  reads it by content). Items not yet assigned to a split are left out.

CSV cells (csv and msed) are formula-escaped by default so the file is
safe to open in a spreadsheet: a text starting with = + - @, a tab or a
carriage return gets a leading ' (writers.escape_formula has the exact,
reversible rule, and the import removes it again). raw=True writes the
exact values, for scripts. JSONL is never escaped.

Control items (issue 14) are left out of every format: their votes count
toward nothing and their known answers are read from the controls API
(/api/projects/<slug>/controls/), so a dataset built from an export holds
the project's ordinary items only.

An export reads in several queries without a snapshot; votes written while
it runs may or may not be included.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.utils import timezone

from .. import storage
from ..errors import DomainError
from ..io import soft_labels, writers
from ..models import Annotation, Gold, ImageAsset, Item, Membership, Project, Vote
from ..schemas import TaskSpec
from ..selectors import get_project_schema

log = logging.getLogger(__name__)

CHUNK_ITEMS = 1000
FORMATS = ("csv", "jsonl", "msed")
MSED_SPLITS = (Item.Split.TRAIN, Item.Split.DEV, Item.Split.TEST)
_ROUND_ORDER = {Annotation.Round.MULTIMODAL: 0, Annotation.Round.TEXT: 1, Annotation.Round.IMAGE: 2}


class _Names:
    """Annotator id -> the name an export shows: username, or the project
    pseudonym (made unique; former members get 'former-NN')."""

    def __init__(self, project: Project, *, pseudonymise: bool):
        self.pseudonymise = pseudonymise
        self.names: dict[int, str] = {}
        used: set[str] = set()
        rows = (
            Membership.objects.filter(project=project)
            .order_by("user_id")
            .values_list("user_id", "user__username", "pseudonym")
        )
        for user_id, username, pseudonym in rows:
            name = (pseudonym or f"annotator-{len(used) + 1:02d}") if pseudonymise else username
            base, n = name, 2
            while name.lower() in used:  # two members may share a pseudonym
                name, n = f"{base}-{n}", n + 1
            used.add(name.lower())
            self.names[user_id] = name
        self.used = used
        self.former = 0

    def resolve(self, user_ids: set[int]) -> None:
        missing = sorted(user_ids - set(self.names))
        if not missing:
            return
        if not self.pseudonymise:
            from django.contrib.auth import get_user_model

            self.names.update(get_user_model().objects.filter(id__in=missing).values_list("id", "username"))
            return
        for user_id in missing:
            self.former += 1
            name = f"former-{self.former:02d}"
            while name in self.used:
                self.former += 1
                name = f"former-{self.former:02d}"
            self.used.add(name)
            self.names[user_id] = name


@dataclass
class _Context:
    project: Project
    tasks: tuple[TaskSpec, ...]  # in schema order
    label_keys: dict[int, str]
    label_names: dict[int, str]
    names: _Names

    @classmethod
    def build(cls, project: Project, *, pseudonymise: bool) -> _Context:
        tasks = get_project_schema(project).tasks
        return cls(
            project=project,
            tasks=tasks,
            label_keys={l.id: l.key for t in tasks for l in t.labels},
            label_names={l.id: l.name for t in tasks for l in t.labels},
            names=_Names(project, pseudonymise=pseudonymise),
        )


def export_columns(project: Project) -> list[str]:
    """The columns of a csv / jsonl export of the project."""
    columns = ["id", "text", "image", "split", "inference_order", "metadata"]
    for task in get_project_schema(project).tasks:
        columns += [f"gold_{task.key}", f"gold_{task.key}_source", f"gold_{task.key}_support"]
        columns += [f"{task.key}_votes", f"{task.key}_posterior"]
    return columns + ["votes"]


def _item_chunks(project: Project, *, split: str | None = None, chunk: int = CHUNK_ITEMS) -> Iterator[list[Item]]:
    last = 0
    while True:
        qs = Item.objects.filter(project=project, is_control=False, id__gt=last)
        if split:
            qs = qs.filter(split=split)
        items = list(qs.select_related("image").order_by("id")[:chunk])
        if not items:
            return
        yield items
        last = items[-1].pk


def _chunk_details(items: list[Item], ctx: _Context) -> tuple[dict, dict]:
    """Gold and votes of a chunk of items: one query each."""
    ids = [item.pk for item in items]
    gold: dict[int, dict[int, tuple]] = defaultdict(dict)
    for item_id, task_id, label_id, source, votes_for, votes_total, posterior in Gold.objects.filter(
        item_id__in=ids
    ).values_list("item_id", "task_id", "label_id", "source", "votes_for", "votes_total", "posterior"):
        gold[item_id][task_id] = (label_id, source, votes_for, votes_total, posterior)
    annotations: dict[int, dict[int, dict]] = defaultdict(dict)
    rows = (
        Vote.objects.filter(item_id__in=ids)
        .order_by("item_id", "annotation_id", "task_id")
        .values_list(
            "item_id",
            "annotation_id",
            "annotator_id",
            "round",
            "task_id",
            "label_id",
            "annotation__inference_order",
            "annotation__duration_ms",
            "is_control",
        )
    )
    user_ids: set[int] = set()
    for item_id, annotation_id, annotator_id, round_, task_id, label_id, order, duration, is_control in rows:
        entry = annotations[item_id].get(annotation_id)
        if entry is None:
            entry = annotations[item_id][annotation_id] = {
                "annotator_id": annotator_id,
                "round": round_,
                "inference_order": list(order or []),
                "duration_ms": duration,
                "labels": {},
                "is_control": is_control,
            }
            user_ids.add(annotator_id)
        entry["labels"][task_id] = label_id
    ctx.names.resolve(user_ids)
    return gold, annotations


def _votes(entries: dict[int, dict], ctx: _Context) -> list[dict]:
    votes = []
    for entry in entries.values():
        votes.append(
            {
                "annotator": ctx.names.names[entry["annotator_id"]],
                "round": entry["round"],
                "inference_order": entry["inference_order"],
                "duration_ms": entry["duration_ms"],
                "labels": {t.key: ctx.label_keys[entry["labels"][t.id]] for t in ctx.tasks if t.id in entry["labels"]},
            }
        )
    votes.sort(key=lambda v: (_ROUND_ORDER.get(v["round"], 9), v["annotator"]))
    return votes


def iter_export_rows(*, project: Project, pseudonymise: bool = False, split: str | None = None) -> Iterator[dict]:
    """One dict per item (columns of export_columns), in id order, for
    writers.csv_lines / jsonl_lines. Lists and dicts stay Python objects."""
    ctx = _Context.build(project, pseudonymise=pseudonymise)
    for items in _item_chunks(project, split=split):
        gold, annotations = _chunk_details(items, ctx)
        for item in items:
            yield _row(item, gold.get(item.pk, {}), annotations.get(item.pk, {}), ctx)


def _row(item: Item, gold: dict, annotations: dict, ctx: _Context) -> dict:
    metadata = dict(item.metadata or {})
    order = metadata.pop("inference_order", None)
    row = {
        "id": item.external_id,
        "text": item.text,
        "image": item.image.file if item.image_id else "",
        "split": item.split,
        "inference_order": order or None,
        "metadata": metadata or None,
    }
    counted = [] if item.is_control else [e for e in annotations.values() if _counts_toward_gold(e)]
    for task in ctx.tasks:
        key = task.key
        label_id, source, votes_for, votes_total, posterior = gold.get(task.id, (None, "", 0, 0, None))
        gold_key = ctx.label_keys.get(label_id, "") if label_id else ""
        row[f"gold_{key}"] = gold_key
        row[f"gold_{key}_source"] = source
        row[f"gold_{key}_support"] = round(votes_for / votes_total, 4) if votes_total else None
        votes = Counter(ctx.label_keys[e["labels"][task.id]] for e in counted if task.id in e["labels"])
        row[f"{key}_votes"] = soft_labels.vote_distribution(task.label_keys, votes)
        row[f"{key}_posterior"] = soft_labels.rounded(
            soft_labels.soft_label(
                task.label_keys, votes=votes, source=source or None, gold_label=gold_key or None, posterior=posterior
            )
        )
    row["votes"] = _votes(annotations, ctx)
    return row


def _counts_toward_gold(entry: dict) -> bool:
    """Soft-label columns count multimodal votes that are not control votes."""
    return entry["round"] == Annotation.Round.MULTIMODAL and not entry["is_control"]


# ----------------------------------------------------------------- MSED layout


def _msed_header(ctx: _Context) -> list[str]:
    return writers.MSED_HEADER + writers.MSED_EXTRA_HEADER


def _msed_rows(project: Project, split: str, ctx: _Context) -> Iterator[tuple[int, Item, dict]]:
    """(row number from 1, item, MSED row) of one split, in id order."""
    task_ids = {task.key: task.id for task in ctx.tasks}
    number = 0
    for items in _item_chunks(project, split=split):
        gold, annotations = _chunk_details(items, ctx)
        for item in items:
            number += 1
            metadata = item.metadata or {}
            row = {
                "Title": metadata.get("title", ""),
                "Caption": item.text,
                "Inference Sequence": writers.msed_sequence(metadata.get("inference_order") or []),
                "Id": item.external_id,
                "Image": f"images/{number}.jpg" if item.image_id else "",
                "Votes": _votes(annotations.get(item.pk, {}), ctx) or None,
            }
            for column, key in writers.MSED_TASKS.items():
                task_id = task_ids.get(key)
                label_id = gold.get(item.pk, {}).get(task_id, (None,))[0] if task_id else None
                row[column] = ctx.label_names.get(label_id, "") if label_id else ""
            yield number, item, row


def _stored(asset_file: str) -> bool:
    """Whether the image is in storage (a name that would leave the storage counts as missing)."""
    if not storage.image_exists(asset_file):
        log.warning("Export: the image file %s is missing from storage; left out.", asset_file)
        return False
    return True


def _copy_stored(asset_file: str, dest: Path) -> None:
    with dest.open("wb") as handle:
        for chunk in storage.iter_image_chunks(asset_file):
            handle.write(chunk)


def _msed_members(project: Project, ctx: _Context, *, raw: bool = False) -> Iterator[writers.ZipMember]:
    for split in MSED_SPLITS:
        if not Item.objects.filter(project=project, is_control=False, split=split).exists():
            continue
        header = _msed_header(ctx)
        rows = (row for _, _, row in _msed_rows(project, split, ctx))
        yield writers.ZipMember(
            f"{split}/{split}.csv",
            writers.encoded(writers.batched_text(writers.csv_lines(header, rows, raw=raw))),
            large=True,
        )
        # Second pass for the images: a ZIP holds one member at a time.
        number, last = 0, 0
        while True:
            chunk = list(
                Item.objects.filter(project=project, is_control=False, split=split, id__gt=last)
                .order_by("id")
                .values_list("id", "image__file")[:CHUNK_ITEMS]
            )
            if not chunk:
                break
            for _item_id, image_file in chunk:
                number += 1
                if image_file and _stored(image_file):
                    yield writers.ZipMember(
                        f"{split}/images/{number}.jpg", storage.iter_image_chunks(image_file), compress=False
                    )
            last = chunk[-1][0]


def _image_members(project: Project) -> Iterator[writers.ZipMember]:
    last = 0
    while True:
        chunk = list(
            ImageAsset.objects.filter(items__project=project, id__gt=last)
            .distinct()
            .order_by("id")
            .values_list("id", "file")[:CHUNK_ITEMS]
        )
        if not chunk:
            return
        for _, file in chunk:
            if _stored(file):
                yield writers.ZipMember(file, storage.iter_image_chunks(file), compress=False)
        last = chunk[-1][0]


def _text_chunks(project: Project, fmt: str, *, pseudonymise: bool, raw: bool = False) -> Iterator[str]:
    rows = iter_export_rows(project=project, pseudonymise=pseudonymise)
    if fmt == "csv":
        return writers.batched_text(writers.csv_lines(export_columns(project), rows, raw=raw))
    return writers.batched_text(writers.jsonl_lines(rows))


def _bundle_members(
    project: Project, fmt: str, *, pseudonymise: bool, raw: bool = False
) -> Iterator[writers.ZipMember]:
    chunks = _text_chunks(project, fmt, pseudonymise=pseudonymise, raw=raw)
    yield writers.ZipMember(f"items.{fmt}", writers.encoded(chunks), large=True)
    yield from _image_members(project)


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise DomainError(f"Unknown export format {fmt!r}; choose csv, jsonl or msed.", field="format")


def stream_export(
    *, project: Project, fmt: str, pseudonymise: bool = True, with_images: bool = False, raw: bool = False
) -> tuple[str, str, Iterator]:
    """(filename, content type, chunks) for a StreamingHttpResponse.

    csv / jsonl stream text (str chunks), or with_images=True a ZIP of
    items.<fmt> plus images/; msed always streams a ZIP (bytes chunks).
    raw=True: CSV cells as exact values, not formula-escaped.
    """
    _check_format(fmt)
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    base = f"{project.slug}-{stamp}"
    if fmt == "msed":
        ctx = _Context.build(project, pseudonymise=pseudonymise)
        return f"{base}-msed.zip", "application/zip", writers.zip_stream(_msed_members(project, ctx, raw=raw))
    if with_images:
        members = _bundle_members(project, fmt, pseudonymise=pseudonymise, raw=raw)
        return f"{base}-{fmt}.zip", "application/zip", writers.zip_stream(members)
    content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson; charset=utf-8"
    return f"{base}.{fmt}", content_type, _text_chunks(project, fmt, pseudonymise=pseudonymise, raw=raw)


def write_export(
    *,
    project: Project,
    fmt: str,
    path: str | Path,
    pseudonymise: bool = False,
    with_images: bool = False,
    raw: bool = False,
) -> dict[str, int]:
    """Write an export for `manage.py export_items`.

    csv / jsonl: a file at `path` (with_images copies the images beside it,
    at the relative paths its image column names), or a ZIP bundle when
    `path` ends in .zip. msed: a folder at `path` (which must be new or
    empty), or a ZIP when `path` ends in .zip. raw=True: CSV cells as
    exact values, not formula-escaped.
    Returns {"items": n, "votes": n, "images": n, "left_out": n}.
    """
    _check_format(fmt)
    path = Path(path)
    counts = {"items": 0, "votes": 0, "images": 0, "left_out": 0}
    if fmt != "msed":
        if path.suffix.lower() == ".zip":
            writers.write_zip(path, _bundle_members(project, fmt, pseudonymise=pseudonymise, raw=raw))
            _count(project, counts)
            counts["images"] = ImageAsset.objects.filter(items__project=project).distinct().count()
            return counts
        path.parent.mkdir(parents=True, exist_ok=True)
        writers.write_text(path, _text_chunks(project, fmt, pseudonymise=pseudonymise, raw=raw))
        _count(project, counts)
        if with_images:
            counts["images"] = _copy_images(project, path.parent)
        return counts
    ctx = _Context.build(project, pseudonymise=pseudonymise)
    counts["left_out"] = Item.objects.filter(project=project, is_control=False).exclude(split__in=MSED_SPLITS).count()
    if path.suffix.lower() == ".zip":
        writers.write_zip(path, _msed_members(project, ctx, raw=raw))
        _count(project, counts, splits=MSED_SPLITS)
        counts["images"] = Item.objects.filter(
            project=project, is_control=False, split__in=MSED_SPLITS, image__isnull=False
        ).count()
        return counts
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise DomainError(f"{path} exists and is not an empty folder; choose a new folder for the MSED layout.")
    for split in MSED_SPLITS:
        if not Item.objects.filter(project=project, is_control=False, split=split).exists():
            continue
        folder = path / split
        (folder / "images").mkdir(parents=True, exist_ok=True)
        with (folder / f"{split}.csv").open("w", encoding="utf-8", newline="") as handle:
            numbered = _msed_rows(project, split, ctx)

            def rows_with_images(numbered, images: Path) -> Iterator[dict]:
                for number, item, row in numbered:
                    if item.image_id and _stored(item.image.file):
                        _copy_stored(item.image.file, images / f"{number}.jpg")
                        counts["images"] += 1
                    yield row

            rows = rows_with_images(numbered, folder / "images")
            for chunk in writers.batched_text(writers.csv_lines(_msed_header(ctx), rows, raw=raw)):
                handle.write(chunk)
    _count(project, counts, splits=MSED_SPLITS)
    return counts


def _count(project: Project, counts: dict[str, int], *, splits=None) -> None:
    items = Item.objects.filter(project=project, is_control=False)
    if splits:
        items = items.filter(split__in=splits)
    counts["items"] = items.count()
    counts["votes"] = Vote.objects.filter(item__in=items).count()


def _copy_images(project: Project, folder: Path) -> int:
    copied, last = 0, 0
    while True:
        chunk = list(
            ImageAsset.objects.filter(items__project=project, id__gt=last)
            .distinct()
            .order_by("id")
            .values_list("id", "file")[:CHUNK_ITEMS]
        )
        if not chunk:
            return copied
        for _, file in chunk:
            if _stored(file):
                dest = folder / file
                dest.parent.mkdir(parents=True, exist_ok=True)
                _copy_stored(file, dest)
                copied += 1
        last = chunk[-1][0]
