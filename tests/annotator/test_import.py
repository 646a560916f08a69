"""Importing items, gold and votes: clean files of every format, and every
kind of bad input refused with its own message and nothing written.

Long (over 600 lines) because it is the catalogue of bad inputs: one test per way a file can be
wrong, each asserting its message and that nothing was written."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from annotator.errors import DomainError, NotAllowed
from annotator.io import zipsafe
from annotator.io.validate import parse_inference_order
from annotator.models import Annotation, Gold, ImageAsset, ImportJob, Item, Membership, Vote
from annotator.schemas import MSED
from annotator.selectors import imports as import_selectors
from annotator.services import bulk, image_assets, import_jobs, import_writer, imports
from annotator.services.bulk import AnnotationRow, write_annotations
from tests.annotator.fixtures.datasets import (
    image_bytes,
    media_files,
    msed_layout,
    png_bomb_bytes,
    truncated_jpeg_bytes,
    votes,
    write_csv,
    write_image,
    write_jsonl,
    write_zip,
    zip_folder,
)
from tests.factories import ItemFactory

User = get_user_model()
HEADER = ["id", "text", "image", "split", "desire", "votes"]
ALL_LABELS = {"desire": "family", "sentiment": "positive", "emotion": "happiness"}


def snapshot() -> dict:
    return {
        "items": Item.objects.count(),
        "annotations": Annotation.objects.count(),
        "votes": Vote.objects.count(),
        "gold": Gold.objects.count(),
        "images": ImageAsset.objects.count(),
        "users": User.objects.count(),
        "media": media_files(Path(settings.MEDIA_ROOT)),
    }


def clean_csv(folder: Path) -> Path:
    write_image(folder / "img" / "1.jpg", "red")
    write_image(folder / "img" / "2.png", "blue", "PNG")
    return write_csv(
        folder / "items.csv",
        HEADER,
        [
            [
                "p1",
                "Walking with my son by the river",
                "img/1.jpg",
                "train",
                "family",
                votes(("ana", ALL_LABELS), ("ben", {**ALL_LABELS, "desire": "romance"}), ("cai", ALL_LABELS)),
            ],
            ["p2", "", "img/2.png", "dev", "", ""],
            ["p3", "Just a red car", "", "", "None", ""],
        ],
    )


@pytest.fixture
def data(tmp_path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


# ----------------------------------------------------------------- clean imports


def test_a_clean_csv_imports_items_images_gold_and_votes(project, data):
    report = imports.import_path(project=project, path=clean_csv(data))

    assert report.written and report.ok
    assert report.counts == {
        "created": 3,
        "updated": 0,
        "skipped": 0,
        "invalid": 0,
        "votes": 9,
        "gold": 2,
        "images": 2,
        "annotators": 3,
        "control": 0,
    }
    items = {i.external_id: i for i in Item.objects.filter(project=project).select_related("image")}
    assert items["p1"].text == "Walking with my son by the river"
    assert items["p1"].split == "train" and items["p2"].split == "dev" and items["p3"].split == "unassigned"
    assert items["p1"].vote_count == 3
    assert items["p2"].image.format == "PNG" and items["p3"].image is None
    sha = items["p1"].image.sha256
    assert items["p1"].image.file == f"images/{sha[:2]}/{sha}.jpg"
    assert (Path(settings.MEDIA_ROOT) / items["p1"].image.file).read_bytes() == (data / "img" / "1.jpg").read_bytes()
    gold = {
        (g.item.external_id, g.task.key): (g.label.key, g.source, g.votes_for, g.votes_total)
        for g in Gold.objects.select_related("item", "task", "label")
    }
    assert gold[("p1", "desire")] == ("family", "imported", 2, 3)
    assert gold[("p1", "emotion")] == ("happiness", "majority", 3, 3)
    assert gold[("p3", "desire")] == ("none", "imported", 0, 0)


def test_imported_annotators_are_inactive_members_without_a_usable_password(project, data):
    imports.import_path(project=project, path=clean_csv(data))

    ana = User.objects.get(username="ana")
    assert not ana.is_active and not ana.has_usable_password()
    assert Membership.objects.get(project=project, user=ana).role == Membership.Role.ANNOTATOR
    annotation = Annotation.objects.get(annotator=ana)
    assert annotation.inference_order == ["desire", "sentiment", "emotion"] and annotation.duration_ms == 1500


def test_votes_are_matched_to_existing_members_by_username(project, annotator, data):
    write_csv(
        data / "items.csv", ["id", "text", "votes"], [["x", "hi", votes((annotator.username.upper(), ALL_LABELS))]]
    )

    report = imports.import_path(project=project, path=data / "items.csv")

    assert report.counts["annotators"] == 0
    assert Annotation.objects.get().annotator == annotator


def test_an_existing_account_outside_the_project_is_never_attached_from_a_file(project, outsider, data):
    write_csv(data / "items.csv", ["id", "text", "votes"], [["x", "hi", votes((outsider.username, ALL_LABELS))]])

    imports.import_path(project=project, path=data / "items.csv")

    annotation = Annotation.objects.get()
    assert annotation.annotator != outsider
    assert annotation.annotator.username == f"{outsider.username}.{project.slug}"
    # A second import of the same name finds that member again.
    write_csv(data / "more.csv", ["id", "text", "votes"], [["y", "hi", votes((outsider.username, ALL_LABELS))]])
    report = imports.import_path(project=project, path=data / "more.csv")
    assert report.counts["annotators"] == 0


def test_a_clean_jsonl_imports_votes_given_as_json_lists(project, data):
    write_image(data / "a.jpg")
    write_jsonl(
        data / "items.jsonl",
        [
            {
                "id": 1,
                "text": "Hug",
                "image": "a.jpg",
                "split": "test",
                "inference_order": "S-E-D",
                "metadata": {"source": "flickr"},
                "votes": [
                    {
                        "annotator": "ana",
                        "labels": {"Desire": "Social contact", "sentiment": "Positive"},
                        "duration_ms": None,
                    }
                ],
            },
            {"id": "2", "text": "Calm lake", "gold_desire": "tranquility", "gold_desire_source": "adjudicated"},
        ],
    )

    report = imports.import_path(project=project, path=data / "items.jsonl")

    assert report.ok and report.counts["created"] == 2 and report.counts["votes"] == 2
    first = Item.objects.get(external_id="1")
    assert first.metadata == {"source": "flickr", "inference_order": ["sentiment", "emotion", "desire"]}
    assert first.split == "test"
    assert Vote.objects.get(task__key="desire").label.key == "social-contact"
    assert Gold.objects.get(item__external_id="2").source == Gold.Source.ADJUDICATED


def test_a_zip_import_reads_the_items_file_and_the_images_it_names(project, data, tmp_path):
    clean_csv(data)
    archive = zip_folder(data, tmp_path / "upload.zip", wrap="my-dataset/")

    report = imports.import_path(project=project, path=archive)

    assert report.ok and report.format == "csv"
    assert report.counts["created"] == 3 and report.counts["images"] == 2
    assert ImageAsset.objects.count() == 2


def test_the_msed_layout_imports_splits_titles_gold_and_inference_sequences(project, data):
    msed_layout(
        data,
        {
            "train": [
                ["Dad and son", "A father teaching his son to fish", "Positive", "Happiness", "Family", "D-S-E"],
                ["", "Old friends talking", "positive", "happiness", "social contact", "S-E-D"],
            ],
            "dev": [["", "An empty road", "Neutral", "Neutral", "None", ""]],
            "test": [["Fight", "He will pay for this", "Negative", "Anger", "Vengeance", "E-S-D"]],
        },
    )

    report = imports.import_path(project=project, path=data)

    assert report.ok and report.format == "msed"
    assert report.counts["created"] == 4 and report.counts["images"] == 4 and report.counts["gold"] == 12
    train1 = Item.objects.get(external_id="train-1")
    assert train1.split == "train" and train1.text == "A father teaching his son to fish"
    assert train1.metadata == {"title": "Dad and son", "inference_order": ["desire", "sentiment", "emotion"]}
    assert (Path(settings.MEDIA_ROOT) / train1.image.file).read_bytes() == (
        data / "train" / "images" / "1.jpg"
    ).read_bytes()
    assert Item.objects.get(external_id="dev-1").split == "dev"
    gold = set(Gold.objects.filter(item__external_id="train-2").values_list("task__key", "label__key", "source"))
    assert gold == {
        ("desire", "social-contact", "imported"),
        ("sentiment", "positive", "imported"),
        ("emotion", "happiness", "imported"),
    }


def test_the_msed_layout_also_reads_images_nested_under_a_top_level_images_folder(project, data, tmp_path):
    msed_layout(
        data,
        {
            "train": [["", "One", "Positive", "Happiness", "Family", ""]],
            "test": [["", "Two", "Negative", "Fear", "None", ""]],
        },
        images="nested",
    )

    report = imports.import_path(project=project, path=zip_folder(data, tmp_path / "msed.zip"))

    assert report.ok and report.counts["images"] == 2


def test_a_shared_top_level_images_folder_with_several_splits_is_refused_as_ambiguous(project, data):
    msed_layout(
        data,
        {
            "train": [["", "One", "Positive", "Happiness", "Family", ""]],
            "dev": [["", "Two", "Negative", "Fear", "None", ""]],
        },
        images="top",
    )

    report = imports.import_path(project=project, path=data)

    assert not report.written and report.file_error
    assert "several splits" in report.errors[0]["message"] and "<split>/images/" in report.errors[0]["message"]


def test_a_single_split_may_keep_its_images_in_a_top_level_folder(project, data):
    msed_layout(data, {"train": [["", "One", "Positive", "Happiness", "Family", ""]]}, images="top")

    assert imports.import_path(project=project, path=data).ok


# ----------------------------------------------------------------- bad input


def _bad_image_csv(data: Path, name: str, content: bytes) -> Path:
    (data / name).write_bytes(content)
    return write_csv(data / "items.csv", ["id", "text", "image"], [["ok", "fine", ""], ["bad", "caption", name]])


BAD_INPUTS = {
    "a text file named .jpg": (
        lambda data, tmp: _bad_image_csv(data, "fake.jpg", b"this is not an image\n"),
        ("image", "fake.jpg is not an image in one of the accepted formats"),
    ),
    "a truncated JPEG": (
        lambda data, tmp: _bad_image_csv(data, "cut.jpg", truncated_jpeg_bytes()),
        ("image", "cut.jpg is damaged or truncated"),
    ),
    "a PNG declaring 50000 x 50000 pixels": (
        lambda data, tmp: _bad_image_csv(data, "bomb.png", png_bomb_bytes()),
        ("image", "bomb.png declares 2,500,000,000 pixels, more than the limit"),
    ),
    "a missing image": (
        lambda data, tmp: write_csv(data / "items.csv", ["id", "text", "image"], [["a", "x", "nowhere.jpg"]]),
        (
            "image",
            "The image nowhere.jpg was not found in the folder of items.csv. To upload images, put items.csv and its images in one ZIP.",
        ),
    ),
    "an absolute image path": (
        lambda data, tmp: write_csv(data / "items.csv", ["id", "text", "image"], [["a", "x", "/etc/passwd"]]),
        ("image", "is absolute; give a path relative to the folder of items.csv"),
    ),
    "an image path escaping with ..": (
        lambda data, tmp: write_csv(data / "items.csv", ["id", "text", "image"], [["a", "x", "../secret.jpg"]]),
        ("image", "leaves the folder of items.csv ('..' is not allowed)"),
    ),
    "duplicate ids": (
        lambda data, tmp: write_csv(data / "items.csv", ["id", "text"], [["a", "one"], ["b", "two"], ["a", "three"]]),
        ("id", "the id 'a' was already used in row 1; ids must be unique within a file"),
    ),
    "an unknown label key": (
        lambda data, tmp: write_csv(data / "items.csv", ["id", "text", "emotion"], [["a", "x", "joy"]]),
        (
            "emotion",
            "unknown label 'joy' for the task 'emotion'; allowed labels: happiness, sad, neutral, disgust, anger, fear",
        ),
    ),
    "an unknown label key in a vote": (
        lambda data, tmp: write_csv(
            data / "items.csv", ["id", "text", "votes"], [["a", "x", votes(("ana", {"desire": "greed"}))]]
        ),
        (
            "votes",
            "vote 1 (by ana) names an unknown label 'greed' for the task 'desire'; allowed labels: vengeance, curiosity",
        ),
    ),
    "an item with neither text nor image": (
        lambda data, tmp: write_csv(data / "items.csv", ["id", "text", "image"], [["a", "  ", ""]]),
        ("", "this row has neither text nor an image; every item needs at least one"),
    ),
    "a non-UTF-8 file": (
        lambda data, tmp: write_csv(
            data / "items.csv", ["id", "text"], [["a", "fine"], ["b", "café"]], encoding="latin-1"
        ),
        ("", "byte 0xE9 at byte 22 of the file is not valid UTF-8. The file must be UTF-8 encoded"),
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_each_bad_row_gets_its_own_message_and_nothing_is_written(project, data, tmp_path, case):
    make, (column, message) = BAD_INPUTS[case]
    path = make(data, tmp_path)
    before = snapshot()

    report = imports.import_path(project=project, path=path)

    assert not report.written
    assert any(e["column"] == column and message in e["message"] for e in report.errors), report.errors
    assert "nothing was imported" in report.message
    assert snapshot() == before


def test_wrong_columns_are_named_with_the_expected_ones(project, data):
    write_csv(data / "items.csv", ["ID", "Caption", "Joy"], [["a", "x", "1"]])
    before = snapshot()

    report = imports.import_path(project=project, path=data / "items.csv")

    assert report.file_error and report.error_count == 1
    message = report.errors[0]["message"]
    assert "Missing column(s): text or image." in message
    assert "Unknown column(s): Caption, Joy." in message
    assert "Expected columns: id, text, image, split, metadata, inference_order, votes, desire, gold_desire" in message
    assert snapshot() == before


def test_a_zip_entry_escaping_the_archive_refuses_the_whole_archive(project, tmp_path):
    archive = write_zip(tmp_path / "evil.zip", {"items.csv": b"id,text\na,hello\n", "../../evil.txt": b"gotcha"})
    before = snapshot()

    report = imports.import_path(project=project, path=archive)

    assert report.file_error and not report.written
    assert (
        report.errors[0]["message"]
        == "The ZIP entry '../../evil.txt' points outside the archive ('..' in its path); the archive was refused."
    )
    assert not (tmp_path.parent / "evil.txt").exists()
    assert snapshot() == before


def test_a_zip_bomb_is_refused_before_anything_is_inflated(project, tmp_path, settings):
    settings.MAX_ZIP_UNCOMPRESSED_MB = 1
    archive = write_zip(tmp_path / "bomb.zip", {"items.csv": b"id,text\n" + b"a" * (3 * 1024 * 1024)})

    report = imports.import_path(project=project, path=archive)

    assert report.file_error
    assert "The archive unpacks to more than 1 MB" in report.errors[0]["message"]


def test_a_dry_run_lists_every_bad_row_and_writes_nothing(project, data):
    write_csv(
        data / "items.csv",
        ["id", "text", "desire"],
        [["a", "ok", "family"], ["b", "", ""], ["c", "x", "greed"], ["a", "dup", ""]],
    )
    before = snapshot()

    report = imports.import_path(project=project, path=data / "items.csv", dry_run=True)

    assert [(e["row"], e["column"]) for e in report.errors] == [(2, ""), (3, "desire"), (4, "id")]
    assert report.counts["invalid"] == 3 and report.counts["created"] == 1
    assert snapshot() == before


def test_a_clean_dry_run_counts_what_would_happen_without_writing(project, data):
    path = clean_csv(data)
    before = snapshot()

    report = imports.import_path(project=project, path=path, dry_run=True)

    assert report.ok and not report.written
    assert report.counts["created"] == 3 and report.counts["votes"] == 9 and report.counts["images"] == 2
    assert "Nothing was written yet" in report.message
    assert snapshot() == before


def test_only_valid_rows_imports_the_good_rows_and_lists_the_bad_ones(project, data):
    write_csv(data / "items.csv", ["id", "text", "desire"], [["a", "ok", "family"], ["b", "", ""], ["c", "fine", ""]])

    report = imports.import_path(project=project, path=data / "items.csv", only_valid_rows=True)

    assert report.written and report.error_count == 1
    assert set(Item.objects.values_list("external_id", flat=True)) == {"a", "c"}
    assert "1 rows with problems were left out" in report.message


def test_ids_already_in_the_project_are_skipped_or_updated_as_the_lead_chooses(project, data):
    ItemFactory(project=project, external_id="a", text="old", split="train")
    write_csv(data / "items.csv", ["id", "text", "desire"], [["a", "new text", "family"], ["b", "fresh", ""]])

    skipped = imports.import_path(project=project, path=data / "items.csv")
    assert (skipped.counts["created"], skipped.counts["skipped"]) == (1, 1)
    assert Item.objects.get(external_id="a").text == "old"

    updated = imports.import_path(project=project, path=data / "items.csv", on_duplicate="update")
    assert (updated.counts["created"], updated.counts["updated"], updated.counts["skipped"]) == (0, 2, 0)
    item = Item.objects.get(external_id="a")
    assert item.text == "new text" and item.split == "train"  # no split column: kept
    assert Gold.objects.get(item=item).label.key == "family"


def test_updating_replaces_an_annotators_vote_in_that_round(project, data):
    write_csv(data / "v1.csv", ["id", "text", "votes"], [["a", "x", votes(("ana", ALL_LABELS), ("ben", ALL_LABELS))]])
    write_csv(
        data / "v2.csv", ["id", "text", "votes"], [["a", "x", votes(("ana", {**ALL_LABELS, "desire": "romance"}))]]
    )
    imports.import_path(project=project, path=data / "v1.csv")

    imports.import_path(project=project, path=data / "v2.csv", on_duplicate="update")

    desire = dict(Vote.objects.filter(task__key="desire").values_list("annotator__username", "label__key"))
    assert desire == {"ana": "romance", "ben": "family"}
    item = Item.objects.get(external_id="a")
    assert item.vote_count == 2
    assert Gold.objects.get(item=item, task__key="desire").is_tie


def test_errors_are_counted_in_full_but_stored_up_to_a_cap(project, data, monkeypatch):
    monkeypatch.setattr(imports, "MAX_STORED_ERRORS", 3)
    write_csv(data / "items.csv", ["id", "text"], [[f"r{i}", ""] for i in range(10)])

    report = imports.import_path(project=project, path=data / "items.csv")

    assert report.error_count == 10 and len(report.errors) == 3
    assert "Showing the first 3 of 10 problems." in report.message


def test_a_write_that_fails_half_way_leaves_no_items_votes_users_or_new_image_files(project, data, monkeypatch):
    kept = image_bytes("white")
    (Path(settings.MEDIA_ROOT)).mkdir(parents=True, exist_ok=True)
    image_assets.save_image_asset(data=kept)  # stored before: must survive the failure
    path = clean_csv(data)
    write_image(data / "img" / "3.jpg", "white")
    before = snapshot()

    def explode(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(import_writer, "recompute_gold", explode)
    with pytest.raises(RuntimeError):
        imports.import_path(project=project, path=path)

    assert snapshot() == before


# ----------------------------------------------------------------- jobs: Celery task, progress, confirm


def _upload(path: Path) -> SimpleUploadedFile:
    return SimpleUploadedFile(path.name, path.read_bytes(), content_type="application/octet-stream")


def clean_zip(data: Path) -> Path:
    clean_csv(data)
    return zip_folder(data, data.parent / "upload.zip")


def test_an_upload_is_imported_by_the_celery_task_with_progress_reported(
    project, lead, data, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(imports, "BATCH_SIZE", 1)
    published: list[dict] = []
    original = import_jobs._publish_progress
    monkeypatch.setattr(
        import_jobs, "_publish_progress", lambda job_id, d: (published.append(dict(d)), original(job_id, d))
    )
    path = clean_zip(data)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = import_jobs.create_import_job(
            project=project, user=lead, upload=_upload(path), original_name="upload.zip"
        )

    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.counts["created"] == 3 and job.finished_at is not None
    running = [p for p in published if p["status"] == ImportJob.Status.RUNNING]
    assert [p["rows_done"] for p in running] == [0, 1, 2, 3]
    assert running[-1]["percent"] == 100.0
    progress = import_selectors.get_import_progress(job)
    assert progress["status"] == "succeeded" and progress["percent"] == 100.0 and progress["rows_done"] == 3
    assert not (Path(settings.MEDIA_ROOT) / job.path).exists()  # the upload is dropped once imported


def test_progress_is_read_from_the_cache_while_the_write_transaction_is_open(project, lead):
    job = ImportJob.objects.create(
        project=project, created_by=lead, original_name="x.csv", path="imports/x/x.csv", status="running", rows_total=10
    )
    import_jobs._publish_progress(
        job.pk, {"status": "running", "rows_done": 4, "rows_total": 10, "percent": 40.0, "counts": {"created": 4}}
    )

    progress = import_selectors.get_import_progress(job)

    assert (progress["rows_done"], progress["percent"], progress["counts"]) == (4, 40.0, {"created": 4})


def test_an_upload_with_bad_rows_stops_invalid_and_the_lead_may_import_the_valid_rows(
    project, lead, data, django_capture_on_commit_callbacks
):
    path = write_csv(data / "items.csv", ["id", "text"], [["a", "fine"], ["b", ""]])
    with django_capture_on_commit_callbacks(execute=True):
        job = import_jobs.create_import_job(project=project, user=lead, upload=_upload(path), original_name="items.csv")
    job.refresh_from_db()
    assert job.status == ImportJob.Status.INVALID and job.error_count == 1
    assert job.errors == [
        {"row": 2, "column": "", "message": "this row has neither text nor an image; every item needs at least one."}
    ]
    assert Item.objects.count() == 0

    with pytest.raises(DomainError, match="choose to import only the valid rows"):
        import_jobs.confirm_import(job=job, user=lead, only_valid_rows=False, on_duplicate="skip")
    with django_capture_on_commit_callbacks(execute=True):
        import_jobs.confirm_import(job=job, user=lead, only_valid_rows=True, on_duplicate="skip")

    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED
    assert list(Item.objects.values_list("external_id", flat=True)) == ["a"]


def test_a_file_that_cannot_be_read_as_a_whole_cannot_be_confirmed(
    project, lead, data, django_capture_on_commit_callbacks
):
    path = write_csv(data / "items.csv", ["ID", "Caption"], [["a", "x"]])
    with django_capture_on_commit_callbacks(execute=True):
        job = import_jobs.create_import_job(project=project, user=lead, upload=_upload(path), original_name="items.csv")

    with pytest.raises(
        DomainError, match="No row of this file can be imported. The file cannot be imported: Missing column"
    ):
        import_jobs.confirm_import(job=job, user=lead, only_valid_rows=True, on_duplicate="skip")


def test_a_dry_run_upload_waits_for_confirmation(project, lead, data, django_capture_on_commit_callbacks):
    path = clean_zip(data)
    with django_capture_on_commit_callbacks(execute=True):
        job = import_jobs.create_import_job(
            project=project, user=lead, upload=_upload(path), original_name="upload.zip", dry_run=True
        )
    job.refresh_from_db()
    assert job.status == ImportJob.Status.VALID and Item.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        import_jobs.confirm_import(job=job, user=lead, only_valid_rows=False, on_duplicate="skip")

    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.SUCCEEDED
    assert Item.objects.count() == 3


def test_a_failing_import_job_ends_failed_with_a_message_not_an_exception(
    project, lead, data, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(import_writer, "recompute_gold", lambda **kw: (_ for _ in ()).throw(RuntimeError("disk full")))
    path = clean_zip(data)

    with django_capture_on_commit_callbacks(execute=True):
        job = import_jobs.create_import_job(
            project=project, user=lead, upload=_upload(path), original_name="upload.zip"
        )

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert "nothing was written" in job.message
    assert "disk full" not in job.message and "RuntimeError" not in job.message  # the log has it, not the person
    assert Item.objects.count() == 0 and User.objects.filter(username="ana").count() == 0


def test_only_leads_may_upload_and_wrong_file_types_are_refused(project, lead, annotator, data):
    path = write_csv(data / "items.csv", ["id", "text"], [["a", "x"]])
    with pytest.raises(NotAllowed):
        import_jobs.create_import_job(project=project, user=annotator, upload=_upload(path), original_name="items.csv")
    with pytest.raises(DomainError, match="Upload a .csv, .jsonl or .zip file"):
        import_jobs.create_import_job(project=project, user=lead, upload=_upload(path), original_name="items.xlsx")
    assert ImportJob.objects.count() == 0


# ----------------------------------------------------------------- bulk writing


def test_write_annotations_creates_votes_counts_and_gold_in_bulk(project, annotator, other_annotator):
    items = ItemFactory.create_batch(3, project=project)
    rows = [
        AnnotationRow(item_id=i.pk, annotator_id=u.pk, labels=ALL_LABELS, inference_order=("emotion",))
        for i in items
        for u in (annotator, other_annotator)
    ]

    counts = write_annotations(project=project, rows=rows, batch_size=4)

    assert counts == {"annotations": 6, "votes": 18, "items": 3}
    assert set(Item.objects.values_list("vote_count", flat=True)) == {2}
    assert set(Item.objects.values_list("text_vote_count", flat=True)) == {0}
    assert Gold.objects.filter(label__key="family", votes_for=2, votes_total=2).count() == 3


def test_unimodal_round_votes_update_their_own_counters(project, annotator):
    item = ItemFactory(project=project)

    write_annotations(
        project=project,
        rows=[
            AnnotationRow(item.pk, annotator.pk, ALL_LABELS, round="text"),
            AnnotationRow(item.pk, annotator.pk, ALL_LABELS, round="image"),
        ],
    )

    item.refresh_from_db()
    assert (item.vote_count, item.text_vote_count, item.image_vote_count) == (0, 1, 1)
    assert not Gold.objects.filter(item=item).exists()  # gold comes from the multimodal round only


def test_write_annotations_accepts_resolved_ids_and_refuses_repeats(project, annotator):
    item = ItemFactory(project=project)
    label = project.tasks.get(key="sentiment").labels.get(key="neutral")
    write_annotations(
        project=project, rows=[{"item_id": item.pk, "annotator_id": annotator.pk, "labels": {label.task_id: label.pk}}]
    )

    with pytest.raises(DomainError, match="exist already"):
        write_annotations(
            project=project, rows=[{"item_id": item.pk, "annotator_id": annotator.pk, "labels": {"desire": "none"}}]
        )
    assert Vote.objects.count() == 1


def test_write_annotations_refuses_items_of_another_project(project, annotator):
    from tests.factories import make_project

    elsewhere = ItemFactory(project=make_project(name="Other"))
    with pytest.raises(DomainError, match="not in the project"):
        write_annotations(
            project=project, rows=[AnnotationRow(item_id=elsewhere.pk, annotator_id=annotator.pk, labels=ALL_LABELS)]
        )


def test_write_annotations_without_copy_uses_bulk_create(project, annotator, monkeypatch):
    import types

    monkeypatch.setattr(bulk, "connection", types.SimpleNamespace(vendor="sqlite"))
    item = ItemFactory(project=project)

    counts = write_annotations(
        project=project, rows=[AnnotationRow(item_id=item.pk, annotator_id=annotator.pk, labels=ALL_LABELS)]
    )

    assert counts["votes"] == 3 and Item.objects.get(pk=item.pk).vote_count == 1


def test_jsonl_rows_with_unknown_keys_are_named_row_by_row(project, data):
    write_jsonl(data / "items.jsonl", [{"id": "a", "text": "fine"}, {"id": "b", "caption": "oops"}])

    report = imports.import_path(project=project, path=data / "items.jsonl")

    assert not report.written and report.counts["invalid"] == 1
    assert report.errors[0]["row"] == 2
    assert report.errors[0]["message"].startswith("unknown key(s) caption. Expected keys: id, text, image,")


def test_msed_label_columns_for_tasks_the_project_lacks_are_ignored(lead, data):
    from tests.factories import make_project

    sentiment_only = make_project(lead=lead, template="sentiment", name="Sentiment only")
    msed_layout(data, {"train": [["", "Hello", "Positive", "Happiness", "Family", "S"]]})

    report = imports.import_path(project=sentiment_only, path=data)

    assert report.ok, report.errors
    assert list(Gold.objects.values_list("task__key", "label__key")) == [("sentiment", "positive")]


# ----------------------------------------------------------------- pure checks (no database)


def _zip_with(tmp_path: Path, info: zipfile.ZipInfo, data: bytes) -> zipfile.ZipFile:
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(info, data)
    return zipfile.ZipFile(path)


@pytest.mark.parametrize(
    "name, message",
    [
        ("/etc/passwd", "has an absolute path"),
        ("C:/Windows/evil.dll", "has an absolute path"),
        ("images/../../evil.txt", "points outside the archive"),
        ("images\\..\\..\\evil.txt", "points outside the archive"),
    ],
)
def test_zip_entry_names_that_escape_are_refused(tmp_path, name, message):
    archive = _zip_with(tmp_path, zipfile.ZipInfo(name), b"x")
    with pytest.raises(zipsafe.UnsafeArchive, match=message):
        zipsafe.safe_entries(archive, max_total_bytes=10**6)


def test_zip_symlinks_are_refused(tmp_path):
    info = zipfile.ZipInfo("images/1.jpg")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = _zip_with(tmp_path, info, b"/etc/passwd")
    with pytest.raises(zipsafe.UnsafeArchive, match="is a symbolic link"):
        zipsafe.safe_entries(archive, max_total_bytes=10**6)


def test_zip_entries_compressed_beyond_the_ratio_are_refused(tmp_path):
    info = zipfile.ZipInfo("items.csv")
    info.compress_type = zipfile.ZIP_DEFLATED  # 4 MB of zeros deflate about 1000:1
    archive = _zip_with(tmp_path, info, b"0" * (4 * 1024 * 1024))
    with pytest.raises(zipsafe.UnsafeArchive, match="looks like a ZIP bomb"):
        zipsafe.safe_entries(archive, max_total_bytes=10**9)


def test_reading_an_entry_stops_at_the_cap_even_if_its_header_lies(tmp_path):
    archive = _zip_with(tmp_path, zipfile.ZipInfo("items.csv"), b"a" * 5000)
    info = archive.infolist()[0]
    with zipsafe.open_entry(archive, info, max_bytes=1000) as stream:
        with pytest.raises(zipsafe.UnsafeArchive, match="unpacks to more than 1,000 bytes"):
            stream.read()


def test_inference_orders_are_read_from_initials_keys_or_lists():
    assert parse_inference_order(MSED, "D-S-E") == ("desire", "sentiment", "emotion")
    assert parse_inference_order(MSED, "sentiment > emotion > desire") == ("sentiment", "emotion", "desire")
    assert parse_inference_order(MSED, '["emotion", "desire"]') == ("emotion", "desire")
    with pytest.raises(ValueError, match="names desire more than once"):
        parse_inference_order(MSED, "D-D")
    with pytest.raises(ValueError, match="'X' is not a task of this project"):
        parse_inference_order(MSED, "X-S")


def test_label_names_match_ignoring_case_spaces_and_hyphens():
    assert {MSED.task("desire").match_label(v) for v in ("Social-contact", "social contact", "SOCIAL_CONTACT")} == {
        "social-contact"
    }


# ----------------------------------------------------------------- hostile files: a row error, never an exception

GOOD_LINE = '{"id": "ok", "text": "A fine row"}\n'
HOSTILE_JSONL = {
    "NUL in the text": ('{"id": "a", "text": "x\\u0000y"}', "text", "NUL character"),
    "NUL in the id": ('{"id": "a\\u0000", "text": "x"}', "id", "NUL character"),
    "NUL in a vote's label": (
        '{"id": "a", "text": "x", "votes": [{"annotator": "ana", "labels": {"desire": "fam\\u0000ily"}}]}',
        "votes",
        "NUL character",
    ),
    "NaN": (
        '{"id": "a", "text": "x", "metadata": {"score": NaN}}',
        "metadata",
        "the value at metadata.score: NaN is not a number JSON allows",
    ),
    "Infinity": (
        '{"id": "a", "text": "x", "votes": [{"annotator": "ana", "labels": {"desire": "family"}, "duration_ms": -Infinity}]}',
        "votes",
        "the value at votes[0].duration_ms: -Infinity is not a number",
    ),
    "1,500-deep nesting": (
        '{"id": "a", "text": "x", "metadata": ' + "[" * 1500 + "]" * 1500 + "}",
        "",
        "more than 32 levels deep",
    ),
    "a 5,000-digit integer": (
        '{"id": ' + "9" * 5000 + ', "text": "x"}',
        "id",
        "a number with 5,000 digits is too long",
    ),
    "a lone surrogate": ('{"id": "a", "text": "x\\ud800"}', "text", "half of a surrogate pair"),
}
INTERNALS = ("Traceback", "Error:", "SQL", "SELECT", "INSERT", "psycopg", "unexpectedly", "line 1, column")


def assert_no_internals(text: str) -> None:
    assert not [word for word in INTERNALS if word in text], text


@pytest.mark.parametrize("line, column, message", HOSTILE_JSONL.values(), ids=HOSTILE_JSONL.keys())
def test_a_hostile_jsonl_line_is_a_row_error_naming_line_column_and_reason(
    project, lead, data, line, column, message, django_capture_on_commit_callbacks
):
    path = data / "items.jsonl"
    path.write_text(GOOD_LINE + line + "\n", encoding="utf-8")
    before = snapshot()

    with django_capture_on_commit_callbacks(execute=True):
        job = import_jobs.create_import_job(
            project=project, user=lead, upload=_upload(path), original_name="items.jsonl"
        )

    job.refresh_from_db()
    assert job.status == ImportJob.Status.INVALID, job.message
    assert [(e["row"], e["column"]) for e in job.errors] == [(2, column)]
    assert message in job.errors[0]["message"]
    assert_no_internals(job.message + str(job.errors))
    after = snapshot()
    after["media"] = {
        name for name in after["media"] if not name.startswith("imports/")
    }  # the upload, kept for a retry
    assert after == before


@pytest.mark.parametrize(
    "header, row, column",
    [
        (["id", "text"], ["a", "x\x00y"], "text"),
        (["id", "text"], ["a\x00", "x"], "id"),
        (["id", "text", "desire"], ["a", "x", "fam\x00ily"], "desire"),
        (["id", "text", "votes"], ["a", "x", votes(("ana", {"desire": "fam\x00ily"}))], "votes"),
    ],
    ids=["text", "id", "gold label", "vote label"],
)
def test_a_nul_byte_in_a_csv_cell_is_a_row_error(project, data, header, row, column):
    path = write_csv(data / "items.csv", header, [["ok", "fine"] + [""] * (len(header) - 2), row])
    before = snapshot()

    report = imports.import_path(project=project, path=path)

    assert [(e["row"], e["column"]) for e in report.errors] == [(2, column)]
    assert "NUL character" in report.errors[0]["message"]
    assert snapshot() == before


def test_a_nul_byte_in_the_csv_header_is_a_file_error(project, data):
    path = write_csv(data / "items.csv", ["id", "te\x00xt"], [["a", "x"]])

    report = imports.import_path(project=project, path=path)

    assert report.file_error and "header row contains a NUL character" in report.message
    assert Item.objects.count() == 0


def test_a_csv_with_an_unclosed_quote_is_refused_naming_the_line_where_it_opens(project, data):
    path = data / "items.csv"
    path.write_text('id,text\nq0,fine\nq1,"never closed\nq2,x\n', encoding="utf-8")

    report = imports.import_path(project=project, path=path)

    assert report.file_error and not report.written
    assert "the quoted value that starts on line 3 is never closed" in report.message
    assert_no_internals(report.message)
    assert "end of data" not in report.message
    assert Item.objects.count() == 0


def test_a_stray_quote_after_a_quoted_value_is_a_file_error_in_plain_words(project, data):
    path = data / "items.csv"
    path.write_text('id,text\nq1,"quoted"tail\n', encoding="utf-8")

    report = imports.import_path(project=project, path=path)

    assert report.file_error and "line 2 is not valid CSV" in report.message
    assert "expected after" not in report.message


def test_an_import_command_that_fails_unexpectedly_shows_no_exception_text(project, data, monkeypatch):
    from django.core.management import CommandError, call_command

    monkeypatch.setattr(
        import_writer, "recompute_gold", lambda **kw: (_ for _ in ()).throw(RuntimeError('relation "x" does not exist'))
    )
    path = write_csv(data / "items.csv", ["id", "text"], [["a", "x"]])

    with pytest.raises(CommandError) as failure:
        call_command("import_items", project.slug, str(path))

    assert "nothing was written" in str(failure.value) and "relation" not in str(failure.value)


@pytest.mark.parametrize(
    "name, content, expected",
    [
        (
            "upload.zip",
            b"PK\x03\x04 this is not a zip",
            "upload.zip is not a readable ZIP archive; zip the files again.",
        ),
        ("cut.jpg", None, "cut.jpg is damaged or truncated; save or download it again."),
    ],
    ids=["not a zip", "truncated image"],
)
def test_a_damaged_file_is_described_in_plain_words_without_library_messages(project, data, name, content, expected):
    if content is None:
        path = _bad_image_csv(data, name, truncated_jpeg_bytes())
    else:
        path = data / name
        path.write_bytes(content)

    report = imports.import_path(project=project, path=path)

    assert [e["message"] for e in report.errors] == [expected]
