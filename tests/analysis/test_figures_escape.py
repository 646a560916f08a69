"""User text reaches Plotly escaped: Plotly renders trace names, tick labels,
hover text and annotations as HTML-like markup, so a label named
`<a href=javascript:...>` would be a link and `<b onmouseover=...>` markup.
Every figure escapes every name it is given; only our own <br> (and the
<extra> of a hovertemplate) stay markup."""

from __future__ import annotations

import json
import re

import numpy as np

from analysis import figures
from inference import figures as model_figures

EVIL = "<a href=javascript:alert(1)>x</a>"
BOLD = "<b onmouseover=alert(2)>b</b>"
ESCAPED_EVIL = "&lt;a href=javascript:alert(1)&gt;x&lt;/a&gt;"
# Markup our figures write on purpose.
OURS = re.compile(r"<br>|<b>|</b>|<extra></extra>|%\{[^}]*\}")


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            if k != "customdata":  # data for our scripts, never shown by Plotly (checked below for the map)
                yield from strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from strings(v)


def assert_escaped(fig, *, must_show: tuple[str, ...] = (EVIL,)) -> dict:
    figures.validated(fig)
    data = json.loads(fig.to_json())
    texts = list(
        strings({"data": data["data"], "layout": {k: v for k, v in data["layout"].items() if k != "template"}})
    )
    for text in texts:
        assert "<" not in OURS.sub("", text), text
    joined = "\n".join(texts)
    for shown in must_show:
        assert figures.plain(shown) in joined, shown
    return data


def test_plain_escapes_markup_and_leaves_quotes_plotly_would_not_decode():
    assert figures.plain(EVIL) == ESCAPED_EVIL
    assert figures.plain("a & b") == "a &amp; b"
    assert figures.plain("&lt;b&gt;") == "&amp;lt;b&amp;gt;"  # shown as written, not decoded into a tag
    assert figures.plain('say "hi"') == 'say "hi"'  # Plotly does not decode &quot;
    assert figures.plain(3) == "3"


def test_agreement_figures_escape_task_label_and_annotator_names():
    metric = {"value": None, "ci_low": None, "ci_high": None, "reason": BOLD}
    summary = {"percent": metric, "fleiss": metric, "alpha": metric, "ac1": metric}
    assert_escaped(figures.agreement_summary_figure([{"name": EVIL, "summary": summary}]), must_show=(EVIL, BOLD))
    assert_escaped(figures.per_category_figure(BOLD, [EVIL, "b"], [0.4, float("nan")]), must_show=(EVIL, BOLD))
    assert_escaped(figures.pairwise_heatmap([EVIL, "otto"], [[1, 0.5], [0.5, 1]], [[3, 2], [2, 3]]))
    series = {EVIL: [{"week": "2026-01-05", "n_items": 3, "fleiss": 0.4, "percent": 0.7, "reason": BOLD}]}
    assert_escaped(figures.agreement_over_time_figure(series), must_show=(EVIL, BOLD))


def test_confusion_and_distribution_figures_escape_label_and_group_names():
    assert_escaped(
        figures.confusion_heatmap([EVIL, "b"], [[0.5, 0.5], [0.5, 0.5]], pair_counts=np.array([[1, 1], [1, 1]]))
    )
    assert_escaped(figures.label_counts_figure([EVIL, "b"], {BOLD: [1, 2]}), must_show=(EVIL, BOLD))
    assert_escaped(figures.share_pie([EVIL, "none"], [3, 4], center="desire 43%<br>none 57%"))
    assert_escaped(
        figures.within_groups_figure([EVIL, "b"], {BOLD: [0.5, 0.5]}, {BOLD: [1, 1]}), must_show=(EVIL, BOLD)
    )
    sunburst = assert_escaped(
        figures.sunburst_figure(["d:x", "d:x/s:y"], [EVIL, BOLD], ["", "d:x"], [2, 2]), must_show=(EVIL, BOLD)
    )
    assert sunburst["data"][0]["ids"] == ["d:x", "d:x/s:y"]  # structure untouched


