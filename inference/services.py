"""Training runs, experiments, prediction runs, the pre-labeller and its policy.

Every change to inference data goes through these functions. They check the
domain rules and raise annotator.errors.DomainError with a message a person
can act on; views, the API, tasks and commands all call them.

A run is a persisted job: `start_*` creates it queued and enqueues a Celery
task with delay_on_commit; the task calls `execute_*`, which claims it
(queued -> running), does the work with progress written to the row, and
ends it succeeded | failed | cancelled with an error message. Pages poll the
row. Web processes never import torch: the modeling package's torch parts
are imported inside `execute_*` and `_compute_embedding_map` only.

Where the lead wires the hooks:
  * on_items_added(project=..., item_ids=...) after new items are committed
    (imports): the pre-labeller suggests labels for them.
  * on_gold_changed(project=...) after votes or adjudications change gold
    (cheap: one or two indexed queries when the policy is on, one when off).
    The periodic task inference.tasks.check_retrain_policies does the same
    for every project, for deployments that prefer Celery beat.
"""

from __future__ import annotations

import html
import itertools
import json
import logging
import math
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from annotator import jobs
from annotator.errors import DomainError
from annotator.jobs import Heartbeat, fresh_connection, retry_db, worker_id
from annotator.models import Annotation, Item, Project

from . import selectors
from .models import FINISHED_STATUSES, EmbeddingMap, PredictionRun, PrelabelPolicy, RunStatus, Suggestion, TrainingRun

log = logging.getLogger(__name__)

EPOCHS_MIN, EPOCHS_MAX = 1, 200
MAX_EXPERIMENT_RUNS = 24
EXPERIMENT_GRIDS = ("modalities", "fusions", "orders")
# Points of the embedding map: enough to see clusters, few enough to draw.
MAP_POINTS = 1500
# Records per predict() call: bounds the worker's memory on large projects.
PREDICT_BATCH = 2048
SUGGESTION_BATCH = 2000
WAITING_FOR_BROKER = (
    "Waiting for the job queue, which cannot be reached just now; the run starts by itself when it is back."
)
# How often a running job reads its cancel flag and writes its heartbeat
# (a Heartbeat thread stamps it too, in phases that report nothing).
CHECK_SECONDS = 1.0
FUSION_ALIASES = {"joint-pooling": "joint"}
# Options a lead may set; everything else keeps TrainConfig's default.
OPTION_KEYS = (
    "text_encoder",
    "image_encoder",
    "image_weights",
    "pooling",
    "max_length",
    "fusion",
    "recipe",
    "modalities",
    "chain",
    "unimodal_heads",
    "hidden_size",
    "dropout",
    "epochs",
    "lr",
    "encoder_lr",
    "weight_decay",
    "batch_size",
    "seed",
    "patience",
    "tokenizer",
    "losses",
)
LOSS_KEYS = (
    "contrastive_weight",
    "contrastive_temperature",
    "common_space_weight",
    "common_space_margin",
    "class_weights",
    "unimodal_weight",
)


# ---------------------------------------------------------------------------
# Files


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


