"""Model files through Django's storage API: storages["models"] (MODEL_DIR on a fresh install).

    runs/<run id>/    a training run's artefact (artefact.json, weights, tokenizer), written by its worker
    weights/<name>    text encoders (folders holding a config.json) and image weights an operator offers

Pages and the API only ask the storage (is a run's artefact there, which
weights are offered); they never touch a path. Training and prediction
workers need real folders for PyTorch and transformers: a FileSystemStorage
gives its own (no copy); any other storage (S3 with django-storages) gives
a local copy (annotator.storage.local_copy, `writing_run_folder`,
`ensure_local_weights`). Cached encoder features stay in a folder on each
worker (`feature_cache_dir`): a cache any worker can rebuild, read in many
small pieces, so it is never put on shared storage.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.utils.functional import cached_property

from annotator.storage import MISSING, delete_tree, list_files, local_copy, upload_folder

MODELS = "models"
RUNS = "runs"
WEIGHTS = "weights"
ARTEFACT_META = "artefact.json"  # inference.modeling.prediction.ARTEFACT_META, without importing torch


class ModelDirStorage(FileSystemStorage):
    """FileSystemStorage rooted at settings.MODEL_DIR (followed when it
    changes, as the default storage follows MEDIA_ROOT). Model files have
    no URL: nothing serves them."""

    @cached_property
    def base_location(self):
        return self._value_or_setting(self._location, settings.MODEL_DIR)

    @cached_property
    def base_url(self):
        return None

    def _clear_cached_properties(self, setting, **kwargs):
        super()._clear_cached_properties(setting, **kwargs)
        if setting == "MODEL_DIR":
            self.__dict__.pop("base_location", None)
            self.__dict__.pop("location", None)


def model_storage() -> Storage:
    return storages[MODELS]


def _local_root(storage: Storage) -> Path | None:
    return Path(storage.location) if isinstance(storage, FileSystemStorage) else None


# ----------------------------------------------------------------- run artefacts


def run_name(run_id: int) -> str:
    """The stored name of a run's artefact folder (TrainingRun.artefact_path)."""
    return f"{RUNS}/{int(run_id)}"


def has_run_files(run_id: int) -> bool:
    """Whether a run's artefact is stored (its artefact.json is written last)."""
    return model_storage().exists(f"{run_name(run_id)}/{ARTEFACT_META}")


def read_run_meta(run_id: int) -> dict[str, Any]:
    """The run's artefact.json. Raises OSError when it is missing, ValueError when unreadable."""
    try:
        with model_storage().open(f"{run_name(run_id)}/{ARTEFACT_META}", "rb") as handle:
            return json.loads(handle.read())
    except MISSING as exc:
        raise FileNotFoundError(run_name(run_id)) from exc


@contextmanager
def local_run_folder(run_id: int) -> Iterator[Path]:
    """A folder on this machine holding the run's artefact while the block
    runs (load_model reads the tokenizer and encoders lazily, so keep it
    open as long as the model is used)."""
    with local_copy(model_storage(), run_name(run_id)) as folder:
        yield folder


def _scratch_runs() -> Path:
    """Where a worker writes artefacts before they go to a storage that is not a local folder."""
    return Path(tempfile.gettempdir()) / "affect-runs"


def writing_run_folder(run_id: int) -> Path:
    """The folder train() writes the run's artefact into (it writes a
    temporary sibling and renames it into place). In a FileSystemStorage
    that is the stored folder itself; otherwise a local scratch folder
    that `publish_run_folder` uploads."""
    root = _local_root(model_storage())
    if root is not None:
        return root / RUNS / str(int(run_id))
    _scratch_runs().mkdir(parents=True, exist_ok=True)
    return _scratch_runs() / str(int(run_id))


