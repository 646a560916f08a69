"""Chart of the control-items page: each annotator's accuracy on control items, week by week."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from .style import PALETTE, base_layout, fmt, make_figure, plain


def control_accuracy_figure(series: Mapping[str, Sequence[tuple[str, int, int]]]) -> go.Figure:
    """One line per annotator: {name: [(ISO week "2026-W49", correct, total), ...]}
    drawn as the week's share correct, with the counts in the hover text."""
    data = []
    for index, (name, weeks) in enumerate(series.items()):
        shown = plain(name)
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": shown,
                "x": [plain(week) for week, _, _ in weeks],
                "y": [correct / total if total else None for _, correct, total in weeks],
                "hovertext": [
                    f"{shown} · {plain(week)}: {fmt(correct / total if total else None)} ({correct} of {total})"
                    for week, correct, total in weeks
                ],
                "hoverinfo": "text",
                "line": {"color": PALETTE[index % len(PALETTE)]},
            }
        )
    return make_figure(
        data,
        base_layout(
            xaxis={"title": {"text": "ISO week"}, "type": "category"},
            yaxis={"title": {"text": "control answers matched"}, "range": [0, 1.05], "tickformat": ".0%"},
        ),
    )
