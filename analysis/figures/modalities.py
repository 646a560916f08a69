"""Charts of the modalities page: labels by modality and by round."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from .style import (
    PALETTE,
    SEQUENTIAL,
    base_layout,
    finite_list,
    finite_matrix,
    fmt,
    make_figure,
    plain,
    plain_all,
)

# ---------------------------------------------------------------------------
# Modalities (CH-SIMS section 3.2)


def modality_heatmap(
    names: Sequence[str], difference: Sequence[Sequence[Any]], n_items: Sequence[Sequence[int]], *, scored: bool
) -> go.Figure:
    """CH-SIMS Fig. 2 (right): the difference between annotation rounds (larger = more different)."""
    z = finite_matrix(difference)
    counts = np.asarray(n_items, dtype=np.int64)
    names = plain_all(names)
    measure = "mean squared difference of mean scores" if scored else "share of items whose majority labels differ"
    hover = [
        [f"{a} vs {b}: {fmt(z[i][j])}<br>{measure}<br>{counts[i, j]} items" for j, b in enumerate(names)]
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
    return make_figure([trace], base_layout(height=340, yaxis={"autorange": "reversed"}))


def round_distribution_figure(label_names: Sequence[str], shares: Mapping[str, Sequence[Any]]) -> go.Figure:
    """CH-SIMS Fig. 2 (left): the label distribution of each round's votes."""
    data = [
        {
            "type": "bar",
            "name": plain(name),
            "x": plain_all(label_names),
            "y": finite_list(values),
            "marker": {"color": PALETTE[i % len(PALETTE)]},
        }
        for i, (name, values) in enumerate(shares.items())
    ]
    return make_figure(
        data, base_layout(barmode="group", height=340, yaxis={"title": {"text": "share of votes"}, "tickformat": ".0%"})
    )
