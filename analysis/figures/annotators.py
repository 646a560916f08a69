"""Charts of the annotators page: each annotator's agreement with the others."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from .style import (
    PALETTE,
    base_layout,
    finite_list,
    fmt,
    group_bar,
    make_figure,
    plain,
    plain_all,
)

# ---------------------------------------------------------------------------
# Annotators


def annotator_agreement_figure(
    names: Sequence[str], by_task: Mapping[str, Sequence[Any]], used: Mapping[str, Sequence[int]]
) -> go.Figure:
    """Each annotator's agreement with the majority of the others, one bar group per annotator."""
    data = []
    names = plain_all(names)
    for index, (task, values) in enumerate(by_task.items()):
        shown = finite_list(values)
        name = plain(task)
        hover = [
            f"{n} · {name}: {fmt(v)} on {u} items"
            if v is not None
            else f"{n} · {name}: undefined (no item with an untied majority of others)"
            for n, v, u in zip(names, shown, used[task])
        ]
        data.append(group_bar(name, names, shown, hover, index))
    return make_figure(
        data,
        base_layout(
            barmode="group",
            yaxis={"title": {"text": "agreement with the others' majority"}, "range": [0, 1.05], "tickformat": ".0%"},
        ),
    )


def interval_bars(
    names: Sequence[str],
    by_task: Mapping[str, Mapping[str, Sequence[Any]]],
    *,
    title_y: str,
    threshold: float | None = None,
) -> go.Figure:
    """One bar group per annotator, one bar per task, each with its interval.

    by_task: task name -> {"value": [...], "lower": [...], "upper": [...], "n": [...]}
    aligned with `names` (None or NaN: undefined, drawn as a gap). A dashed
    line marks `threshold` (the project's reliability threshold).
    """
    data = []
    names = plain_all(names)
    for index, (task, series) in enumerate(by_task.items()):
        value, lower, upper = (finite_list(series[k]) for k in ("value", "lower", "upper"))
        name = plain(task)
        hover = [
            f"{n} · {name}: {fmt(v)} (95% CI {fmt(lo)}–{fmt(hi)}) on {c} items" if v is not None else f"{n} · {name}: –"
            for n, v, lo, hi, c in zip(names, value, lower, upper, series["n"])
        ]
        data.append(
            {
                "type": "bar",
                "name": name,
                "x": names,
                "y": value,
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": [None if v is None or hi is None else hi - v for v, hi in zip(value, upper)],
                    "arrayminus": [None if v is None or lo is None else v - lo for v, lo in zip(value, lower)],
                },
                "hovertext": hover,
                "hoverinfo": "text",
                "marker": {"color": PALETTE[index % len(PALETTE)]},
            }
        )
    shapes = []
    if threshold is not None:
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": threshold,
                "y1": threshold,
                "line": {"dash": "dash", "color": "#b3413c", "width": 1},
            }
        )
    return make_figure(
        data,
        base_layout(
            barmode="group",
            shapes=shapes,
            yaxis={"title": {"text": plain(title_y)}, "range": [0, 1.05], "tickformat": ".0%"},
        ),
    )


def confusion_by_annotator(
    task_name: str, label_names: Sequence[str], annotator_names: Sequence[str], confusions: Any
) -> go.Figure:
    """A Dawid-Skene confusion matrix ([true, given], rows sum to 1) as a
    heatmap, with a menu choosing the annotator (Plotly's own buttons: no
    script of ours). confusions: (n_annotators, K, K)."""
    labels = plain_all(label_names)
    names = plain_all(annotator_names)
    matrices = [[[round(float(x), 4) for x in row] for row in matrix] for matrix in confusions]
    first = matrices[0] if matrices else []
    data = [
        {
            "type": "heatmap",
            "z": first,
            "x": labels,
            "y": labels,
            "zmin": 0,
            "zmax": 1,
            "colorscale": "Blues",
            "hovertemplate": "true %{y} → said %{x}: %{z:.0%}<extra></extra>",
        }
    ]
    buttons = [{"label": name, "method": "restyle", "args": [{"z": [matrix]}]} for name, matrix in zip(names, matrices)]
    return make_figure(
        data,
        base_layout(
            title={"text": f"{plain(task_name)}: P(annotator says column | true row)"},
            xaxis={"title": {"text": "label given"}},
            yaxis={"title": {"text": "true label"}, "autorange": "reversed"},
            updatemenus=[{"type": "dropdown", "buttons": buttons, "x": 1, "xanchor": "right", "y": 1.15}],
        ),
    )
