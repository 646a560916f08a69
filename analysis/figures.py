"""Dashboard charts as Plotly figures, built from plain numbers.

Pure: no Django and no database. Each function takes lists, dicts or
arrays that a service computed with analysis.metrics and returns a
``plotly.graph_objects.Figure``; the view sends ``json.loads(fig.to_json())``
to the page and static/js/figures.js draws it with Plotly.react.

Conventions: undefined values (a metric that is 0/0 for the data) arrive as
None or NaN and are drawn as gaps, with the reason in the hover text where
one is given; sequences are passed to Plotly as lists so the JSON stays
plain (plotly >= 6 would encode NumPy arrays as base64 typed arrays).

User text is hostile: label, task, group and annotator names and keywords
come from other people's files, and Plotly renders trace names, tick
labels, hover text and annotations as HTML-like markup (<b>, <a href>).
Every function here takes plain text and escapes it with ``plain`` before
it reaches Plotly; only our own <br> stays markup.

Speed: traces and layouts are written as plain dicts and the Figure is built
without Plotly's per-property validation (``_validate=False``), which costs
~30 ms per figure with a dozen shapes, a tenth of a second per page. The
tests build every figure again with validation on (``validated``), so a
misspelt property still fails there. A small template of our own keeps each
figure's JSON small (Plotly's default template adds ~8 KB per figure).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

# Colours that read on white and on the dark theme of static/css/app.css.
PALETTE = ["#2f5d8a", "#d08c2e", "#3f9b6b", "#b3413c", "#7a5ea8", "#4fa3b8", "#8c6d4f", "#c76aa8", "#6f7d3c", "#5b6b7a"]
SEQUENTIAL = [[0.0, "#f4f7fb"], [0.5, "#7fa6cc"], [1.0, "#1f3f66"]]
DIVERGING = [[0.0, "#b3413c"], [0.5, "#f4f4f2"], [1.0, "#2f5d8a"]]
_GRID = "rgba(128,128,128,0.2)"

TEMPLATE: dict[str, Any] = {
    "layout": {
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12, "color": "#666"},
        "colorway": PALETTE,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
        "xaxis": {"gridcolor": _GRID, "zerolinecolor": "rgba(128,128,128,0.4)", "automargin": True},
        "yaxis": {"gridcolor": _GRID, "zerolinecolor": "rgba(128,128,128,0.4)", "automargin": True},
        "legend": {"orientation": "h", "y": -0.2},
        "hoverlabel": {"namelength": -1},
    }
}

# Room on the right for the names of the Landis-Koch bands.
_BANDS_MARGIN = {"l": 60, "r": 95, "t": 30, "b": 50}

# Landis & Koch (1977) bands, as analysis.metrics.landis_koch names them.
LANDIS_KOCH_BANDS: tuple[tuple[str, float, float], ...] = (
    ("poor", -1.0, 0.0),
    ("slight", 0.0, 0.2),
    ("fair", 0.2, 0.4),
    ("moderate", 0.4, 0.6),
    ("substantial", 0.6, 0.8),
    ("almost perfect", 0.8, 1.0),
)

METRIC_NAMES = {
    "percent": "Percent agreement",
    "fleiss": "Fleiss' κ",
    "alpha": "Krippendorff's α",
    "ac1": "Gwet's AC1",
}


def plain(text: Any) -> str:
    """Plain text (a label, task, group or annotator name, a word) as Plotly markup that shows it as written.

    Plotly decodes &amp; &lt; &gt; and numeric entities but not &quot;; with
    "<" escaped no tag (so no attribute) can form, so quotes stay as they are.
    """
    return html.escape(str(text), quote=False)


def plain_all(texts: Sequence[Any]) -> list[str]:
    return [plain(t) for t in texts]


def _figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> go.Figure:
    """A Figure from plain dicts, skipping Plotly's property validation (see the module docstring)."""
    try:
        return go.Figure(data=data, layout=layout, _validate=False)
    except TypeError:  # a Plotly without the switch: validate
        return go.Figure(data=data, layout=layout)


