"""The annotators page's reliability part (issue 14, section 2): per annotator
and task, the Dawid-Skene confusion matrix, MACE competence, accuracy on
control items and agreement with the stored gold, each with a 95% interval,
and a flag for annotators below the project's reliability threshold.

Intervals: Wilson for the proportions (control accuracy, agreement with gold);
for competence a percentile bootstrap over items (seeded, N_BOOT_MODEL refits
of MACE with one restart, so the page stays quick).

The models are fitted on the whole project's multimodal votes, as the gold job
fits them (control items pinned for Dawid-Skene), not on the page's filters:
they describe the annotators behind the gold. Control items count only
towards control accuracy: their votes are left out of agreement with gold.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from annotator.models import Gold, Project
from annotator.schemas import TaskSpec
from annotator.selectors.controls import get_control_scores

from .. import figures
from ..gold_models import fit_task, get_task_votes
from ..metrics.intervals import wilson_interval
from ..reliability import mace
from .common import BOOT_SEED, chart

# Modest on purpose: each resample refits MACE (one restart, fewer iterations), and the
# interval's ends move by about a hundredth between seeds at this count.
N_BOOT_MODEL = 20
BOOT_RESTARTS = 1
BOOT_MAX_ITER = 30
Strategy = Project.GoldStrategy


def _competence_interval(labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """2.5% and 97.5% percentiles of MACE competence over item resamples."""
    rng = np.random.default_rng(BOOT_SEED)
    n = labels.shape[0]
    draws = np.empty((N_BOOT_MODEL, labels.shape[1]))
    for b in range(N_BOOT_MODEL):
        sample = labels[rng.integers(0, n, n)]
        draws[b] = mace(sample, n_categories=k, n_restarts=BOOT_RESTARTS, max_iter=BOOT_MAX_ITER, seed=b).competence
    # A rater with no vote in a resample gets the prior's 0.5; they are rare with modest n only.
    return np.percentile(draws, 2.5, axis=0), np.percentile(draws, 97.5, axis=0)


def _gold_agreement(project: Project, task: TaskSpec, votes) -> tuple[np.ndarray, np.ndarray]:
    """(matches, compared) per annotator column: votes on non-control items with a gold label."""
    gold = dict(Gold.objects.filter(task_id=task.id, label__isnull=False).values_list("item_id", "label_id"))
    position = {label_id: i for i, label_id in enumerate(task.label_ids)}
    gold_pos = np.array([position.get(gold.get(int(i)), -1) for i in votes.item_ids], dtype=np.int64)
    usable = (gold_pos >= 0) & ~votes.is_control
    matrix = votes.labels[usable]
    voted = matrix >= 0
    matches = (matrix == gold_pos[usable][:, None]) & voted
    return matches.sum(axis=0), voted.sum(axis=0)


def _interval_series(ids: np.ndarray, columns: np.ndarray, value, lower, upper, n) -> dict[str, list]:
    """Per-task arrays (by the vote matrix's columns) spread onto the page's annotators `ids`."""
    out = {key: [None] * ids.size for key in ("value", "lower", "upper")}
    out["n"] = [0] * ids.size
    where = {int(a): j for j, a in enumerate(ids)}
    for c, annotator_id in enumerate(columns.tolist()):
        j = where.get(annotator_id)
        if j is not None:
            out["value"][j], out["lower"][j], out["upper"][j] = value[c], lower[c], upper[c]
            out["n"][j] = int(n[c])
    return out


def build_reliability(
    project: Project, tasks: list[TaskSpec], ids: np.ndarray, names: list[str]
) -> tuple[list[dict], dict[int, dict[str, Any]]]:
    """(charts, {annotator id: {task key: {...}, "flags": [...]}}) for the annotators `ids`."""
    threshold = project.reliability_threshold
    competence, control, agreement, confusion_charts = {}, {}, {}, []
    per_annotator: dict[int, dict[str, Any]] = {int(i): {"tasks": {}, "flags": []} for i in ids}
    for task in tasks:
        votes = get_task_votes(project, task)
        if votes.n_votes == 0:
            continue
        k = task.n_categories
        ds = fit_task(votes, Strategy.DAWID_SKENE)
        fit = fit_task(votes, Strategy.MACE)
        lower, upper = _competence_interval(votes.labels, k)
        competence[task.name] = _interval_series(
            ids, votes.annotator_ids, fit.competence, lower, upper, (votes.labels >= 0).sum(axis=0)
        )
        matches, compared = _gold_agreement(project, task, votes)
        lo, hi = wilson_interval(matches, compared)
        share = np.where(compared > 0, matches / np.maximum(compared, 1), np.nan)
        agreement[task.name] = _interval_series(ids, votes.annotator_ids, share, lo, hi, compared)
        scores = get_control_scores(project, task_id=task.id)
        control_ids = np.array(sorted(scores), dtype=np.int64)
        correct = np.array([scores[i].correct for i in control_ids.tolist()], dtype=np.int64)
        total = np.array([scores[i].total for i in control_ids.tolist()], dtype=np.int64)
        lo, hi = wilson_interval(correct, total)
        control[task.name] = _interval_series(
            ids, control_ids, np.where(total > 0, correct / np.maximum(total, 1), np.nan), lo, hi, total
        )
        column_names = [names[int(np.searchsorted(ids, a))] if a in ids else f"user {a}" for a in votes.annotator_ids]
        confusion_charts.append(
            chart(
                f"confusion-{task.key}",
                f"Dawid-Skene confusion matrix: {task.name}",
                figure=figures.confusion_by_annotator(task.name, task.label_names, column_names, ds.confusions),
                caption="Each annotator's estimated probability of giving the column's label when the true "
                "label is the row's (choose the annotator in the menu). A careful annotator's mass sits on the diagonal.",
                columns=["annotator", "true", "given", "probability"],
                rows=[
                    [column_names[r], task.label_names[t], task.label_names[g], ds.confusions[r, t, g]]
                    for r in range(len(column_names))
                    for t in range(k)
                    for g in range(k)
                ],
            )
        )
        for j, annotator_id in enumerate(ids.tolist()):
            entry = {
                "competence": _pick(competence[task.name], j),
                "gold_agreement": _pick(agreement[task.name], j),
                "control_accuracy": _pick(control[task.name], j),
            }
            per_annotator[annotator_id]["tasks"][task.key] = entry
            for measure, value in entry.items():
                if value["value"] is not None and np.isfinite(value["value"]) and value["value"] < threshold:
                    per_annotator[annotator_id]["flags"].append(f"{task.name}: {measure.replace('_', ' ')}")
    if not competence:
        return [], per_annotator
    flagged = [
        f"{names[j]} ({', '.join(per_annotator[i]['flags'])})"
        for j, i in enumerate(ids.tolist())
        if per_annotator[i]["flags"]
    ]
    caption = f"Dashed line: the reliability threshold ({threshold:.0%}), set in the project settings."
    charts = [
        chart(
            "flags",
            "Annotators below the reliability threshold",
            message="Flagged: " + "; ".join(flagged)
            if flagged
            else f"No annotator falls below the threshold ({threshold:.0%}) on any measure.",
            caption="An annotator is flagged when a measure's estimate (not its interval) is below the threshold.",
            columns=["annotator", "flags"],
            rows=[[names[j], "; ".join(per_annotator[i]["flags"])] for j, i in enumerate(ids.tolist())],
        ),
        _interval_chart(
            "competence",
            "MACE competence",
            names,
            competence,
            threshold,
            caption,
            "Estimated probability that the annotator labels with care rather than at random (MACE), "
            "with a bootstrap interval over items. ",
        ),
        _interval_chart(
            "gold-agreement",
            "Agreement with the gold",
            names,
            agreement,
            threshold,
            caption,
            "Share of the annotator's votes (control items left out) equal to the item's stored gold, "
            "with a Wilson interval. ",
        ),
    ]
    if any(any(n for n in series["n"]) for series in control.values()):
        charts.append(
            _interval_chart(
                "control-accuracy",
                "Accuracy on control items",
                names,
                control,
                threshold,
                caption,
                "Share of the annotator's answers on control items matching the known answer, with a Wilson interval. ",
            )
        )
    else:
        charts.append(
            chart("control-accuracy", "Accuracy on control items", message="No control item has been answered yet.")
        )
    return charts + confusion_charts, per_annotator


def _pick(series: dict[str, list], j: int) -> dict[str, Any]:
    return {"value": series["value"][j], "lower": series["lower"][j], "upper": series["upper"][j], "n": series["n"][j]}


def _interval_chart(chart_id, title, names, by_task, threshold, caption, what) -> dict:
    return chart(
        chart_id,
        title,
        figure=figures.interval_bars(names, by_task, title_y=title, threshold=threshold),
        caption=what + caption,
        columns=["annotator", "task", "value", "lower", "upper", "n"],
        rows=[
            [name, task, s["value"][j], s["lower"][j], s["upper"][j], s["n"][j]]
            for task, s in by_task.items()
            for j, name in enumerate(names)
        ],
    )
