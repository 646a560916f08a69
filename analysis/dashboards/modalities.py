"""The modalities page (CH-SIMS section 3.2): how the labels of the text,
image and multimodal rounds differ."""

from __future__ import annotations

from typing import Any

import numpy as np

from annotator.models import Annotation, Project
from annotator.schemas import TaskSpec
from annotator.selectors import get_project_schema

from .. import figures
from .. import selectors as sel
from ..metrics import (
    modality_difference,
)
from ..selectors import DashboardFilters
from .common import ROUND_NAMES, attempt, chart, empty_page, no_votes_message, payload


def _sentiment_scores(task: TaskSpec) -> list[float] | None:
    """CH-SIMS scores sentiment -1 / 0 / 1; a task whose labels are exactly those polarities gets them."""
    polarity = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}
    if {"positive", "negative"} <= set(task.label_keys) <= set(polarity):
        return [polarity[k] for k in task.label_keys]
    return None


def build_modalities(project: Project, filters: DashboardFilters) -> dict[str, Any]:
    tasks = list(get_project_schema(project).tasks)
    if not tasks:
        return empty_page("modalities", "This project has no tasks yet: define its label schema first.")
    rounds = sel.list_vote_rounds(project)
    if not {Annotation.Round.TEXT, Annotation.Round.IMAGE} & set(rounds):
        return empty_page(
            "modalities",
            "This project has no unimodal rounds: every vote was cast seeing text and image together. Turn on "
            "unimodal rounds in the project settings (CH-SIMS: text only, then image only, then both) to compare modalities.",
        )
    matrices = {r: sel.get_vote_matrix(project, filters, round=r, tasks=tasks) for r in rounds}
    items = np.zeros(0, dtype=np.int64)
    for m in matrices.values():
        items = np.union1d(items, m.item_ids)
    if items.size == 0:
        return empty_page("modalities", no_votes_message(filters))
    aligned = {ROUND_NAMES[r]: m.reindex(items) for r, m in matrices.items()}
    charts, results = [], []
    for task in tasks:
        per_round = {name: m.labels[task.key] for name, m in aligned.items()}
        scores = _sentiment_scores(task)
        result, reason = attempt(modality_difference, per_round, scores=scores, n_categories=task.n_categories)
        entry = {"key": task.key, "name": task.name, "scored": scores is not None, "reason": reason}
        rows: list[list[Any]] = []
        if result is not None:
            entry.update(rounds=result.names, difference=result.difference, n_items=result.n_items)
            rows = [
                [a, b, result.difference[i, j], result.n_items[i, j]]
                for i, a in enumerate(result.names)
                for j, b in enumerate(result.names)
            ]
        results.append(entry)
        measure = (
            "D = mean over items of (A_r - A_s)², with A the mean vote scored negative -1, neutral 0, positive 1 (CH-SIMS eq. 1)"
            if scores is not None
            else "D = share of items whose majority labels differ between the two rounds (ties left out)"
        )
        charts.append(
            chart(
                f"modalities-{task.key}",
                f"{task.name}: difference between rounds",
                figure=None
                if result is None
                else figures.modality_heatmap(
                    result.names, result.difference, result.n_items, scored=scores is not None
                ),
                message=reason,
                caption=measure + "; computed over items with votes in both rounds.",
                columns=["round_a", "round_b", "difference", "items"],
                rows=rows,
            )
        )
        shares = {}
        distribution_rows = []
        for name, matrix in per_round.items():
            votes = matrix[matrix >= 0]
            c = np.bincount(votes, minlength=task.n_categories)
            shares[name] = c / c.sum() if c.sum() else np.full(task.n_categories, np.nan)
            distribution_rows += [[name, label, int(c[j]), shares[name][j]] for j, label in enumerate(task.label_names)]
        charts.append(
            chart(
                f"rounds-{task.key}",
                f"{task.name}: labels in each round",
                figure=figures.round_distribution_figure(task.label_names, shares),
                columns=["round", "label", "votes", "share"],
                rows=distribution_rows,
            )
        )
    notes = ["All rounds are compared, so the round filter does not apply here."]
    return payload(
        "modalities", data={"rounds": [ROUND_NAMES[r] for r in rounds], "tasks": results}, charts=charts, notes=notes
    )
