"""Reads that build page and API data for the model pages.

Comparison tables (MSED Tables 5, 6 and 8), a run's polled state, confusion
matrices, the embedding map's points with their escaped hover text and
links, and model versus annotators (Table 7). They combine several
selectors and write nothing.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
from django.urls import reverse

from annotator.models import Annotation, Item, Project

from . import selectors
from .models import FINISHED_STATUSES, TrainingRun
from .services.files import hide_server_paths
from .services.options import describe_config

WAITING_FOR_BROKER = (
    "Waiting for the job queue, which cannot be reached just now; the run starts by itself when it is back."
)


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


# The phases a run's timings record, in the order they happen, as the page names them.
PHASES = (
    ("reading", "reading the labelled items"),
    ("encoding", "encoding (frozen encoders, or the feature cache)"),
    ("training", "training (epochs with their dev pass)"),
    ("evaluation", "evaluation (best epoch on dev and test, calibration)"),
    ("saving", "saving the model"),
    ("map", "embedding map"),
)
UNIMODAL_BRANCHES = ("text", "image")


def run_scores(run: TrainingRun, schema: selectors.ProjectSchema) -> dict[str, Any]:
    """What a run bought (issue 13), for its page: per task the dev and test
    macro-F1, the fused head's margin over the best unimodal head on the
    items with text and image (dev and test, in points), and the wall time
    per phase.

    {"tasks": [{"key", "name", "dev", "test", "margin_dev", "margin_test"}]
    (display strings), "margin_items": {"dev": n, "test": n} or {} when the
    model has no fused and unimodal heads to compare, "phases": [{"key",
    "name", "seconds", "display"}], "total": display or ""}. No query."""
    branches = run.branch_metrics or {}
    tasks = []
    for task in schema.tasks:
        tasks.append(
            {
                "key": task.key,
                "name": task.name,
                "dev": _percent(((run.dev_metrics or {}).get(task.key) or {}).get("macro_f1")),
                "test": _percent(((run.test_metrics or {}).get(task.key) or {}).get("macro_f1")),
                "margin_dev": _margin_text(fused_margin(branches.get("dev"), task.key)),
                "margin_test": _margin_text(fused_margin(branches.get("test"), task.key)),
            }
        )
    timings = run.timings or {}
    phases = [
        {"key": key, "name": name, "seconds": timings[key], "display": duration_text(timings[key])}
        for key, name in PHASES
        if isinstance(timings.get(key), (int, float))
    ]
    total = sum(phase["seconds"] for phase in phases)
    return {
        "tasks": tasks,
        "margin_items": {split: entry.get("items", 0) for split, entry in branches.items() if isinstance(entry, dict)},
        "phases": phases,
        "total": duration_text(total) if phases else "",
    }


def fused_margin(entry: dict[str, Any] | None, task_key: str) -> tuple[float, str, float] | None:
    """(fused macro-F1 minus the best unimodal head's, that head's name, its
    macro-F1) of one task in one split's score_branches entry; None when
    the fused head or every unimodal head lacks the task."""
    scores = (entry or {}).get("macro_f1") or {}
    fused = (scores.get("fused") or {}).get(task_key)
    unimodal = [
        (value, branch)
        for branch in UNIMODAL_BRANCHES
        if isinstance(value := (scores.get(branch) or {}).get(task_key), (int, float))
    ]
    if not isinstance(fused, (int, float)) or not unimodal:
        return None
    best, branch = max(unimodal)
    return fused - best, branch, best


def _margin_text(margin: tuple[float, str, float] | None) -> str:
    if margin is None:
        return "—"
    difference, branch, best = margin
    return f"{100 * difference:+.1f} (vs {branch} {100 * best:.1f})"


def duration_text(seconds: float) -> str:
    """12.3 s, 4 min 05 s, 1 h 02 min."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


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


def targets_comparison(run: TrainingRun, schema: selectors.ProjectSchema) -> dict[str, Any] | None:
    """Soft against hard targets (issue 14.4): when the project has a
    succeeded run with the same options as `run` except its targets, per
    task both runs' test macro-F1 and ECE before and after temperature
    scaling, and soft minus hard. None without such a run.

    {"this": run, "other": run, "soft": run, "hard": run, "rows": [{"key",
    "name", "hard", "soft", "diff"}], "mean": mean diff over tasks} where
    hard / soft / diff / mean are {"macro_f1", "ece_before", "ece_after"}
    (None where unmeasured)."""
    other = selectors.get_other_targets_run(run) if run.status == "succeeded" else None
    if other is None:
        return None
    soft, hard = (run, other) if selectors.targets_of(run.config) == "soft" else (other, run)

    def measures(of: TrainingRun, key: str) -> dict[str, float | None]:
        calibration = (of.calibration or {}).get(key) or {}
        return {
            "macro_f1": ((of.test_metrics or {}).get(key) or {}).get("macro_f1"),
            "ece_before": calibration.get("ece_before"),
            "ece_after": calibration.get("ece_after"),
        }

    rows = []
    for task in schema.tasks:
        hard_values, soft_values = measures(hard, task.key), measures(soft, task.key)
        diff = {
            name: None
            if hard_values[name] is None or soft_values[name] is None
            else soft_values[name] - hard_values[name]
            for name in hard_values
        }
        rows.append({"key": task.key, "name": task.name, "hard": hard_values, "soft": soft_values, "diff": diff})
    mean = {}
    for name in ("macro_f1", "ece_before", "ece_after"):
        measured = [row["diff"][name] for row in rows if row["diff"][name] is not None]
        mean[name] = float(np.mean(measured)) if measured else None
    return {"this": run, "other": other, "soft": soft, "hard": hard, "rows": rows, "mean": mean}


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