def validated(fig: go.Figure) -> go.Figure:
    """The same figure rebuilt with Plotly's validation (raises ValueError on an invalid property)."""
    return go.Figure(fig.to_dict())


def _value(x: Any) -> float | None:
    """A finite float, or None (drawn as a gap) for None / NaN / inf."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _values(xs: Sequence[Any] | np.ndarray) -> list[float | None]:
    return [_value(x) for x in np.asarray(xs, dtype=object).ravel().tolist()]


def _matrix(rows: Sequence[Sequence[Any]] | np.ndarray) -> list[list[float | None]]:
    return [[_value(x) for x in row] for row in np.asarray(rows, dtype=object).tolist()]


def _layout(**kwargs: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {"template": TEMPLATE, "height": 380}
    layout.update(kwargs)
    return layout


def _fmt(x: float | None, digits: int = 3) -> str:
    return "undefined" if x is None else f"{x:.{digits}f}"


def _landis_koch_bands(y_min: float) -> tuple[list[dict], list[dict]]:
    """Shaded shapes and their labels for the Landis-Koch bands above y_min."""
    shapes, annotations = [], []
    for index, (name, low, high) in enumerate(LANDIS_KOCH_BANDS):
        low = max(low, y_min)
        if high <= low:
            continue
        shapes.append(
            {
                "type": "rect",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": low,
                "y1": high,
                "layer": "below",
                "line": {"width": 0},
                "fillcolor": "rgba(128,128,128,0.10)" if index % 2 else "rgba(128,128,128,0.03)",
            }
        )
        annotations.append(
            {
                "xref": "paper",
                "x": 1.01,
                "xanchor": "left",
                "yref": "y",
                "y": (low + high) / 2,
                "text": name,
                "showarrow": False,
                "font": {"size": 10, "color": "#888"},
            }
        )
    return shapes, annotations


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
        values = [_value(e["value"]) for e in entries]
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
    shapes, annotations = _landis_koch_bands(y_min)
    return _figure(
        data,
        _layout(
            barmode="group",
            yaxis={"range": [y_min, 1.05], "title": {"text": "value"}},
            shapes=shapes,
            annotations=annotations,
            margin=_BANDS_MARGIN,
        ),
    )


def per_category_figure(task_name: str, label_names: Sequence[str], kappas: Sequence[Any]) -> go.Figure:
    """Fleiss' kappa of each label against all others (NaN = never or always chosen: no bar)."""
    values = _values(kappas)
    label_names = plain_all(label_names)
    hover = [
        f"{label}: κ {v:.3f}" if v is not None else f"{label}: undefined (never or always chosen)"
        for label, v in zip(label_names, values)
    ]
    y_min = min([0.0, *[v for v in values if v is not None]]) - 0.05
    shapes, annotations = _landis_koch_bands(y_min)
    trace = {
        "type": "bar",
        "name": plain(task_name),
        "x": label_names,
        "y": values,
        "hovertext": hover,
        "hoverinfo": "text",
        "marker": {"color": PALETTE[1]},
    }
    return _figure(
        [trace],
        _layout(
            height=340,
            yaxis={"range": [y_min, 1.05], "title": {"text": "Fleiss' κ (label vs rest)"}},
            shapes=shapes,
            annotations=annotations,
            margin=_BANDS_MARGIN,
        ),
    )


def pairwise_heatmap(
    names: Sequence[str], kappa: Sequence[Sequence[Any]], n_shared: Sequence[Sequence[Any]]
) -> go.Figure:
    """Cohen's kappa between every pair of annotators; hover shows the items both labelled."""
    z = _matrix(kappa)
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
    return _figure([trace], _layout(height=height, yaxis={"autorange": "reversed"}))