def _remove_artefact(run_id: int) -> None:
    """The run's artefact folder and any temporary sibling a killed write left."""
    folder = artefact_dir_for(run_id)
    shutil.rmtree(folder, ignore_errors=True)
    if folder.parent.is_dir():
        for stale in folder.parent.glob(f".{run_id}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)


# ---------------------------------------------------------------------------
# Options -> a validated TrainConfig dict


# Who may name files on the server (see path_access_for).
PATHS_BY_NAME, PATHS_IN_MODEL_DIR, PATHS_ANYWHERE = "names", "model-dir", "anywhere"
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
    from inference.modeling.config import BASELINE_TEXT_ENCODERS, MINILM_ALIASES

    name = str(value or "").strip()
    offered = offered_text_encoders()
    if not name:
        raise DomainError(f"Choose a text encoder: {', '.join(offered)}.", field=field)
    if name in MINILM_ALIASES or name in BASELINE_TEXT_ENCODERS:
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
        "(this server never downloads models). Use all-MiniLM-L6-v2, bilstm, cnn or a folder path.",
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
    cached). Raises DomainError naming the field: unknown options or
    choices, a chain that is not a permutation of the project's tasks,
    epochs outside 1-200, encoders or weights the server does not offer
    (path_access: see path_access_for). Imports no torch.
    """
    from inference.modeling.config import ConfigError, TrainConfig

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

    values = TrainConfig().to_dict()
    values.update({key: value for key, value in options.items() if key != "losses"})
    values["losses"] = {**values["losses"], **losses}
    values["text_encoder"] = _check_text_encoder(values["text_encoder"], path_access)
    values["image_weights"] = _check_weights_file(values.get("image_weights"), path_access)
    if values.get("tokenizer"):
        values["tokenizer"] = _check_text_encoder(values["tokenizer"], path_access, field="tokenizer")
    values["fusion"] = FUSION_ALIASES.get(str(values["fusion"]), values["fusion"])
    values["chain"] = parse_chain(values.get("chain"), schema.keys)
    values["epochs"] = _number(values, "epochs", int, minimum=EPOCHS_MIN, maximum=EPOCHS_MAX)
    values["seed"] = _number(values, "seed", int, minimum=0, maximum=2**31 - 1)
    values["lr"] = _number(values, "lr", float, minimum=1e-7, maximum=1.0)
    values["encoder_lr"] = _number(values, "encoder_lr", float, minimum=1e-8, maximum=1.0)
    values["batch_size"] = _number(values, "batch_size", int, minimum=1, maximum=1024)
    values["hidden_size"] = _number(values, "hidden_size", int, minimum=4, maximum=4096)
    values["max_length"] = _number(values, "max_length", int, minimum=4, maximum=512)
    values["patience"] = _number(values, "patience", int, minimum=0, maximum=EPOCHS_MAX)
    values["dropout"] = _number(values, "dropout", float, minimum=0.0, maximum=0.95)
    values["weight_decay"] = _number(values, "weight_decay", float, minimum=0.0, maximum=1.0)
    values["unimodal_heads"] = _flag(values["unimodal_heads"])
    loss_values = values["losses"]
    for key in ("contrastive_weight", "common_space_weight", "unimodal_weight", "common_space_margin"):
        loss_values[key] = _number(loss_values, key, float, minimum=0.0, maximum=100.0)
    loss_values["contrastive_temperature"] = _number(
        loss_values, "contrastive_temperature", float, minimum=1e-3, maximum=10.0
    )
    loss_values["class_weights"] = _flag(loss_values["class_weights"])
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
    text = Path(str(config.get("text_encoder", ""))).name or "?"
    text = "MiniLM" if text.lower() in ("all-minilm-l6-v2", "minilm") else text
    encoders = {
        "text": text,
        "image": str(config.get("image_encoder")),
        "both": f"{text} + {config.get('image_encoder')}",
    }[modalities]
    parts = [encoders]
    if modalities == "both":
        parts.append(str(config.get("fusion")))
    if config.get("chain"):
        parts.append(" → ".join(config["chain"]))
    parts += [str(config.get("recipe")), f"{config.get('epochs')} epochs", f"seed {config.get('seed')}"]
    return " · ".join(parts)


def _require_train_gold(project: Project) -> None:
    if selectors.count_train_gold(project) == 0:
        raise DomainError(
            "No item of the train split has a gold label yet: assign splits on the project page "
            "and collect votes (or import labelled items) before training."
        )


# ---------------------------------------------------------------------------
# Per-project limits on queued or running jobs


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


def _lock_and_check_limit(project: Project, kind: str) -> None:
    """Inside the creating transaction: lock the project row, then count its
    active jobs of `kind` (training | experiment | prediction) against the
    MAX_ACTIVE_* setting. Race: two requests counting at once would both see
    room; the lock makes the second count after the first has committed."""
    Project.objects.select_for_update().filter(pk=project.pk).first()
    if kind == "training":
        limit = settings.MAX_ACTIVE_TRAINING_RUNS_PER_PROJECT
        active = TrainingRun.objects.filter(project=project, status__in=ACTIVE_STATUSES, experiment="").count()
        what = "training runs"
    elif kind == "experiment":
        limit = settings.MAX_ACTIVE_EXPERIMENTS_PER_PROJECT
        active = (
            TrainingRun.objects.filter(project=project, status__in=ACTIVE_STATUSES)
            .exclude(experiment="")
            .order_by()
            .values("experiment")
            .distinct()
            .count()
        )
        what = "experiments"
    else:
        limit = settings.MAX_ACTIVE_PREDICTIONS_PER_PROJECT
        active = PredictionRun.objects.filter(project=project, status__in=ACTIVE_STATUSES).count()
        what = "prediction runs"
    if active >= limit:
        if limit == 1:
            what = what[:-1]
        raise DomainError(
            f"This project already has {limit} {what} queued or running, the most allowed at once; "
            "wait for one to finish or cancel one."
        )


# ---------------------------------------------------------------------------
# Starting, cancelling and choosing runs


def start_training_run(
    *,
    project: Project,
    user=None,
    options: Mapping[str, Any] | None = None,
    name: str = "",
    experiment: str = "",
    enqueue: bool = True,
) -> TrainingRun:
    """Create a queued training run on the project's gold labels and enqueue
    it (enqueue=False: the caller runs execute_training_run itself, as
    `manage.py train` does). Raises DomainError on bad options or when the
    train split has no gold label."""
    config = build_train_config(project, options or {}, path_access=path_access_for(user))
    _require_train_gold(project)
    with transaction.atomic():
        _lock_and_check_limit(project, "experiment" if experiment else "training")
        run = TrainingRun.objects.create(
            project=project,
            created_by=user if getattr(user, "is_authenticated", False) else None,
            name=(name or "").strip()[:200] or describe_config(config)[:200],
            experiment=experiment,
            config=config,
            epochs_total=config["epochs"],
        )
        if enqueue:
            _enqueue_training(run.pk)
    return run


def _enqueue_training(run_id: int) -> None:
    from .tasks import train_model

    jobs.enqueue_on_commit(train_model, run_id, model=TrainingRun, pk=run_id)


def _enqueue_prediction(run_id: int) -> None:
    from .tasks import predict_items

    jobs.enqueue_on_commit(predict_items, run_id, model=PredictionRun, pk=run_id)


def experiment_variants(
    config: Mapping[str, Any], task_keys: Sequence[str], grids: Iterable[str], fusions: Sequence[str] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """(name, config) of each run of an experiment grid, duplicates removed.

    modalities: text only, image only and fused (MSED Table 5);
    fusions: every fusion strategy on both modalities (Table 6);
    orders: every task order of the chained heads (Table 8).
    """
    from inference.modeling.config import FUSIONS

    base = {**config, "modalities": "both"}
    variants: list[tuple[str, dict[str, Any]]] = []
    grids = list(grids)
    if "modalities" in grids:
        text_recipe = "finetune-text" if config["recipe"] == "finetune-all" else config["recipe"]
        variants += [
            ("text only", {**config, "modalities": "text", "recipe": text_recipe}),
            ("image only", {**config, "modalities": "image"}),
            (f"text + image ({base['fusion']})", base),
        ]
    if "fusions" in grids:
        for fusion in fusions or FUSIONS:
            variants.append((f"fusion: {fusion}", {**base, "fusion": FUSION_ALIASES.get(fusion, fusion)}))
    if "orders" in grids:
        for order in itertools.permutations(task_keys):
            variants.append((f"order: {' → '.join(order)}", {**base, "chain": list(order)}))
    seen: set[str] = set()
    unique = []
    for name, variant in variants:
        key = json.dumps(variant, sort_keys=True)
        if key not in seen:
            seen.add(key)
            unique.append((name, variant))
    return unique


def start_experiment(
    *,
    project: Project,
    user=None,
    options: Mapping[str, Any] | None = None,
    grids: Sequence[str] = EXPERIMENT_GRIDS,
    fusions: Sequence[str] | None = None,
    name: str = "",
) -> list[TrainingRun]:
    """Queue a grid of training runs sharing one experiment id: text-only,
    image-only and fused; each fusion strategy; each task order (MSED Tables
    5, 6 and 8). options are the shared options of start_training_run."""
    from inference.modeling.config import FUSIONS, ConfigError, TrainConfig

    grids = [grid for grid in dict.fromkeys(grids or ())]
    if not grids or any(grid not in EXPERIMENT_GRIDS for grid in grids):
        raise DomainError(f"Choose one or more grids among {', '.join(EXPERIMENT_GRIDS)}.", field="grids")
    fusions = [FUSION_ALIASES.get(f, f) for f in (fusions or ())] or None
    if fusions and any(f not in FUSIONS for f in fusions):
        raise DomainError(
            f"Unknown fusion in {', '.join(fusions)}; choose among {', '.join(FUSIONS)}.", field="fusions"
        )
    schema = selectors.get_project_schema(project)
    config = build_train_config(project, options or {}, schema=schema, path_access=path_access_for(user))
    _require_train_gold(project)
    variants = experiment_variants(config, schema.keys, grids, fusions)
    if len(variants) > MAX_EXPERIMENT_RUNS:
        raise DomainError(
            f"This grid has {len(variants)} runs; at most {MAX_EXPERIMENT_RUNS} per experiment. Choose fewer grids or fusions.",
            field="grids",
        )
    for variant_name, variant in variants:
        try:
            TrainConfig.from_dict(variant).validate(schema.keys)
        except ConfigError as exc:
            raise DomainError(f"The run “{variant_name}” of this grid is invalid: {exc}.") from None
    label = (name or "").strip() or ", ".join(grids)
    experiment = f"{timezone.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]} {label}"[:100]
    runs = []
    with transaction.atomic():
        _lock_and_check_limit(project, "experiment")
        for variant_name, variant in variants:
            run = TrainingRun.objects.create(
                project=project,
                created_by=user if getattr(user, "is_authenticated", False) else None,
                name=variant_name,
                experiment=experiment,
                config=variant,
                epochs_total=variant["epochs"],
            )
            _enqueue_training(run.pk)
            runs.append(run)
    return runs


def cancel_run(*, run: TrainingRun | PredictionRun) -> TrainingRun | PredictionRun:
    """Cancel a queued run at once; ask a running one to stop (its worker
    reads cancel_requested between batches and ends it cancelled, leaving no
    artefact or suggestions). A finished run is a DomainError."""
    model = type(run)
    now = timezone.now()
    # Conditional updates: the worker may claim or finish the run meanwhile.
    if model.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.CANCELLED, cancel_requested=True, finished_at=now, error="Cancelled before it started."
    ):
        pass
    elif not model.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(cancel_requested=True):
        run.refresh_from_db()
        raise DomainError(
            f"This run has already finished ({run.get_status_display().lower()}); there is nothing to cancel."
        )
    run.refresh_from_db()
    return run


def mark_prelabeller(*, run: TrainingRun, predict: bool = True, reset_policy: bool = True) -> TrainingRun:
    """Make a succeeded run the project's pre-labeller (one per project) and
    start a prediction run so every unlabelled item gets suggestions."""
    if run.status != RunStatus.SUCCEEDED:
        raise DomainError(
            f"Only a succeeded run can become the pre-labeller; this one is {run.get_status_display().lower()}."
        )
    if not run.artefact_path or not Path(run.artefact_path).is_dir():
        raise DomainError("This run's model files are missing from the server; train it again.")
    with transaction.atomic():
        # Serialise concurrent choices on the project row; without the lock
        # two leads could both clear the old flag and one would then hit the
        # one_prelabeller_per_project constraint with an IntegrityError.
        project = Project.objects.select_for_update().get(pk=run.project_id)
        TrainingRun.objects.filter(project=project, is_prelabeller=True).exclude(pk=run.pk).update(is_prelabeller=False)
        TrainingRun.objects.filter(pk=run.pk).update(is_prelabeller=True)
        if reset_policy:
            PrelabelPolicy.objects.filter(project=project).update(
                gold_at_last_training=selectors.count_gold_labels(project)
            )
        run.refresh_from_db()
        if predict:
            start_prediction_run(project=project, training_run=run, reason="new pre-labeller", limit=False)
    return run


def start_prediction_run(
    *,
    project: Project,
    training_run: TrainingRun | None = None,
    user=None,
    reason: str = "manual",
    enqueue: bool = True,
    limit: bool = True,
) -> PredictionRun:
    """Queue a prediction run of a succeeded training run (default: the
    pre-labeller) over every item that still needs labels (see
    selectors.list_items_to_suggest). While one is still queued for the same
    model it is returned instead: it reads its items only when it starts, so
    it will cover the new ones too. limit=False skips the per-project limit:
    the app's own follow-ups (a new pre-labeller, new items) must not fail."""
    training_run = training_run or selectors.get_prelabeller(project)
    if training_run is None:
        raise DomainError(
            "This project has no pre-labeller yet: mark a succeeded training run as the pre-labeller first."
        )
    if training_run.project_id != project.pk:
        raise DomainError("That training run belongs to another project.")
    if training_run.status != RunStatus.SUCCEEDED or not training_run.artefact_path:
        raise DomainError(
            f"Only a succeeded training run can predict; this one is {training_run.get_status_display().lower()}."
        )
    with transaction.atomic():
        TrainingRun.objects.select_for_update().filter(pk=training_run.pk).first()
        queued = (
            PredictionRun.objects.filter(training_run=training_run, status=RunStatus.QUEUED).order_by("-id").first()
        )
        if queued is not None and enqueue:
            return queued
        if limit:
            _lock_and_check_limit(project, "prediction")
        run = PredictionRun.objects.create(
            project=project,
            training_run=training_run,
            created_by=user if getattr(user, "is_authenticated", False) else None,
            reason=reason[:40],
        )
        if enqueue:
            _enqueue_prediction(run.pk)
    return run


