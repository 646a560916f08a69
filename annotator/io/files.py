"""Read-only access to the files of a dataset, whatever its packaging: a folder or a ZIP.

Also the two line-level parsers every layout shares: `Lines` decodes a text
stream line by line (UTF-8, with a bounded line length), `CsvTable` parses
strict CSV on top of it (a quote left open is a file error naming its line).
Nothing here reads a whole file into memory.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from . import DatasetError
from .writers import unescape_formula
from .zipsafe import UnsafeArchive, open_entry, read_entry, safe_entries

_MB = 1024 * 1024
_BOM = b"\xef\xbb\xbf"


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


def encoding_hint() -> str:
    return "The file must be UTF-8 encoded: save it again as UTF-8 (in Excel: 'CSV UTF-8 (comma delimited)')."


# ----------------------------------------------------------------- file access


class Files:
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


class FolderFiles(Files):
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


class ZipFiles(Files):
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


class Lines:
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


class CsvTable:
    """A CSV file as a header and numbered data rows."""

    def __init__(self, stream: BinaryIO, *, label: str, limits: Limits):
        self.label = label
        self.lines = Lines(stream, max_line_bytes=limits.max_line_bytes, label=label)
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
