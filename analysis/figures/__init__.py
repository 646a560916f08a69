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

The charts are grouped by dashboard page: style (colours, the template,
``plain`` and the helpers every chart uses), agreement, labels, annotators,
modalities, anchoring, controls. Import them from here: ``from analysis import figures``.
"""

from __future__ import annotations

from .agreement import (
    agreement_over_time_figure,
    agreement_summary_figure,
    confusion_heatmap,
    pairwise_heatmap,
    per_category_figure,
)
from .anchoring import arm_difference_figure
from .annotators import (
    annotator_agreement_figure,
    confusion_by_annotator,
    interval_bars,
)
from .controls import control_accuracy_figure
from .labels import (
    category_bars,
    keywords_figure,
    label_counts_figure,
    share_heatmap,
    share_pie,
    sunburst_figure,
    within_groups_figure,
)
from .modalities import (
    modality_heatmap,
    round_distribution_figure,
)
from .style import (
    DIVERGING,
    LANDIS_KOCH_BANDS,
    METRIC_NAMES,
    PALETTE,
    SEQUENTIAL,
    TEMPLATE,
    plain,
    plain_all,
    validated,
)

__all__ = [
    "control_accuracy_figure",
    "DIVERGING",
    "LANDIS_KOCH_BANDS",
    "METRIC_NAMES",
    "PALETTE",
    "SEQUENTIAL",
    "TEMPLATE",
    "agreement_over_time_figure",
    "agreement_summary_figure",
    "annotator_agreement_figure",
    "arm_difference_figure",
    "confusion_by_annotator",
    "interval_bars",
    "category_bars",
    "confusion_heatmap",
    "keywords_figure",
    "label_counts_figure",
    "modality_heatmap",
    "pairwise_heatmap",
    "per_category_figure",
    "plain",
    "plain_all",
    "round_distribution_figure",
    "share_heatmap",
    "share_pie",
    "sunburst_figure",
    "validated",
    "within_groups_figure",
]