def update_policy(*, project: Project, retrain_every_n_gold: int, suggest_new_items: bool) -> PrelabelPolicy:
    """Set the project's pre-labelling policy; counting new gold starts now."""
    if not isinstance(retrain_every_n_gold, int) or not 0 <= retrain_every_n_gold <= 1_000_000:
        raise DomainError(
            "Retrain after this many new gold labels: a whole number from 0 (never) to 1,000,000.",
            field="retrain_every_n_gold",
        )
    with transaction.atomic():
        policy, _ = PrelabelPolicy.objects.select_for_update().get_or_create(project=project)
        if retrain_every_n_gold and retrain_every_n_gold != policy.retrain_every_n_gold:
            policy.gold_at_last_training = selectors.count_gold_labels(project)
        policy.retrain_every_n_gold = retrain_every_n_gold
        policy.suggest_new_items = bool(suggest_new_items)
        policy.save()
    return policy


def on_items_added(*, project: Project, item_ids: Iterable[int]) -> PredictionRun | None:
    """New items were committed (an import): when the project has a
    pre-labeller and its policy allows, queue a prediction run so they get
    suggestions. Features of items seen before come from the cache, so only
    the new items are encoded. Returns the run, or None."""
    if not list(item_ids):
        return None
    policy = selectors.get_policy(project)
    if not policy.suggest_new_items:
        return None
    prelabeller = selectors.get_prelabeller(project)
    if prelabeller is None or prelabeller.status != RunStatus.SUCCEEDED:
        return None
    return start_prediction_run(project=project, training_run=prelabeller, reason="new items", limit=False)