def test_annotator_order_keyword_and_modality_figures_escape_names():
    assert_escaped(
        figures.category_bars([EVIL, "otto"], [1, 2], title_y="n", hover=[f"{BOLD}: 1", "otto: 2"]),
        must_show=(EVIL, BOLD),
    )
    assert_escaped(
        figures.share_heatmap([EVIL], ["D → S"], [[1.0]], [[3]], row_title=f"gold {BOLD}", column_title="order"),
        must_show=(EVIL, BOLD),
    )
    keywords = assert_escaped(figures.keywords_figure({BOLD: [(EVIL, 2.5, 4)]}), must_show=(EVIL, BOLD))
    assert keywords["layout"]["annotations"][0]["text"] == figures.plain(BOLD)
    assert_escaped(
        figures.annotator_agreement_figure([EVIL, "otto"], {BOLD: [0.8, 0.6]}, {BOLD: [3, 3]}), must_show=(EVIL, BOLD)
    )
    assert_escaped(figures.modality_heatmap([EVIL, "Image"], [[0, 0.4], [0.4, 0]], [[3, 3], [3, 3]], scored=False))
    assert_escaped(figures.round_distribution_figure([EVIL, "b"], {BOLD: [0.5, 0.5]}), must_show=(EVIL, BOLD))


def test_model_figures_escape_run_task_label_and_annotator_names():
    assert_escaped(model_figures.confusion_matrix(BOLD, [EVIL, "b"], [[1, 0], [0, 1]]), must_show=(EVIL, BOLD))
    comparison = assert_escaped(model_figures.comparison_chart([EVIL], [BOLD], [[0.5]]), must_show=(EVIL, BOLD))
    # The run's name reaches the hover through the (escaped) trace name, never spliced into the template.
    assert comparison["data"][0]["hovertemplate"].startswith("%{fullData.name}<br>")
    tasks = [
        {
            "name": BOLD,
            "annotators": [{"name": EVIL, "accuracy": 0.8, "n": 3}],
            "mean": 0.8,
            "model": {"accuracy": 0.7, "n": 3},
        }
    ]
    assert_escaped(model_figures.model_vs_annotators_chart(tasks), must_show=(EVIL, BOLD))


def test_embedding_map_escapes_category_names_and_keeps_the_callers_escaped_hover():
    point = {
        "x": 0.1,
        "y": 0.2,
        "value": EVIL,
        "hover": "<b>&lt;img src=x&gt;</b>",
        "lines": ["<img src=x>"],
        "url": "/i/1/",
        "thumb": "",
    }
    fig = assert_escaped(
        model_figures.embedding_map([point], categorical=True, legend=f"gold {BOLD}", categories=[EVIL]),
        must_show=(EVIL, BOLD),
    )
    trace = fig["data"][0]
    assert trace["type"] == "scatter"  # SVG: plotly.js's WebGL traces need eval, which the CSP refuses
    assert trace["name"] == ESCAPED_EVIL
    assert trace["hovertext"] == ["<b>&lt;img src=x&gt;</b>"]
    # Plain lines for the page's caption (written with textContent); no hovertemplate shows customdata.
    assert trace["customdata"] == [["/i/1/", "", ["<img src=x>"]]]
    assert "hovertemplate" not in trace
    numeric = assert_escaped(
        model_figures.embedding_map([{**point, "value": 0.4}], categorical=False, legend=f"disagreement on {BOLD}"),
        must_show=(BOLD,),
    )
    assert numeric["data"][0]["marker"]["colorbar"]["title"]["text"] == figures.plain(f"disagreement on {BOLD}")


def test_the_control_accuracy_figure_escapes_annotator_names():
    data = assert_escaped(figures.control_accuracy_figure({EVIL: [("2026-W49", 3, 4), ("2026-W50", 0, 0)]}))
    assert data["data"][0]["y"] == [0.75, None]
