"""The distribution and keywords pages: gold labels per split (MSED Table
4), desire against none and the other tasks within each (Fig. 4), label
combinations, inference orders (3.3), and the words typical of each class
(Fig. 5)."""

from __future__ import annotations

from typing import Any

import numpy as np

from annotator.models import Project
from annotator.schemas import TaskSpec
from annotator.selectors import get_project_schema

from .. import figures
from .. import selectors as sel
from ..metrics import (
    counts_from_labels,
    keywords,
    majority_gold_from_counts,
)
from ..selectors import DashboardFilters
from .common import SPLIT_NAMES, attempt, chart, desire_none, empty_page, no_votes_message, payload, user_names

# runs on a fixed random sample (stated on the page).
KEYWORD_ITEM_CAP = 50_000
KEYWORD_TOP_K = 15


def gold_for_filters(project: Project, filters: DashboardFilters, tasks: list[TaskSpec]) -> tuple[sel.GoldMatrix, str]:
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
        return empty_page("distribution", "This project has no tasks yet: define its label schema first.")
    gold, source = gold_for_filters(project, filters, tasks)
    labelled = np.zeros(gold.item_ids.size, dtype=bool)
    for task in tasks:
        labelled |= gold.labels[task.key] >= 0
    if not labelled.any():
        return empty_page("distribution", no_votes_message(filters, what="gold labels"))

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
            chart(
                f"labels-{task.key}",
                f"{task.name}: gold labels by split",
                figure=figures.label_counts_figure(task.label_names, shown),
                columns=["label", *splits, "total"],
                rows=[
                    [label, *cells[:, j].tolist(), int(cells[:, j].sum())] for j, label in enumerate(task.label_names)
                ],
            )
        )
    table4 = chart(
        "table4", "Gold labels per split (MSED Table 4)", columns=["task", "label", *splits, "total"], rows=table_rows
    )
    charts.insert(0, table4)

    desire = desire_none(tasks)
    if desire is not None:
        charts += _desire_charts(gold, tasks, *desire, data)
    if len(tasks) >= 2:
        charts.append(_sunburst_chart(gold, tasks[:3]))
    charts += _inference_order_charts(project, filters, gold, tasks, desire[0] if desire else tasks[0])
    notes = [source]
    return payload("distribution", data=data, charts=charts, notes=notes)


def _desire_charts(gold: sel.GoldMatrix, tasks: list[TaskSpec], desire: TaskSpec, none: int, data: dict) -> list[dict]:
    """MSED Fig. 4: desire vs none, then every other task within desire and within none items."""
    d = gold.labels[desire.key]
    counts = np.bincount(d[d >= 0], minlength=desire.n_categories)
    total = max(int(counts.sum()), 1)
    none_share = counts[none] / total
    center = f"desire {1 - none_share:.0%}<br>none {none_share:.0%}"
    data["desire_vs_none"] = {"desire": int(total - counts[none]), "none": int(counts[none])}
    charts = [
        chart(
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
            chart(
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
    return chart(
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
        return [chart("orders", "Inference orders", message=reason)]
    task_names = {t.key: t.name for t in tasks}
    order_names = [" → ".join(task_names.get(k, k) for k in order) for order in orders]
    code, item_ids, annotator_ids = code[recorded], annotations.item_ids[recorded], annotations.annotator_ids[recorded]
    n_orders = len(orders)
    overall = np.bincount(code, minlength=n_orders)
    charts = [
        chart(
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
    names = user_names(annotators)
    per_annotator = np.bincount(column.reshape(-1) * n_orders + code, minlength=annotators.size * n_orders).reshape(
        annotators.size, n_orders
    )
    shares = per_annotator / np.maximum(per_annotator.sum(axis=1, keepdims=True), 1)
    charts.append(
        chart(
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
        chart(
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
        return empty_page("keywords", "This project has no tasks yet: define its label schema first.")
    gold, source = gold_for_filters(project, filters, tasks)
    labelled = np.zeros(gold.item_ids.size, dtype=bool)
    for task in tasks:
        labelled |= gold.labels[task.key] >= 0
    rows = np.flatnonzero(labelled)
    if rows.size == 0:
        return empty_page("keywords", no_votes_message(filters, what="gold labels"))
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
        return empty_page("keywords", "None of these items has text, so there are no keywords to show.")
    min_count = 2 if len(texts) >= 200 else 1
    charts, data = [], {"tasks": [], "top_k": KEYWORD_TOP_K, "n_texts": len(texts)}

    def keyword_chart(
        chart_id: str, title: str, groups: dict[str, list[int]], labels: np.ndarray, caption: str
    ) -> dict:
        present = {name: classes for name, classes in groups.items() if np.isin(labels, classes).any()}
        result, reason = attempt(
            lambda: keywords(texts, labels, groups=present, top_k=KEYWORD_TOP_K, min_count=min_count)
        )
        if result is not None:
            # Only words more typical of the group than of the rest (z > 0): with few words the
            # top k would otherwise include words typical of the other groups.
            result = {group: [w for w in words if w[1] > 0] for group, words in result.items()}
        data["tasks"].append({"id": chart_id, "groups": result, "reason": reason})
        return chart(
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

    desire = desire_none(tasks)
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
    return payload("keywords", data=data, charts=charts, notes=notes)