def agreement_over_time_figure(series: Mapping[str, Sequence[Mapping[str, Any]]]) -> go.Figure:
    """Fleiss' kappa per week for each task.

    series: task name -> [{"week": "YYYY-MM-DD", "n_items", "fleiss", "percent", "reason"}].
    """
    data = []
    for index, (name, points) in enumerate(series.items()):
        name = plain(name)
        hover = [
            f"{name}, week of {p['week']}<br>{p['n_items']} items<br>κ {_fmt(_value(p['fleiss']))}"
            f" · agreement {_fmt(_value(p['percent']))}" + (f"<br>{plain(p['reason'])}" if p.get("reason") else "")
            for p in points
        ]
        data.append(
            {
                "type": "scatter",
                "name": name,
                "x": [p["week"] for p in points],
                "y": [_value(p["fleiss"]) for p in points],
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
    return _figure(data, _layout(xaxis=xaxis, yaxis={"title": {"text": "Fleiss' κ"}, "range": [-0.05, 1.05]}))


# ---------------------------------------------------------------------------
# Confusion (MSED Fig. 3)


def confusion_heatmap(
    label_names: Sequence[str], matrix: Sequence[Sequence[Any]], *, pair_counts: Sequence[Sequence[Any]] | None = None
) -> go.Figure:
    """The label-confusion matrix of one task: share of annotator pairs of an item choosing (row, column)."""
    z = _matrix(matrix)
    counts = None if pair_counts is None else np.asarray(pair_counts)
    label_names = plain_all(label_names)
    hover, text = [], []
    for r, a in enumerate(label_names):
        hover.append(
            [
                f"{a} / {b}: {_fmt(z[r][c])}" + ("" if counts is None else f"<br>{int(counts[r, c])} annotator pairs")
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
    return _figure(
        [trace],
        _layout(
            height=height,
            yaxis={"autorange": "reversed", "title": {"text": "one annotator"}},
            xaxis={"title": {"text": "another annotator"}},
        ),
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
    return _figure(data, _layout(barmode="stack", height=340, yaxis={"title": {"text": "items"}}))


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
    layout = _layout(showlegend=False)
    if center:
        layout["annotations"] = [
            {"text": center, "showarrow": False, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper"}
        ]
    return _figure([trace], layout)


def within_groups_figure(
    label_names: Sequence[str], shares: Mapping[str, Sequence[Any]], counts: Mapping[str, Sequence[int]]
) -> go.Figure:
    """Label shares of one task within groups of items (MSED Fig. 4b/4c: within desire and within none)."""
    data = []
    labels = plain_all(label_names)
    for index, (group, values) in enumerate(shares.items()):
        shown = _values(values)
        hover = [
            f"{plain(group)}: {label} {_fmt(v)} ({int(n)} items)" for label, v, n in zip(labels, shown, counts[group])
        ]
        data.append(
            {
                "type": "bar",
                "name": plain(group),
                "x": labels,
                "y": shown,
                "hovertext": hover,
                "hoverinfo": "text",
                "marker": {"color": PALETTE[index % len(PALETTE)]},
            }
        )
    return _figure(
        data,
        _layout(
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
    return _figure([trace], _layout(height=520, margin={"l": 10, "r": 10, "t": 10, "b": 10}))


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
        "y": _values(values),
        "marker": {"color": color or PALETTE[0]},
    }
    if hover is not None:
        trace.update(hovertext=plain_all(hover), hoverinfo="text")
    yaxis: dict[str, Any] = {"title": {"text": title_y}}
    if percent:
        yaxis["tickformat"] = ".0%"
    return _figure([trace], _layout(height=340, yaxis=yaxis))


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
    z = _matrix(shares)
    counts_array = np.asarray(counts, dtype=np.int64)
    rows, columns = plain_all(rows), plain_all(columns)
    hover = [
        [f"{r} · {c}: {_fmt(z[i][j])} ({counts_array[i, j]})" for j, c in enumerate(columns)]
        for i, r in enumerate(rows)
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
    return _figure(
        [trace],
        _layout(
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
    layout = _layout(height=height, margin={"l": 90, "r": 20, "t": top, "b": bottom})
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
            "gridcolor": _GRID,
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
                "x": [_value(w[1]) for w in words],
                "y": [w[0] for w in words],
                "hovertext": [f"{w[0]}: z {float(w[1]):.2f}, {int(w[2])} times in {plain(name)}" for w in words],
                "hoverinfo": "text",
                "marker": {"color": PALETTE[index % len(PALETTE)]},
            }
        )
    layout["annotations"] = annotations
    return _figure(data, layout)


# ---------------------------------------------------------------------------
# Annotators


def annotator_agreement_figure(
    names: Sequence[str], by_task: Mapping[str, Sequence[Any]], used: Mapping[str, Sequence[int]]
) -> go.Figure:
    """Each annotator's agreement with the majority of the others, one bar group per annotator."""
    data = []
    names = plain_all(names)
    for index, (task, values) in enumerate(by_task.items()):
        shown = _values(values)
        name = plain(task)
        hover = [
            f"{n} · {name}: {_fmt(v)} on {u} items"
            if v is not None
            else f"{n} · {name}: undefined (no item with an untied majority of others)"
            for n, v, u in zip(names, shown, used[task])
        ]
        data.append(
            {
                "type": "bar",
                "name": name,
                "x": names,
                "y": shown,
                "hovertext": hover,
                "hoverinfo": "text",
                "marker": {"color": PALETTE[index % len(PALETTE)]},
            }
        )
    return _figure(
        data,
        _layout(
            barmode="group",
            yaxis={"title": {"text": "agreement with the others' majority"}, "range": [0, 1.05], "tickformat": ".0%"},
        ),
    )


# ---------------------------------------------------------------------------
# Modalities (CH-SIMS section 3.2)


def modality_heatmap(
    names: Sequence[str], difference: Sequence[Sequence[Any]], n_items: Sequence[Sequence[int]], *, scored: bool
) -> go.Figure:
    """CH-SIMS Fig. 2 (right): the difference between annotation rounds (larger = more different)."""
    z = _matrix(difference)
    counts = np.asarray(n_items, dtype=np.int64)
    names = plain_all(names)
    measure = "mean squared difference of mean scores" if scored else "share of items whose majority labels differ"
    hover = [
        [f"{a} vs {b}: {_fmt(z[i][j])}<br>{measure}<br>{counts[i, j]} items" for j, b in enumerate(names)]
        for i, a in enumerate(names)
    ]
    text = [["" if v is None else f"{v:.2f}" for v in row] for row in z]
    trace = {
        "type": "heatmap",
        "z": z,
        "x": names,
        "y": names,
        "hovertext": hover,
        "hoverinfo": "text",
        "text": text,
        "texttemplate": "%{text}",
        "colorscale": SEQUENTIAL,
        "zmin": 0,
        "colorbar": {"title": {"text": "D"}},
        "xgap": 1,
        "ygap": 1,
    }
    return _figure([trace], _layout(height=340, yaxis={"autorange": "reversed"}))


def round_distribution_figure(label_names: Sequence[str], shares: Mapping[str, Sequence[Any]]) -> go.Figure:
    """CH-SIMS Fig. 2 (left): the label distribution of each round's votes."""
    data = [
        {
            "type": "bar",
            "name": plain(name),
            "x": plain_all(label_names),
            "y": _values(values),
            "marker": {"color": PALETTE[i % len(PALETTE)]},
        }
        for i, (name, values) in enumerate(shares.items())
    ]
    return _figure(
        data, _layout(barmode="group", height=340, yaxis={"title": {"text": "share of votes"}, "tickformat": ".0%"})
    )
