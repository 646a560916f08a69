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
    return make_figure(
        data,
        base_layout(
            barmode="group",
            yaxis={"title": {"text": "agreement with the others' majority"}, "range": [0, 1.05], "tickformat": ".0%"},
        ),
    )