def on_gold_changed(*, project: Project) -> TrainingRun | None:
    """Gold labels changed (votes, adjudication, import): when the project's
    policy says so and retrain_every_n_gold labels were added since the last
    (re)training, queue a retrain of the pre-labeller with the same
    configuration; it becomes the pre-labeller (and predicts) when it
    succeeds. Returns the new run, or None. Safe inside the caller's
    transaction: the task is enqueued on commit."""
    policy = PrelabelPolicy.objects.filter(project=project, retrain_every_n_gold__gt=0).first()
    if policy is None:
        return None
    gold = selectors.count_gold_labels(project)
    if gold - policy.gold_at_last_training < policy.retrain_every_n_gold:
        return None
    prelabeller = selectors.get_prelabeller(project)
    if prelabeller is None:
        return None
    if TrainingRun.objects.filter(
        project=project, auto_promote=True, status__in=(RunStatus.QUEUED, RunStatus.RUNNING)
    ).exists():
        return None
    with transaction.atomic():
        # Race: several votes can cross the threshold at once. Only the
        # caller whose conditional update moves the counter starts a retrain.
        moved = PrelabelPolicy.objects.filter(pk=policy.pk, gold_at_last_training=policy.gold_at_last_training).update(
            gold_at_last_training=gold
        )
        if not moved:
            return None
        run = TrainingRun.objects.create(
            project=project,
            name=f"Retrain after {gold - policy.gold_at_last_training} new gold labels",
            config=dict(prelabeller.config),
            epochs_total=int(prelabeller.config.get("epochs", 0)),
            auto_promote=True,
        )
        _enqueue_training(run.pk)
    return run


# ---------------------------------------------------------------------------
# Running jobs (workers and commands)


def fail_abandoned_runs() -> int:
    """Mark failed every running run whose process is gone: on this machine
    a dead pid, elsewhere no heartbeat for STALE_AFTER. Removes their
    artefacts and suggestions so the next run starts cleanly. Called when a
    worker starts and before each run (and by the sweep, inference/jobs.py).
    Returns how many were failed."""
    now = timezone.now()
    return sum(
        fail_abandoned_run(model=model, pk=pk, worker=worker, now=now) for model, pk, worker in list_abandoned_runs(now)
    )


def list_abandoned_runs(now) -> list[tuple[type, int, str]]:
    """(model, pk, worker) of the running runs whose process is gone."""
    found = []
    for model in (TrainingRun, PredictionRun):
        for pk, worker, heartbeat in model.objects.filter(status=RunStatus.RUNNING).values_list(
            "pk", "worker", "heartbeat_at"
        ):
            if worker and jobs.is_abandoned(worker, heartbeat, now):
                found.append((model, pk, worker))
    return found


def fail_abandoned_run(*, model, pk: int, worker: str, now) -> bool:
    """running -> failed for a run whose worker is gone; its artefact or
    suggestions are removed. False when it ended meanwhile."""
    message = (
        f"The worker running this job ({worker}) stopped before it finished (killed, out of memory or crashed); "
        "nothing it did was kept. Start it again."
    )
    fields = {"status": RunStatus.FAILED, "error": message, "finished_at": now}
    if model is TrainingRun:
        fields["phase"] = ""
    # Conditional: the run may have finished between the read and here.
    if not model.objects.filter(pk=pk, status=RunStatus.RUNNING, worker=worker).update(**fields):
        return False
    log.warning("%s %s failed: %s", model.__name__, pk, message)
    if model is TrainingRun:
        _remove_artefact(pk)
    else:
        Suggestion.objects.filter(run_id=pk).delete()
    return True


def _claim(model, run) -> bool:
    """queued -> running. Race: a redelivered message (acks_late) can reach
    two workers; only the conditional update that changes one row wins."""

    def claim() -> bool:
        now = timezone.now()
        return bool(
            model.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
                status=RunStatus.RUNNING, started_at=now, heartbeat_at=now, worker=worker_id(), sent_at=now
            )
        )

    return retry_db(claim, what=f"claiming {model.__name__} {run.pk}")


def _finish(model, run_id: int, status: str, **fields) -> bool:
    """running -> a final status; False when the run was already ended
    (e.g. failed as abandoned) or deleted. Rides out a database blip."""

    def finish() -> bool:
        return bool(
            model.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
                status=status, finished_at=timezone.now(), **fields
            )
        )

    return retry_db(finish, what=f"ending {model.__name__} {run_id}")


