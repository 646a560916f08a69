"""The agreement and confusion pages: Fleiss' kappa with bootstrap
intervals, percent agreement, kappa per category, pairwise Cohen's kappa and
kappa per week; which labels annotators confuse (MSED Fig. 3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from annotator.models import Project
from annotator.schemas import TaskSpec
from annotator.selectors import get_project_schema

from .. import figures
from .. import selectors as sel
from ..metrics import (
    agreement_summary_from_counts,
    counts_from_labels,
    fleiss_kappa_from_counts,
    fleiss_kappa_per_category_from_counts,
    label_confusion_from_counts,
    pairwise_cohen,
    percent_agreement_from_counts,
)
from ..selectors import DashboardFilters
from .common import (
    BOOT_SEED,
    CI_LEVEL,
    N_BOOT,
    ROUND_NAMES,
    attempt,
    chart,
    clean,
    empty_page,
    no_votes_message,
    payload,
    user_names,
    week_label,
)


def item_weeks(project: Project, filters: DashboardFilters, item_ids: np.ndarray) -> np.ndarray:
    """Week (days since 1970-01-01 of its local Monday) of each item's latest filtered annotation; -1 if none."""
    items, last = sel.get_item_last_annotated(project, filters)
    weeks = np.full(item_ids.size, -1, dtype=np.int64)
    if items.size == 0 or item_ids.size == 0:
        return weeks
    rows = np.searchsorted(item_ids, items)
    found = rows < item_ids.size
    found[found] = item_ids[rows[found]] == items[found]
    weeks[rows[found]] = sel.local_week_starts(last[found])
    return weeks


def task_agreement(
    task: TaskSpec, labels: np.ndarray, weeks: np.ndarray, names: Sequence[str], *, n_boot: int = N_BOOT
) -> dict[str, Any]:
    """Every agreement number of one task from its (n_items, n_raters) label matrix.

    weeks: (n_items,) week of each item (-1 = unknown) for the over-time series.
    """
    k = task.n_categories
    counts = counts_from_labels(labels, k)
    summary = agreement_summary_from_counts(counts, n_boot=n_boot, seed=BOOT_SEED, level=CI_LEVEL)

    per_category, per_category_reason = attempt(lambda: fleiss_kappa_per_category_from_counts(counts))

    raters = np.flatnonzero((labels >= 0).any(axis=0))
    pairwise: dict[str, Any] = {"annotators": [names[r] for r in raters], "kappa": [], "n_shared": [], "reason": None}
    if raters.size < 2:
        pairwise["reason"] = "fewer than two annotators voted on this task, so there is no pair to compare"
    else:
        result = pairwise_cohen(labels[:, raters], n_categories=k)
        pairwise["kappa"], pairwise["n_shared"] = result.kappa, result.n_shared

    over_time = []
    valid_weeks = np.unique(weeks[weeks >= 0])
    for week in valid_weeks:
        rows = counts[weeks == week]
        fleiss, reason = attempt(fleiss_kappa_from_counts, rows)
        percent, percent_reason = attempt(percent_agreement_from_counts, rows)
        over_time.append(
            {
                "week": week_label(week),
                "n_items": int((rows.sum(axis=1) >= 2).sum()),
                "fleiss": fleiss,
                "percent": percent,
                "reason": reason or percent_reason,
            }
        )
    return {
        "key": task.key,
        "name": task.name,
        "labels": list(task.label_names),
        "summary": summary,
        "per_category": None if per_category is None else list(per_category),
        "per_category_reason": per_category_reason,
        "pairwise": pairwise,
        "over_time": over_time,
    }


