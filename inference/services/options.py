"""A lead's training options -> a validated TrainConfig dict.

build_train_config checks every option a lead, the API or `manage.py train`
gives (types, ranges, choices, the chain, which encoders and weight files
the server offers to whom) and returns the complete configuration a run
stores. describe_config turns one back into a short summary.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings

from annotator.errors import DomainError
from annotator.models import Project

from .. import selectors
from ..modeling.config import packaged_text_encoder
from ..modeling.options import DEFAULT_PRESET, FUSION_ALIASES, LOSS_OPTIONS, PRESETS, TRAIN_OPTIONS
from ..storage import weights_dir
from .files import offered_image_weights, offered_text_encoders

# Options a lead may set (inference.modeling.options describes them); everything else keeps TrainConfig's default.
OPTION_KEYS = (*(spec.name for spec in TRAIN_OPTIONS if not spec.group), "losses")
LOSS_KEYS = tuple(spec.name for spec in LOSS_OPTIONS)


# Who may name files on the server (see path_access_for).
PATHS_BY_NAME, PATHS_IN_MODEL_DIR, PATHS_ANYWHERE = "names", "model-dir", "anywhere"


def path_access_for(user) -> str:
    """How freely `user` may name server files in training options:
    leads by offered name only; staff also by path inside MODEL_DIR; no user
    (management commands run by the operator, the app's own retrains)
    anywhere, as before."""
    if user is None:
        return PATHS_ANYWHERE
    return PATHS_IN_MODEL_DIR if getattr(user, "is_staff", False) else PATHS_BY_NAME


def _local_candidates(value: str) -> list[Path]:
    path = Path(value).expanduser()
    if path.is_absolute():
        return [path]
    return [Path.cwd() / path, Path(settings.MODEL_DIR) / path]


def _looks_like_path(value: str) -> bool:
    return value.startswith(("/", "~", ".")) or "\\" in value or value.count("/") > 1


def _candidates(name: str, access: str, field: str) -> list[Path]:
    """The paths `name` may mean for a staff member or the operator.

    Staff: only inside MODEL_DIR, checked after resolving, so neither '..'
    nor a symlink leads out of it."""
    if access == PATHS_ANYWHERE:
        return _local_candidates(name)
    root = Path(settings.MODEL_DIR).resolve()
    path = Path(name).expanduser()
    resolved = (path if path.is_absolute() else root / path).resolve()
    if not resolved.is_relative_to(root):
        raise DomainError("Paths must be inside the server's model folder (MODEL_DIR).", field=field)
    return [resolved]


def _check_text_encoder(value: Any, access: str = PATHS_ANYWHERE, field: str = "text_encoder") -> str:
    """A packaged name or a folder offered in weights_dir() (made absolute, so
    a worker in another directory finds it). Staff may also give a model
    folder inside MODEL_DIR; the operator any folder or a model in the local
    Hugging Face cache. A lead's unknown name gets the same answer whether or
    not such a path exists."""
    from inference.modeling.config import BASELINE_TEXT_ENCODERS

    name = str(value or "").strip()
    offered = offered_text_encoders()
    if not name:
        raise DomainError(f"Choose a text encoder: {', '.join(offered)}.", field=field)
    if packaged_text_encoder(name) or name in BASELINE_TEXT_ENCODERS:
        return name
    if name in offered:
        return os.path.abspath(weights_dir() / name)
    if access == PATHS_BY_NAME:
        raise DomainError(f"Choose a text encoder this server offers: {', '.join(offered)}.", field=field)
    for path in _candidates(name, access, field):
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise DomainError(
                    f"The folder {name} has no config.json, so it is not a transformers model folder "
                    "(save one with save_pretrained).",
                    field=field,
                )
            return str(path.resolve())
        if path.exists():
            raise DomainError(f"{name} is a file; give the folder that holds the model's config.json.", field=field)
    if access == PATHS_IN_MODEL_DIR or _looks_like_path(name):
        raise DomainError(f"The folder {name} does not exist on the server.", field=field)
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name, "config.json")
    except Exception:  # an invalid repo id, or no hub library: not cached either way
        cached = None
    if isinstance(cached, str):
        return name
    raise DomainError(
        f"The text encoder {name!r} is neither a model folder on the server nor in its Hugging Face cache "
        "(this server never downloads models). Use all-MiniLM-L6-v2, all-mpnet-base-v2, bilstm, cnn or a folder path.",
        field=field,
    )


def _check_weights_file(value: Any, access: str = PATHS_ANYWHERE) -> str | None:
    """None, a file offered in weights_dir(), or (staff, operator) a file path; see _check_text_encoder."""
    name = str(value or "").strip()
    if not name:
        return None
    offered = offered_image_weights()
    if name in offered:
        return os.path.abspath(weights_dir() / name)
    if access == PATHS_BY_NAME:
        choices = (
            ", ".join(offered)
            if offered
            else "none yet (an operator places weight files in the model folder's weights/)"
        )
        raise DomainError(f"Choose image weights this server offers: {choices}.", field="image_weights")
    for path in _candidates(name, access, "image_weights"):
        if path.is_file():
            return str(path.resolve())
    raise DomainError(f"The image weights file {name} does not exist on the server.", field="image_weights")


def parse_chain(value: Any, task_keys: Sequence[str]) -> list[str] | None:
    """None (independent heads) or a permutation of the project's task keys.

    Accepts a list, or a string such as "desire > sentiment > emotion",
    "desire,sentiment,emotion" or "independent" / "" for no chain.
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("", "none", "independent", "no"):
            return None
        parts = [part for part in re.split(r"\s*(?:>|,|→|=>|\s)\s*", text) if part]
    elif isinstance(value, (list, tuple)):
        parts = [str(part).strip() for part in value]
        if not parts:
            return None
    else:
        raise DomainError("The chain must be a list of task keys, e.g. desire > sentiment > emotion.", field="chain")
    if sorted(parts) != sorted(task_keys):
        raise DomainError(
            f"The chain {' > '.join(parts)} must order each of the project's tasks exactly once "
            f"({', '.join(task_keys)}), e.g. {' > '.join(task_keys)}.",
            field="chain",
        )
    return parts


def _number(
    options: Mapping[str, Any], key: str, kind: type, *, minimum: float | None = None, maximum: float | None = None
) -> Any:
    raw = options[key]
    try:
        if kind is int and isinstance(raw, float) and not raw.is_integer():
            raise ValueError
        value = kind(raw)
    except (TypeError, ValueError):
        raise DomainError(
            f"{key} must be a{'n integer' if kind is int else ' number'}, got {raw!r}.", field=key
        ) from None
    if kind is float and not math.isfinite(value):
        raise DomainError(f"{key} must be a finite number.", field=key)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise DomainError(f"{key} must be between {minimum:g} and {maximum:g}, got {value:g}.", field=key)
    return value


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def build_train_config(
    project: Project,
    options: Mapping[str, Any],
    *,
    schema: selectors.ProjectSchema | None = None,
    path_access: str = PATHS_ANYWHERE,
) -> dict[str, Any]:
    """Validate a lead's options and return a complete TrainConfig dict.

    options: any of OPTION_KEYS (losses as a dict or as flat LOSS_KEYS); a
    missing option keeps its default (MiniLM, EfficientNet-Lite0, concat,
    cached; max_length follows text_fields). Raises DomainError naming the field: unknown options or
    choices, a chain that is not a permutation of the project's tasks,
    numbers outside their bounds (inference.modeling.options), encoders or weights the server does not offer
    (path_access: see path_access_for). Imports no torch.
    """
    from inference.modeling.config import DEFAULT_MAX_LENGTHS, ConfigError, LossConfig, TrainConfig

    schema = schema or selectors.get_project_schema(project)
    if not schema.tasks:
        raise DomainError("This project has no tasks to train on.")
    options = {key: value for key, value in dict(options or {}).items() if value is not None or key == "chain"}
    losses = dict(options.pop("losses", None) or {})
    for key in LOSS_KEYS:
        if key in options:
            losses[key] = options.pop(key)
    unknown = sorted(set(options) - set(OPTION_KEYS)) + sorted(f"losses.{key}" for key in set(losses) - set(LOSS_KEYS))
    if unknown:
        raise DomainError(f"Unknown training options: {', '.join(unknown)}.", field=unknown[0])

    preset = str(options.get("preset") or DEFAULT_PRESET)
    if preset not in PRESETS:
        raise DomainError(f"Unknown recipe {preset!r}: choose {', '.join(PRESETS)}.", field="preset")
    values = TrainConfig().to_dict()
    values.update({key: value for key, value in PRESETS[preset].items() if key != "losses"})
    values["losses"].update(PRESETS[preset].get("losses", {}))
    values.update({key: value for key, value in options.items() if key != "losses"})
    values["preset"] = preset
    values["losses"] = {**values["losses"], **losses}
    values["text_encoder"] = _check_text_encoder(values["text_encoder"], path_access)
    values["image_weights"] = _check_weights_file(values.get("image_weights"), path_access)
    if values.get("tokenizer"):
        values["tokenizer"] = _check_text_encoder(values["tokenizer"], path_access, field="tokenizer")
    values["fusion"] = FUSION_ALIASES.get(str(values["fusion"]), values["fusion"])
    values["chain"] = parse_chain(values.get("chain"), schema.keys)
    for spec in TRAIN_OPTIONS:
        target = values["losses"] if spec.group == "losses" else values
        if spec.type in (int, float):
            target[spec.name] = _number(target, spec.name, spec.type, minimum=spec.minimum, maximum=spec.maximum)
        elif spec.type is bool:
            target[spec.name] = _flag(target[spec.name])
    draft = TrainConfig(**{**values, "losses": LossConfig(**values["losses"])})
    if "ensemble" not in options and (draft.trains_text_encoder or draft.trains_image_encoder):
        # The recipe's ensemble is of heads on cached features; fine-tuning trains one network.
        values["ensemble"] = 1
    if "text_fields" not in options and values["text_fields"] == "mixed" and values["ensemble"] < 2:
        # The recipe's members take turns at the texts; one network reads the captions.
        values["text_fields"] = "caption"
    if "max_length" not in options:
        # Titles make texts longer: their own default (modeling.config.DEFAULT_MAX_LENGTHS).
        values["max_length"] = DEFAULT_MAX_LENGTHS.get(str(values["text_fields"]), values["max_length"])
    try:
        config = TrainConfig.from_dict(values)
        config.validate(schema.keys)
    except ConfigError as exc:
        message = str(exc)
        field = message.split(" ", 1)[0].split(".")[-1]
        # The modeling layer names the field first ("fusion must be one of ...").
        raise DomainError(
            f"Invalid option: {message}.", field=field if field in OPTION_KEYS + LOSS_KEYS else None
        ) from None
    return config.to_dict()


def describe_config(config: Mapping[str, Any]) -> str:
    """A short human summary: "MiniLM + EfficientNet-Lite0 · concat · cached · 30 epochs"."""
    modalities = config.get("modalities", "both")
    name = str(config.get("text_encoder", ""))
    packaged = packaged_text_encoder(name)
    text = packaged.short if packaged else Path(name).name or "?"
    encoders = {
        "text": text,
        "image": str(config.get("image_encoder")),
        "both": f"{text} + {config.get('image_encoder')}",
    }[modalities]
    parts = [encoders]
    if config.get("preset") and config["preset"] != DEFAULT_PRESET:
        parts.insert(0, f"{config['preset']} recipe")
    text_fields = config.get("text_fields", "caption")
    if modalities != "image" and text_fields == "mixed":
        parts.append("members read caption or title + caption")
    elif modalities != "image" and text_fields != "caption":
        parts.append(f"reads {text_fields.replace('+', ' + ')}")
    if modalities == "both":
        parts.append(str(config.get("fusion")))
    if config.get("chain"):
        parts.append(" → ".join(config["chain"]))
    parts += [str(config.get("recipe")), f"{config.get('epochs')} epochs", f"seed {config.get('seed')}"]
    if int(config.get("ensemble") or 1) > 1:
        parts.append(f"ensemble of {config['ensemble']}")
    if config.get("targets") == "soft":
        parts.append("soft targets")
    return " · ".join(parts)
