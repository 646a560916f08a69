"""Figures are pure: plain numbers in, Plotly figures with the expected traces out (no database)."""

from __future__ import annotations

import json
import math

import numpy as np
import plotly.graph_objects as go

from analysis import figures


def as_json(fig: go.Figure) -> dict:
    """The figure's JSON, after checking Plotly accepts every property (figures skip validation for speed)."""
    assert isinstance(fig, go.Figure)
    figures.validated(fig)
    return json.loads(fig.to_json())


def metric(value, low=None, high=None, reason=None):
    return {"value": value, "ci_low": low, "ci_high": high, "reason": reason}


def summary(kappa=0.55, **overrides):
    s = {
        "percent": metric(0.72, 0.70, 0.74),
        "fleiss": {**metric(kappa, kappa - 0.02, kappa + 0.02), "band": "moderate"},
        "alpha": metric(0.55, 0.53, 0.57),
        "ac1": metric(0.66, 0.64, 0.68),
    }
    s.update(overrides)
    return s


def test_figures_module_does_not_import_django():
    import ast
    import importlib
    import inspect
    import pkgutil

    modules = [figures] + [
        importlib.import_module(m.name) for m in pkgutil.iter_modules(figures.__path__, "analysis.figures.")
    ]
    assert len(modules) > 1
    for module in modules:
        tree = ast.parse(inspect.getsource(module))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
            a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
        }
        assert not any(name and name.startswith("django") for name in imported), module.__name__


def test_summary_figure_has_a_bar_per_metric_with_intervals_and_bands():
    fig = as_json(
        figures.agreement_summary_figure(
            [{"name": "Desire", "summary": summary(0.53)}, {"name": "Sentiment", "summary": summary(0.67)}]
        )
    )
    bars = fig["data"]
    assert [b["type"] for b in bars] == ["bar"] * 4
    assert [b["name"] for b in bars] == ["Percent agreement", "Fleiss' κ", "Krippendorff's α", "Gwet's AC1"]
    assert bars[1]["x"] == ["Desire", "Sentiment"] and bars[1]["y"] == [0.53, 0.67]
    assert bars[1]["error_y"]["array"] == [0.02, 0.02] or np.allclose(bars[1]["error_y"]["array"], [0.02, 0.02])
    assert "CI [0.510, 0.550]" in bars[1]["hovertext"][0]
    bands = [a["text"] for a in fig["layout"]["annotations"]]
    assert {"slight", "fair", "moderate", "substantial", "almost perfect"} <= set(bands)
    assert len(fig["layout"]["shapes"]) >= 5


def test_undefined_metric_is_a_gap_with_its_reason_in_the_hover():
    reason = "Fleiss' kappa is undefined: every vote is for category 6"
    fig = as_json(
        figures.agreement_summary_figure(
            [{"name": "Desire", "summary": summary(fleiss={**metric(None, reason=reason), "band": None})}]
        )
    )
    fleiss = fig["data"][1]
    assert fleiss["y"] == [None]
    assert reason in fleiss["hovertext"][0]


def test_per_category_figure_leaves_nan_categories_empty():
    fig = as_json(figures.per_category_figure("Desire", ["a", "b", "c"], [0.4, float("nan"), -0.1]))
    assert fig["data"][0]["y"] == [0.4, None, -0.1]
    assert "undefined" in fig["data"][0]["hovertext"][1]
    assert fig["layout"]["yaxis"]["range"][0] < -0.1


def test_pairwise_heatmap_shows_shared_item_counts_in_hover():
    kappa = np.array([[np.nan, 0.5], [0.5, np.nan]])
    shared = np.array([[10, 7], [7, 9]])
    fig = as_json(figures.pairwise_heatmap(["ana", "otto"], kappa, shared))
    heatmap = fig["data"][0]
    assert heatmap["type"] == "heatmap"
    assert heatmap["z"] == [[None, 0.5], [0.5, None]]
    assert heatmap["text"][0][1] == "ana vs otto: κ 0.500<br>7 shared items"
    assert heatmap["zmin"] == -1 and heatmap["zmax"] == 1


def test_over_time_figure_has_a_line_per_task():
    series = {
        "Desire": [
            {"week": "2024-01-01", "n_items": 10, "fleiss": 0.5, "percent": 0.7, "reason": None},
            {
                "week": "2024-01-08",
                "n_items": 3,
                "fleiss": None,
                "percent": 1.0,
                "reason": "every vote is for category 6",
            },
        ],
        "Sentiment": [{"week": "2024-01-01", "n_items": 10, "fleiss": 0.7, "percent": 0.8, "reason": None}],
    }
    fig = as_json(figures.agreement_over_time_figure(series))
    assert [t["name"] for t in fig["data"]] == ["Desire", "Sentiment"]
    assert fig["data"][0]["x"] == ["2024-01-01", "2024-01-08"] and fig["data"][0]["y"] == [0.5, None]
    assert "every vote is for category 6" in fig["data"][0]["hovertext"][1]


