"""Charts of the agreement page: agreement by metric, per category, between
annotator pairs, over time, and the confusion between annotators."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from .style import (
    BANDS_MARGIN,
    DIVERGING,
    METRIC_NAMES,
    PALETTE,
    SEQUENTIAL,
    base_layout,
    finite,
    finite_list,
    finite_matrix,
    fmt,
    landis_koch_bands,
    make_figure,
    plain,
    plain_all,
)

# ---------------------------------------------------------------------------
# Agreement


def agreement_summary_figure(tasks: Sequence[Mapping[str, Any]], *, level: float = 0.95) -> go.Figure:
    """Percent agreement, Fleiss' kappa, Krippendorff's alpha and AC1 per task, with CI error bars.

    tasks: [{"name": str, "summary": agreement_summary dict}] where each
    metric is {"value", "ci_low", "ci_high", "reason"}. Landis-Koch bands are
    shaded behind the bars (they read for the chance-corrected metrics).
    """
    names = [plain(t["name"]) for t in tasks]
    data, lows = [], [0.0]
    for index, (metric, label) in enumerate(METRIC_NAMES.items()):
        entries = [t["summary"][metric] for t in tasks]
        values = [finite(e["value"]) for e in entries]
        plus = [None if v is None or e["ci_high"] is None else e["ci_high"] - v for v, e in zip(values, entries)]
        minus = [None if v is None or e["ci_low"] is None else v - e["ci_low"] for v, e in zip(values, entries)]
        hover = []
        for name, v, e in zip(names, values, entries):
            if v is None:
                hover.append(f"{name}: {label} undefined<br>{plain(e.get('reason') or '')}")
            elif e["ci_low"] is not None:
                hover.append(f"{name}: {label} {v:.3f}<br>{level:.0%} CI [{e['ci_low']:.3f}, {e['ci_high']:.3f}]")
            else:
                hover.append(f"{name}: {label} {v:.3f}")
            lows += [x for x in (v, e["ci_low"]) if x is not None]
        data.append(
            {
                "type": "bar",
                "name": label,
                "x": names,
                "y": values,
                "hovertext": hover,
                "hoverinfo": "text",
                "marker": {"color": PALETTE[index]},
                "error_y": {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus, "thickness": 1.2},
            }
        )
    y_min = min(float(x) for x in lows) - 0.05
    shapes, annotations = landis_koch_bands(y_min)
    return make_figure(
        data,
        base_layout(
            barmode="group",
            yaxis={"range": [y_min, 1.05], "title": {"text": "value"}},
            shapes=shapes,
            annotations=annotations,
            margin=BANDS_MARGIN,
        ),
    )


def per_category_figure(task_name: str, label_names: Sequence[str], kappas: Sequence[Any]) -> go.Figure:
    """Fleiss' kappa of each label against all others (NaN = never or always chosen: no bar)."""
    values = finite_list(kappas)
    label_names = plain_all(label_names)
    hover = [
        f"{label}: κ {v:.3f}" if v is not None else f"{label}: undefined (never or always chosen)"
        for label, v in zip(label_names, values)
    ]
    y_min = min([0.0, *[v for v in values if v is not None]]) - 0.05
    shapes, annotations = landis_koch_bands(y_min)
    trace = {
        "type": "bar",
        "name": plain(task_name),
        "x": label_names,
        "y": values,
        "hovertext": hover,
        "hoverinfo": "text",
        "marker": {"color": PALETTE[1]},
    }
    return make_figure(
        [trace],
        base_layout(
            height=340,
            yaxis={"range": [y_min, 1.05], "title": {"text": "Fleiss' κ (label vs rest)"}},
            shapes=shapes,
            annotations=annotations,
            margin=BANDS_MARGIN,
        ),
    )


