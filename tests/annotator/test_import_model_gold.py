"""Gold a reliability model gave (issue 14) in an export re-imports: computed
again from the row's votes, or stored as imported when the row has none."""

from __future__ import annotations

from annotator.models import Gold, Item
from annotator.services import imports
from tests.annotator.fixtures.datasets import write_jsonl


def test_model_gold_with_votes_is_recomputed_and_without_votes_is_imported(project, tmp_path):
    data = tmp_path
    vote = {"annotator": "ana", "labels": {"desire": "romance", "sentiment": "positive", "emotion": "happiness"}}
    odd = {"id": "odd", "text": "Sky", "gold_sentiment": "neutral", "gold_sentiment_source": "oracle"}
    write_jsonl(data / "export.jsonl", [*_rows(vote), odd])

    report = imports.import_path(project=project, path=data / "export.jsonl")

    assert not report.ok  # the unknown source is named, and nothing is written
    assert any("oracle" in str(error) for error in report.errors), report.errors
    assert not Item.objects.filter(project=project).exists()
    write_jsonl(data / "export.jsonl", _rows(vote))
    report = imports.import_path(project=project, path=data / "export.jsonl")
    assert report.ok, report.errors
    voted = Gold.objects.get(item__external_id="voted", task__key="sentiment")
    assert (voted.source, voted.label.key) == (Gold.Source.MAJORITY, "positive")  # the votes, not the file's label
    bare = Gold.objects.get(item__external_id="bare", task__key="sentiment")
    assert (bare.source, bare.label.key) == (Gold.Source.IMPORTED, "neutral")


def _rows(vote):
    return [
        {
            "id": "voted",
            "text": "Hug",
            "votes": [vote],
            "gold_sentiment": "negative",
            "gold_sentiment_source": "dawid_skene",
        },
        {"id": "bare", "text": "Lake", "gold_sentiment": "neutral", "gold_sentiment_source": "mace"},
    ]
