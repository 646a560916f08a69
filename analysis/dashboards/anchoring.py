"""The anchoring page (issue 14.6): do our pre-labels bias our annotators,
and by how much?

The project shows the model's suggestions to a random share of (annotator,
item) pairs (annotator.anchoring); this page compares the arm shown them
with the arm not shown them, per task:

* agreement with the model: the share of votes equal to the suggestion of
  the run recorded on the annotation (in the hidden arm, the run the page
  would have shown; annotator.services.votes);
* agreement among annotators: Fleiss' kappa over the items' votes within
  each arm (suggestions can make annotators agree with each other by
  agreeing with the model);
* the label distribution: a chi-square test of independence arm x label,
  with Cramér's V;

and over the whole annotation: the median time per item and the share of
annotations that kept every suggestion. Each difference (shown - hidden)
has a seeded percentile-bootstrap interval that resamples annotations (or,
for kappa, items) within each arm (analysis.metrics.anchoring).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from annotator.models import Project
from annotator.selectors import get_project_schema

from .. import figures
from .. import selectors as sel
from ..metrics import (
    ArmComparison,
    chi_square_independence,
    cohens_h,
    compare_arms,
)
from ..selectors import DashboardFilters
from .common import BOOT_SEED, CI_LEVEL, N_BOOT, attempt, chart, empty_page, no_votes_message, payload, user_names

PAGE = "anchoring"


def _boot(shown, hidden, statistic="mean") -> tuple[ArmComparison | None, str | None]:
    return attempt(compare_arms, shown, hidden, statistic, n_boot=N_BOOT, seed=BOOT_SEED, level=CI_LEVEL)


def _as_dict(result: ArmComparison | None, reason: str | None) -> dict[str, Any]:
    if result is None:
        return {"shown": None, "hidden": None, "difference": None, "ci_low": None, "ci_high": None, "reason": reason}
    return {
        "shown": result.shown,
        "hidden": result.hidden,
        "difference": result.difference,
        "ci_low": result.low,
        "ci_high": result.high,
        "n_shown": result.n_shown,
        "n_hidden": result.n_hidden,
        "reason": None,
    }


def _counts(item_ids: np.ndarray, labels: np.ndarray, n_categories: int) -> np.ndarray:
    """(n_items, k) vote counts of the items that have a vote among these rows."""
    voted = labels >= 0
    _, row = np.unique(item_ids[voted], return_inverse=True)
    counts = np.zeros((int(row.max()) + 1 if row.size else 0, n_categories), dtype=np.int64)
    np.add.at(counts, (row.reshape(-1), labels[voted].astype(np.int64)), 1)
    return counts


def _points(value: float | None) -> str:
    return "undefined" if value is None else f"{value * 100:+.1f}"


def headline(pooled: ArmComparison | None, reason: str | None, time: ArmComparison | None = None) -> str:
    """The page's answer in one or two plain sentences (plain text; the template escapes it)."""
    if pooled is None:
        return f"Not measurable yet: {reason}."
    return _pull(pooled) + _speed(time)


def _speed(time: ArmComparison | None) -> str:
    if time is None or not (time.high < 0 or time.low > 0):
        return ""
    faster = "faster" if time.difference < 0 else "slower"
    return (
        f" With suggestions they were {faster}: a median of {time.shown:.1f} s per item against "
        f"{time.hidden:.1f} s ({time.difference:+.1f} s, 95% interval {time.low:+.1f} to {time.high:+.1f})."
    )


def _pull(pooled: ArmComparison) -> str:
    a, b = pooled.shown, pooled.hidden
    effect = (
        f"with the suggestion shown, annotators chose the model's label in {a:.0%} of votes, against {b:.0%} "
        f"when it was hidden: {_points(pooled.difference)} percentage points "
        f"(95% interval {_points(pooled.low)} to {_points(pooled.high)}; Cohen's h {cohens_h(a, b):.2f})."
    )
    if pooled.low > 0:
        return "Yes, the pre-labels pull annotators towards the model: " + effect
    if pooled.high < 0:
        return "No pull towards the model; if anything away from it: " + effect
    return "No clear effect so far (the interval includes 0): " + effect


