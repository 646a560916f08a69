"""The annotators page: annotations and votes, time per item, agreement
with the others (leave one out) and model suggestions kept, per annotator;
then their reliability (dashboards/reliability.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from annotator.models import Project
from annotator.selectors import get_project_schema

from .. import figures
from .. import selectors as sel
from ..metrics import (
    leave_one_out_agreement,
)
from ..selectors import DashboardFilters
from .common import chart, empty_page, group_medians, no_votes_message, payload, user_names
from .reliability import build_reliability


def build_annotators(project: Project, filters: DashboardFilters) -> dict[str, Any]:
    tasks = list(get_project_schema(project).tasks)
    if not tasks:
        return empty_page("annotators", "This project has no tasks yet: define its label schema first.")
    votes = sel.get_vote_matrix(project, filters, tasks=tasks)
    annotations = sel.get_annotation_arrays(project, filters)
    if votes.item_ids.size == 0 and len(annotations) == 0:
        return empty_page("annotators", no_votes_message(filters))
    ids = np.union1d(votes.annotator_ids, annotations.annotator_ids)
    names = user_names(ids)
    n = ids.size
    column = np.searchsorted(ids, votes.annotator_ids)
    n_votes = np.zeros(n, dtype=np.int64)
    for task in tasks:
        n_votes[column] += (votes.labels[task.key] >= 0).sum(axis=0)
    who = np.searchsorted(ids, annotations.annotator_ids)
    n_annotations = np.bincount(who, minlength=n)
    timed = annotations.duration_ms >= 0
    median_seconds = group_medians(who[timed], annotations.duration_ms[timed].astype(np.float64), n) / 1000

    agreement, used = {}, {}
    for task in tasks:
        loo = leave_one_out_agreement(votes.labels[task.key], n_categories=task.n_categories)
        values = np.full(n, np.nan)
        counts = np.zeros(n, dtype=np.int64)
        values[column], counts[column] = loo.agreement, loo.n_used
        agreement[task.name], used[task.name] = values, counts

    suggestions = sel.get_suggestion_counts(project, filters)
    kept = np.array([sum(c[0] for c in suggestions.get(int(i), {}).values()) for i in ids], dtype=np.int64)
    shown = np.array([sum(c[1] for c in suggestions.get(int(i), {}).values()) for i in ids], dtype=np.int64)
    rate = np.where(shown > 0, kept / np.maximum(shown, 1), np.nan)

    charts = [
        chart(
            "annotations",
            "Annotations and votes per annotator",
            figure=figures.category_bars(
                names,
                n_annotations,
                title_y="annotations",
                hover=[f"{a}: {x} annotations, {v} votes" for a, x, v in zip(names, n_annotations, n_votes)],
            ),
            columns=["annotator", "annotations", "votes"],
            rows=[[a, x, v] for a, x, v in zip(names, n_annotations, n_votes)],
        ),
        chart(
            "time",
            "Median time per item",
            figure=figures.category_bars(names, median_seconds, title_y="seconds", color=figures.PALETTE[1]),
            caption="Median of the annotations' recorded durations (all tasks of an item together).",
            columns=["annotator", "median_seconds", "timed_annotations"],
            rows=[[a, s, int(c)] for a, s, c in zip(names, median_seconds, np.bincount(who[timed], minlength=n))],
        ),
        chart(
            "agreement",
            "Agreement with the others (leave one out)",
            figure=figures.annotator_agreement_figure(names, agreement, used),
            caption="Share of an annotator's items where their label equals the majority of the other annotators' labels; "
            "items where the others tie, or nobody else voted, are left out.",
            columns=["annotator", *[f"{t}_agreement" for t in agreement], *[f"{t}_items" for t in used]],
            rows=[[a, *[agreement[t][i] for t in agreement], *[used[t][i] for t in used]] for i, a in enumerate(names)],
        ),
    ]
    if shown.sum():
        charts.append(
            chart(
                "suggestions",
                "Model suggestions kept",
                figure=figures.category_bars(
                    names,
                    rate,
                    title_y="share kept",
                    percent=True,
                    color=figures.PALETTE[2],
                    hover=[f"{a}: kept {k} of {s}" for a, k, s in zip(names, kept, shown)],
                ),
                caption="Of the suggestions shown to each annotator (per task), the share they kept.",
                columns=["annotator", "kept", "shown", "rate"],
                rows=[[a, k, s, r] for a, k, s, r in zip(names, kept, shown, rate)],
            )
        )
    else:
        charts.append(
            chart(
                "suggestions",
                "Model suggestions kept",
                message="No annotation records a model suggestion (suggestions are off, or none was shown yet).",
            )
        )
    reliability_charts, reliability = build_reliability(project, tasks, ids, names)
    charts.extend(reliability_charts)
    data = {
        "reliability_threshold": project.reliability_threshold,
        "annotators": [
            {
                "id": int(i),
                "name": a,
                "reliability": reliability[int(i)]["tasks"],
                "flags": reliability[int(i)]["flags"],
                "annotations": int(n_annotations[j]),
                "votes": int(n_votes[j]),
                "median_seconds": median_seconds[j],
                "agreement": {t: agreement[t][j] for t in agreement},
                "agreement_items": {t: int(used[t][j]) for t in used},
                "suggestions_kept": int(kept[j]),
                "suggestions_shown": int(shown[j]),
                "suggestion_rate": rate[j],
            }
            for j, (i, a) in enumerate(zip(ids, names))
        ],
    }
    return payload("annotators", data=data, charts=charts)