class _Progress:
    """Callbacks the modeling code calls: progress, heartbeat and the cancel flag."""

    def __init__(self, model, run_id: int, report: Callable[[str], None] | None = None):
        self.model = model
        self.run_id = run_id
        self.report = report
        self.history: list[dict] = []
        self._checked = 0.0
        self._stop = False

    def _rows(self):
        return self.model.objects.filter(pk=self.run_id)

    def _update(self, **fields) -> None:
        """Write progress, riding out a database blip (a restart costs a pause)."""
        retry_db(
            lambda: self._rows().update(heartbeat_at=timezone.now(), **fields),
            what=f"{self.model.__name__} {self.run_id}'s progress",
        )

    def should_stop(self) -> bool:
        now = time.monotonic()
        if now - self._checked >= CHECK_SECONDS:
            self._checked = now

            def check() -> Any:
                self._rows().update(heartbeat_at=timezone.now())
                return self._rows().values_list("cancel_requested", flat=True).first()

            flag = retry_db(check, what=f"{self.model.__name__} {self.run_id}'s heartbeat")
            self._stop = flag is None or bool(flag)  # a deleted run stops too
        return self._stop

    def epoch(self, epoch: int, total: int, train_loss: float, dev_macro_f1: float | None) -> None:
        self.history.append({"epoch": epoch, "train_loss": _finite(train_loss), "dev_macro_f1": _finite(dev_macro_f1)})
        self._update(epoch=epoch, epochs_total=total, history=self.history, phase="training")
        if self.report:
            dev = "n/a" if dev_macro_f1 is None else f"{dev_macro_f1:.4f}"
            self.report(f"epoch {epoch}/{total}: training loss {train_loss:.4f}, dev macro-F1 {dev}")

    def encode(self, modality: str, done: int, total: int) -> None:
        self._update(phase=f"encoding {modality}s {done} of {total}")
        if self.report and (done == total or done % 256 < 32):
            self.report(f"encoding {modality}s: {done} of {total}")

    def items(self, done: int, total: int) -> None:
        self._update(items_done=done)
        if self.report:
            self.report(f"predicted {done} of {total} items")


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


def _error_message(exc: BaseException) -> str:
    """What a failed run shows: the message, server paths made relative (the log keeps them)."""
    if isinstance(exc, (ValueError, FileNotFoundError, FileExistsError, RuntimeError, DomainError)) and str(exc):
        return hide_server_paths(str(getattr(exc, "message", exc)))[:2000]
    return hide_server_paths(f"{type(exc).__name__}: {exc}")[:2000]


def _clean_json(value: Any) -> Any:
    """NaN / inf -> None so PostgreSQL's jsonb accepts the metrics."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_json(v) for v in value]
    if isinstance(value, np.generic):
        return _clean_json(value.item())
    return value


def execute_training_run(*, run: TrainingRun, report: Callable[[str], None] | None = None) -> TrainingRun:
    """Train the run's model on the project's gold labels (worker or
    `manage.py train`). Never raises for a failing run: the run ends
    succeeded, failed (with its error) or cancelled; only a failed or
    cancelled run's artefact folder is removed."""
    fail_abandoned_runs()
    if not _claim(TrainingRun, run):
        run.refresh_from_db()
        return run
    progress = _Progress(TrainingRun, run.pk, report)
    artefact_dir = artefact_dir_for(run.pk)
    heartbeat = Heartbeat(TrainingRun, run.pk).__enter__()
    try:
        from inference.modeling import TrainConfig, train

        schema = retry_db(selectors.get_project_schema, run.project, what="reading the project's schema")
        config = TrainConfig.from_dict(run.config)
        records = retry_db(selectors.list_training_records, run.project, schema, what="reading the labelled items")
        progress._update(phase=f"reading {len(records)} labelled items")
        result = train(
            config,
            records,
            schema=schema.as_modeling_schema(),
            cache_dir=feature_cache_dir(),
            artefact_dir=artefact_dir,
            on_progress=progress.epoch,
            should_stop=progress.should_stop,
            on_encode=progress.encode,
        )
        warnings = list(result.warnings)
        fresh_connection()  # training may have outlived the connection
        progress._update(phase="projecting representations for the map")
        embedding = None
        try:
            embedding = _compute_embedding_map(run.project, result.artefact_path)
        except Exception as exc:  # the map is a bonus: keep the model
            log.exception("embedding map of run %s", run.pk)
            warnings.append(f"No embedding map: {_error_message(exc)}")

        def succeed() -> bool:
            with transaction.atomic():
                done = _finish(
                    TrainingRun,
                    run.pk,
                    RunStatus.SUCCEEDED,
                    test_metrics=_clean_json(result.test_metrics),
                    dev_metrics=_clean_json(result.dev_metrics),
                    history=_clean_json(result.history),
                    data_counts=_clean_json(result.data_counts),
                    artefact_path=str(result.artefact_path),
                    best_epoch=result.best_epoch,
                    epoch=result.epochs_run,
                    warnings=[hide_server_paths(str(warning)) for warning in warnings],
                    phase="",
                    error="",
                )
                if done and embedding is not None:
                    EmbeddingMap.objects.create(run_id=run.pk, **embedding)
            return done

        done = retry_db(succeed, what=f"saving training run {run.pk}")
        if not done:
            _remove_artefact(run.pk)
    except BaseException as exc:
        from inference.modeling import Cancelled

        if isinstance(exc, Cancelled):
            _finish(TrainingRun, run.pk, RunStatus.CANCELLED, error="Cancelled by a lead.", phase="")
        else:
            if isinstance(exc, Exception):
                log.exception("training run %s failed", run.pk)
                message = _error_message(exc)
            else:
                message = "The worker was stopped while this run was training."
            _finish(TrainingRun, run.pk, RunStatus.FAILED, error=message, phase="")
        _remove_artefact(run.pk)
        if not isinstance(exc, Exception):
            raise
    finally:
        heartbeat.__exit__(None, None, None)
    retry_db(run.refresh_from_db, what="reading the run")
    if run.status == RunStatus.SUCCEEDED and run.auto_promote:
        try:
            mark_prelabeller(run=run, reset_policy=False)
        except DomainError as exc:
            log.warning("retrained run %s not promoted: %s", run.pk, exc.message)
        run.refresh_from_db()
    return run


