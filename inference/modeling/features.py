"""On-disk cache of encoder outputs, keyed by encoder identity and content hash.

Encoding an image with EfficientNet-Lite0 costs tens of milliseconds on a CPU
core; training the fusion and heads on 6k cached vectors takes seconds. So
every image (and, for the `cached` recipe, every text) is encoded once per
encoder and reused by every later run and prediction.

Layout: <directory>/<encoder slug>-<12 hex of sha256(identity)>/<2 hex>/<sha256>.npy,
plus identity.txt per encoder folder for people browsing the cache.
Writes go to a temporary file in the same folder and are renamed over the
final name with os.replace, so a reader sees either nothing or a whole array,
even when two workers write the same key or a worker is killed mid-write.
(Atomic against crashes of the process, not against power loss: no fsync,
which would cost milliseconds per small file.)
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

_HASH_RE = re.compile(r"^[0-9a-f]{16,128}$")


class FeatureCache:
    """get / put float32 numpy arrays by (encoder identity, content sha256)."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0

    def _folder(self, encoder_id: str) -> Path:
        digest = hashlib.sha256(encoder_id.encode("utf-8")).hexdigest()[:12]
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", encoder_id)[:48].strip("_.") or "encoder"
        return self.directory / f"{slug}-{digest}"

    def path(self, encoder_id: str, content_hash: str) -> Path:
        content_hash = content_hash.lower()
        if not _HASH_RE.match(content_hash):
            raise ValueError(f"content hash must be hex (sha256), got {content_hash!r}")
        return self._folder(encoder_id) / content_hash[:2] / f"{content_hash}.npy"

    def get(self, encoder_id: str, content_hash: str) -> np.ndarray | None:
        """The cached array, or None when absent or unreadable."""
        path = self.path(encoder_id, content_hash)
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            self.misses += 1
            return None
        self.hits += 1
        return array

    def put(self, encoder_id: str, content_hash: str, array: np.ndarray) -> Path:
        """Store an array atomically (temp file + os.replace); returns its path."""
        path = self.path(encoder_id, content_hash)
        folder = path.parent
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            identity = folder.parent / "identity.txt"
            if not identity.exists():
                _atomic_write_bytes(identity, (encoder_id + "\n").encode("utf-8"))
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.stem[:8]}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.save(handle, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        return path

    def __contains__(self, key: tuple[str, str]) -> bool:
        return self.path(*key).is_file()


def cached_features(
    cache: FeatureCache | None,
    encoder_id: str,
    hashes: Sequence[str],
    inputs: Sequence,
    encode: Callable[[list], np.ndarray],
    dim: int,
    *,
    batch_size: int = 32,
    should_stop: Callable[[], bool] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    size: Callable[[Any], int] | None = None,
) -> tuple[np.ndarray, int]:
    """Features (len(inputs), dim) for inputs, encoding only cache misses.

    hashes[i] keys inputs[i]; duplicates are encoded once. encode(list of
    inputs) must return an array (len, dim). Returns (features, number of
    inputs actually encoded). should_stop is polled between batches and
    raises Cancelled; arrays encoded so far stay cached. size(input), when
    given, orders the misses by size before batching, so a batch holds inputs
    of similar length (texts: a batch pads to its longest, so sorting encodes
    MSED's captions about 2.5x faster, with the same features).
    """
    features = np.zeros((len(inputs), dim), dtype=np.float32)
    todo: dict[str, list[int]] = {}
    for row, content_hash in enumerate(hashes):
        if content_hash in todo:
            todo[content_hash].append(row)
            continue
        array = cache.get(encoder_id, content_hash) if cache is not None else None
        if array is not None and array.shape == (dim,):
            features[row] = array
            # A later duplicate of this hash reads the cache again: cheap.
        else:
            todo[content_hash] = [row]
    pending = list(todo.items())
    if size is not None:
        pending.sort(key=lambda entry: size(inputs[entry[1][0]]))
    done = 0
    for start in range(0, len(pending), batch_size):
        if should_stop is not None and should_stop():
            raise Cancelled("cancelled while encoding features")
        chunk = pending[start : start + batch_size]
        encoded = np.asarray(encode([inputs[rows[0]] for _, rows in chunk]), dtype=np.float32)
        for (content_hash, rows), vector in zip(chunk, encoded):
            features[rows] = vector
            # A NaN row marks an input the encoder could not read: never cache it.
            if cache is not None and np.isfinite(vector).all():
                cache.put(encoder_id, content_hash, vector)
        done += len(chunk)
        if on_batch is not None:
            on_batch(done, len(pending))
    return features, len(pending)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in 4 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


class Cancelled(Exception):
    """should_stop() answered True; the caller abandons the run."""


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _unlink_quietly(path: str | os.PathLike[str]) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