def build_agreement(project: Project, filters: DashboardFilters) -> dict[str, Any]:
    tasks = list(get_project_schema(project).tasks)
    if not tasks:
        return empty_page("agreement", "This project has no tasks yet: define its label schema first.")
    votes = sel.get_vote_matrix(project, filters, tasks=tasks)
    if votes.item_ids.size == 0:
        return empty_page("agreement", no_votes_message(filters))
    names = user_names(votes.annotator_ids)
    weeks = item_weeks(project, filters, votes.item_ids)
    results = [clean(task_agreement(t, votes.labels[t.key], weeks, names)) for t in tasks]

    metric_names = figures.METRIC_NAMES
    summary_rows = []
    for r in results:
        s = r["summary"]
        for metric, label in metric_names.items():
            e = s[metric]
            summary_rows.append(
                [
                    r["key"],
                    label,
                    e["value"],
                    e["ci_low"],
                    e["ci_high"],
                    e.get("band") or "",
                    e["reason"] or "",
                    s["n_items_used"],
                    s["n_items_excluded"],
                    s["n_votes"],
                ]
            )
    charts = [
        chart(
            "summary",
            "Agreement per task",
            figure=figures.agreement_summary_figure(results, level=CI_LEVEL),
            caption=(
                f"Bars: point estimates; whiskers: {CI_LEVEL:.0%} percentile bootstrap intervals over items "
                f"({N_BOOT} resamples, seed {BOOT_SEED}). Shaded bands: Landis & Koch (1977), for the "
                "chance-corrected metrics."
            ),
            columns=[
                "task",
                "metric",
                "value",
                "ci_low",
                "ci_high",
                "landis_koch",
                "undefined_because",
                "items_used",
                "items_excluded",
                "votes",
            ],
            rows=summary_rows,
        )
    ]
    for r in results:
        rows = [[label, kappa] for label, kappa in zip(r["labels"], r["per_category"] or [None] * len(r["labels"]))]
        charts.append(
            chart(
                f"per-category-{r['key']}",
                f"{r['name']}: kappa per category",
                figure=None
                if r["per_category"] is None
                else figures.per_category_figure(r["name"], r["labels"], r["per_category"]),
                message=r["per_category_reason"],
                caption="Fleiss' kappa of each label against all the others (Fleiss 1971, eq. 13).",
                columns=["label", "fleiss_kappa"],
                rows=rows,
            )
        )
    for r in results:
        p = r["pairwise"]
        rows = [
            [a, b, p["kappa"][i][j], p["n_shared"][i][j]]
            for i, a in enumerate(p["annotators"])
            for j, b in enumerate(p["annotators"])
            if i < j
        ]
        charts.append(
            chart(
                f"pairwise-{r['key']}",
                f"{r['name']}: Cohen's kappa between annotators",
                figure=None if p["reason"] else figures.pairwise_heatmap(p["annotators"], p["kappa"], p["n_shared"]),
                message=p["reason"],
                caption="Each cell compares two annotators on the items both labelled (hover for the count); blank = undefined.",
                columns=["annotator_a", "annotator_b", "cohen_kappa", "shared_items"],
                rows=rows,
            )
        )
    series = {r["name"]: r["over_time"] for r in results}
    has_time = any(series.values())
    charts.append(
        chart(
            "over-time",
            "Agreement over time",
            figure=figures.agreement_over_time_figure(series) if has_time else None,
            message=None if has_time else "No annotation dates match these filters.",
            caption="Items grouped by the week (Monday) of their latest vote; Fleiss' kappa over each week's items.",
            columns=["task", "week", "items", "fleiss_kappa", "percent_agreement", "undefined_because"],
            rows=[
                [r["key"], p["week"], p["n_items"], p["fleiss"], p["percent"], p["reason"] or ""]
                for r in results
                for p in r["over_time"]
            ],
        )
    )
    notes = [
        f"{votes.item_ids.size:,} items, {votes.n_votes:,} votes by {len(names)} annotators ({ROUND_NAMES.get(filters.round, filters.round)} round)."
    ]
    if any(not r["summary"]["equal_votes"] and r["summary"]["n_items_used"] for r in results):
        notes.append(
            "Items have different numbers of votes: Fleiss' kappa is Gwet's generalised form, and items with one vote "
            "only count in the label prevalences."
        )
    data = {
        "n_boot": N_BOOT,
        "level": CI_LEVEL,
        "seed": BOOT_SEED,
        "n_items": votes.item_ids.size,
        "n_votes": votes.n_votes,
        "annotators": names,
        "tasks": results,
    }
    return payload("agreement", data=data, charts=charts, notes=notes)


# ---------------------------------------------------------------------------
# Confusion (MSED Fig. 3)


def build_confusion(project: Project, filters: DashboardFilters) -> dict[str, Any]:
    tasks = list(get_project_schema(project).tasks)
    if not tasks:
        return empty_page("confusion", "This project has no tasks yet: define its label schema first.")
    votes = sel.get_vote_matrix(project, filters, tasks=tasks)
    if votes.item_ids.size == 0:
        return empty_page("confusion", no_votes_message(filters))
    charts, results = [], []
    for task in tasks:
        counts = counts_from_labels(votes.labels[task.key], task.n_categories)
        shares, reason = attempt(label_confusion_from_counts, counts, normalize="all")
        entry: dict[str, Any] = {"key": task.key, "name": task.name, "labels": list(task.label_names), "reason": reason}
        rows: list[list[Any]] = []
        figure = None
        if shares is not None:
            pairs = label_confusion_from_counts(counts, normalize=None)
            by_row = label_confusion_from_counts(counts, normalize="row")
            entry.update(shares=shares, row_shares=by_row, pair_counts=pairs)
            rows = [
                [a, b, shares[i, j], by_row[i, j], pairs[i, j]]
                for i, a in enumerate(task.label_names)
                for j, b in enumerate(task.label_names)
            ]
            figure = figures.confusion_heatmap(task.label_names, shares, pair_counts=pairs)
        results.append(entry)
        charts.append(
            chart(
                f"confusion-{task.key}",
                f"{task.name}: label confusion",
                figure=figure,
                message=reason,
                caption=(
                    "Share of annotator pairs on the same item who chose (row, column), every item weighing the same: "
                    "the diagonal sums to the percent agreement, and a cell plus its mirror is the share of pairs split "
                    "between the two labels, MSED Fig. 3's annotation difference."
                ),
                columns=["label_a", "label_b", "share_of_pairs", "share_of_row", "ordered_pairs"],
                rows=rows,
            )
        )
    return payload("confusion", data={"tasks": results}, charts=charts)
