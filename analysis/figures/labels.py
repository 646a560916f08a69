"""Charts of the labels page: label counts and shares, within groups, keywords."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from .style import (
    GRID,
    PALETTE,
    SEQUENTIAL,
    base_layout,
    finite,
    finite_list,
    finite_matrix,
    fmt,
    group_bar,
    make_figure,
    plain,
    plain_all,
)

# ---------------------------------------------------------------------------
# Distribution (MSED Table 4, Fig. 4)


def label_counts_figure(label_names: Sequence[str], counts_by_split: Mapping[str, Sequence[int]]) -> go.Figure:
    """Gold label counts of one task, stacked by split (MSED Table 4 as bars)."""
    data = [
        {
            "type": "bar",
            "name": plain(split),
            "x": plain_all(label_names),
            "y": [int(c) for c in counts],
            "marker": {"color": PALETTE[i % len(PALETTE)]},
        }
        for i, (split, counts) in enumerate(counts_by_split.items())
    ]
    return make_figure(data, base_layout(barmode="stack", height=340, yaxis={"title": {"text": "items"}}))


def share_pie(
    label_names: Sequence[str], counts: Sequence[int], *, hole: float = 0.45, center: str | None = None
) -> go.Figure:
    """A donut of label shares (MSED Fig. 4a: desire classes and none).

    center is markup (the caller's own text, <br> allowed), never user text.
    """
    trace = {
        "type": "pie",
        "labels": plain_all(label_names),
        "values": [int(c) for c in counts],
        "hole": hole,
        "sort": False,
        "marker": {"colors": PALETTE[: len(label_names)]},
        "textinfo": "label+percent",
        "hoverinfo": "label+value+percent",
    }
    layout = base_layout(showlegend=False)
    if center:
        layout["annotations"] = [
            {"text": center, "showarrow": False, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper"}
        ]
    return make_figure([trace], layout)


def within_groups_figure(
    label_names: Sequence[str], shares: Mapping[str, Sequence[Any]], counts: Mapping[str, Sequence[int]]
) -> go.Figure:
    """Label shares of one task within groups of items (MSED Fig. 4b/4c: within desire and within none)."""
    data = []
    labels = plain_all(label_names)
    for index, (group, values) in enumerate(shares.items()):
        shown = finite_list(values)
        hover = [
            f"{plain(group)}: {label} {fmt(v)} ({int(n)} items)" for label, v, n in zip(labels, shown, counts[group])
        ]
        data.append(group_bar(plain(group), labels, shown, hover, index))
    return make_figure(
        data,
        base_layout(
            barmode="group", height=340, yaxis={"title": {"text": "share of the group's items"}, "tickformat": ".0%"}
        ),
    )


def sunburst_figure(
    ids: Sequence[str], labels: Sequence[str], parents: Sequence[str], values: Sequence[int]
) -> go.Figure:
    """A sunburst of gold label combinations (desire -> sentiment -> emotion), values = items."""
    trace = {
        "type": "sunburst",
        "ids": list(ids),
        "labels": plain_all(labels),
        "parents": list(parents),
        "values": [int(v) for v in values],
        "branchvalues": "total",
        "hoverinfo": "label+value+percent parent",
        "insidetextorientation": "radial",
    }
    return make_figure([trace], base_layout(height=520, margin={"l": 10, "r": 10, "t": 10, "b": 10}))


def category_bars(
    categories: Sequence[str],
    values: Sequence[Any],
    *,
    title_y: str,
    hover: Sequence[str] | None = None,
    percent: bool = False,
    color: str | None = None,
) -> go.Figure:
    """One bar per category (inference orders, annotators)."""
    trace: dict[str, Any] = {
        "type": "bar",
        "x": plain_all(categories),
        "y": finite_list(values),
        "marker": {"color": color or PALETTE[0]},
    }
    if hover is not None:
        trace.update(hovertext=plain_all(hover), hoverinfo="text")
    yaxis: dict[str, Any] = {"title": {"text": title_y}}
    if percent:
        yaxis["tickformat"] = ".0%"
    return make_figure([trace], base_layout(height=340, yaxis=yaxis))


def share_heatmap(
    rows: Sequence[str],
    columns: Sequence[str],
    shares: Sequence[Sequence[Any]],
    counts: Sequence[Sequence[int]],
    *,
    row_title: str,
    column_title: str,
) -> go.Figure:
    """Row-normalised shares (e.g. inference orders per annotator); hover gives the counts."""
    z = finite_matrix(shares)
    counts_array = np.asarray(counts, dtype=np.int64)
    rows, columns = plain_all(rows), plain_all(columns)
    hover = [
        [f"{r} · {c}: {fmt(z[i][j])} ({counts_array[i, j]})" for j, c in enumerate(columns)] for i, r in enumerate(rows)
    ]
    text = [["" if v is None else f"{v:.0%}" for v in row] for row in z]
    trace = {
        "type": "heatmap",
        "z": z,
        "x": columns,
        "y": rows,
        "hovertext": hover,
        "hoverinfo": "text",
        "text": text,
        "texttemplate": "%{text}",
        "colorscale": SEQUENTIAL,
        "zmin": 0,
        "zmax": 1,
        "colorbar": {"title": {"text": "share"}},
        "xgap": 1,
        "ygap": 1,
    }
    # No upper bound: every row keeps its 30 px however many annotators there
    # are (a cap squashed 40 annotators into 720 px); the page scrolls instead.
    height = max(280, 160 + 30 * len(rows))
    return make_figure(
        [trace],
        base_layout(
            height=height,
            yaxis={"autorange": "reversed", "title": {"text": plain(row_title)}, "automargin": True},
            xaxis={"title": {"text": plain(column_title)}, "automargin": True},
        ),
    )


# ---------------------------------------------------------------------------
# Keywords (MSED Fig. 5, as bars)


def keywords_figure(groups: Mapping[str, Sequence[Sequence[Any]]], *, columns: int = 3) -> go.Figure:
    """Top words per group as horizontal bars of their weighted log-odds z-score, one panel per group.

    groups: group name -> [(word, z, count in group)], best first (analysis.metrics.keywords).
    """
    names = list(groups)
    cols = max(1, min(columns, len(names)))
    rows = max(1, math.ceil(len(names) / cols))
    longest = max([len(words) for words in groups.values()] + [1])
    # Sizes in pixels, turned into the paper fractions Plotly's axis domains use.
    panel, gap, top, bottom = 30 + 18 * longest, 70, 40, 40
    height = rows * panel + (rows - 1) * gap + top + bottom
    plot_height = height - top - bottom
    gap_x = 0.12
    width = (1 - gap_x * (cols - 1)) / cols
    data, annotations = [], []
    layout = base_layout(height=height, margin={"l": 90, "r": 20, "t": top, "b": bottom})
    for index, name in enumerate(names):
        row, col = divmod(index, cols)
        suffix = "" if index == 0 else str(index + 1)
        x0 = col * (width + gap_x)
        y1 = 1 - row * (panel + gap) / plot_height
        y0 = y1 - panel / plot_height
        # Rounded and clamped: float error must not push a domain outside [0, 1].
        x_domain = [round(max(0.0, x0), 6), round(min(1.0, x0 + width), 6)]
        y_domain = [round(max(0.0, y0), 6), round(min(1.0, y1), 6)]
        layout[f"xaxis{suffix}"] = {
            "domain": x_domain,
            "anchor": f"y{suffix}",
            "gridcolor": GRID,
            "rangemode": "tozero",
        }
        layout[f"yaxis{suffix}"] = {
            "domain": y_domain,
            "anchor": f"x{suffix}",
            "automargin": True,
            "tickfont": {"size": 11},
        }
        annotations.append(
            {
                "text": plain(name),
                "xref": "paper",
                "yref": "paper",
                "x": (x_domain[0] + x_domain[1]) / 2,
                "y": y_domain[1],
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 13},
            }
        )
        words = [(plain(w[0]), *w[1:]) for w in list(groups[name])[::-1]]  # best on top
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": plain(name),
                "showlegend": False,
                "xaxis": f"x{suffix}",
                "yaxis": f"y{suffix}",
                "x": [finite(w[1]) for w in words],
                "y": [w[0] for w in words],
                "hovertext": [f"{w[0]}: z {float(w[1]):.2f}, {int(w[2])} times in {plain(name)}" for w in words],
                "hoverinfo": "text",
                "marker": {"color": PALETTE[index % len(PALETTE)]},
            }
        )
    layout["annotations"] = annotations
    return make_figure(data, layout)