def pairwise_heatmap(
    names: Sequence[str], kappa: Sequence[Sequence[Any]], n_shared: Sequence[Sequence[Any]]
) -> go.Figure:
    """Cohen's kappa between every pair of annotators; hover shows the items both labelled."""
    z = finite_matrix(kappa)
    shared = np.asarray(n_shared, dtype=np.int64)
    names = plain_all(names)
    text = []
    for r, a in enumerate(names):
        row = []
        for s, b in enumerate(names):
            if r == s:
                row.append(f"{a}: {shared[r, s]} items labelled")
            elif z[r][s] is None:
                row.append(f"{a} vs {b}: κ undefined<br>{shared[r, s]} shared items")
            else:
                row.append(f"{a} vs {b}: κ {z[r][s]:.3f}<br>{shared[r, s]} shared items")
        text.append(row)
    trace = {
        "type": "heatmap",
        "z": z,
        "x": names,
        "y": names,
        "text": text,
        "hoverinfo": "text",
        "zmin": -1,
        "zmax": 1,
        "colorscale": DIVERGING,
        "colorbar": {"title": {"text": "κ"}},
        "xgap": 1,
        "ygap": 1,
    }
    height = max(260, min(720, 90 + 40 * len(names)))
    return make_figure([trace], base_layout(height=height, yaxis={"autorange": "reversed"}))


def agreement_over_time_figure(series: Mapping[str, Sequence[Mapping[str, Any]]]) -> go.Figure:
    """Fleiss' kappa per week for each task.

    series: task name -> [{"week": "YYYY-MM-DD", "n_items", "fleiss", "percent", "reason"}].
    """
    data = []
    for index, (name, points) in enumerate(series.items()):
        name = plain(name)
        hover = [
            f"{name}, week of {p['week']}<br>{p['n_items']} items<br>κ {fmt(finite(p['fleiss']))}"
            f" · agreement {fmt(finite(p['percent']))}" + (f"<br>{plain(p['reason'])}" if p.get("reason") else "")
            for p in points
        ]
        data.append(
            {
                "type": "scatter",
                "name": name,
                "x": [p["week"] for p in points],
                "y": [finite(p["fleiss"]) for p in points],
                "mode": "lines+markers",
                "hovertext": hover,
                "hoverinfo": "text",
                "line": {"color": PALETTE[index % len(PALETTE)]},
            }
        )
    xaxis: dict[str, Any] = {
        "title": {"text": "week of the items' latest vote"},
        "type": "date",
        "tickformat": "%d %b %Y",
    }
    weeks = sorted({p["week"] for points in series.values() for p in points})
    if weeks:
        # Half a week of room either side, so one or two weeks still get a readable axis.
        start, end = np.datetime64(weeks[0]) - np.timedelta64(4, "D"), np.datetime64(weeks[-1]) + np.timedelta64(4, "D")
        xaxis["range"] = [str(start), str(end)]
        if len(weeks) <= 16:
            xaxis["dtick"] = 7 * 86_400_000  # one tick per week (ms)
            xaxis["tick0"] = weeks[0]
    return make_figure(data, base_layout(xaxis=xaxis, yaxis={"title": {"text": "Fleiss' κ"}, "range": [-0.05, 1.05]}))


# ---------------------------------------------------------------------------
# Confusion (MSED Fig. 3)


def confusion_heatmap(
    label_names: Sequence[str], matrix: Sequence[Sequence[Any]], *, pair_counts: Sequence[Sequence[Any]] | None = None
) -> go.Figure:
    """The label-confusion matrix of one task: share of annotator pairs of an item choosing (row, column)."""
    z = finite_matrix(matrix)
    counts = None if pair_counts is None else np.asarray(pair_counts)
    label_names = plain_all(label_names)
    hover, text = [], []
    for r, a in enumerate(label_names):
        hover.append(
            [
                f"{a} / {b}: {fmt(z[r][c])}" + ("" if counts is None else f"<br>{int(counts[r, c])} annotator pairs")
                for c, b in enumerate(label_names)
            ]
        )
        text.append(["" if v is None else f"{v:.2f}" for v in z[r]])
    trace = {
        "type": "heatmap",
        "z": z,
        "x": label_names,
        "y": label_names,
        "hovertext": hover,
        "hoverinfo": "text",
        "text": text,
        "texttemplate": "%{text}",
        "colorscale": SEQUENTIAL,
        "zmin": 0,
        "colorbar": {"title": {"text": "share"}},
        "xgap": 1,
        "ygap": 1,
    }
    height = max(300, min(640, 120 + 45 * len(label_names)))
    return make_figure(
        [trace],
        base_layout(
            height=height,
            yaxis={"autorange": "reversed", "title": {"text": "one annotator"}},
            xaxis={"title": {"text": "another annotator"}},
        ),
    )
