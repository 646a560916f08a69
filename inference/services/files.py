"""What model files the server offers, and how answers speak of them.

The weights an operator offers (weights/ in storages["models"]; inference/storage.py
maps every model file to its name), and the helpers that keep absolute server
paths out of pages and API answers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.conf import settings

from .. import storage as model_files
from ..modeling.config import BASELINE_TEXT_ENCODERS, PACKAGED_TEXT_ENCODERS
from ..storage import weights_dir


def offered_text_encoders() -> list[str]:
    """The packaged encoders, the MSED baselines, then each model folder an operator
    placed in the models storage's weights/ (asked of the storage, never the disk)."""
    packaged = [encoder.offered for encoder in PACKAGED_TEXT_ENCODERS]
    return [*packaged, *BASELINE_TEXT_ENCODERS, *model_files.offered_weights()[0]]


def offered_image_weights() -> list[str]:
    """Files in the models storage's weights/ (torchvision state dicts for resnet18 / resnet50)."""
    return model_files.offered_weights()[1]


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
