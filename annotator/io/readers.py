"""Stream rows out of a dataset, one at a time, whatever its packaging.

Accepted inputs (`open_dataset`):

* a CSV file (UTF-8, comma-separated, header row) or a JSONL file (one JSON
  object per line). Image paths in the `image` column are relative to the
  file's folder; absolute paths and `..` are refused.
* a ZIP holding one such file plus the images it names (paths relative to the
  file's folder inside the archive). A single top-level folder wrapping
  everything, as made by "compress folder", is looked through.
* the layout of the public MSED release, as a folder or a ZIP:
  ``train/train.csv``, ``dev/dev.csv``, ``test/test.csv`` (``val`` / ``valid``
  / ``validation`` are read as dev), columns ``Title, Caption, Sentiment,
  Emotion, Desire, Inference Sequence``, and the image of data row *n*
  (1-based, header not counted) at ``<split>/images/<n>.jpg``. Images may
  instead sit in ``images/<split>/<n>.jpg``, or in a top-level ``images/``
  folder when the dataset has a single split (with several splits a shared
  folder is ambiguous, since every split has a row 1, and is refused).
  Files exported by Affect Studio add ``Id``, ``Image`` (path relative to the
  split folder, empty for an item without image) and ``Votes`` columns.

Rows are numbered from 1 at the first data row of each file; the header is
not a row. Nothing here reads a whole file into memory: CSV and JSONL are
decoded line by line, so a byte that is not UTF-8 is reported against its
row and the rows after it are still checked.

CSV is parsed strictly: a quote left open is a file error naming its line,
never a value that swallows the rows after it. CSV cells are unescaped
with writers.unescape_formula (our exports put a ' before = + - @), unless
Limits.raw_cells. JSON (JSONL lines, and votes / metadata cells) is parsed
with jsonsafe.loads: no NaN, no deep nesting, no 5,000-digit numbers.

Generic column names are lower-case: id, text, image, split, metadata,
inference_order, votes, a task key (gold label), gold_<task>,
gold_<task>_source, gold_<task>_support, <task>_votes, <task>_posterior.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import DatasetError
from .files import CsvTable, Files, FolderFiles, Limits, Lines, ZipFiles
from .jsonsafe import JSONProblem
from .jsonsafe import loads as json_loads
from .zipsafe import normalise_name

ITEM_FILE_SUFFIXES = (".csv", ".jsonl", ".ndjson")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp")
MSED_SPLITS = {"train": ("train",), "dev": ("dev", "val", "valid", "validation"), "test": ("test",)}
# MSED header (case-insensitive, spaces and underscores alike) -> generic column.
MSED_COLUMNS = {
    "title": "title",
    "caption": "text",
    "sentiment": "sentiment",
    "emotion": "emotion",
    "desire": "desire",
    "inference sequence": "inference_order",
    "id": "id",
    "image": "image",
    "votes": "votes",
}
MSED_LABEL_COLUMNS = ("sentiment", "emotion", "desire")
_UNNAMED = re.compile(r"^(unnamed: ?\d+)?$")


@dataclass
class RawRow:
    """One data row as read: values by generic column name (strings from a
    CSV, JSON values from JSONL), plus problems met while reading it."""

    number: int
    values: dict[str, Any]
    problems: list[tuple[str, str]] = field(default_factory=list)
    file: str = ""


def safe_relative(name: str, *, base: str = "the file's folder") -> str:
    """`name` as a clean relative path, or DatasetError if it is absolute or
    climbs out of `base` with '..'."""
    raw = name.strip()
    if re.match(r"^[a-z][a-z0-9+.-]*://", raw, re.I):
        raise DatasetError(f"The image {raw!r} is a URL; include the image file itself, relative to {base}.")
    cleaned = raw.replace("\\", "/")
    if cleaned.startswith("/") or re.match(r"^[A-Za-z]:", cleaned):
        raise DatasetError(f"The image path {raw!r} is absolute; give a path relative to {base}, e.g. images/1.jpg.")
    parts = [p for p in cleaned.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise DatasetError(f"The image path {raw!r} leaves {base} ('..' is not allowed); keep images in or below it.")
    if not parts:
        raise DatasetError(f"The image path {raw!r} is empty.")
    return "/".join(parts)


# ----------------------------------------------------------------- datasets


class Dataset:
    """A readable dataset. Iterate `rows()` once; open it again for a second pass."""

    format = ""
    #: Column names found (CSV header, keys of the first JSONL object).
    columns: list[str]
    #: Generic column name -> name as written in the file, for messages.
    display: dict[str, str]
    #: Problems with the columns themselves (duplicates, unknown MSED columns).
    column_problems: list[str]
    #: Columns that may be dropped when the project has no such task (MSED labels).
    ignorable_columns: set[str]
    #: JSONL: every row carries its own keys, checked one by one.
    per_row_keys = False

    def __init__(self, files: Files, limits: Limits):
        self.files, self.limits = files, limits
        self.columns, self.display, self.column_problems, self.ignorable_columns = [], {}, [], set()

    def rows(self) -> Iterator[RawRow]:
        raise NotImplementedError

    def read_image(self, name: str) -> bytes:
        """The bytes of the image a row names (relative path as in the row)."""
        raise NotImplementedError

    def progress(self) -> float | None:
        """Share of the input read so far (0-1), when known."""
        return None

    def close(self) -> None:
        self.files.close()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _normalise_header(cells: list[str], label: str) -> tuple[list[str | None], dict[str, str], list[str]]:
    names: list[str | None] = []
    display: dict[str, str] = {}
    problems: list[str] = []
    for cell in cells:
        original = cell.strip()
        name = original.lower()
        if _UNNAMED.match(name):
            names.append(None)  # a spreadsheet index column: ignored
            continue
        if name in display:
            problems.append(f"{label}: the column {original!r} appears twice in the header; keep one.")
        display[name] = original
        names.append(name)
    return names, display, problems


class _ItemsFile(Dataset):
    """A CSV or JSONL file of items; images relative to its folder."""

    def __init__(self, files: Files, name: str, limits: Limits, *, fmt: str):
        super().__init__(files, limits)
        self.name, self.format = name, fmt
        self.base = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
        self.size = files.size(name) or 1
        self.stream = files.open(name)
        self.label = name.rsplit("/", 1)[-1]
        self._first: RawRow | None = None
        if fmt == "csv":
            self.table = CsvTable(self.stream, label=self.label, limits=limits)
            self.names, self.display, self.column_problems = _normalise_header(self.table.header, self.label)
            self.columns = [n for n in self.names if n]
        else:
            self.per_row_keys = True
            self.lines = Lines(self.stream, max_line_bytes=limits.max_line_bytes, label=self.label)
            self._jsonl = self._jsonl_rows()
            self._first = next(self._jsonl, None)
            if self._first is not None:
                self.columns = list(self._first.values)
                self.display = {k: k for k in self.columns}

    def _jsonl_rows(self) -> Iterator[RawRow]:
        number = 0
        for line in self.lines:
            problems = [("", p) for p in self.lines.take_problems()]
            if not line.strip():
                continue
            number += 1
            values: dict[str, Any] = {}
            try:
                obj = json_loads(line)
            except JSONProblem as exc:
                column = exc.path[0].strip().lower() if exc.path and isinstance(exc.path[0], str) else ""
                problems.append((column, exc.message))
            else:
                if isinstance(obj, dict):
                    for key, value in obj.items():
                        key = str(key).strip().lower()
                        if "\x00" in key:
                            problems.append(("", f"the key {key!r} contains a NUL character (byte 0); remove it."))
                        else:
                            values[key] = value
                else:
                    problems.append(
                        (
                            "",
                            f'each line must be a JSON object like {{"id": ..., "text": ...}}, not a {type(obj).__name__}.',
                        )
                    )
            yield RawRow(number=number, values=values, problems=problems)

    def rows(self) -> Iterator[RawRow]:
        if self.format == "csv":
            width = len(self.names)
            for number, cells, problems in self.table.rows():
                raw = RawRow(number=number, values={}, problems=[("", p) for p in problems])
                if len(cells) > width and any(c.strip() for c in cells[width:]):
                    raw.problems.append(
                        (
                            "",
                            f"this row has {len(cells)} values but the header has {width} columns; a value with a comma in it needs double quotes.",
                        )
                    )
                cells = cells + [""] * (width - len(cells))
                raw.values = {n: cells[i] for i, n in enumerate(self.names) if n}
                yield raw
        else:
            if self._first is not None:
                yield self._first
                self._first = None
            yield from self._jsonl

    def read_image(self, name: str) -> bytes:
        rel = safe_relative(name, base=f"the folder of {self.label}")
        try:
            return self.files.read(self.base + rel, max_bytes=self.limits.max_image_bytes)
        except DatasetError as exc:
            if not self.files.exists(self.base + rel) and isinstance(self.files, FolderFiles):
                raise DatasetError(
                    f"The image {rel} was not found in the folder of {self.label}. To upload images, "
                    f"put {self.label} and its images in one ZIP."
                ) from exc
            raise

    def progress(self) -> float | None:
        lines = self.table.lines if self.format == "csv" else self.lines
        return min(lines.bytes_read / self.size, 1.0)

    def close(self) -> None:
        try:
            self.stream.close()
        finally:
            super().close()


@dataclass
class _MsedSplit:
    split: str
    csv_name: str  # path of the split's CSV below the root
    folder: str  # the split's folder, e.g. "train/"
    image_dir: str | None  # where <row>.jpg live, e.g. "train/images/"


class _MsedDataset(Dataset):
    format = "msed"

    def __init__(self, files: Files, splits: list[_MsedSplit], limits: Limits):
        super().__init__(files, limits)
        self.splits = splits
        self.total = sum(files.size(s.csv_name) for s in splits) or 1
        self.done = 0
        self._current: CsvTable | None = None
        columns = {"id", "text", "image", "split", "metadata"}
        # Read every header first, so column problems are known before any row.
        for s in splits:
            with files.open(s.csv_name) as stream:
                table = CsvTable(stream, label=s.csv_name, limits=limits)
                names, problems = self._map_header(table.header, s.csv_name)
            self.column_problems += problems
            columns |= {n for n in names if n and n != "title"}
        self.columns = sorted(columns)
        self.ignorable_columns = set(MSED_LABEL_COLUMNS)
        self.display = {
            "text": "Caption",
            "inference_order": "Inference Sequence",
            "id": "Id",
            "image": "Image",
            "votes": "Votes",
            "sentiment": "Sentiment",
            "emotion": "Emotion",
            "desire": "Desire",
        }

    @staticmethod
    def _map_header(header: list[str], label: str) -> tuple[list[str | None], list[str]]:
        names: list[str | None] = []
        problems: list[str] = []
        seen: set[str] = set()
        unknown: list[str] = []
        for cell in header:
            key = re.sub(r"[\s_]+", " ", cell.strip().lower())
            if _UNNAMED.match(key):
                names.append(None)
                continue
            name = MSED_COLUMNS.get(key)
            if name is None:
                unknown.append(cell.strip())
                names.append(None)
                continue
            if name in seen:
                problems.append(f"{label}: the column {cell.strip()!r} appears twice in the header; keep one.")
            seen.add(name)
            names.append(name)
        expected = "Title, Caption, Sentiment, Emotion, Desire, Inference Sequence"
        if unknown:
            problems.append(f"{label}: unknown column(s) {', '.join(unknown)}. The MSED layout expects {expected}.")
        if "text" not in seen:
            problems.append(f"{label}: the column Caption is missing. The MSED layout expects {expected}.")
        return names, problems

    def _image_name(self, s: _MsedSplit, number: int, given: str | None) -> str | None:
        if given is not None:  # our own export names the file (or leaves it empty: no image)
            given = given.strip()
            return s.folder + given if given else None
        if s.image_dir is None:
            return f"{s.folder}images/{number}.jpg"  # reported as missing by read_image
        for suffix in IMAGE_SUFFIXES:
            name = f"{s.image_dir}{number}{suffix}"
            if self.files.exists(name):
                return name
        return f"{s.image_dir}{number}.jpg"

    def rows(self) -> Iterator[RawRow]:
        for s in self.splits:
            with self.files.open(s.csv_name) as stream:
                table = CsvTable(stream, label=s.csv_name, limits=self.limits)
                names, _ = self._map_header(table.header, s.csv_name)
                self._current = table
                width = len(names)
                for number, cells, problems in table.rows():
                    raw = RawRow(number=number, values={}, problems=[("", p) for p in problems], file=s.csv_name)
                    if len(cells) > width and any(c.strip() for c in cells[width:]):
                        raw.problems.append(
                            ("", f"this row has {len(cells)} values but the header has {width} columns.")
                        )
                    cells = cells + [""] * (width - len(cells))
                    cell = {n: cells[i] for i, n in enumerate(names) if n}
                    title = cell.pop("title", "").strip()
                    values: dict[str, Any] = {
                        "id": (cell.pop("id", "") or "").strip() or f"{s.split}-{number}",
                        "text": cell.pop("text", ""),
                        "split": s.split,
                        "metadata": {"title": title} if title else {},
                        "image": self._image_name(s, number, cell.pop("image", None)),
                    }
                    values.update(cell)
                    raw.values = values
                    yield raw
                self.done += self.files.size(s.csv_name)
                self._current = None

    def read_image(self, name: str) -> bytes:
        rel = safe_relative(name, base="the dataset")
        return self.files.read(rel, max_bytes=self.limits.max_image_bytes)

    def progress(self) -> float | None:
        current = self._current.lines.bytes_read if self._current else 0
        return min((self.done + current) / self.total, 1.0)


def _find_msed(files: Files) -> list[_MsedSplit]:
    splits: list[_MsedSplit] = []
    for split, aliases in MSED_SPLITS.items():
        for alias in aliases:
            name = f"{alias}/{alias}.csv"
            if files.exists(name):
                splits.append(_MsedSplit(split=split, csv_name=name, folder=f"{alias}/", image_dir=None))
                break
    if not splits:
        return []
    for s in splits:
        alias = s.folder.rstrip("/")
        if files.has_folder(f"{alias}/images"):
            s.image_dir = f"{alias}/images/"
        elif files.has_folder(f"images/{alias}"):
            s.image_dir = f"images/{alias}/"
        elif files.has_folder("images"):
            if len(splits) > 1:
                raise DatasetError(
                    "The dataset has a top-level images/ folder but several splits, so images/1.jpg could belong to "
                    "any of them. Put each split's images in <split>/images/ (as in the MSED release) or images/<split>/."
                )
            s.image_dir = "images/"
    return splits


def _items_format(name: str) -> str:
    return "csv" if name.lower().endswith(".csv") else "jsonl"


def _open_files(files: Files, what: str, limits: Limits) -> Dataset:
    splits = _find_msed(files)
    if splits:
        return _MsedDataset(files, splits, limits)
    candidates = [n for n in files.file_names() if n.lower().endswith(ITEM_FILE_SUFFIXES)]
    top = [n for n in candidates if "/" not in n]
    chosen = top if top else candidates
    if len(chosen) == 1:
        return _ItemsFile(files, chosen[0], limits, fmt=_items_format(chosen[0]))
    if not chosen:
        raise DatasetError(
            f"{what} holds no .csv or .jsonl file of items and is not in the MSED layout "
            "(train/train.csv, dev/dev.csv, test/test.csv)."
        )
    raise DatasetError(f"{what} holds several item files ({', '.join(chosen[:5])}); keep exactly one.")


def open_dataset(path: str | Path, *, limits: Limits | None = None) -> Dataset:
    """Open a CSV, JSONL or ZIP file, or a folder (MSED layout, or holding
    exactly one item file), ready to stream rows. Raises DatasetError."""
    limits = limits or Limits()
    path = Path(path)
    if path.is_dir():
        return _open_files(FolderFiles(path, limits=limits), "The folder", limits)
    if not path.is_file():
        raise DatasetError(f"There is no file or folder at {path}.")
    suffix = path.suffix.lower()
    if suffix == ".zip":
        files = ZipFiles(path, limits=limits)
        try:
            return _open_files(files, "The archive", limits)
        except BaseException:
            files.close()
            raise
    if suffix in ITEM_FILE_SUFFIXES:
        files = FolderFiles(path.parent, limits=limits)
        return _ItemsFile(files, path.name, limits, fmt=_items_format(path.name))
    raise DatasetError(
        f"{path.name}: unsupported file type {suffix or '(none)'!r}. Use a .csv or .jsonl file, a .zip holding one with its "
        "images, or a folder / .zip in the MSED layout."
    )


__all__ = ["Dataset", "DatasetError", "Limits", "RawRow", "open_dataset", "safe_relative", "normalise_name"]
