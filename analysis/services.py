"""Dashboard pages: selectors -> analysis.metrics -> analysis.figures, cached per project.

``get_dashboard(project=..., page=..., filters=...)`` is the one entry point:
the HTML views, the CSV download, the JSON API and bench/agreement.py all
call it. It returns a JSON-ready payload

    {"page", "empty": message | None, "notes": [str], "data": {...numbers for the API...},
     "charts": [{"id", "title", "caption", "figure": Plotly JSON | None, "message", "table": {"columns", "rows"}}]}

and caches it (django.core.cache) under the project's votes version
(analysis.selectors.get_votes_version) plus the filters, so a new or edited
vote makes the next request recompute. Figures are cached as JSON too: the
cached path is two small queries and a template render.

Every metric that is undefined for the data (analysis.metrics.UndefinedMetric)
becomes a reason shown in place of the number, never an exception.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from django.core.cache import cache

from annotator.models import Annotation, Item, Project
from annotator.schemas import TaskSpec
from annotator.selectors import get_project_schema

from . import figures
from . import selectors as sel
from .metrics import (
    UndefinedMetric,
    agreement_summary_from_counts,
    counts_from_labels,
    fleiss_kappa_from_counts,
    fleiss_kappa_per_category_from_counts,
    keywords,
    label_confusion_from_counts,
    leave_one_out_agreement,
    majority_gold_from_counts,
    modality_difference,
    pairwise_cohen,
    percent_agreement_from_counts,
)
from .selectors import DashboardFilters

# 200 percentile-bootstrap resamples: the 2.5% and 97.5% quantiles then rest
# on 5 resamples each side, enough for a dashboard (the CI moves in the third
# decimal between seeds), and 200k items x 3 tasks stay well under a second.
N_BOOT = 200
CI_LEVEL = 0.95
BOOT_SEED = 0
# Bump when the payload's shape changes, so old cache entries are not read.
# 2: names in figures are escaped (entries cached before carry them raw).
PAYLOAD_VERSION = 2
# Entries also expire, so a change the votes version cannot see heals itself.
CACHE_SECONDS = 60 * 60
# Keyword analysis tokenises every text in Python; above this many items it
# runs on a fixed random sample (stated on the page).
KEYWORD_ITEM_CAP = 50_000
KEYWORD_TOP_K = 15

PAGES: dict[str, str] = {
    "agreement": "Agreement",
    "confusion": "Confusion",
    "distribution": "Distribution",
    "keywords": "Keywords",
    "annotators": "Annotators",
    "modalities": "Modalities",
}
ROUND_NAMES = {
    Annotation.Round.TEXT: "Text",
    Annotation.Round.IMAGE: "Image",
    Annotation.Round.MULTIMODAL: "Multimodal",
}
SPLIT_NAMES = dict(Item.Split.choices)


# ---------------------------------------------------------------------------
# Entry point and cache


def get_dashboard(*, project: Project, page: str, filters: DashboardFilters) -> dict[str, Any]:
    """The payload of one dashboard page for the given filters, from the cache when the votes are unchanged."""
    if page not in PAGES:
        raise ValueError(f"unknown dashboard page {page!r}; pages are {', '.join(PAGES)}")
    key = dashboard_cache_key(project=project, page=page, filters=filters)
    payload = cache.get(key)
    if payload is None:
        payload = BUILDERS[page](project, filters)
        payload["filters"] = filters.as_dict()
        cache.set(key, payload, CACHE_SECONDS)
    return payload


def dashboard_cache_key(*, project: Project, page: str, filters: DashboardFilters) -> str:
    """Cache key: project, page, votes version (gold version too where stored gold is read) and filters."""
    version = sel.get_votes_version(project)
    if page in ("distribution", "keywords"):
        version += "|" + sel.get_gold_version(project)
    digest = hashlib.sha1(f"{version}|{filters.as_query()}".encode()).hexdigest()
    return f"analysis:{PAYLOAD_VERSION}:{project.pk}:{page}:{digest}"


def get_filter_choices(project: Project) -> dict[str, Any]:
    """Options of the filter form: splits, rounds and the project's members."""
    return {
        "splits": list(Item.Split.choices),
        "rounds": list(Annotation.Round.choices),
        "annotators": sel.list_annotator_choices(project),
    }