def _empty_message(project: Project, filters: DashboardFilters) -> str:
    if project.show_suggestions and project.suggestion_share < 1:
        return no_votes_message(filters, what="annotations in the anchoring experiment")
    return (
        "This project is not running the anchoring experiment. To measure whether suggestions bias annotators, "
        "turn on “Show suggestions” and set “Share of pairs shown suggestions” below 1 (e.g. 0.5) in the "
        "project settings: each (annotator, item) pair is then shown the model's suggestions or not, at random, "
        "and this page compares the two."
    )


def build_anchoring(project: Project, filters: DashboardFilters) -> dict[str, Any]:
    tasks = list(get_project_schema(project).tasks)
    if not tasks:
        return empty_page(PAGE, "This project has no tasks yet: define its label schema first.")
    data = sel.get_arm_annotations(project, filters, tasks=tasks)
    if len(data) == 0:
        return empty_page(PAGE, _empty_message(project, filters))
    shown = data.shown
    if shown.all() or not shown.any():
        arm = "shown" if shown.all() else "hidden"
        return empty_page(PAGE, f"So far only the {arm} arm has annotations; the comparison needs both.")

    task_rows, forest, charts = [], [], []
    for task in tasks:
        labels, agrees = data.labels[task.key], data.agrees[task.key]
        known = agrees >= 0
        model = _boot(agrees[known & shown], agrees[known & ~shown])
        kappa = _boot(
            _counts(data.item_ids[shown], labels[shown], task.n_categories),
            _counts(data.item_ids[~shown], labels[~shown], task.n_categories),
            "fleiss",
        )
        table = np.stack(
            [np.bincount(labels[arm & (labels >= 0)], minlength=task.n_categories) for arm in (shown, ~shown)]
        )
        chi, chi_reason = attempt(chi_square_independence, table)
        task_rows.append(
            {
                "key": task.key,
                "name": task.name,
                "labels": list(task.label_names),
                "model_agreement": _as_dict(*model),
                "fleiss": _as_dict(*kappa),
                "counts": {"shown": table[0], "hidden": table[1]},
                "chi_square": None if chi is None else chi._asdict(),
                "chi_square_reason": chi_reason,
            }
        )
        forest += [(f"{task.name}: agreement with the model", *model), (f"{task.name}: Fleiss' κ", *kappa)]
        shares = {name: row / row.sum() if row.sum() else row * np.nan for name, row in zip(("Shown", "Hidden"), table)}
        test = (
            f"Chi-square test of independence arm × label: χ² = {chi.statistic:.2f}, {chi.dof} degrees of freedom, "
            f"p = {chi.p_value:.3g}, Cramér's V = {chi.cramers_v:.3f} (n = {chi.n} votes)"
            + (f"; {chi.low_expected} cells expect fewer than 5 votes, so p is rough" if chi.low_expected else "")
            + "."
            if chi is not None
            else f"Chi-square test: {chi_reason}."
        )
        charts.append(
            chart(
                f"labels-{task.key}",
                f"{task.name}: labels in each arm",
                figure=figures.round_distribution_figure(task.label_names, shares),
                caption=test,
                columns=["arm", "label", "votes", "share"],
                rows=[
                    [arm, label, int(table[a, j]), shares[arm][j]]
                    for a, arm in enumerate(shares)
                    for j, label in enumerate(task.label_names)
                ],
            )
        )

    all_agrees = np.stack([data.agrees[t.key] for t in tasks], axis=1)  # (annotations, tasks)
    stacked_shown = np.repeat(shown[:, None], len(tasks), axis=1)
    known = all_agrees >= 0
    pooled = _boot(all_agrees[known & stacked_shown], all_agrees[known & ~stacked_shown])
    timed = data.duration_ms >= 0
    seconds = np.round(data.duration_ms / 100) / 10  # tenths of a second: few distinct values, a fast bootstrap
    time = _boot(seconds[timed & shown], seconds[timed & ~shown], "median")
    any_known = known.any(axis=1)
    kept_all = np.where(known, all_agrees == 1, True).all(axis=1).astype(np.float64)
    kept = _boot(kept_all[any_known & shown], kept_all[any_known & ~shown])
    forest = [("All tasks: agreement with the model", *pooled), *forest, ("Kept every suggestion", *kept)]

    per_annotator = []  # (id, name, comparison, reason): agreement with the model, pooled over tasks
    flat_annotators = np.repeat(data.annotator_ids, len(tasks))
    flat_shown, flat_agrees = stacked_shown.reshape(-1), all_agrees.reshape(-1)
    ids = np.unique(data.annotator_ids)
    for annotator_id, name in zip(ids, user_names(ids)):
        mine = (flat_annotators == annotator_id) & (flat_agrees >= 0)
        per_annotator.append(
            (int(annotator_id), name, *_boot(flat_agrees[mine & flat_shown], flat_agrees[mine & ~flat_shown]))
        )

    charts.insert(
        0,
        chart(
            "effects",
            "Shown minus hidden, with 95% intervals",
            figure=figures.arm_difference_figure(
                [f[0] for f in forest],
                [f[1].difference if f[1] else None for f in forest],
                [f[1].low if f[1] else None for f in forest],
                [f[1].high if f[1] else None for f in forest],
                unit="points (× 100)",
                reasons=[f[2] for f in forest],
            ),
            caption="Right of the dotted line: higher when the suggestions were shown. Shares and kappas × 100.",
            columns=["measure", "shown", "hidden", "difference", "ci_low", "ci_high", "reason"],
            rows=[_row(name, result, reason) for name, result, reason in forest]
            + [_row("Median seconds per item", *time)],
            wide=True,
        ),
    )
    charts.insert(
        1,
        chart(
            "annotators",
            "Each annotator's agreement with the model: shown minus hidden",
            figure=figures.arm_difference_figure(
                [name for _, name, _, _ in per_annotator],
                [r.difference if r else None for _, _, r, _ in per_annotator],
                [r.low if r else None for _, _, r, _ in per_annotator],
                [r.high if r else None for _, _, r, _ in per_annotator],
                reasons=[reason for _, _, _, reason in per_annotator],
            ),
            caption="One who follows suggestions too often stands out on the right.",
            columns=["annotator", "shown", "hidden", "difference", "ci_low", "ci_high", "reason"],
            rows=[_row(name, result, reason) for _, name, result, reason in per_annotator],
        ),
    )
    notes = [
        f"The project shows suggestions to {project.suggestion_share:.0%} of (annotator, item) pairs"
        + ("" if project.show_suggestions and project.suggestion_share < 1 else " (the experiment is not running now)")
        + f"; {int(shown.sum())} annotations in the shown arm, {int((~shown).sum())} in the hidden arm "
        "(multimodal round only; the round filter does not apply).",
        f"Intervals: {N_BOOT} percentile-bootstrap resamples (seed {BOOT_SEED}) of annotations within each arm "
        "(items for kappa); they ignore clustering by annotator.",
    ]
    return payload(
        PAGE,
        data={
            "headline": headline(*pooled, time[0]),
            "share": project.suggestion_share,
            "running": bool(project.show_suggestions and project.suggestion_share < 1),
            "n_shown": int(shown.sum()),
            "n_hidden": int((~shown).sum()),
            "n_boot": N_BOOT,
            "level": CI_LEVEL,
            "seed": BOOT_SEED,
            "model_agreement": _as_dict(*pooled),
            "cohens_h": cohens_h(pooled[0].shown, pooled[0].hidden) if pooled[0] else None,
            "seconds_per_item": _as_dict(*time),
            "kept_all": _as_dict(*kept),
            "tasks": task_rows,
            "annotators": [
                {"id": i, "name": name, "model_agreement": _as_dict(result, reason)}
                for i, name, result, reason in per_annotator
            ],
        },
        charts=charts,
        notes=notes,
    )


def _row(name: str, result: ArmComparison | None, reason: str | None) -> list[Any]:
    if result is None:
        return [name, None, None, None, None, None, reason]
    return [name, result.shown, result.hidden, result.difference, result.low, result.high, None]
