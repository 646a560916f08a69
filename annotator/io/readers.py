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
gold_<task>_source, gold_<task>_support.
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from . import DatasetError
from .jsonsafe import JSONProblem
from .jsonsafe import loads as json_loads
from .writers import unescape_formula
from .zipsafe import UnsafeArchive, normalise_name, open_entry, read_entry, safe_entries

_MB = 1024 * 1024
_BOM = b"\xef\xbb\xbf"
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


@dataclass(frozen=True)
class Limits:
    max_image_bytes: int = 20 * _MB
    max_image_pixels: int = 40_000_000
    max_zip_bytes: int = 8192 * _MB
    max_zip_ratio: int = 200
    max_items_file_bytes: int = 8192 * _MB
    max_line_bytes: int = 16 * _MB
    # Reading option, not a limit: True keeps CSV cells exactly as written
    # (a raw export); False removes the ' our safe exports put before = + - @.
    raw_cells: bool = False


@dataclass
class RawRow:
    """One data row as read: values by generic column name (strings from a
    CSV, JSON values from JSONL), plus problems met while reading it."""

    number: int
    values: dict[str, Any]
    problems: list[tuple[str, str]] = field(default_factory=list)
    file: str = ""


def encoding_hint() -> str:
    return "The file must be UTF-8 encoded: save it again as UTF-8 (in Excel: 'CSV UTF-8 (comma delimited)')."


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


# ----------------------------------------------------------------- file access


class _Files:
    """Read-only access to named files below a root (a folder or a ZIP)."""

    label = ""

    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def has_folder(self, prefix: str) -> bool:
        raise NotImplementedError

    def size(self, name: str) -> int:
        raise NotImplementedError

    def open(self, name: str) -> BinaryIO:
        raise NotImplementedError

    def read(self, name: str, *, max_bytes: int) -> bytes:
        raise NotImplementedError

    def file_names(self) -> list[str]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _FolderFiles(_Files):
    def __init__(self, root: Path, *, limits: Limits):
        self.root, self._resolved, self.limits = root, root.resolve(), limits
        self.label = "the folder"

    def _path(self, name: str) -> Path:
        path = self.root / name
        resolved = path.resolve()
        if resolved != self._resolved and self._resolved not in resolved.parents:
            raise DatasetError(
                f"{name} points outside the dataset folder (through a symbolic link); copy the file in instead."
            )
        return path

    def exists(self, name: str) -> bool:
        try:
            return self._path(name).is_file()
        except DatasetError:
            return True  # let read() report why it is refused

    def has_folder(self, prefix: str) -> bool:
        return (self.root / prefix).is_dir()

    def size(self, name: str) -> int:
        return self._path(name).stat().st_size

    def open(self, name: str) -> BinaryIO:
        return self._path(name).open("rb")

    def read(self, name: str, *, max_bytes: int) -> bytes:
        path = self._path(name)
        if not path.is_file():
            raise DatasetError(f"The image {name} was not found.")
        size = path.stat().st_size
        if size > max_bytes:
            raise DatasetError(f"{name} is {size / _MB:.1f} MB; images may be at most {max_bytes / _MB:.0f} MB.")
        return path.read_bytes()

    def file_names(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_file())


