"""Model pages' charts as Plotly figures, built from plain numbers.

Pure: no Django, no database, no torch. The view passes
``json.loads(fig.to_json())`` to json_script and static/js/figures.js draws
it. Colours and the small template come from analysis.figures, so model
charts look like the dashboards.

Run, task, label and annotator names are user text: every function escapes
them with analysis.figures.plain before they reach Plotly, which renders
names, tick labels and hover text as HTML-like markup.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.figures import PALETTE, SEQUENTIAL, TEMPLATE, plain, plain_all

METRIC_LABELS = {
    "precision": "P",
    "recall": "R",
    "macro_f1": "Ma-F1",
    "weighted_f1": "W-F1",
    "accuracy": "Acc",
}


def _value(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _layout(title: str | None = None, **kwargs: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {"template": TEMPLATE, "height": kwargs.pop("height", 340)}
    if title:
        layout["title"] = {"text": title, "x": 0, "xanchor": "left", "font": {"size": 14}}
    layout.update(kwargs)
    return layout


def training_curve(history: Sequence[Mapping[str, Any]], *, best_epoch: int | None = None) -> go.Figure:
    """Training loss (left axis) and dev macro-F1 (right axis, 0-1) per epoch."""
    epochs = [int(h["epoch"]) for h in history]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(
            x=epochs,
            y=[_value(h.get("train_loss")) for h in history],
            name="training loss",
            mode="lines+markers",
            line={"color": PALETTE[1]},
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=epochs,
            y=[_value(h.get("dev_macro_f1")) for h in history],
            name="dev macro-F1",
            mode="lines+markers",
            line={"color": PALETTE[0]},
        ),
        secondary_y=True,
    )
    if best_epoch:
        fig.add_vline(
            x=best_epoch, line={"dash": "dot", "color": PALETTE[2]}, annotation_text="kept", annotation_position="top"
        )
    fig.update_layout(
        **_layout(height=300, xaxis={"title": "epoch", "dtick": max(1, len(epochs) // 10) if epochs else 1})
    )
    fig.update_yaxes(title_text="loss", rangemode="tozero", secondary_y=False)
    # Fixed ticks: by default the right axis copies the left axis's tick
    # positions, which gives labels such as 0.358 on a 0-1 scale.
    fig.update_yaxes(
        title_text="dev macro-F1", range=[0, 1], tickmode="linear", tick0=0, dtick=0.2, secondary_y=True, showgrid=False
    )
    return fig


def confusion_matrix(task_name: str, label_names: Sequence[str], counts: Sequence[Sequence[int]]) -> go.Figure:
    """MSED Fig. 7: rows are the gold label, columns the predicted one; cells
    show the share of the row (recall on the diagonal), hover the count."""
    shares, text, hover = [], [], []
    label_names = plain_all(label_names)
    for r, row in enumerate(counts):
        total = sum(row)
        share_row = [(c / total) if total else None for c in row]
        shares.append(share_row)
        text.append(["" if s is None else f"{100 * s:.0f}%" for s in share_row])
        hover.append(
            [
                f"gold {label_names[r]} → predicted {label_names[c]}<br>{row[c]} of {total} items"
                for c in range(len(row))
            ]
        )
    size = max(300, min(560, 110 + 48 * len(label_names)))
    fig = go.Figure(
        go.Heatmap(
            z=shares,
            x=label_names,
            y=label_names,
            text=text,
            texttemplate="%{text}",
            hovertext=hover,
            hoverinfo="text",
            colorscale=SEQUENTIAL,
            zmin=0,
            zmax=1,
            xgap=1,
            ygap=1,
            colorbar={"title": {"text": "share of row"}},
        )
    )
    fig.update_layout(
        **_layout(
            plain(task_name),
            height=size,
            yaxis={"autorange": "reversed", "title": "gold"},
            xaxis={"title": "predicted"},
        )
    )
    return fig


def comparison_chart(
    run_names: Sequence[str], task_names: Sequence[str], scores: Sequence[Sequence[Any]], *, metric: str = "macro-F1"
) -> go.Figure:
    """Grouped bars: one group per task, one bar per run (scores[run][task], 0-1)."""
    fig = go.Figure()
    task_names = plain_all(task_names)
    for i, (name, row) in enumerate(zip(run_names, scores)):
        values = [_value(v) for v in row]
        fig.add_trace(
            go.Bar(
                x=task_names,
                y=values,
                name=plain(name),
                marker={"color": PALETTE[i % len(PALETTE)]},
                text=["" if v is None else f"{100 * v:.1f}" for v in values],
                textposition="outside",
                # The trace's (escaped) name, not the raw one spliced into the template.
                hovertemplate=f"%{{fullData.name}}<br>%{{x}}: %{{y:.3f}} {plain(metric)}<extra></extra>",
            )
        )
    fig.update_layout(**_layout(height=360, barmode="group", yaxis={"title": f"test {metric}", "range": [0, 1.08]}))
    return fig


def model_vs_annotators_chart(tasks: Sequence[Mapping[str, Any]]) -> go.Figure:
    """MSED Table 7 as bars: per task each annotator's leave-one-out accuracy,
    their mean, and the model's accuracy against the annotators' majority."""
    names = sorted({a["name"] for t in tasks for a in t["annotators"]})
    task_names = plain_all(t["name"] for t in tasks)
    fig = go.Figure()
    for i, name in enumerate(names):
        by_task = [{a["name"]: a for a in t["annotators"]}.get(name) for t in tasks]
        fig.add_trace(
            go.Bar(
                x=task_names,
                y=[_value(a["accuracy"]) if a else None for a in by_task],
                name=plain(name),
                marker={"color": PALETTE[(i + 3) % len(PALETTE)], "opacity": 0.55},
                customdata=[a["n"] if a else 0 for a in by_task],
                hovertemplate="%{fullData.name}<br>%{x}: %{y:.3f} on %{customdata} items<extra></extra>",
            )
        )
    fig.add_trace(
        go.Bar(
            x=task_names,
            y=[_value(t.get("mean")) for t in tasks],
            name="annotators' mean",
            marker={"color": PALETTE[1]},
        )
    )
    fig.add_trace(
        go.Bar(
            x=task_names,
            y=[_value(t["model"]["accuracy"]) for t in tasks],
            name="model",
            marker={"color": PALETTE[0]},
            customdata=[t["model"]["n"] for t in tasks],
            hovertemplate="model<br>%{x}: %{y:.3f} on %{customdata} items<extra></extra>",
        )
    )
    fig.update_layout(
        **_layout(height=360, barmode="group", yaxis={"title": "accuracy against the majority", "range": [0, 1.05]})
    )
    return fig


def embedding_map(
    points: Sequence[Mapping[str, Any]],
    *,
    categorical: bool,
    legend: str,
    categories: Sequence[str] = (),
    explained: Sequence[float] = (),
    title: str | None = None,
) -> go.Figure:
    """A 2-D scatter of item representations (CH-SIMS Fig. 4).

    points: [{"x", "y", "value", "hover", "lines", "url", "thumb"}]; "hover"
    is markup whose parts the caller escaped (inference.reports.hover_markup),
    "lines" the same as plain text. categorical: one trace per value (gold
    labels, in `categories` order); otherwise one trace coloured by the
    numeric value (None drawn grey). customdata holds [url, thumb, lines] so
    the page can open the item and show its image and caption; the page
    writes the lines with textContent, and no hovertemplate may show them.
    """
    fig = go.Figure()

    # SVG, not Scattergl: plotly.js compiles its WebGL traces with eval, which
    # our Content-Security-Policy refuses; 1,500 points draw fine as SVG.
    def trace(selected, name, **marker):
        return go.Scatter(
            x=[p["x"] for p in selected],
            y=[p["y"] for p in selected],
            mode="markers",
            name=plain(name),
            hovertext=[p["hover"] for p in selected],
            hoverinfo="text",
            customdata=[[p["url"], p["thumb"], list(p.get("lines") or [])] for p in selected],
            marker={"size": 7, "opacity": 0.8, **marker},
        )

    if categorical:
        order = list(categories) + sorted({str(p["value"]) for p in points} - set(categories))
        for i, category in enumerate(order):
            selected = [p for p in points if str(p["value"]) == category]
            if selected:
                colour = "#b0b0b0" if category == "no gold" else PALETTE[i % len(PALETTE)]
                fig.add_trace(trace(selected, category, color=colour))
    else:
        missing = [p for p in points if p["value"] is None]
        known = [p for p in points if p["value"] is not None]
        if missing:
            fig.add_trace(trace(missing, "no value", color="#c8c8c8"))
        if known:
            fig.add_trace(
                trace(
                    known,
                    legend,
                    color=[p["value"] for p in known],
                    colorscale="Viridis",
                    cmin=0,
                    cmax=1,
                    showscale=True,
                    colorbar={"title": {"text": plain(legend)}},
                )
            )
    title = plain(title) if title else title

    def axis(i):
        return {
            "title": f"PC{i + 1}" + (f" ({100 * explained[i]:.0f}% of variance)" if len(explained) > i else ""),
            "zeroline": False,
        }

    fig.update_layout(
        **_layout(
            title,
            height=520,
            xaxis=axis(0),
            yaxis=axis(1),
            legend={"title": {"text": plain(legend)}, "orientation": "v", "x": 1.02, "y": 1},
        )
    )
    return fig


def reliability_diagram(
    task_name: str,
    before: Mapping[str, Sequence[Any]],
    after: Mapping[str, Sequence[Any]] | None = None,
    *,
    temperature: float | None = None,
    ece_before: float | None = None,
    ece_after: float | None = None,
) -> go.Figure:
    """A reliability diagram (Guo et al. 2017, Fig. 1) of one task on the test split.

    before / after: reliability bins as inference.modeling.calibration's
    Reliability.to_dict() gives them ({"counts", "confidence", "accuracy"},
    equal-width bins over 0-1, None for an empty bin), before and after
    temperature scaling. Bars are each bin's accuracy at the bin's centre,
    the diagonal is a calibrated model; bars below it are overconfidence.
    Hover: the bin's range, items, mean confidence and accuracy.
    """
    n_bins = len(before["counts"])
    width = 1.0 / n_bins if n_bins else 1.0
    centres = [(b + 0.5) * width for b in range(n_bins)]
    fig = go.Figure()
    series = [("before scaling", before, PALETTE[1])]
    if after is not None:
        label = "after scaling" + (f" (T = {temperature:.2f})" if temperature is not None else "")
        series.append((label, after, PALETTE[0]))
    # Side by side inside each bin: explicit offsets, as grouping would
    # ignore the bin width.
    part = width / len(series)
    for i, (name, bins, colour) in enumerate(series):
        counts = [int(c) for c in bins["counts"]]
        fig.add_trace(
            go.Bar(
                x=centres,
                y=[_value(a) for a in bins["accuracy"]],
                width=part,
                offset=-width / 2 + i * part,
                name=name,
                marker={"color": colour},
                customdata=[
                    [f"{b * width:.2f}–{(b + 1) * width:.2f}", counts[b], _value(bins["confidence"][b])]
                    for b in range(n_bins)
                ],
                hovertemplate="%{fullData.name}<br>confidence %{customdata[0]}: %{customdata[1]} items<br>"
                "mean confidence %{customdata[2]:.3f}, accuracy %{y:.3f}<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name="calibrated",
            line={"dash": "dot", "color": "#888888"},
            hoverinfo="skip",
        )
    )
    parts = [plain(task_name)]
    if ece_before is not None:
        parts.append(f"ECE {ece_before:.3f}" + (f" → {ece_after:.3f}" if ece_after is not None else ""))
    fig.update_layout(
        **_layout(
            " · ".join(parts),
            height=340,
            barmode="overlay",
            xaxis={"title": "confidence (top probability)", "range": [0, 1], "dtick": 0.2},
            yaxis={"title": "accuracy", "range": [0, 1.02]},
            legend={"orientation": "h", "y": -0.25},
        )
    )
    return fig
