"""Colours, the template and the helpers every dashboard chart uses (see
the package docstring for the conventions)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

# Colours that read on white and on the dark theme of static/css/app.css.
PALETTE = ["#2f5d8a", "#d08c2e", "#3f9b6b", "#b3413c", "#7a5ea8", "#4fa3b8", "#8c6d4f", "#c76aa8", "#6f7d3c", "#5b6b7a"]
SEQUENTIAL = [[0.0, "#f4f7fb"], [0.5, "#7fa6cc"], [1.0, "#1f3f66"]]
DIVERGING = [[0.0, "#b3413c"], [0.5, "#f4f4f2"], [1.0, "#2f5d8a"]]
GRID = "rgba(128,128,128,0.2)"

TEMPLATE: dict[str, Any] = {
    "layout": {
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12, "color": "#666"},
        "colorway": PALETTE,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
        "xaxis": {"gridcolor": GRID, "zerolinecolor": "rgba(128,128,128,0.4)", "automargin": True},
        "yaxis": {"gridcolor": GRID, "zerolinecolor": "rgba(128,128,128,0.4)", "automargin": True},
        "legend": {"orientation": "h", "y": -0.2},
        "hoverlabel": {"namelength": -1},
    }
}

# Room on the right for the names of the Landis-Koch bands.
BANDS_MARGIN = {"l": 60, "r": 95, "t": 30, "b": 50}

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


def make_figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> go.Figure:
    """A Figure from plain dicts, skipping Plotly's property validation (see the module docstring)."""
    try:
        return go.Figure(data=data, layout=layout, _validate=False)
    except TypeError:  # a Plotly without the switch: validate
        return go.Figure(data=data, layout=layout)


def validated(fig: go.Figure) -> go.Figure:
    """The same figure rebuilt with Plotly's validation (raises ValueError on an invalid property)."""
    return go.Figure(fig.to_dict())


def finite(x: Any) -> float | None:
    """A finite float, or None (drawn as a gap) for None / NaN / inf."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def finite_list(xs: Sequence[Any] | np.ndarray) -> list[float | None]:
    return [finite(x) for x in np.asarray(xs, dtype=object).ravel().tolist()]


def finite_matrix(rows: Sequence[Sequence[Any]] | np.ndarray) -> list[list[float | None]]:
    return [[finite(x) for x in row] for row in np.asarray(rows, dtype=object).tolist()]


def group_bar(name: str, x: list[str], y: list[float | None], hover: list[str], index: int) -> dict[str, Any]:
    """One trace of a grouped bar chart (barmode="group"): the bars of series
    number `index`, in its palette colour, hover showing only `hover`."""
    return {
        "type": "bar",
        "name": name,
        "x": x,
        "y": y,
        "hovertext": hover,
        "hoverinfo": "text",
        "marker": {"color": PALETTE[index % len(PALETTE)]},
    }


def base_layout(**kwargs: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {"template": TEMPLATE, "height": 380}
    layout.update(kwargs)
    return layout


def fmt(x: float | None, digits: int = 3) -> str:
    return "undefined" if x is None else f"{x:.{digits}f}"


def landis_koch_bands(y_min: float) -> tuple[list[dict], list[dict]]:
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