class _ZipFiles(_Files):
    def __init__(self, path: Path, *, limits: Limits):
        self.limits = limits
        self.label = "the archive"
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DatasetError(f"{path.name} is not a readable ZIP archive; zip the files again.") from exc
        try:
            entries = safe_entries(self.zf, max_total_bytes=limits.max_zip_bytes, max_ratio=limits.max_zip_ratio)
        except UnsafeArchive:
            self.zf.close()
            raise
        # Look through one folder that wraps everything ("compress folder").
        tops = {name.split("/", 1)[0] for name in entries}
        prefix = ""
        if len(tops) == 1 and all("/" in name for name in entries):
            prefix = tops.pop() + "/"
        self.entries = {name[len(prefix) :]: info for name, info in entries.items()}
        self.folders = set()
        for name in self.entries:
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                self.folders.add("/".join(parts[:i]))

    def exists(self, name: str) -> bool:
        return name in self.entries

    def has_folder(self, prefix: str) -> bool:
        return prefix.rstrip("/") in self.folders

    def size(self, name: str) -> int:
        return self.entries[name].file_size

    def open(self, name: str) -> BinaryIO:
        return open_entry(self.zf, self.entries[name], max_bytes=self.limits.max_items_file_bytes)

    def read(self, name: str, *, max_bytes: int) -> bytes:
        info = self.entries.get(name)
        if info is None:
            raise DatasetError(f"The image {name} is not in the archive.")
        if info.file_size > max_bytes:
            raise DatasetError(
                f"{name} is {info.file_size / _MB:.1f} MB; images may be at most {max_bytes / _MB:.0f} MB."
            )
        return read_entry(self.zf, info, max_bytes=max_bytes)

    def file_names(self) -> list[str]:
        return sorted(self.entries)

    def close(self) -> None:
        self.zf.close()


# ----------------------------------------------------------------- line reading


class _Lines:
    """Decode a binary stream line by line, recording (not raising) bytes
    that are not UTF-8 so the caller can blame the row they belong to."""

    def __init__(self, stream: BinaryIO, *, max_line_bytes: int, label: str):
        self.stream, self.max_line_bytes, self.label = stream, max_line_bytes, label
        self.bytes_read = 0
        self.pending: list[str] = []

    def _binary(self) -> Iterator[tuple[bytes, int]]:
        buf, offset = b"", 0
        while True:
            chunk = self.stream.read(1 << 16)
            if not chunk:
                break
            self.bytes_read += len(chunk)
            buf += chunk
            start = 0
            while True:
                nl = buf.find(b"\n", start)
                if nl < 0:
                    break
                yield buf[start : nl + 1], offset
                offset += nl + 1 - start
                start = nl + 1
            buf = buf[start:]
            if len(buf) > self.max_line_bytes:
                raise DatasetError(
                    f"{self.label}: the line starting at byte {offset:,} is longer than {self.max_line_bytes // _MB} MB; "
                    "is this really a CSV or JSONL file?"
                )
        if buf:
            yield buf, offset

    def __iter__(self) -> Iterator[str]:
        first = True
        for raw, offset in self._binary():
            if first:
                first = False
                if raw.startswith(_BOM):  # Excel's "CSV UTF-8" starts with a byte-order mark
                    raw, offset = raw[3:], offset + 3
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = raw[exc.start]
                self.pending.append(
                    f"byte 0x{bad:02X} at byte {offset + exc.start:,} of the file is not valid UTF-8. {encoding_hint()}"
                )
                yield raw.decode("utf-8", "replace")

    def take_problems(self) -> list[str]:
        problems, self.pending = self.pending, []
        return problems