# ---------------------------------------------------------------------------
# Small helpers


def _clean(value: Any) -> Any:
    """JSON-ready copy: NumPy scalars and arrays to Python, NaN and inf to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _figure_json(fig: Any) -> dict[str, Any]:
    return json.loads(fig.to_json())


def _chart(
    chart_id: str,
    title: str,
    *,
    figure: Any = None,
    columns: Sequence[str] = (),
    rows: Sequence[Sequence[Any]] = (),
    caption: str = "",
    message: str | None = None,
    wide: bool = False,
) -> dict[str, Any]:
    return {
        "id": chart_id,
        "wide": wide,
        "title": title,
        "caption": caption,
        "figure": _figure_json(figure) if figure is not None else None,
        "message": message,
        "table": {"columns": list(columns), "rows": _clean([list(r) for r in rows])},
    }


def _payload(
    page: str, *, data: dict, charts: list[dict], notes: Sequence[str] = (), empty: str | None = None
) -> dict[str, Any]:
    return {"page": page, "empty": empty, "notes": list(notes), "data": _clean(data), "charts": charts}


def _empty(page: str, message: str) -> dict[str, Any]:
    return _payload(page, data={}, charts=[], empty=message)


def _no_votes_message(filters: DashboardFilters, *, what: str = "votes") -> str:
    if filters == DashboardFilters():
        return (
            f"No {what} yet. Once annotators submit labels (or you import annotations), "
            "this page shows how well they agree."
        )
    return f"No {what} match these filters. Widen the split, round, annotator or date filters."


def _try(function: Callable[[], Any]) -> tuple[Any, str | None]:
    """(result, None), or (None, reason) when the metric is undefined for the data."""
    try:
        return function(), None
    except UndefinedMetric as error:
        return None, str(error)


def _names(user_ids: np.ndarray) -> list[str]:
    usernames = sel.get_usernames(user_ids)
    return [usernames.get(int(i), f"user {int(i)}") for i in user_ids]


def _week_label(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def _desire_none(tasks: Sequence[TaskSpec]) -> tuple[TaskSpec, int] | None:
    """MSED's desire task and the position of its "none" label, when the schema has them."""
    for task in tasks:
        if task.key == "desire" and "none" in task.label_keys:
            return task, task.label_keys.index("none")
    return None


