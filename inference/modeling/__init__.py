"""Multimodal multi-task models for Affect Studio (pure PyTorch, no Django).

The API for the Django side:

    from inference.modeling import TrainConfig, train, load_model, predict, embed, Cancelled

    config = TrainConfig.from_dict(run.config)          # ConfigError on bad input
    result = train(config, records, schema=schema, cache_dir=..., artefact_dir=...,
                   on_progress=..., should_stop=...)    # -> TrainResult
    model = load_model(result.artefact_path)            # -> TrainedModel
    predictions = predict(model, records, cache_dir=...)  # -> [ItemPrediction]
    vectors = embed(model, records, cache_dir=...)      # -> Embeddings

Names are imported lazily, so `from inference.modeling import TrainConfig`
(config validation in a web process) does not import torch. (The modules
are training.py and prediction.py, not train.py / predict.py: a submodule
named like a function would shadow it as a package attribute.)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "TrainConfig": "config",
    "LossConfig": "config",
    "ConfigError": "config",
    "FUSIONS": "config",
    "RECIPES": "config",
    "MODALITIES": "config",
    "POOLINGS": "config",
    "IMAGE_ENCODERS": "config",
    "DEFAULT_TEXT_ENCODER": "config",
    "Record": "data",
    "FeatureCache": "features",
    "Cancelled": "features",
    "train": "training",
    "TrainResult": "training",
    "load_model": "prediction",
    "predict": "prediction",
    "embed": "prediction",
    "TrainedModel": "prediction",
    "ItemPrediction": "prediction",
    "TaskPrediction": "prediction",
    "Embeddings": "prediction",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover
    from .config import (  # noqa: F401
        DEFAULT_TEXT_ENCODER,
        FUSIONS,
        IMAGE_ENCODERS,
        MODALITIES,
        POOLINGS,
        RECIPES,
        ConfigError,
        LossConfig,
        TrainConfig,
    )
    from .data import Record  # noqa: F401
    from .features import Cancelled, FeatureCache  # noqa: F401
    from .prediction import Embeddings, ItemPrediction, TaskPrediction, TrainedModel, embed, load_model, predict  # noqa: F401
    from .training import TrainResult, train  # noqa: F401