def publish_run_folder(run_id: int, folder: Path) -> None:
    """Store what train() wrote into writing_run_folder(run_id) (nothing to
    do for a FileSystemStorage). artefact.json goes last, so has_run_files
    never sees a half-uploaded artefact."""
    storage = model_storage()
    if _local_root(storage) is not None:
        return
    name = run_name(run_id)
    delete_tree(storage, name)
    for path in sorted(Path(folder).rglob("*"), key=lambda p: p.name == ARTEFACT_META):
        if path.is_file():
            upload_folder(storage, path, f"{name}/{path.relative_to(folder).as_posix()}")
    shutil.rmtree(folder, ignore_errors=True)


def remove_run_files(run_id: int) -> None:
    """The run's stored artefact, any temporary sibling a killed write left
    (runs/.<id>.tmp-*), and this worker's scratch copy."""
    storage = model_storage()
    delete_tree(storage, run_name(run_id))
    root = _local_root(storage)
    for parent in ([root / RUNS] if root is not None else []) + [_scratch_runs()]:
        if parent.is_dir():
            for stale in parent.glob(f".{int(run_id)}.tmp-*"):
                shutil.rmtree(stale, ignore_errors=True)
    shutil.rmtree(_scratch_runs() / str(int(run_id)), ignore_errors=True)


def list_run_entries() -> list[str]:
    """Names directly under runs/: artefact folders (<id>) and leftovers of killed writes (.<id>.tmp-*)."""
    try:
        folders, files = model_storage().listdir(RUNS)
    except MISSING:
        return []
    return sorted(folders + files)


def remove_run_entry(name: str) -> None:
    delete_tree(model_storage(), f"{RUNS}/{PurePosixPath(name).name}")


# ----------------------------------------------------------------- offered weights


def offered_weights() -> tuple[list[str], list[str]]:
    """(text encoder folders, image weight files) an operator placed in
    weights/: folders holding a config.json, and plain files."""
    storage = model_storage()
    try:
        folders, files = storage.listdir(WEIGHTS)
    except MISSING:
        return [], []
    encoders = [
        name for name in sorted(folders) if not name.startswith(".") and storage.exists(f"{WEIGHTS}/{name}/config.json")
    ]
    return encoders, [name for name in sorted(files) if not name.startswith(".")]


def weights_dir() -> Path:
    """Where a worker finds offered weights on its own disk: MODEL_DIR/weights
    (with a storage that is not a local folder, a copy fetched by
    ensure_local_weights). Training options name offered weights by their
    path here, which only a worker opens."""
    return Path(settings.MODEL_DIR) / WEIGHTS


def ensure_local_weights(config: dict[str, Any]) -> None:
    """Worker side, before training or loading a model: fetch the offered
    weights the run's options name from the storage into weights_dir()
    when they are not on this machine yet (never for a FileSystemStorage,
    whose weights_dir() is the stored folder itself)."""
    storage = model_storage()
    if _local_root(storage) is not None:
        return
    local = weights_dir().absolute()
    for key in ("text_encoder", "tokenizer", "image_weights"):
        value = config.get(key)
        if not isinstance(value, str) or Path(value).parent != local or Path(value).exists():
            continue
        name = Path(value).name
        files = list(list_files(storage, f"{WEIGHTS}/{name}")) or [f"{WEIGHTS}/{name}"]
        part = local / f".{name}.part"
        shutil.rmtree(part, ignore_errors=True)
        for stored in files:
            relative = PurePosixPath(stored).relative_to(f"{WEIGHTS}/{name}")
            target = part / relative if str(relative) != "." else part
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with storage.open(stored, "rb") as source, target.open("wb") as out:
                    shutil.copyfileobj(source, out)
            except MISSING:
                break  # not offered any more: the encoder reports the missing path
        if part.exists():
            part.rename(Path(value))


# ----------------------------------------------------------------- cached features


def feature_cache_dir() -> Path:
    """Encoder outputs shared by every run and prediction on this worker
    (inference.modeling.features). INFERENCE_FEATURE_CACHE_DIR (optional
    setting) moves it out of MODEL_DIR; entries are keyed by encoder
    identity and content hash, so a cache may be shared safely."""
    custom = getattr(settings, "INFERENCE_FEATURE_CACHE_DIR", None)
    return Path(custom) if custom else Path(settings.MODEL_DIR) / "features"
