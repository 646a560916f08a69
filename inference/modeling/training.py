"""The training loop and artefact writing: the API the Django side calls.

    result = train(config, records, schema=[("desire", 7), ("sentiment", 3), ("emotion", 6)],
                   cache_dir=MODEL_DIR / "features", artefact_dir=MODEL_DIR / "runs" / "42",
                   on_progress=..., should_stop=...)

Runs on CUDA when present (config.device = "auto"), else on the CPU.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from analysis.metrics import classification_metrics

from . import calibration
from .config import TrainConfig
from .data import Record, Schema, as_records, data_counts, normalise_schema, split_records
from .features import Cancelled, FeatureCache
from .inputs import Encoders, InputTable, Outputs, build_table, make_batch, pick_device, run_network
from .losses import balanced_class_weights, total_loss
from .network import ROUTE_FUSED, ROUTE_NONE, AffectEnsemble, AffectNet, Network
from .structure import Nesting, find_nestings

ARTEFACT_FORMAT = 1
ARTEFACT_META = "artefact.json"
ARTEFACT_WEIGHTS = "model.pt"

ProgressCallback = Callable[[int, int, float, "float | None"], None]


@dataclass
class TrainResult:
    """What a finished run reports (all JSON-serialisable through to_dict()).

    test_metrics / dev_metrics: {task_key: classification_metrics(...)} of the
        best epoch, each item predicted by its routed head; tasks without
        labelled items in that split are left out.
    history: [{"epoch", "train_loss", "dev_macro_f1"}] per epoch run.
    data_counts: see data.data_counts, plus "used_for_training".
    encoded: items the frozen encoders actually encoded (cache misses).
    calibration: {task_key: calibration.calibrate_task(...)} of the best
        epoch: the temperature fitted on the dev split and the test split's
        ECE and reliability bins before and after scaling, for every task.
    branch_metrics: score_branches() of the dev and test splits,
        {"dev": {...}, "test": {...}}; {} for a model without both a fused
        and a unimodal head.
    timings: wall seconds per phase: "encoding" (frozen encoders filling
        or reading the cache, loading them included), "training" (the
        epochs, each with its dev pass for early stopping), "evaluation"
        (the best epoch on dev and test, calibration, branch scores) and
        "saving" (the artefact).
    """

    test_metrics: dict[str, dict]
    dev_metrics: dict[str, dict]
    history: list[dict]
    data_counts: dict[str, Any]
    artefact_path: str
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    seed: int
    device: str
    encoded: dict[str, int]
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    calibration: dict[str, dict] = field(default_factory=dict)
    branch_metrics: dict[str, dict] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def train(
    config: TrainConfig,
    records: Iterable[Record | Mapping[str, Any]],
    *,
    schema: Sequence[tuple[str, int]],
    cache_dir: str | os.PathLike[str] | None,
    artefact_dir: str | os.PathLike[str],
    on_progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_encode: Callable[[str, int, int], None] | None = None,
) -> TrainResult:
    """Train one model on records split "train" / "dev" / "test" and save it.

    schema: ordered [(task_key, n_labels)]; labels are indices in that order.
    cache_dir: the shared feature cache (None: no caching, for experiments).
    artefact_dir: must not exist yet; it appears, complete, only when the
        run succeeds (written to a hidden temporary sibling, then renamed).
    on_progress(epoch, total_epochs, train_loss, dev_macro_f1) after each
        epoch (dev_macro_f1 is None without dev items); on_encode(modality,
        done, total) while frozen encoders fill the cache; should_stop() is
        polled between batches.

    Early stopping keeps the epoch with the best dev macro-F1 (mean over
    tasks) and stops after `patience` epochs without improvement (0: never).

    Raises ConfigError (bad config), ValueError (bad records or no usable
    training items), FileExistsError (artefact_dir exists) and Cancelled
    (should_stop said so; no artefact is left behind).
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    schema = normalise_schema(schema)
    task_keys = [key for key, _ in schema]
    config.validate(task_keys)
    artefact_dir = Path(artefact_dir)
    if artefact_dir.exists():
        raise FileExistsError(f"artefact directory {artefact_dir} already exists")
    _remove_stale_temporaries(artefact_dir)

    records = as_records(records)
    splits = split_records(records)
    counts = data_counts(splits, schema)
    device = pick_device(config.device)
    seed_everything(config.seed)
    cache = FeatureCache(cache_dir) if cache_dir is not None else None
    encoders = Encoders(config, device)
    warnings: list[str] = []

    phase_started = time.perf_counter()
    tables = {
        split: build_table(
            split_records_,
            schema,
            encoders,
            cache,
            warnings=warnings,
            should_stop=should_stop,
            on_encode=on_encode,
            # Only training learns from distributions; dev and test are scored on gold labels.
            soft=config.targets == "soft" and split == "train",
        )
        for split, split_records_ in splits.items()
    }
    encoded = {modality: sum(table.encoded[modality] for table in tables.values()) for modality in ("text", "image")}
    timings["encoding"] = time.perf_counter() - phase_started
    if config.targets == "soft" and not any(record.soft_labels for record in splits["train"]):
        warnings.append("soft targets: no training item has a label distribution, so every item trained one-hot")
    tables["train"] = _trainable_rows(tables["train"])
    counts["used_for_training"] = len(tables["train"])
    if len(tables["train"]) == 0:
        raise ValueError(
            "no training items: the train split needs items with a label and a usable modality "
            f"(modalities={config.modalities!r})"
        )
    if len(tables["dev"]) == 0:
        warnings.append("no dev items: no early stopping, the last epoch is kept")

    nestings = find_nestings(tables["train"].labels.numpy(), schema) if config.joint_decoding else []
    # Seed again so the network's initial weights do not depend on whether
    # the features came from the cache or from a freshly loaded encoder.
    seed_everything(config.seed)
    net = _build_network(config, schema, encoders, pretrained=True).to(device)
    warnings.extend(encoders.warnings())
    class_weights = None
    if config.losses.class_weights:
        class_weights = {
            task: torch.from_numpy(balanced_class_weights(tables["train"].labels[:, column].numpy(), n)).to(device)
            for column, (task, n) in enumerate(schema)
        }
    optimizer = _optimizer(net, config)
    generator = torch.Generator().manual_seed(config.seed)

    history: list[dict] = []
    best_score: float | None = None
    best_state = None
    best_epoch = 0
    stale_epochs = 0
    stopped_early = False
    n_train = len(tables["train"])
    phase_started = time.perf_counter()
    # An ensemble's members train side by side, each on its own batch order;
    # Adam's updates are per parameter, so one optimizer trains them independently.
    members = list(net.members) if isinstance(net, AffectEnsemble) else [net]
    for epoch in range(1, config.epochs + 1):
        net.train()
        orders = [torch.randperm(n_train, generator=generator) for _ in members]
        loss_sum = 0.0
        for start in range(0, n_train, config.batch_size):
            if should_stop is not None and should_stop():
                raise Cancelled(f"training cancelled in epoch {epoch}")
            optimizer.zero_grad(set_to_none=True)
            for member, order in zip(members, orders, strict=True):
                index = order[start : start + config.batch_size]
                batch = make_batch(tables["train"], index, encoders).to(device)
                loss = total_loss(
                    member(batch), batch, task_keys=task_keys, loss_config=config.losses, class_weights=class_weights
                )
                loss.backward()
                torch.nn.utils.clip_grad_norm_(member.parameters(), 5.0)
                loss_sum += float(loss.detach()) * len(index) / len(members)
            optimizer.step()
        train_loss = loss_sum / n_train

        dev_metrics, dev_score = evaluate(
            net, tables["dev"], encoders, schema, batch_size=max(config.batch_size, 64), nestings=nestings
        )
        history.append({"epoch": epoch, "train_loss": train_loss, "dev_macro_f1": dev_score})
        if on_progress is not None:
            on_progress(epoch, config.epochs, train_loss, dev_score)
        if dev_score is None or best_score is None or dev_score > best_score:
            best_score, best_epoch, stale_epochs = dev_score, epoch, 0
            best_state = copy.deepcopy(net.state_dict())
        else:
            stale_epochs += 1
            if config.patience and stale_epochs >= config.patience:
                stopped_early = True
                break

    timings["training"] = time.perf_counter() - phase_started
    phase_started = time.perf_counter()
    net.load_state_dict(best_state)
    batch_size = max(config.batch_size, 64)
    dev_outputs = (
        run_network(net, tables["dev"], encoders, batch_size=batch_size, branches=True, nestings=nestings)
        if len(tables["dev"])
        else None
    )
    test_outputs = (
        run_network(net, tables["test"], encoders, batch_size=batch_size, branches=True, nestings=nestings)
        if len(tables["test"])
        else None
    )
    dev_metrics, _ = score(dev_outputs, tables["dev"], schema)
    test_metrics, _ = score(test_outputs, tables["test"], schema)
    calibrations = {
        task: calibration.calibrate_task(
            *labelled_probabilities(dev_outputs, tables["dev"], column, task),
            *labelled_probabilities(test_outputs, tables["test"], column, task),
        )
        for column, (task, _) in enumerate(schema)
    }
    branch_metrics = {}
    if "fused" in net.heads and len(net.heads) > 1:
        branch_metrics = {
            split: score_branches(outputs, tables[split], schema)
            for split, outputs in (("dev", dev_outputs), ("test", test_outputs))
            if outputs is not None
        }
    timings["evaluation"] = time.perf_counter() - phase_started

    result = TrainResult(
        test_metrics=test_metrics,
        dev_metrics=dev_metrics,
        history=history,
        data_counts=counts,
        artefact_path=str(artefact_dir),
        best_epoch=best_epoch,
        epochs_run=len(history),
        stopped_early=stopped_early,
        seed=config.seed,
        device=str(device),
        encoded=encoded,
        warnings=warnings,
        calibration=calibrations,
        branch_metrics=branch_metrics,
        timings=timings,
    )
    meta = {
        "format": ARTEFACT_FORMAT,
        "config": config.to_dict(),
        "schema": [[key, n] for key, n in schema],
        "text_dim": encoders.text_dim,
        "image_dim": encoders.image_dim,
        "text_encoder_identity": encoders.text_spec.identity if encoders.text_featurizer else None,
        "image_encoder_identity": encoders.image_spec.identity if encoders.image_featurizer else None,
        "seed": config.seed,
        "best_epoch": best_epoch,
        "history": history,
        "dev_metrics": dev_metrics,
        "test_metrics": test_metrics,
        "calibration": calibrations,
        "branch_metrics": branch_metrics,
        "nestings": [nesting.to_dict() for nesting in nestings],
        "data_counts": counts,
        "warnings": warnings,
        "versions": _versions(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    phase_started = time.perf_counter()
    write_artefact(artefact_dir, net, meta, encoders)
    timings["saving"] = time.perf_counter() - phase_started
    result.seconds = time.perf_counter() - started
    return result


def evaluate(
    net: Network,
    table: InputTable,
    encoders: Encoders,
    schema: Schema,
    *,
    batch_size: int,
    nestings: Sequence[Nesting] = (),
) -> tuple[dict[str, dict], float | None]:
    """Per-task classification metrics of routed predictions on labelled
    items, and their mean macro-F1 (None when no task has labelled items)."""
    if len(table) == 0:
        return {}, None
    return score(run_network(net, table, encoders, batch_size=batch_size, nestings=nestings), table, schema)


def score(outputs: Outputs | None, table: InputTable, schema: Schema) -> tuple[dict[str, dict], float | None]:
    """evaluate() on a forward pass already made (None: an empty split)."""
    metrics: dict[str, dict] = {}
    for column, (task, n_labels) in enumerate(schema):
        probabilities, truth = labelled_probabilities(outputs, table, column, task)
        if len(truth):
            metrics[task] = classification_metrics(truth, probabilities.argmax(axis=1), n_categories=n_labels)
    if not metrics:
        return metrics, None
    return metrics, float(np.mean([task_metrics["macro_f1"] for task_metrics in metrics.values()]))


def score_branches(outputs: Outputs, table: InputTable, schema: Schema) -> dict[str, Any]:
    """Each head's own macro-F1 on the items the fused head predicts (both
    modalities present), so fused and unimodal heads answer the same items:
    {"items": n, "macro_f1": {branch: {task_key: macro-F1}}}. A task with
    no labelled such item is left out."""
    both = outputs.route == ROUTE_FUSED
    out: dict[str, Any] = {"items": int(both.sum()), "macro_f1": {}}
    for branch, tasks in outputs.branch_probabilities.items():
        scores = {}
        for column, (task, n_labels) in enumerate(schema):
            truth = table.labels[:, column].numpy()
            rows = both & (truth >= 0)
            if task in tasks and rows.any():
                predicted = tasks[task][rows].argmax(axis=1)
                scores[task] = classification_metrics(truth[rows], predicted, n_categories=n_labels)["macro_f1"]
        out["macro_f1"][branch] = scores
    return out


def labelled_probabilities(
    outputs: Outputs | None, table: InputTable, column: int, task: str
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities (m, n_labels) and gold labels (m,) of one task's items
    that have a gold label and were routed to a head (empty for None)."""
    if outputs is None or task not in outputs.probabilities:
        return np.zeros((0, 1)), np.zeros(0, dtype=np.int64)
    truth = table.labels[:, column].numpy()
    rows = (outputs.route != ROUTE_NONE) & (truth >= 0)
    return outputs.probabilities[task][rows], truth[rows]


def write_artefact(artefact_dir: Path, net: Network, meta: dict, encoders: Encoders) -> None:
    """Write weights, tokenizer / encoder config when needed, and meta into a
    hidden temporary sibling, then rename it to artefact_dir in one step: a
    run killed at any point leaves no (half-written) artefact_dir."""
    artefact_dir.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{artefact_dir.name}.tmp-", dir=artefact_dir.parent))
    try:
        state = {key: value.detach().cpu() for key, value in net.state_dict().items()}
        torch.save(state, temporary / ARTEFACT_WEIGHTS)
        if encoders.trains_text:
            encoders.tokenizer.save_pretrained(str(temporary / "tokenizer"))
            if encoders.text_spec.kind == "hf":
                net.text_encoder.model.config.save_pretrained(str(temporary / "text_encoder"))
        (temporary / ARTEFACT_META).write_text(json.dumps(meta, indent=1, default=_json_default))
        os.rename(temporary, artefact_dir)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def _build_network(
    config: TrainConfig, schema: Schema, encoders: Encoders, *, pretrained: bool, artefact_dir: Path | None = None
) -> Network:
    """The network with its trained encoders (an AffectEnsemble of
    config.ensemble members when above 1); pretrained=False (loading an
    artefact) builds the encoders without weights, from artefact_dir's saved
    config."""
    text_encoder = image_encoder = None
    if encoders.trains_text:
        text_encoder = encoders.text_spec.build(
            encoders.tokenizer,
            pretrained=pretrained,
            config_dir=(artefact_dir / "text_encoder") if artefact_dir is not None else None,
        )
    if encoders.trains_image:
        image_encoder = encoders.image_spec.build(pretrained=pretrained)
    members = [
        AffectNet(
            _member_config(config, member),
            schema,
            text_dim=encoders.text_dim,
            image_dim=encoders.image_dim,
            text_encoder=text_encoder,
            image_encoder=image_encoder,
            text_view=member % len(config.text_views),
        )
        # An ensemble needs frozen encoders (TrainConfig.validate), so members share none.
        for member in range(config.ensemble)
    ]
    return members[0] if config.ensemble == 1 else AffectEnsemble(members)


def _member_config(config: TrainConfig, member: int) -> TrainConfig:
    """Member `member`'s config: with mixed_widths, odd members are twice as wide."""
    if config.mixed_widths and member % 2:
        return dataclasses.replace(config, hidden_size=config.hidden_size * 2)
    return config


def _optimizer(net: Network, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam with L2 (MSED eq. 1); pretrained encoders at encoder_lr, all the
    rest (including BiLSTM / CNN baselines trained from scratch) at lr."""
    pretrained_ids: set[int] = set()
    if net.text_encoder is not None and not config.uses_baseline_text_encoder:
        pretrained_ids |= {id(p) for p in net.text_encoder.parameters()}
    if net.image_encoder is not None and config.image_encoder != "tiny-cnn":
        pretrained_ids |= {id(p) for p in net.image_encoder.parameters()}
    trainable = [p for p in net.parameters() if p.requires_grad]
    groups = [{"params": [p for p in trainable if id(p) not in pretrained_ids], "lr": config.lr}]
    encoder_params = [p for p in trainable if id(p) in pretrained_ids]
    if encoder_params:
        groups.append({"params": encoder_params, "lr": config.encoder_lr})
    try:
        # The fused kernel updates all parameters in one call: on a CPU the
        # per-parameter loop of plain Adam costs as much as the network itself.
        return torch.optim.Adam(groups, weight_decay=config.weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(groups, weight_decay=config.weight_decay)


def _trainable_rows(table: InputTable) -> InputTable:
    """Rows with a usable modality and at least one known label (or, for
    soft targets, a target distribution)."""
    usable = table.has_text | table.has_image
    labelled = (table.labels >= 0).any(1) | (table.text_labels >= 0).any(1) | (table.image_labels >= 0).any(1)
    if table.soft_labels is not None:
        for targets in table.soft_labels.values():
            labelled |= targets.sum(1) > 0
    rows = torch.nonzero(usable & labelled, as_tuple=True)[0]
    if len(rows) == len(table):
        return table
    pick = rows.tolist()

    def soft(targets: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor] | None:
        return None if targets is None else {key: value[rows] for key, value in targets.items()}

    return InputTable(
        ids=[table.ids[row] for row in pick],
        texts=[table.texts[row] for row in pick],
        image_paths=[table.image_paths[row] for row in pick],
        has_text=table.has_text[rows],
        has_image=table.has_image[rows],
        labels=table.labels[rows],
        text_labels=table.text_labels[rows],
        image_labels=table.image_labels[rows],
        text_features=table.text_features[rows] if table.text_features is not None else None,
        image_features=table.image_features[rows] if table.image_features is not None else None,
        encoded=table.encoded,
        soft_labels=soft(table.soft_labels),
        text_soft_labels=soft(table.text_soft_labels),
        image_soft_labels=soft(table.image_soft_labels),
    )


def _remove_stale_temporaries(artefact_dir: Path) -> None:
    """Temporaries of an earlier attempt at this artefact that was killed."""
    if artefact_dir.parent.is_dir():
        for stale in artefact_dir.parent.glob(f".{artefact_dir.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)


def _versions() -> dict[str, str]:
    import sys

    versions = {"torch": torch.__version__}
    if "transformers" in sys.modules:
        versions["transformers"] = sys.modules["transformers"].__version__
    return versions


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
