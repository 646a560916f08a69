"""Stream CSV, JSONL and ZIP output without holding a dataset in memory.

Rows are plain dicts; every writer is a generator, so a web response can
stream it and a command can write it to a file with the same code.
"""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK_CHARS = 64 * 1024
# The public MSED release's columns, then the ones Affect Studio adds so an
# export re-imports with its ids, text-only items and votes. The paper's
# code reads columns by name and ignores the extra ones.
MSED_HEADER = ["Title", "Caption", "Sentiment", "Emotion", "Desire", "Inference Sequence"]
MSED_EXTRA_HEADER = ["Id", "Image", "Votes"]
MSED_TASKS = {"Sentiment": "sentiment", "Emotion": "emotion", "Desire": "desire"}


def cell(value: Any) -> str:
    """One CSV cell: lists and dicts as compact JSON, None as empty."""
    if value is None:
        return ""
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


# CSV formula injection (OWASP): a spreadsheet runs a cell that starts with
# one of these as a formula (=HYPERLINK(...), +3+3, @SUM(1+1), -2+3), and
# ids, texts, label and user names come from strangers. An escaped cell gets
# one leading apostrophe, which spreadsheets show as "this is text".
# The rule, exactly reversible: a text matching '*<trigger>... (any number
# of apostrophes, then a trigger) gets one more apostrophe in front;
# unescaping removes one apostrophe from a text matching '+<trigger>...
# So "=1+2" <-> "'=1+2" and a genuine "'=1+2" <-> "''=1+2"; every other
# text ("'quoted", "2-3", "") is written and read unchanged.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(text: str) -> str:
    """`text` safe to open in a spreadsheet (see FORMULA_TRIGGERS)."""
    if text.startswith(FORMULA_TRIGGERS) or (text.startswith("'") and text.lstrip("'").startswith(FORMULA_TRIGGERS)):
        return "'" + text
    return text


def unescape_formula(text: str) -> str:
    """The original text of an escaped CSV cell (exact inverse of escape_formula)."""
    if text.startswith("'") and text.lstrip("'").startswith(FORMULA_TRIGGERS):
        return text[1:]
    return text


def csv_cell(value: Any, *, raw: bool = False) -> Any:
    """A value for csv.writer: texts formula-escaped unless `raw`; numbers
    stay numbers (a negative number is not a formula); None is empty."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = cell(value)
    return text if raw else escape_formula(text)


def csv_rows(rows: Iterable[Sequence], *, raw: bool = False) -> Iterator[str]:
    """One CSV line per row of values, every cell through csv_cell. Every
    CSV Affect Studio writes goes through here."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([csv_cell(v, raw=raw) for v in row])


class _Echo:
    """A file-like object whose write() returns the line, for csv.writer."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[str], rows: Iterable[dict], *, raw: bool = False) -> Iterator[str]:
    """The header line, then one line per row (values looked up by column);
    cells formula-escaped unless `raw` (exact values, for scripts)."""
    yield from csv_rows([header], raw=raw)
    yield from csv_rows(([row.get(column) for column in header] for row in rows), raw=raw)


def jsonl_lines(rows: Iterable[dict]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"


def batched_text(lines: Iterable[str], size: int = CHUNK_CHARS) -> Iterator[str]:
    """Join small lines into chunks of about `size` characters."""
    parts: list[str] = []
    length = 0
    for line in lines:
        parts.append(line)
        length += len(line)
        if length >= size:
            yield "".join(parts)
            parts, length = [], 0
    if parts:
        yield "".join(parts)


def encoded(chunks: Iterable[str]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk.encode("utf-8")


def write_text(path: Path, chunks: Iterable[str]) -> None:
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        for chunk in chunks:
            handle.write(chunk)


def msed_sequence(order: Sequence[str]) -> str:
    """An inference order as MSED writes it: initials joined by '-' (D-S-E),
    or full task keys when initials would be ambiguous."""
    if not order:
        return ""
    initials = [key[0].upper() for key in order]
    if len(set(initials)) == len(initials):
        return "-".join(initials)
    return " > ".join(order)


@dataclass
class ZipMember:
    """One file of a ZIP: its bytes come from `chunks` as they are written."""

    name: str
    chunks: Iterable[bytes]
    compress: bool = True
    large: bool = False  # may exceed 2 GB: write a ZIP64 header


class _Sink(io.RawIOBase):
    """An unseekable stream that keeps what was written until taken. zipfile
    writes data descriptors after each entry when it cannot seek back."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.position = 0
        self.buffered = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = bytes(data)
        self.parts.append(data)
        self.position += len(data)
        self.buffered += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts, self.buffered = [], 0
        return data


def zip_stream(members: Iterable[ZipMember], *, chunk_bytes: int = 256 * 1024) -> Iterator[bytes]:
    """A ZIP archive as a stream of byte chunks, one member after another."""
    sink = _Sink()
    now = time.localtime()[:6]
    with zipfile.ZipFile(sink, "w") as archive:
        for member in members:
            info = zipfile.ZipInfo(member.name, date_time=now)
            info.compress_type = zipfile.ZIP_DEFLATED if member.compress else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=member.large) as dest:
                for chunk in member.chunks:
                    dest.write(chunk)
                    if sink.buffered >= chunk_bytes:
                        yield sink.take()
            if sink.buffered >= chunk_bytes:
                yield sink.take()
    yield sink.take()


def write_zip(path: Path, members: Iterable[ZipMember]) -> None:
    with Path(path).open("wb") as handle:
        for chunk in zip_stream(members):
            handle.write(chunk)