def _check_model_schema(training_run: TrainingRun, schema: selectors.ProjectSchema) -> None:
    """The model's labels must still be the project's: indices map to labels by position."""
    meta_path = Path(training_run.artefact_path) / "artefact.json"
    try:
        saved = [tuple(entry) for entry in json.loads(meta_path.read_text())["schema"]]
    except (OSError, ValueError, KeyError) as exc:
        raise RuntimeError(
            f"The model files of training run {training_run.pk} are missing or unreadable; train it again."
        ) from exc
    if [(key, n) for key, n in saved] != schema.as_modeling_schema():
        raise RuntimeError(
            "The project's tasks or labels changed since this model was trained "
            f"(model: {saved}, project: {schema.as_modeling_schema()}); train a new model."
        )


def execute_prediction_run(*, run: PredictionRun, report: Callable[[str], None] | None = None) -> PredictionRun:
    """Write suggestions for every item that needs labels (worker or
    `manage.py predict`). Suggestions are written batch by batch so progress
    shows; pages only read succeeded runs, and a failed or cancelled run's
    suggestions are deleted."""
    fail_abandoned_runs()
    if not _claim(PredictionRun, run):
        run.refresh_from_db()
        return run
    progress = _Progress(PredictionRun, run.pk, report)
    heartbeat = Heartbeat(PredictionRun, run.pk).__enter__()
    try:
        from inference.modeling import Cancelled, load_model, predict

        training_run = retry_db(TrainingRun.objects.get, pk=run.training_run_id, what="reading the training run")
        if training_run.status != RunStatus.SUCCEEDED:
            raise RuntimeError(f"Training run {training_run.pk} is {training_run.status}, not succeeded.")
        schema = retry_db(selectors.get_project_schema, run.project, what="reading the project's schema")
        _check_model_schema(training_run, schema)
        records = retry_db(selectors.list_prediction_records, run.project, len(schema.tasks), what="reading the items")
        progress._update(items_total=len(records), items_done=0)
        model = load_model(training_run.artefact_path)
        done = skipped = 0
        for start in range(0, len(records), PREDICT_BATCH):
            chunk = records[start : start + PREDICT_BATCH]
            predictions = predict(model, chunk, cache_dir=feature_cache_dir(), should_stop=progress.should_stop)
            rows = []
            for prediction in predictions:
                if not prediction.tasks:
                    skipped += 1
                    continue
                for spec in schema.tasks:
                    task = prediction.tasks[spec.key]
                    rows.append(
                        Suggestion(
                            run_id=run.pk,
                            item_id=prediction.id,
                            task_id=spec.id,
                            label_id=spec.label_ids[task.label],
                            probability=float(task.probability),
                            probabilities=[float(p) for p in task.probabilities],
                            entropy=float(task.entropy),
                        )
                    )
            # A batch is one transaction: after a blip it is written again whole.
            retry_db(
                Suggestion.objects.bulk_create,
                rows,
                batch_size=SUGGESTION_BATCH,
                ignore_conflicts=True,
                what="writing suggestions",
            )
            done += len(chunk)
            progress.items(done, len(records))
            if progress.should_stop():
                raise Cancelled("prediction cancelled")
        if not _finish(PredictionRun, run.pk, RunStatus.SUCCEEDED, items_done=done, items_skipped=skipped, error=""):
            Suggestion.objects.filter(run_id=run.pk).delete()
    except BaseException as exc:
        from inference.modeling import Cancelled

        if isinstance(exc, Cancelled):
            _finish(PredictionRun, run.pk, RunStatus.CANCELLED, error="Cancelled by a lead.")
        elif isinstance(exc, Exception):
            log.exception("prediction run %s failed", run.pk)
            _finish(PredictionRun, run.pk, RunStatus.FAILED, error=_error_message(exc))
        else:
            _finish(
                PredictionRun, run.pk, RunStatus.FAILED, error="The worker was stopped while this run was predicting."
            )
        retry_db(Suggestion.objects.filter(run_id=run.pk).delete, what="removing a failed run's suggestions")
        if not isinstance(exc, Exception):
            raise
    finally:
        heartbeat.__exit__(None, None, None)
    retry_db(run.refresh_from_db, what="reading the run")
    return run


# ---------------------------------------------------------------------------
# Embedding map (worker side; stored, so pages need no torch)