def test_confusion_heatmap_prints_the_shares():
    matrix = np.array([[0.5, 0.1], [0.1, 0.3]])
    fig = as_json(figures.confusion_heatmap(["none", "family"], matrix, pair_counts=np.array([[20, 4], [4, 12]])))
    heatmap = fig["data"][0]
    assert heatmap["z"] == [[0.5, 0.1], [0.1, 0.3]]
    assert heatmap["text"][0] == ["0.50", "0.10"]
    assert "4 annotator pairs" in heatmap["hovertext"][0][1]


def test_distribution_figures():
    counts = as_json(figures.label_counts_figure(["pos", "neg"], {"Train": [5, 3], "Test": [2, 1]}))
    assert [t["name"] for t in counts["data"]] == ["Train", "Test"] and counts["layout"]["barmode"] == "stack"
    pie = as_json(figures.share_pie(["family", "none"], [51, 49], center="desire 51%"))
    assert pie["data"][0]["type"] == "pie" and pie["data"][0]["values"] == [51, 49]
    assert pie["layout"]["annotations"][0]["text"] == "desire 51%"
    within = as_json(
        figures.within_groups_figure(
            ["pos", "neg"],
            {"desire": [0.6, 0.4], "none": [float("nan"), float("nan")]},
            {"desire": [6, 4], "none": [0, 0]},
        )
    )
    assert within["data"][1]["y"] == [None, None]
    sunburst = as_json(figures.sunburst_figure(["d:a", "d:a/s:p"], ["a", "p"], ["", "d:a"], [3, 3]))
    assert sunburst["data"][0]["type"] == "sunburst" and sunburst["data"][0]["parents"] == ["", "d:a"]


def test_share_heatmap_and_bars():
    heat = as_json(
        figures.share_heatmap(
            ["ana"], ["D → S", "S → D"], [[0.75, 0.25]], [[3, 1]], row_title="annotator", column_title="order"
        )
    )
    assert heat["data"][0]["text"] == [["75%", "25%"]]
    assert "(3)" in heat["data"][0]["hovertext"][0][0]
    bars = as_json(figures.category_bars(["ana", "otto"], [1.5, math.nan], title_y="seconds"))
    assert bars["data"][0]["y"] == [1.5, None]


def test_keywords_figure_has_a_subplot_per_group():
    groups = {"desire": [("couple", 4.2, 30), ("mother", 3.1, 12)], "none": [("background", 5.0, 40)]}
    fig = as_json(figures.keywords_figure(groups))
    assert len(fig["data"]) == 2
    assert fig["data"][0]["orientation"] == "h"
    assert fig["data"][0]["y"] == ["mother", "couple"]  # best on top
    assert [a["text"] for a in fig["layout"]["annotations"]] == ["desire", "none"]


def test_keywords_figure_lays_out_many_panels_inside_the_page():
    groups = {f"class {i}": [(f"w{i}", 1.0 + i, 3)] for i in range(7)}  # MSED's seven desire classes: 3 rows
    fig = as_json(figures.keywords_figure(groups))
    domains = [fig["layout"][key]["domain"] for key in fig["layout"] if key.startswith(("xaxis", "yaxis"))]
    assert len(domains) == 14 and all(0 <= low < high <= 1 for low, high in domains)


def test_annotator_and_modality_figures():
    agreement = as_json(
        figures.annotator_agreement_figure(["ana", "otto"], {"Desire": [0.8, float("nan")]}, {"Desire": [10, 0]})
    )
    assert agreement["data"][0]["y"] == [0.8, None]
    assert "undefined" in agreement["data"][0]["hovertext"][1]
    modality = as_json(
        figures.modality_heatmap(
            ["Text", "Image", "Multimodal"],
            np.array([[0, 0.4, 0.2], [0.4, 0, 0.3], [0.2, 0.3, 0]]),
            np.full((3, 3), 12),
            scored=True,
        )
    )
    assert modality["data"][0]["x"] == ["Text", "Image", "Multimodal"]
    assert "mean squared difference" in modality["data"][0]["hovertext"][0][1]
    rounds = as_json(figures.round_distribution_figure(["pos", "neg"], {"Text": [0.5, 0.5], "Image": [0.2, 0.8]}))
    assert [t["name"] for t in rounds["data"]] == ["Text", "Image"]


def test_figures_use_our_small_template():
    fig = as_json(figures.category_bars(["a"], [1], title_y="n"))
    assert len(json.dumps(fig["layout"]["template"])) < 2000