class _CsvTable:
    """A CSV file as a header and numbered data rows."""

    def __init__(self, stream: BinaryIO, *, label: str, limits: Limits):
        self.label = label
        self.lines = _Lines(stream, max_line_bytes=limits.max_line_bytes, label=label)
        # strict: a quote left open is an error, not a value that runs to the end of the file.
        self.reader = csv.reader(iter(self.lines), strict=True)
        self.unescape = not limits.raw_cells
        self.start_line = 1
        self.header: list[str] = []
        for cells in self._cells():
            problems = self.lines.take_problems()
            if not any(c.strip() for c in cells):
                continue
            if problems:
                raise DatasetError(f"{label}: the header row is not valid UTF-8 ({problems[0]})")
            if any("\x00" in c for c in cells):
                raise DatasetError(
                    f"{label}: the header row contains a NUL character (byte 0); is this really a CSV file?"
                )
            self.header = cells
            break
        if not self.header:
            raise DatasetError(f"{label} is empty: it needs a header row naming its columns, then one row per item.")

    def _cells(self) -> Iterator[list[str]]:
        while True:
            self.start_line = self.reader.line_num + 1
            try:
                cells = next(self.reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DatasetError(self._csv_problem(str(exc))) from exc
            yield [unescape_formula(c) for c in cells] if self.unescape else cells

    def _csv_problem(self, error: str) -> str:
        """csv.Error's text, said in plain words with the line it concerns."""
        quoting = 'a quote inside a value is written twice ("").'
        if "end of data" in error:
            return (
                f"{self.label}: the quoted value that starts on line {self.start_line} is never closed, so every line "
                f"after it would be read into it. Add the closing quote; {quoting}"
            )
        if "new-line character" in error:
            return (
                f"{self.label}: line {self.reader.line_num} has a line break (a carriage return) inside a value that is "
                "not in quotes. Put that value in double quotes, or save the file again with ordinary line ends "
                "(in Excel: 'CSV UTF-8 (comma delimited)')."
            )
        if "field limit" in error:
            return (
                f"{self.label}: the value starting on line {self.start_line} is longer than {csv.field_size_limit():,} "
                "characters; is a quote left open?"
            )
        return (
            f"{self.label}: line {self.reader.line_num} is not valid CSV: a quoted value must be followed by a comma "
            f"or the end of the line; {quoting}"
        )

    def rows(self) -> Iterator[tuple[int, list[str], list[str]]]:
        number = 0
        for cells in self._cells():
            problems = self.lines.take_problems()
            if not any(c.strip() for c in cells) and not problems:
                continue  # blank line
            number += 1
            yield number, cells, problems


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

    def __init__(self, files: _Files, limits: Limits):
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

    def __init__(self, files: _Files, name: str, limits: Limits, *, fmt: str):
        super().__init__(files, limits)
        self.name, self.format = name, fmt
        self.base = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
        self.size = files.size(name) or 1
        self.stream = files.open(name)
        self.label = name.rsplit("/", 1)[-1]
        self._first: RawRow | None = None
        if fmt == "csv":
            self.table = _CsvTable(self.stream, label=self.label, limits=limits)
            self.names, self.display, self.column_problems = _normalise_header(self.table.header, self.label)
            self.columns = [n for n in self.names if n]
        else:
            self.per_row_keys = True
            self.lines = _Lines(self.stream, max_line_bytes=limits.max_line_bytes, label=self.label)
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
            if not self.files.exists(self.base + rel) and isinstance(self.files, _FolderFiles):
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

    def __init__(self, files: _Files, splits: list[_MsedSplit], limits: Limits):
        super().__init__(files, limits)
        self.splits = splits
        self.total = sum(files.size(s.csv_name) for s in splits) or 1
        self.done = 0
        self._current: _CsvTable | None = None
        columns = {"id", "text", "image", "split", "metadata"}
        # Read every header first, so column problems are known before any row.
        for s in splits:
            with files.open(s.csv_name) as stream:
                table = _CsvTable(stream, label=s.csv_name, limits=limits)
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
                table = _CsvTable(stream, label=s.csv_name, limits=self.limits)
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


def _find_msed(files: _Files) -> list[_MsedSplit]:
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


def _open_files(files: _Files, what: str, limits: Limits) -> Dataset:
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
        return _open_files(_FolderFiles(path, limits=limits), "The folder", limits)
    if not path.is_file():
        raise DatasetError(f"There is no file or folder at {path}.")
    suffix = path.suffix.lower()
    if suffix == ".zip":
        files = _ZipFiles(path, limits=limits)
        try:
            return _open_files(files, "The archive", limits)
        except BaseException:
            files.close()
            raise
    if suffix in ITEM_FILE_SUFFIXES:
        files = _FolderFiles(path.parent, limits=limits)
        return _ItemsFile(files, path.name, limits, fmt=_items_format(path.name))
    raise DatasetError(
        f"{path.name}: unsupported file type {suffix or '(none)'!r}. Use a .csv or .jsonl file, a .zip holding one with its "
        "images, or a folder / .zip in the MSED layout."
    )


__all__ = ["Dataset", "DatasetError", "Limits", "RawRow", "open_dataset", "safe_relative", "normalise_name"]
