"""The embedding map's hover text: item ids, texts and label names are other
people's data, and Plotly renders hover text as markup. Every part is
escaped; the plain lines go to the page's caption (written as text)."""

from __future__ import annotations

import pytest

from annotator.models import Label
from annotator.services.bulk import write_annotations
from inference.models import EmbeddingMap, RunStatus, TrainingRun
from inference.reports import embedding_points, hover_markup
from tests.factories import ItemFactory, make_member

pytestmark = pytest.mark.django_db

EVIL_ID = "<img src=x onerror=alert(1)>"
EVIL_TEXT = "<script>alert(2)</script> & more"
EVIL_LABEL = "<a href=javascript:alert(3)>Family</a>"


def test_hover_markup_escapes_every_line_and_bolds_the_first():
    assert hover_markup([EVIL_ID, "a & b", "<b>gold</b>"]) == (
        "<b>&lt;img src=x onerror=alert(1)&gt;</b><br>a &amp; b<br>&lt;b&gt;gold&lt;/b&gt;"
    )
    assert hover_markup([]) == ""


def test_embedding_points_escape_the_item_id_text_and_label_in_the_hover(project):
    item = ItemFactory(project=project, external_id=EVIL_ID, text=EVIL_TEXT)
    Label.objects.filter(project=project, task__key="desire", key="family").update(name=EVIL_LABEL)
    annotators = [make_member(project, username=f"rater-{i}") for i in range(3)]
    write_annotations(
        project=project,
        rows=[
            {"item_id": item.pk, "annotator_id": a.pk, "labels": {"desire": "family"}, "inference_order": ["desire"]}
            for a in annotators
        ],
    )
    run = TrainingRun.objects.create(project=project, name="r", status=RunStatus.SUCCEEDED, config={})
    EmbeddingMap.objects.create(
        run=run, item_ids=[item.pk], spaces={"fused": {"xy": [[0.5, -0.5]], "explained": [0.6, 0.3]}}
    )

    (point,) = embedding_points(run, space="fused", colour="gold", task_key="desire")["points"]

    assert point["hover"] == (
        "<b>&lt;img src=x onerror=alert(1)&gt;</b><br>&lt;script&gt;alert(2)&lt;/script&gt; &amp; more"
        "<br>gold desire: &lt;a href=javascript:alert(3)&gt;Family&lt;/a&gt; (3/3 votes)"
    )
    assert point["lines"] == [EVIL_ID, EVIL_TEXT, f"gold desire: {EVIL_LABEL} (3/3 votes)"]
    assert point["value"] == EVIL_LABEL  # the figure escapes it as a trace name
