"""The export's soft-label columns (issue 14.4): per task the vote
distribution of the multimodal round without control votes, and the gold
strategy's distribution (majority: the votes; Dawid-Skene / MACE: the
stored posterior; adjudicated or imported: one-hot), in CSV and JSONL."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest

from annotator.models import Gold, Vote
from annotator.services import exports
from annotator.services.bulk import AnnotationRow, write_annotations
from annotator.services.gold import adjudicate
from tests.factories import ItemFactory, make_member

LABELS = {"desire": "family", "sentiment": "positive", "emotion": "happiness"}


@pytest.fixture
def soft(project, annotator, other_annotator, lead):
    """majority: 2 x positive, 1 x negative, plus a text-round vote and a
    control vote; modelled: a stored posterior; decided: adjudicated against
    its votes; control: a control item; bare: no votes, no gold."""
    third = make_member(project, username="tia-annotator")
    fourth = make_member(project, username="carl-control")
    majority = ItemFactory(project=project, external_id="majority", text="x", split="train")
    modelled = ItemFactory(project=project, external_id="modelled", text="y", split="train")
    decided = ItemFactory(project=project, external_id="decided", text="z", split="dev")
    control = ItemFactory(project=project, external_id="control", text="c", split="train", is_control=True)
    ItemFactory(project=project, external_id="bare", text="b", split="test")
    write_annotations(
        project=project,
        rows=[
            AnnotationRow(majority.pk, annotator.pk, LABELS),
            AnnotationRow(majority.pk, other_annotator.pk, LABELS),
            AnnotationRow(majority.pk, third.pk, {**LABELS, "sentiment": "negative"}),
            AnnotationRow(majority.pk, fourth.pk, {**LABELS, "sentiment": "neutral"}),
            AnnotationRow(majority.pk, annotator.pk, {"sentiment": "neutral"}, round="text"),
            AnnotationRow(modelled.pk, annotator.pk, LABELS),
            AnnotationRow(decided.pk, annotator.pk, {**LABELS, "sentiment": "negative"}),
            AnnotationRow(decided.pk, other_annotator.pk, {**LABELS, "sentiment": "negative"}),
            AnnotationRow(control.pk, annotator.pk, LABELS),
        ],
    )
    Vote.objects.filter(item=majority, annotator=fourth).update(is_control=True)
    Vote.objects.filter(item=control).update(is_control=True)
    sentiment = project.tasks.get(key="sentiment")
    Gold.objects.update_or_create(
        item=modelled,
        task=sentiment,
        defaults={
            "label": sentiment.labels.get(key="neutral"),
            "source": Gold.Source.DAWID_SKENE,
            "posterior": {"positive": 0.2, "neutral": 0.7, "negative": 0.1},
        },
    )
    adjudicate(item=decided, task=sentiment, label=sentiment.labels.get(key="neutral"), lead=lead)
    return project


def rows_of(project, fmt: str) -> dict[str, dict]:
    _, _, chunks = exports.stream_export(project=project, fmt=fmt, pseudonymise=False)
    text = "".join(chunks)
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        for row in rows:
            for column in list(row):
                if column.endswith(("_votes", "_posterior")):
                    row[column] = json.loads(row[column]) if row[column] else None
        assert list(rows[0]) == exports.export_columns(project)
    else:
        rows = [json.loads(line) for line in text.splitlines()]
    return {row["id"]: row for row in rows}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_majority_gold_exports_its_counted_votes_and_their_distribution(soft, fmt):
    row = rows_of(soft, fmt)["majority"]

    # The text-round vote and the control vote are left out.
    assert row["sentiment_votes"] == {"positive": 2, "neutral": 0, "negative": 1}
    assert row["sentiment_posterior"] == {"positive": 0.6667, "neutral": 0.0, "negative": 0.3333}
    assert row["desire_posterior"]["family"] == 1.0
    assert list(row["sentiment_votes"]) == list(soft.tasks.get(key="sentiment").labels.values_list("key", flat=True))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_model_based_gold_exports_its_stored_posterior(soft, fmt):
    row = rows_of(soft, fmt)["modelled"]

    assert row["sentiment_votes"] == {"positive": 1, "neutral": 0, "negative": 0}
    assert row["sentiment_posterior"] == {"positive": 0.2, "neutral": 0.7, "negative": 0.1}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_adjudicated_gold_exports_one_hot_beside_the_votes_it_overruled(soft, fmt):
    row = rows_of(soft, fmt)["decided"]

    assert row["gold_sentiment_source"] == "adjudicated"
    assert row["sentiment_votes"] == {"positive": 0, "neutral": 0, "negative": 2}
    assert row["sentiment_posterior"] == {"positive": 0.0, "neutral": 1.0, "negative": 0.0}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_control_items_are_left_out_and_an_item_without_anything_has_no_posterior(soft, fmt):
    rows = rows_of(soft, fmt)

    assert "control" not in rows  # exports leave control items out (annotator.services.exports)
    assert rows["bare"]["sentiment_posterior"] is None
    assert set(rows["bare"]["emotion_votes"].values()) == {0}


def test_soft_label_columns_hold_hostile_label_keys_as_json_text_no_spreadsheet_runs(soft, annotator):
    sentiment = soft.tasks.get(key="sentiment")
    sentiment.labels.filter(key="negative").update(key="=cmd|' /C calc'!A0")
    soft.schema_token = uuid.uuid4()  # as services.projects.save_schema does on a schema change
    soft.save(update_fields=["schema_token"])
    _, _, chunks = exports.stream_export(project=soft, fmt="csv", pseudonymise=False)
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    cells = [row["sentiment_votes"] for row in rows] + [row["sentiment_posterior"] for row in rows]

    assert all(cell == "" or cell.startswith("{") for cell in cells)
    majority = next(row for row in rows if row["id"] == "majority")
    assert json.loads(majority["sentiment_votes"])["=cmd|' /C calc'!A0"] == 1
