"""Charts of the anchoring page: how the arm shown suggestions differs from the arm not shown them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from .style import PALETTE, base_layout, finite_list, fmt, make_figure, plain, plain_all


def arm_difference_figure(
    names: Sequence[str],
    differences: Sequence[Any],
    lows: Sequence[Any],
    highs: Sequence[Any],
    *,
    unit: str = "percentage points",
    scale: float = 100.0,
    reasons: Sequence[str | None] | None = None,
) -> go.Figure:
    """A forest plot: one row per measure (or annotator), the difference shown - hidden
    as a dot with its bootstrap interval, and a line at 0 (no effect). Values
    are multiplied by `scale` (shares to percentage points)."""
    names = plain_all(names)
    reasons = list(reasons) if reasons is not None else [None] * len(names)
    diff = [None if v is None else v * scale for v in finite_list(differences)]
    low = [None if v is None else v * scale for v in finite_list(lows)]
    high = [None if v is None else v * scale for v in finite_list(highs)]
    hover = [
        f"{n}: {fmt(d, 1)} {unit}<br>95% interval {fmt(lo, 1)} to {fmt(hi, 1)}"
        if d is not None
        else f"{n}: undefined{'<br>' + plain(r) if r else ''}"
        for n, d, lo, hi, r in zip(names, diff, low, high, reasons)
    ]
    trace = {
        "type": "scatter",
        "mode": "markers",
        "x": diff,
        "y": names,
        "marker": {"color": PALETTE[0], "size": 10},
        "error_x": {
            "type": "data",
            "symmetric": False,
            "array": [None if d is None or h is None else h - d for d, h in zip(diff, high)],
            "arrayminus": [None if d is None or lo is None else d - lo for d, lo in zip(diff, low)],
            "color": PALETTE[0],
        },
        "hovertext": hover,
        "hoverinfo": "text",
        "showlegend": False,
    }
    zero = {"type": "line", "xref": "x", "x0": 0, "x1": 0, "yref": "paper", "y0": 0, "y1": 1, "line": {"dash": "dot"}}
    return make_figure(
        [trace],
        base_layout(
            height=max(220, 60 + 34 * len(names)),
            shapes=[zero],
            xaxis={"title": {"text": f"shown - hidden ({unit})"}, "zeroline": False},
            yaxis={"autorange": "reversed", "automargin": True},
            margin={"l": 10, "r": 20, "t": 20, "b": 50},
        ),
    )