def _group_medians(groups: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of ``values`` per group index 0..n_groups-1 (NaN for an empty group), by one sort."""
    medians = np.full(n_groups, np.nan)
    if values.size == 0:
        return medians
    order = np.lexsort((values, groups))
    groups, values = groups[order], values[order]
    starts = np.searchsorted(groups, np.arange(n_groups), side="left")
    ends = np.searchsorted(groups, np.arange(n_groups), side="right")
    sizes = ends - starts
    has = sizes > 0
    low = starts[has] + (sizes[has] - 1) // 2
    high = starts[has] + sizes[has] // 2
    medians[has] = (values[low] + values[high]) / 2
    return medians


# ---------------------------------------------------------------------------
# Agreement


def _item_weeks(project: Project, filters: DashboardFilters, item_ids: np.ndarray) -> np.ndarray:
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

    per_category, per_category_reason = _try(lambda: fleiss_kappa_per_category_from_counts(counts))

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
        fleiss, reason = _try(lambda: fleiss_kappa_from_counts(rows))
        percent, percent_reason = _try(lambda: percent_agreement_from_counts(rows))
        over_time.append(
            {
                "week": _week_label(week),
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
        return _empty("agreement", "This project has no tasks yet: define its label schema first.")
    votes = sel.get_vote_matrix(project, filters, tasks=tasks)
    if votes.item_ids.size == 0:
        return _empty("agreement", _no_votes_message(filters))
    names = _names(votes.annotator_ids)
    weeks = _item_weeks(project, filters, votes.item_ids)
    results = [_clean(task_agreement(t, votes.labels[t.key], weeks, names)) for t in tasks]

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
        _chart(
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
            _chart(
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
            _chart(
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
        _chart(
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
    return _payload("agreement", data=data, charts=charts, notes=notes)


# ---------------------------------------------------------------------------
# Confusion (MSED Fig. 3)


def build_confusion(project: Project, filters: DashboardFilters) -> dict[str, Any]:
    tasks = list(get_project_schema(project).tasks)
    if not tasks:
        return _empty("confusion", "This project has no tasks yet: define its label schema first.")
    votes = sel.get_vote_matrix(project, filters, tasks=tasks)
    if votes.item_ids.size == 0:
        return _empty("confusion", _no_votes_message(filters))
    charts, results = [], []
    for task in tasks:
        counts = counts_from_labels(votes.labels[task.key], task.n_categories)
        shares, reason = _try(lambda: label_confusion_from_counts(counts, normalize="all"))
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
            _chart(
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
    return _payload("confusion", data={"tasks": results}, charts=charts)


# ---------------------------------------------------------------------------
# Distribution (MSED Table 4 and Fig. 4) and keywords (Fig. 5)


def _gold(project: Project, filters: DashboardFilters, tasks: list[TaskSpec]) -> tuple[sel.GoldMatrix, str]:
    """Gold labels for the distribution pages, and a sentence saying where they come from.

    With the default vote filters these are the stored gold labels (majority,
    adjudicated or imported). When the annotator, round or date filters pick
    a subset of votes, gold is recomputed as the majority of those votes
    (ties left out), so the page answers "what if only these votes counted".
    """
    if not filters.narrows_votes:
        return sel.get_gold_matrix(
            project, filters, tasks=tasks
        ), "Gold labels as stored (majority vote, adjudicated or imported)."
    votes = sel.get_vote_matrix(project, filters, tasks=tasks)
    all_items, all_splits = sel.get_item_splits(project, filters)
    rows = np.searchsorted(all_items, votes.item_ids)
    split = all_splits[np.minimum(rows, max(all_items.size - 1, 0))] if all_items.size else np.zeros(0, np.int64)
    labels = {
        t.key: majority_gold_from_counts(counts_from_labels(votes.labels[t.key], t.n_categories)).label.astype(np.int16)
        for t in tasks
    }
    return sel.GoldMatrix(
        tasks, votes.item_ids, split, labels
    ), "Gold recomputed as the majority of the filtered votes (ties left out)."


def build_distribution(project: Project, filters: DashboardFilters) -> dict[str, Any]:
    tasks = list(get_project_schema(project).tasks)
    if not tasks:
        return _empty("distribution", "This project has no tasks yet: define its label schema first.")
    gold, source = _gold(project, filters, tasks)
    labelled = np.zeros(gold.item_ids.size, dtype=bool)
    for task in tasks:
        labelled |= gold.labels[task.key] >= 0
    if not labelled.any():
        return _empty("distribution", _no_votes_message(filters, what="gold labels"))

    charts: list[dict] = []
    data: dict[str, Any] = {"gold_source": source, "tasks": []}
    splits = list(sel.SPLITS)
    split_names = [SPLIT_NAMES[s] for s in splits]

    # MSED Table 4: gold counts per label per split.
    table_rows = []
    for task in tasks:
        labels = gold.labels[task.key]
        have = labels >= 0
        k = task.n_categories
        cells = np.bincount(gold.split[have] * k + labels[have], minlength=len(splits) * k).reshape(len(splits), k)
        data["tasks"].append(
            {
                "key": task.key,
                "name": task.name,
                "labels": list(task.label_names),
                "counts_by_split": dict(zip(splits, cells.tolist())),
            }
        )
        for j, label in enumerate(task.label_names):
            table_rows.append([task.key, label, *cells[:, j].tolist(), int(cells[:, j].sum())])
        shown = {name: cells[i] for i, name in enumerate(split_names) if cells[i].sum() > 0}
        charts.append(
            _chart(
                f"labels-{task.key}",
                f"{task.name}: gold labels by split",
                figure=figures.label_counts_figure(task.label_names, shown),
                columns=["label", *splits, "total"],
                rows=[
                    [label, *cells[:, j].tolist(), int(cells[:, j].sum())] for j, label in enumerate(task.label_names)
                ],
            )
        )
    table4 = _chart(
        "table4", "Gold labels per split (MSED Table 4)", columns=["task", "label", *splits, "total"], rows=table_rows
    )
    charts.insert(0, table4)

    desire = _desire_none(tasks)
    if desire is not None:
        charts += _desire_charts(gold, tasks, *desire, data)
    if len(tasks) >= 2:
        charts.append(_sunburst_chart(gold, tasks[:3]))
    charts += _inference_order_charts(project, filters, gold, tasks, desire[0] if desire else tasks[0])
    notes = [source]
    return _payload("distribution", data=data, charts=charts, notes=notes)


def _desire_charts(gold: sel.GoldMatrix, tasks: list[TaskSpec], desire: TaskSpec, none: int, data: dict) -> list[dict]:
    """MSED Fig. 4: desire vs none, then every other task within desire and within none items."""
    d = gold.labels[desire.key]
    counts = np.bincount(d[d >= 0], minlength=desire.n_categories)
    total = max(int(counts.sum()), 1)
    none_share = counts[none] / total
    center = f"desire {1 - none_share:.0%}<br>none {none_share:.0%}"
    data["desire_vs_none"] = {"desire": int(total - counts[none]), "none": int(counts[none])}
    charts = [
        _chart(
            "desire-share",
            "Desire classes and none (MSED Fig. 4a)",
            figure=figures.share_pie(desire.label_names, counts, center=center),
            columns=["label", "items", "share"],
            rows=[[label, int(n), n / total] for label, n in zip(desire.label_names, counts)],
        )
    ]
    groups = {"desire": (d >= 0) & (d != none), "none": d == none}
    for task in tasks:
        if task.key == desire.key:
            continue
        labels = gold.labels[task.key]
        shares, group_counts = {}, {}
        for group, mask in groups.items():
            have = mask & (labels >= 0)
            c = np.bincount(labels[have], minlength=task.n_categories)
            group_counts[group] = c
            shares[group] = c / c.sum() if c.sum() else np.full(task.n_categories, np.nan)
        data.setdefault("within_desire", {})[task.key] = {g: group_counts[g].tolist() for g in groups}
        charts.append(
            _chart(
                f"within-desire-{task.key}",
                f"{task.name} within desire and non-desire items (MSED Fig. 4)",
                figure=figures.within_groups_figure(task.label_names, shares, group_counts),
                columns=["label", "desire_items", "desire_share", "none_items", "none_share"],
                rows=[
                    [label, group_counts["desire"][j], shares["desire"][j], group_counts["none"][j], shares["none"][j]]
                    for j, label in enumerate(task.label_names)
                ],
            )
        )
    return charts


def _sunburst_chart(gold: sel.GoldMatrix, chain: list[TaskSpec]) -> dict:
    """Items by their gold label combination along the first tasks of the schema (desire -> sentiment -> emotion)."""
    stacked = np.column_stack([gold.labels[t.key] for t in chain]).astype(np.int64)
    stacked = stacked[(stacked >= 0).all(axis=1)]
    ids, labels, parents, values, rows = [], [], [], [], []
    for depth in range(1, len(chain) + 1):
        if stacked.shape[0] == 0:
            break
        combos, counts = np.unique(stacked[:, :depth], axis=0, return_counts=True)
        for combo, n in zip(combos, counts):
            names = [chain[d].label_names[combo[d]] for d in range(depth)]
            ids.append("/".join(f"{chain[d].key}:{chain[d].label_keys[combo[d]]}" for d in range(depth)))
            parents.append("/".join(f"{chain[d].key}:{chain[d].label_keys[combo[d]]}" for d in range(depth - 1)))
            labels.append(names[-1])
            values.append(int(n))
            if depth == len(chain):
                rows.append([*names, int(n)])
    title = " → ".join(t.name for t in chain)
    return _chart(
        "sunburst",
        f"{title}",
        figure=figures.sunburst_figure(ids, labels, parents, values) if ids else None,
        message=None if ids else "No item has gold labels for all of these tasks.",
        caption="Items with a gold label for each of these tasks, by their combination of labels.",
        columns=[t.key for t in chain] + ["items"],
        rows=rows,
    )


def _inference_order_charts(
    project: Project, filters: DashboardFilters, gold: sel.GoldMatrix, tasks: list[TaskSpec], by: TaskSpec
) -> list[dict]:
    """How inference orders (MSED 3.3) are distributed: overall, per annotator, per class of ``by`` (desire)."""
    orders, annotations, code = sel.get_inference_orders(project, filters)
    recorded = code >= 0
    if not orders or not recorded.any():
        reason = (
            "This project does not ask for inference orders."
            if not project.ask_inference_order
            else "No inference orders recorded for these filters."
        )
        return [_chart("orders", "Inference orders", message=reason)]
    task_names = {t.key: t.name for t in tasks}
    order_names = [" → ".join(task_names.get(k, k) for k in order) for order in orders]
    code, item_ids, annotator_ids = code[recorded], annotations.item_ids[recorded], annotations.annotator_ids[recorded]
    n_orders = len(orders)
    overall = np.bincount(code, minlength=n_orders)
    charts = [
        _chart(
            "orders",
            "Inference orders",
            figure=figures.category_bars(
                order_names,
                overall / overall.sum(),
                title_y="share of annotations",
                percent=True,
                hover=[f"{n}: {c} annotations" for n, c in zip(order_names, overall)],
            ),
            caption="The order in which annotators inferred the labels (MSED 3.3), over all annotations with an order.",
            columns=["order", "annotations", "share"],
            rows=[[n, int(c), c / overall.sum()] for n, c in zip(order_names, overall)],
        )
    ]
    annotators, column = np.unique(annotator_ids, return_inverse=True)
    names = _names(annotators)
    per_annotator = np.bincount(column.reshape(-1) * n_orders + code, minlength=annotators.size * n_orders).reshape(
        annotators.size, n_orders
    )
    shares = per_annotator / np.maximum(per_annotator.sum(axis=1, keepdims=True), 1)
    charts.append(
        _chart(
            "orders-by-annotator",
            "Inference orders per annotator",
            figure=figures.share_heatmap(
                names, order_names, shares, per_annotator, row_title="annotator", column_title="order"
            ),
            columns=["annotator", *order_names],
            rows=[[name, *row.tolist()] for name, row in zip(names, per_annotator)],
        )
    )
    rows = np.searchsorted(gold.item_ids, item_ids)
    found = rows < gold.item_ids.size
    found[found] = gold.item_ids[rows[found]] == item_ids[found]
    classes = np.full(item_ids.size, -1, dtype=np.int64)
    classes[found] = gold.labels[by.key][rows[found]]
    keep = classes >= 0
    per_class = np.bincount(classes[keep] * n_orders + code[keep], minlength=by.n_categories * n_orders).reshape(
        by.n_categories, n_orders
    )
    class_shares = per_class / np.maximum(per_class.sum(axis=1, keepdims=True), 1)
    class_shares[per_class.sum(axis=1) == 0] = np.nan
    charts.append(
        _chart(
            "orders-by-class",
            f"Inference orders per {by.name.lower()} class",
            figure=figures.share_heatmap(
                list(by.label_names),
                order_names,
                class_shares,
                per_class,
                row_title=f"gold {by.name.lower()}",
                column_title="order",
            ),
            columns=[by.key, *order_names],
            rows=[[label, *row.tolist()] for label, row in zip(by.label_names, per_class)],
        )
    )
    return charts


def build_keywords(project: Project, filters: DashboardFilters) -> dict[str, Any]:
    tasks = list(get_project_schema(project).tasks)
    if not tasks:
        return _empty("keywords", "This project has no tasks yet: define its label schema first.")
    gold, source = _gold(project, filters, tasks)
    labelled = np.zeros(gold.item_ids.size, dtype=bool)
    for task in tasks:
        labelled |= gold.labels[task.key] >= 0
    rows = np.flatnonzero(labelled)
    if rows.size == 0:
        return _empty("keywords", _no_votes_message(filters, what="gold labels"))
    notes = [source]
    if rows.size > KEYWORD_ITEM_CAP:
        rows = np.sort(np.random.default_rng(0).choice(rows, KEYWORD_ITEM_CAP, replace=False))
        notes.append(
            f"Keywords from a fixed random sample of {KEYWORD_ITEM_CAP:,} of the {int(labelled.sum()):,} labelled items."
        )
    text_ids, texts = sel.get_item_texts(project, filters)
    positions = np.searchsorted(text_ids, gold.item_ids[rows])
    texts = [
        texts[p] if p < len(texts) and text_ids[p] == gold.item_ids[r] else ""
        for p, r in zip(positions.tolist(), rows.tolist())
    ]
    if not any(texts):
        return _empty("keywords", "None of these items has text, so there are no keywords to show.")
    min_count = 2 if len(texts) >= 200 else 1
    charts, data = [], {"tasks": [], "top_k": KEYWORD_TOP_K, "n_texts": len(texts)}

    def keyword_chart(
        chart_id: str, title: str, groups: dict[str, list[int]], labels: np.ndarray, caption: str
    ) -> dict:
        present = {name: classes for name, classes in groups.items() if np.isin(labels, classes).any()}
        result, reason = _try(lambda: keywords(texts, labels, groups=present, top_k=KEYWORD_TOP_K, min_count=min_count))
        if result is not None:
            # Only words more typical of the group than of the rest (z > 0): with few words the
            # top k would otherwise include words typical of the other groups.
            result = {group: [w for w in words if w[1] > 0] for group, words in result.items()}
        data["tasks"].append({"id": chart_id, "groups": result, "reason": reason})
        return _chart(
            chart_id,
            title,
            figure=None if result is None else figures.keywords_figure(result),
            message=reason,
            caption=caption,
            wide=True,
            columns=["group", "rank", "word", "z", "count"],
            rows=[]
            if result is None
            else [[g, i + 1, w, z, n] for g, words in result.items() for i, (w, z, n) in enumerate(words)],
        )

    desire = _desire_none(tasks)
    if desire is not None:
        task, none = desire
        labels = gold.labels[task.key][rows].astype(np.int64)
        others = [i for i in range(task.n_categories) if i != none]
        charts.append(
            keyword_chart(
                "keywords-desire-vs-none",
                "Desire vs none (MSED Fig. 5)",
                {"desire": others, "none": [none]},
                labels,
                "Words most typical of desire items and of non-desire items, by weighted log-odds with an informative "
                "Dirichlet prior (Monroe et al. 2008); z > 2 is roughly significant.",
            )
        )
    for task in tasks:
        labels = gold.labels[task.key][rows].astype(np.int64)
        groups = {name: [i] for i, name in enumerate(task.label_names)}
        charts.append(
            keyword_chart(
                f"keywords-{task.key}",
                f"{task.name}: words per class",
                groups,
                labels,
                "Each class against all other classes of the task (weighted log-odds z-scores).",
            )
        )
    notes.append("Bars instead of word clouds: a bar's length is the evidence, and the numbers download as CSV.")
    return _payload("keywords", data=data, charts=charts, notes=notes)


# ---------------------------------------------------------------------------
# Annotators


def build_annotators(project: Project, filters: DashboardFilters) -> dict[str, Any]:
    tasks = list(get_project_schema(project).tasks)
    if not tasks:
        return _empty("annotators", "This project has no tasks yet: define its label schema first.")
    votes = sel.get_vote_matrix(project, filters, tasks=tasks)
    annotations = sel.get_annotation_arrays(project, filters)
    if votes.item_ids.size == 0 and len(annotations) == 0:
        return _empty("annotators", _no_votes_message(filters))
    ids = np.union1d(votes.annotator_ids, annotations.annotator_ids)
    names = _names(ids)
    n = ids.size
    column = np.searchsorted(ids, votes.annotator_ids)
    n_votes = np.zeros(n, dtype=np.int64)
    for task in tasks:
        n_votes[column] += (votes.labels[task.key] >= 0).sum(axis=0)
    who = np.searchsorted(ids, annotations.annotator_ids)
    n_annotations = np.bincount(who, minlength=n)
    timed = annotations.duration_ms >= 0
    median_seconds = _group_medians(who[timed], annotations.duration_ms[timed].astype(np.float64), n) / 1000

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
        _chart(
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
        _chart(
            "time",
            "Median time per item",
            figure=figures.category_bars(names, median_seconds, title_y="seconds", color=figures.PALETTE[1]),
            caption="Median of the annotations' recorded durations (all tasks of an item together).",
            columns=["annotator", "median_seconds", "timed_annotations"],
            rows=[[a, s, int(c)] for a, s, c in zip(names, median_seconds, np.bincount(who[timed], minlength=n))],
        ),
        _chart(
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
            _chart(
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
            _chart(
                "suggestions",
                "Model suggestions kept",
                message="No annotation records a model suggestion (suggestions are off, or none was shown yet).",
            )
        )
    data = {
        "annotators": [
            {
                "id": int(i),
                "name": a,
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
        ]
    }
    return _payload("annotators", data=data, charts=charts)


# ---------------------------------------------------------------------------
# Modalities (CH-SIMS section 3.2)


def _sentiment_scores(task: TaskSpec) -> list[float] | None:
    """CH-SIMS scores sentiment -1 / 0 / 1; a task whose labels are exactly those polarities gets them."""
    polarity = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}
    if {"positive", "negative"} <= set(task.label_keys) <= set(polarity):
        return [polarity[k] for k in task.label_keys]
    return None


def build_modalities(project: Project, filters: DashboardFilters) -> dict[str, Any]:
    tasks = list(get_project_schema(project).tasks)
    if not tasks:
        return _empty("modalities", "This project has no tasks yet: define its label schema first.")
    rounds = sel.list_vote_rounds(project)
    if not {Annotation.Round.TEXT, Annotation.Round.IMAGE} & set(rounds):
        return _empty(
            "modalities",
            "This project has no unimodal rounds: every vote was cast seeing text and image together. Turn on "
            "unimodal rounds in the project settings (CH-SIMS: text only, then image only, then both) to compare modalities.",
        )
    matrices = {r: sel.get_vote_matrix(project, filters, round=r, tasks=tasks) for r in rounds}
    items = np.zeros(0, dtype=np.int64)
    for m in matrices.values():
        items = np.union1d(items, m.item_ids)
    if items.size == 0:
        return _empty("modalities", _no_votes_message(filters))
    aligned = {ROUND_NAMES[r]: m.reindex(items) for r, m in matrices.items()}
    charts, results = [], []
    for task in tasks:
        per_round = {name: m.labels[task.key] for name, m in aligned.items()}
        scores = _sentiment_scores(task)
        result, reason = _try(lambda: modality_difference(per_round, scores=scores, n_categories=task.n_categories))
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
            _chart(
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
            _chart(
                f"rounds-{task.key}",
                f"{task.name}: labels in each round",
                figure=figures.round_distribution_figure(task.label_names, shares),
                columns=["round", "label", "votes", "share"],
                rows=distribution_rows,
            )
        )
    notes = ["All rounds are compared, so the round filter does not apply here."]
    return _payload(
        "modalities", data={"rounds": [ROUND_NAMES[r] for r in rounds], "tasks": results}, charts=charts, notes=notes
    )


BUILDERS: dict[str, Callable[[Project, DashboardFilters], dict[str, Any]]] = {
    "agreement": build_agreement,
    "confusion": build_confusion,
    "distribution": build_distribution,
    "keywords": build_keywords,
    "annotators": build_annotators,
    "modalities": build_modalities,
}