def pca_2d(vectors: np.ndarray) -> dict[str, Any]:
    """First two principal components of the finite rows of (n, d) vectors.

    Returns {"xy": [[x, y] or None per row], "explained": [share of variance
    of PC1, PC2]}. Signs are fixed (largest loading positive) so reruns give
    the same picture. Pure NumPy (SVD of the centred matrix).
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    present = np.isfinite(vectors).all(axis=1)
    xy: list[list[float] | None] = [None] * len(vectors)
    rows = vectors[present]
    if len(rows) < 2:
        for i in np.flatnonzero(present):
            xy[i] = [0.0, 0.0]
        return {"xy": xy, "explained": [0.0, 0.0]}
    centred = rows - rows.mean(axis=0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    components = components[:2]
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    components = components * np.where(signs == 0, 1, signs)[:, None]
    projected = centred @ components.T
    if projected.shape[1] == 1:
        projected = np.hstack([projected, np.zeros((len(projected), 1))])
    variance = singular**2
    total = variance.sum()
    explained = (variance[:2] / total).tolist() if total > 0 else [0.0, 0.0]
    for i, point in zip(np.flatnonzero(present), projected):
        xy[i] = [round(float(point[0]), 5), round(float(point[1]), 5)]
    return {"xy": xy, "explained": [round(float(e), 4) for e in explained] + [0.0] * (2 - len(explained))}


def _compute_embedding_map(project: Project, artefact_path: str) -> dict[str, Any]:
    from inference.modeling import embed, load_model

    records = selectors.list_map_records(project, MAP_POINTS)
    vectors = embed(load_model(artefact_path), records, cache_dir=feature_cache_dir())
    spaces = {
        name: pca_2d(array) for name in ("fused", "text", "image") if (array := getattr(vectors, name)) is not None
    }
    return {"item_ids": [int(i) for i in vectors.ids], "spaces": spaces}


# ---------------------------------------------------------------------------
# Reads that combine several selectors (pages and API)


def comparison_rows(runs: Sequence[TrainingRun], task_keys: Sequence[str]) -> dict[str, Any]:
    """Rows of a comparison table (MSED Tables 5, 6 and 8): per run and task
    the test precision, recall, macro-F1, weighted-F1, accuracy and dev
    macro-F1, with the best test macro-F1 per task marked."""
    rows = []
    for run in runs:
        cells = {}
        for key in task_keys:
            test = (run.test_metrics or {}).get(key) or {}
            dev = (run.dev_metrics or {}).get(key) or {}
            cells[key] = {
                "precision": test.get("precision"),
                "recall": test.get("recall"),
                "macro_f1": test.get("macro_f1"),
                "weighted_f1": test.get("weighted_f1"),
                "accuracy": test.get("accuracy"),
                "dev_macro_f1": dev.get("macro_f1"),
                "best": False,
            }
        rows.append(
            {
                "run": run,
                "id": run.pk,
                "name": run.name,
                "status": run.status,
                "summary": describe_config(run.config),
                "tasks": cells,
            }
        )
    for key in task_keys:
        scores = [row["tasks"][key]["macro_f1"] for row in rows if row["tasks"][key]["macro_f1"] is not None]
        if len(scores) > 1:
            best = max(scores)
            for row in rows:
                if row["tasks"][key]["macro_f1"] == best:
                    row["tasks"][key]["best"] = True
    for row in rows:
        # Templates cannot index by a variable: cells in task order, as percentages (MSED's tables).
        row["cells"] = [
            {**row["tasks"][key], "key": key, "display": {m: _percent(row["tasks"][key][m]) for m in _METRICS}}
            for key in task_keys
        ]
    return {"tasks": list(task_keys), "rows": rows}


_METRICS = ("precision", "recall", "macro_f1", "weighted_f1", "accuracy", "dev_macro_f1")


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def phase_text(run: TrainingRun) -> str:
    """What the run is doing, as pages say it (no server paths)."""
    return WAITING_FOR_BROKER if run.waiting_for_broker else hide_server_paths(run.phase)


def run_status(run: TrainingRun) -> dict[str, Any]:
    """The polled state of a training run (JSON-serialisable)."""
    return {
        "id": run.pk,
        "status": run.status,
        "status_display": run.get_status_display(),
        "epoch": run.epoch,
        "epochs_total": run.epochs_total,
        "progress": run.progress,
        "phase": phase_text(run),
        "error": hide_server_paths(run.error),
        "cancel_requested": run.cancel_requested,
        "history": run.history,
        "finished": run.status in FINISHED_STATUSES,
    }


def confusion_data(run: TrainingRun, schema: selectors.ProjectSchema) -> list[dict[str, Any]]:
    """[{"key", "name", "labels": [names], "matrix": k x k counts}] of the run's test metrics (MSED Fig. 7)."""
    out = []
    for task in schema.tasks:
        metrics = (run.test_metrics or {}).get(task.key)
        if metrics and metrics.get("confusion"):
            out.append(
                {"key": task.key, "name": task.name, "labels": list(task.label_names), "matrix": metrics["confusion"]}
            )
    return out


MAP_COLOURS = ("gold", "disagreement", "confidence")


def embedding_points(run: TrainingRun, *, space: str, colour: str, task_key: str) -> dict[str, Any]:
    """The stored map of one space with a colour per point, for
    figures.embedding_map: {"points": [...], "explained": [..], "legend": str,
    "categorical": bool, "message": str | None}. Each point carries "lines",
    its hover as plain text (item id, text, gold, suggestion), and "hover",
    the same lines as Plotly markup with every part escaped.

    colour "gold": the task's gold label (categorical); "disagreement":
    1 - votes_for / votes_total of the task's gold; "confidence": the
    probability of the suggested label in the run's latest prediction run
    (or the pre-labeller's when this run never predicted).
    """
    emap = selectors.get_embedding_map(run)
    if emap is None:
        return {
            "points": [],
            "message": "This run has no embedding map (it did not succeed, or the map could not be computed).",
        }
    spaces = emap.spaces or {}
    if space not in spaces:
        return {
            "points": [],
            "message": f"This model has no {space} representation; choose {', '.join(spaces) or 'another run'}.",
        }
    schema = selectors.get_project_schema(run.project)
    if task_key not in schema.keys:
        task_key = schema.keys[0]
    task = schema.task(task_key)
    task_id, task_name = task.id, task.name
    name_of_label = dict(zip(task.label_ids, task.label_names))
    ids = emap.item_ids
    xy = spaces[space]["xy"]
    present = [(item_id, point) for item_id, point in zip(ids, xy) if point is not None]
    item_ids = [item_id for item_id, _ in present]
    summaries = selectors.get_item_summaries(item_ids)
    gold = selectors.get_gold_and_support(run.project, item_ids)
    prediction = selectors.get_latest_prediction_run(run)
    if prediction is None and colour == "confidence":
        prelabeller = selectors.get_prelabeller(run.project)
        prediction = selectors.get_latest_prediction_run(prelabeller) if prelabeller else None
    suggestions = selectors.get_suggestion_arrays(prediction, task_id, item_ids) if prediction else {}
    slug = run.project.slug
    points = []
    for item_id, (x, y) in present:
        if item_id not in summaries:
            continue  # deleted since the map was made
        external_id, text, has_image = summaries[item_id]
        label_id, votes_for, votes_total = gold.get(item_id, {}).get(task_id, (None, 0, 0))
        suggestion = suggestions.get(item_id)
        if colour == "gold":
            value: Any = name_of_label.get(label_id, "no gold")
        elif colour == "disagreement":
            value = round(1 - votes_for / votes_total, 4) if votes_total else None
        else:
            value = round(suggestion[1], 4) if suggestion else None
        lines = [external_id, (text[:90] + "…") if len(text) > 90 else (text or "(no text)")]
        lines.append(
            f"gold {task_name.lower()}: {name_of_label.get(label_id, '—')}"
            + (f" ({votes_for}/{votes_total} votes)" if votes_total else "")
        )
        if suggestion:
            lines.append(f"suggested: {name_of_label.get(suggestion[0], '?')} (p = {suggestion[1]:.2f})")
        points.append(
            {
                "id": item_id,
                "x": x,
                "y": y,
                "value": value,
                "hover": hover_markup(lines),
                "lines": lines,
                "url": reverse("annotator:item-detail", args=[slug, item_id]),
                "thumb": reverse("annotator:item-image", args=[slug, item_id]) if has_image else "",
            }
        )
    legend = {
        "gold": f"gold {task_name.lower()}",
        "disagreement": f"disagreement on {task_name.lower()}",
        "confidence": f"suggestion confidence ({task_name.lower()})",
    }[colour]
    message = None
    if colour == "confidence" and not suggestions:
        message = "No suggestions to colour by yet: run a prediction with this model (or the pre-labeller)."
    return {
        "points": points,
        "explained": spaces[space].get("explained", []),
        "legend": legend,
        "categorical": colour == "gold",
        "categories": list(task.label_names) + ["no gold"],
        "message": message,
    }


