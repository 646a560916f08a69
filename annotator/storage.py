"""Where stored files live: every media read and write goes through Django's storage API.

storages["default"] (STORAGES in settings; MEDIA_ROOT on a fresh install,
an S3-compatible bucket with django-storages when web and workers run on
different machines) holds
  * images, content-addressed: ImageAsset.file is images/ab/<sha256>.<ext>;
  * uploaded datasets waiting for their import: imports/<uuid>/<name>.
No code outside this module joins MEDIA_ROOT paths. A stored name cannot
leave the storage's root: FileSystemStorage refuses it with
SuspiciousFileOperation, which every reader here treats as a missing file.

Web code only opens, saves, measures and deletes through the storage. Real
paths on this machine are handed out in two places only, both for worker
code that can only read paths: `local_copy` (the dataset readers on an
upload; transformers and torch on a run's folder) and `local_image_path`
(the training and prediction image loaders). A FileSystemStorage gives its
own paths; any other storage a temporary copy (images: a cached copy named
by content hash).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.http import Http404

from .models import ImageAsset

MEDIA = "default"
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp", "BMP": "image/bmp"}
_CHUNK = 1024 * 1024
# Names a missing or unsafe stored file raises on open.
MISSING = (FileNotFoundError, IsADirectoryError, NotADirectoryError, SuspiciousFileOperation)


def media_storage() -> Storage:
    return storages[MEDIA]


# ----------------------------------------------------------------- images


def open_image(name: str) -> File:
    """The stored image `name` opened for binary reading.
    Raises FileNotFoundError when it is missing (or its name leaves the storage)."""
    try:
        return media_storage().open(name, "rb")
    except MISSING as exc:
        raise FileNotFoundError(name) from exc


def open_image_file(asset: ImageAsset) -> tuple[File, str]:
    """(binary file handle, content type) of a stored image; 404 if the file is gone."""
    try:
        handle = open_image(asset.file)
    except FileNotFoundError as exc:
        raise Http404("The image file is missing from storage.") from exc
    return handle, CONTENT_TYPES.get(asset.format.upper(), "application/octet-stream")


def iter_image_chunks(name: str) -> Iterator[bytes]:
    """The bytes of a stored image in chunks (exports stream them into ZIPs)."""
    with open_image(name) as handle:
        while chunk := handle.read(_CHUNK):
            yield chunk


def image_exists(name: str) -> bool:
    try:
        return media_storage().exists(name)
    except SuspiciousFileOperation:
        return False


def save_image(name: str, data: bytes) -> bool:
    """Store `data` under its content-addressed `name` (ImageInfo.storage_name).
    Returns False when those bytes are stored already, True when this call
    wrote the file (the caller removes it again if its transaction fails).
    A file of another size under the name is what a killed write left half
    done: it is replaced."""
    storage = media_storage()
    if storage.exists(name):
        if storage.size(name) == len(data):
            return False
        storage.delete(name)
    saved = storage.save(name, ContentFile(data))
    if saved != name:
        # Race: a concurrent import stored the same bytes between exists()
        # and save(), and the storage picked another name for ours.
        storage.delete(saved)
        return False
    return True


def delete_file(name: str) -> None:
    """Remove one stored file; a missing one is not an error."""
    try:
        media_storage().delete(name)
    except MISSING:
        pass


# ----------------------------------------------------------------- any stored file or folder


def list_files(storage: Storage, prefix: str) -> Iterator[str]:
    """Names of every file below the stored folder `prefix` (none when it is missing)."""
    try:
        folders, files = storage.listdir(prefix)
    except (*MISSING, FileExistsError):  # InMemoryStorage says FileExistsError for a file
        return
    for name in files:
        yield f"{prefix}/{name}"
    for folder in folders:
        yield from list_files(storage, f"{prefix}/{folder}")


def upload_folder(storage: Storage, source: Path, prefix: str) -> None:
    """Store the local file or folder `source` under `prefix` (a folder keeps
    its layout). Symbolic links inside a folder are left out: what they point
    at is not part of the folder."""
    if source.is_file():
        with source.open("rb") as handle:
            _save_exactly(storage, prefix, handle)
        return
    for path in sorted(source.rglob("*")):
        if path.is_file() and not any(
            p.is_symlink() for p in [path, *path.parents] if p != source and p.is_relative_to(source)
        ):
            with path.open("rb") as handle:
                _save_exactly(storage, f"{prefix}/{path.relative_to(source).as_posix()}", handle)


def _save_exactly(storage: Storage, name: str, handle) -> None:
    storage.delete(name)
    storage.save(name, File(handle, name=PurePosixPath(name).name))


def delete_tree(storage: Storage, prefix: str) -> None:
    """Remove the stored folder `prefix` and everything below it."""
    if isinstance(storage, FileSystemStorage):
        try:
            shutil.rmtree(storage.path(prefix), ignore_errors=True)
        except SuspiciousFileOperation:
            pass
        return
    for name in list(list_files(storage, prefix)):
        storage.delete(name)


@contextmanager
def local_copy(storage: Storage, name: str) -> Iterator[Path]:
    """A path on this machine for the stored file or folder `name`, for
    worker code that can only read paths (zipfile on an uploaded dataset,
    transformers' from_pretrained, torch on a run's folder).

    The one place a stored file becomes a path: a FileSystemStorage gives
    its own path (no copy); any other storage (S3, memory) gives a
    temporary copy, removed when the block ends. Raises FileNotFoundError
    when nothing is stored under `name`."""
    if isinstance(storage, FileSystemStorage):
        try:
            path = Path(storage.path(name))
        except SuspiciousFileOperation as exc:
            raise FileNotFoundError(name) from exc
        if not path.exists():
            raise FileNotFoundError(name)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="affect-copy-") as tmp:
        dest = Path(tmp) / (PurePosixPath(name).name or "file")
        files = list(list_files(storage, name))
        if files:
            for stored in files:
                target = dest / PurePosixPath(stored).relative_to(name)
                target.parent.mkdir(parents=True, exist_ok=True)
                _download(storage, stored, target)
        else:
            _download(storage, name, dest)
        yield dest


def _download(storage: Storage, name: str, dest: Path) -> None:
    try:
        source = storage.open(name, "rb")
    except MISSING as exc:
        raise FileNotFoundError(name) from exc
    with source, dest.open("wb") as out:
        for chunk in source.chunks(_CHUNK):
            out.write(chunk)


def local_image_path(name: str | None) -> str | None:
    """A path on this machine for a stored image, for the training and
    prediction workers (their image loaders read paths); None without one.

    A FileSystemStorage gives its own path. Any other storage: the image is
    copied once into IMAGE_CACHE_DIR; the name is the content hash, so a
    cached copy never goes stale. A missing image gives a path that does
    not exist (the modeling code then treats the item as text-only)."""
    if not name:
        return None
    storage = media_storage()
    if isinstance(storage, FileSystemStorage):
        try:
            return storage.path(name)
        except SuspiciousFileOperation:
            return None
    cache_dir = Path(settings.IMAGE_CACHE_DIR)
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    dest = cache_dir / f"{digest}-{PurePosixPath(name).name}"
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        try:
            _download(storage, name, part)
            os.replace(part, dest)  # atomic: another worker never reads half a file
        except FileNotFoundError:
            part.unlink(missing_ok=True)
    return str(dest)
