"""Refuse ZIP archives that could hurt us: names that escape the archive
(`../`, absolute paths, drive letters), symbolic links, encrypted or
duplicate entries, and size bombs (declared total size, compression ratio,
and a cap on the bytes actually read, since declared sizes can lie).

Every entry is checked, not only the ones an import reads: one bad entry
refuses the whole archive.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
from typing import BinaryIO

from . import DatasetError

_MB = 1024 * 1024
# Text compresses 5-20x; far above that, a big entry is more likely a bomb
# than data. Small entries may compress a lot legitimately.
DEFAULT_MAX_RATIO = 200
RATIO_CHECK_ABOVE_BYTES = 1 * _MB
DEFAULT_MAX_ENTRIES = 1_000_000
_DRIVE = re.compile(r"^[A-Za-z]:")
# macOS Finder adds these to every archive it makes.
_IGNORED_PREFIXES = ("__MACOSX/",)


class UnsafeArchive(DatasetError):
    """The archive was refused."""


def normalise_name(raw: str) -> str:
    """The entry's path with '/' separators, or UnsafeArchive if it could
    point outside the folder the archive stands for."""
    name = raw.replace("\\", "/")
    if "\x00" in name:
        raise UnsafeArchive(f"The ZIP entry {raw!r} has a NUL character in its name; the archive was refused.")
    if name.startswith("/") or _DRIVE.match(name):
        raise UnsafeArchive(
            f"The ZIP entry {raw!r} has an absolute path; entries must be relative paths. The archive was refused."
        )
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(
            f"The ZIP entry {raw!r} points outside the archive ('..' in its path); the archive was refused."
        )
    return "/".join(parts) + ("/" if name.endswith("/") else "")


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return info.create_system == 3 and stat.S_ISLNK(mode)


def safe_entries(
    zf: zipfile.ZipFile,
    *,
    max_total_bytes: int,
    max_ratio: int = DEFAULT_MAX_RATIO,
    max_entries: int = DEFAULT_MAX_ENTRIES,
) -> dict[str, zipfile.ZipInfo]:
    """Check every entry and return the files by normalised name (folders
    and macOS metadata left out). Raises UnsafeArchive naming the entry."""
    infos = zf.infolist()
    if len(infos) > max_entries:
        raise UnsafeArchive(f"The archive has {len(infos):,} entries, more than the {max_entries:,} allowed.")
    files: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = normalise_name(info.filename)
        if _is_symlink(info):
            raise UnsafeArchive(
                f"The ZIP entry {info.filename!r} is a symbolic link; links are not allowed. The archive was refused."
            )
        if info.flag_bits & 0x1:
            raise UnsafeArchive(f"The ZIP entry {info.filename!r} is encrypted; upload an archive without a password.")
        total += info.file_size
        if total > max_total_bytes:
            raise UnsafeArchive(
                f"The archive unpacks to more than {max_total_bytes / _MB:,.0f} MB; split it into smaller archives."
            )
        if info.file_size > RATIO_CHECK_ABOVE_BYTES and info.file_size > max_ratio * max(info.compress_size, 1):
            raise UnsafeArchive(
                f"The ZIP entry {info.filename!r} is compressed more than {max_ratio}:1 "
                f"({info.compress_size:,} bytes unpack to {info.file_size:,}); it looks like a ZIP bomb and the archive was refused."
            )
        if (
            info.is_dir()
            or name.endswith("/")
            or name.startswith(_IGNORED_PREFIXES)
            or name.rsplit("/", 1)[-1] == ".DS_Store"
        ):
            continue
        if name in files:
            raise UnsafeArchive(f"The archive holds {name!r} twice; keep one copy and zip it again.")
        files[name] = info
    return files


class CappedReader(io.RawIOBase):
    """A read-only stream that raises once more than `max_bytes` came out:
    a lying header cannot make us inflate more than we allowed."""

    def __init__(self, raw: BinaryIO, *, max_bytes: int, name: str):
        self._raw, self._left, self._max, self._name = raw, max_bytes, max_bytes, name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._raw.read(min(len(buffer), self._left + 1))
        if len(data) > self._left:
            raise UnsafeArchive(f"{self._name} unpacks to more than {self._max:,} bytes; the archive was refused.")
        self._left -= len(data)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


def open_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, *, max_bytes: int) -> CappedReader:
    try:
        raw = zf.open(info)
    except NotImplementedError as exc:
        raise UnsafeArchive(
            f"The ZIP entry {info.filename!r} uses a compression method we cannot read; zip it again with the usual method (deflate)."
        ) from exc
    except RuntimeError as exc:  # zipfile's "password required"
        raise UnsafeArchive(
            f"The ZIP entry {info.filename!r} cannot be read: is the archive password-protected? Zip it without a password."
        ) from exc
    except zipfile.BadZipFile as exc:
        raise UnsafeArchive(f"The ZIP entry {info.filename!r} is damaged; zip the files again.") from exc
    return CappedReader(raw, max_bytes=max_bytes, name=info.filename)


def read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, *, max_bytes: int) -> bytes:
    """The whole entry, refusing it when its declared or real size is above max_bytes."""
    if info.file_size > max_bytes:
        raise UnsafeArchive(f"{info.filename} is {info.file_size:,} bytes, more than the {max_bytes:,} allowed.")
    with open_entry(zf, info, max_bytes=max_bytes) as stream:
        try:
            return stream.read()
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise UnsafeArchive(f"The ZIP entry {info.filename!r} is damaged; zip the files again.") from exc
