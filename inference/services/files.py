"""Where model files live on the server, and how answers speak of them.

Run artefacts under MODEL_DIR/runs/<id>, the shared feature cache, the
weights an operator offers (MODEL_DIR/weights), and the helpers that keep
absolute server paths out of pages and API answers.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from django.conf import settings


def runs_dir() -> Path:
    return Path(settings.MODEL_DIR) / "runs"


def feature_cache_dir() -> Path:
    """Encoder outputs shared by every run and prediction (inference.modeling.features).

    INFERENCE_FEATURE_CACHE_DIR (optional setting) moves it out of MODEL_DIR;
    entries are keyed by encoder identity and content hash, so a cache may be
    shared safely.
    """
    custom = getattr(settings, "INFERENCE_FEATURE_CACHE_DIR", None)
    return Path(custom) if custom else Path(settings.MODEL_DIR) / "features"


def artefact_dir_for(run_id: int) -> Path:
    return runs_dir() / str(run_id)


def remove_artefact(run_id: int) -> None:
    """The run's artefact folder and any temporary sibling a killed write left."""
    folder = artefact_dir_for(run_id)
    shutil.rmtree(folder, ignore_errors=True)
    if folder.parent.is_dir():
        for stale in folder.parent.glob(f".{run_id}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)


PACKAGED_TEXT_ENCODERS = ("all-MiniLM-L6-v2", "bilstm", "cnn")


def weights_dir() -> Path:
    """Where an operator places extra text encoders (folders holding a
    config.json) and image weights (files); leads choose them by name."""
    return Path(settings.MODEL_DIR) / "weights"


def _offered_entries() -> list[Path]:
    try:
        return sorted(entry for entry in weights_dir().iterdir() if not entry.name.startswith("."))
    except OSError:
        return []


def offered_text_encoders() -> list[str]:
    """The packaged encoders, then each model folder in weights_dir()."""
    folders = [entry.name for entry in _offered_entries() if (entry / "config.json").is_file()]
    return [*PACKAGED_TEXT_ENCODERS, *folders]


def offered_image_weights() -> list[str]:
    """Files in weights_dir() (torchvision state dicts for resnet18 / resnet50)."""
    return [entry.name for entry in _offered_entries() if entry.is_file()]


# Absolute paths in text: a '/' not preceded by a word character, '/', ':',
# '.', '~' or '-' (so URLs, fractions and relative names stay), then path characters.
_ABSOLUTE_PATH = re.compile(r"(?<![\w/:.~-])/[^\s'\"`,;()\[\]{}<>|]+")


def hide_server_paths(text: str) -> str:
    """`text` with each absolute path replaced by a relative name: under
    MODEL_DIR or MEDIA_ROOT its path inside them (weights/r18.pth), anywhere
    else its last part. For answers and pages: where the server keeps its
    files is not the reader's to know (the log keeps the full message)."""
    if not text or "/" not in text:
        return text
    roots = []
    for root in (Path(settings.MODEL_DIR), Path(settings.MEDIA_ROOT)):
        roots += [root.absolute(), root.resolve()]

    def relative(match: re.Match) -> str:
        path = Path(match.group(0))
        for root in roots:
            if path.is_relative_to(root) and path != root:
                return str(path.relative_to(root))
        return path.name or "/"

    return _ABSOLUTE_PATH.sub(relative, text)


def public_config(config: Any) -> Any:
    """A run's configuration as answers and pages show it: weights by their
    offered names, no absolute server path (see hide_server_paths)."""
    if isinstance(config, str):
        return hide_server_paths(config)
    if isinstance(config, dict):
        out = {key: public_config(value) for key, value in config.items()}
        for key in ("text_encoder", "tokenizer", "image_weights"):
            value = config.get(key)
            if isinstance(value, str) and Path(value).is_absolute() and Path(value).parent == weights_dir().absolute():
                out[key] = Path(value).name
        return out
    if isinstance(config, list):
        return [public_config(value) for value in config]
    return config