def hover_markup(lines: Sequence[str]) -> str:
    """Plotly hover text for plain-text lines: the first (the item id) bold.

    Plotly renders hover text as HTML-like markup (<b>, <a href>, ...), and
    item ids, texts and label names are other people's data: every part is
    escaped, only our own <b> and <br> stay markup.
    """
    parts = [html.escape(str(line), quote=False) for line in lines]
    if parts:
        parts[0] = f"<b>{parts[0]}</b>"
    return "<br>".join(parts)


def model_vs_annotators(*, project: Project, training_run: TrainingRun | None = None) -> dict[str, Any]:
    """MSED Table 7 on this project's own votes.

    On held-out items (not in the train split) with at least three
    multimodal votes for a task: the model's accuracy against the majority
    of all annotators, and each annotator's accuracy against the majority of
    the *other* annotators (leave-one-out, analysis.metrics). Items whose
    majority ties are left out. The model's labels are the suggestions of
    its latest succeeded prediction run (which covers those items).

    Returns {"run", "prediction_run", "message", "annotators": [names],
    "tasks": [{"key", "name", "n_items", "model": {"accuracy", "n"},
    "annotators": [{"name", "accuracy", "n"}], "mean": float | None}]}.
    """
    from analysis.metrics import leave_one_out_agreement, majority_gold
    from analysis.selectors import DashboardFilters, get_usernames, get_vote_matrix

    training_run = training_run or selectors.get_prelabeller(project)
    if training_run is None:
        return {
            "run": None,
            "prediction_run": None,
            "tasks": [],
            "annotators": [],
            "rows": [],
            "message": "Choose a pre-labeller (or a run) first.",
        }
    prediction = selectors.get_latest_prediction_run(training_run)
    base = {"run": training_run, "prediction_run": prediction, "tasks": [], "annotators": [], "rows": []}
    if prediction is None:
        return {**base, "message": "This model has not predicted yet: start a prediction run with it first."}
    tasks = list(selectors.get_project_schema(project).tasks)
    votes = get_vote_matrix(project, DashboardFilters(), round=Annotation.Round.MULTIMODAL, tasks=tasks)
    held_out = set(
        Item.objects.filter(project=project, vote_count__gte=selectors.MIN_VOTES_FOR_HUMAN_EVAL)
        .exclude(split=Item.Split.TRAIN)
        .values_list("id", flat=True)
    )
    rows = np.isin(votes.item_ids, np.fromiter(held_out, dtype=np.int64, count=len(held_out)))
    names = get_usernames(votes.annotator_ids.tolist())
    annotator_names = [names.get(int(a), str(a)) for a in votes.annotator_ids]
    out_tasks = []
    for task in tasks:
        matrix = votes.labels.get(task.key, np.zeros((0, 0), dtype=np.int16))[rows]
        enough = (matrix >= 0).sum(axis=1) >= selectors.MIN_VOTES_FOR_HUMAN_EVAL
        matrix = matrix[enough]
        item_ids = votes.item_ids[rows][enough]
        entry: dict[str, Any] = {
            "key": task.key,
            "name": task.name,
            "n_items": int(len(item_ids)),
            "model": {"accuracy": None, "n": 0},
            "annotators": [],
            "mean": None,
        }
        if len(item_ids):
            majority = majority_gold(matrix, n_categories=task.n_categories).label
            suggested = selectors.get_suggestion_arrays(prediction, task.id, item_ids.tolist())
            position = {label_id: i for i, label_id in enumerate(task.label_ids)}
            predicted = np.array(
                [position.get(suggested[i][0], -1) if i in suggested else -1 for i in item_ids.tolist()]
            )
            scored = (majority >= 0) & (predicted >= 0)
            if scored.any():
                entry["model"] = {
                    "accuracy": float((predicted[scored] == majority[scored]).mean()),
                    "n": int(scored.sum()),
                }
            loo = leave_one_out_agreement(matrix, n_categories=task.n_categories)
            for name, accuracy, n in zip(annotator_names, loo.agreement, loo.n_used):
                if n > 0:
                    entry["annotators"].append({"name": name, "accuracy": float(accuracy), "n": int(n)})
            if entry["annotators"]:
                entry["mean"] = float(np.mean([a["accuracy"] for a in entry["annotators"]]))
        out_tasks.append(entry)
    message = None
    if not any(task["n_items"] for task in out_tasks):
        message = "No held-out item (dev, test or unassigned) has three or more votes yet."
    names = sorted({a["name"] for t in out_tasks for a in t["annotators"]})
    return {**base, "tasks": out_tasks, "annotators": names, "rows": _table7_rows(out_tasks, names), "message": message}


def _table7_rows(tasks: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    """Rows of MSED Table 7 for a template: annotators, their mean, the model."""

    def cell(value: float | None, n: int | None = None) -> str:
        return "—" if value is None else f"{100 * value:.1f}" + (f" ({n})" if n is not None else "")

    rows = []
    for name in names:
        by_task = [{a["name"]: a for a in t["annotators"]}.get(name) for t in tasks]
        rows.append(
            {"name": name, "kind": "annotator", "cells": [cell(a["accuracy"], a["n"]) if a else "—" for a in by_task]}
        )
    rows.append({"name": "Annotators' mean", "kind": "mean", "cells": [cell(t["mean"]) for t in tasks]})
    rows.append(
        {"name": "Model", "kind": "model", "cells": [cell(t["model"]["accuracy"], t["model"]["n"]) for t in tasks]}
    )
    return rows
