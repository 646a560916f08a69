"""The import result page: a file that cannot be read is a file-level
error in plain words, the valid rows are imported with one button shown
only when there are some, and the counts say what happened (or would)."""

from __future__ import annotations

import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotator.models import ImportJob, Item


def upload(client, project, name: str, data: bytes, capture, dry_run: bool = True) -> tuple[ImportJob, str]:
    form = {"file": SimpleUploadedFile(name, data), "on_duplicate": "skip"}
    if dry_run:
        form["dry_run"] = "on"
    with capture(execute=True):
        response = client.post(reverse("annotator:import-upload", args=[project.slug]), form)
    assert response.status_code == 302
    job = ImportJob.objects.latest("pk")
    return job, page(client, project, job)


def page(client, project, job) -> str:
    html = client.get(reverse("annotator:import-detail", args=[project.slug, job.pk])).content.decode()
    return re.sub(r"\s+", " ", html.split("<main")[1].split("</main>")[0])


def test_an_unparsable_csv_is_a_file_level_error_in_plain_words(
    lead_client, project, django_capture_on_commit_callbacks
):
    job, html = upload(
        lead_client, project, "broken.csv", b"id,text\nx1,a line\rbreak,\n", django_capture_on_commit_callbacks
    )
    assert job.status == ImportJob.Status.INVALID
    assert 'id="import-file-error"' in html and "This file cannot be imported" in html
    assert "line break (a carriage return) inside a value that is not in quotes" in html
    assert "universal-newline" not in html and "None" not in html
    assert "<th>Row</th>" not in html and "0 / 0 rows" not in html and "Has errors" not in html
    assert "Import the" not in html and "only_valid_rows" not in html
    assert "created" not in html  # no counts for a file that was not read
    assert "Discard it" in html and reverse("annotator:import-sample", args=[project.slug, "csv"]) in html


def test_no_import_button_when_no_row_is_valid(lead_client, project, django_capture_on_commit_callbacks):
    data = b"id,text,desire\nx1,hello,nonsense\nx2,hi,nonsense\n"
    job, html = upload(lead_client, project, "bad.csv", data, django_capture_on_commit_callbacks)
    assert (
        "Import the" not in html
        and 'action="' + reverse("annotator:import-confirm", args=[project.slug, job.pk]) not in html
    )
    assert "No row of this file can be imported" in html and "<th>Row</th>" in html
    assert "or choose to import only the valid rows" not in html


def test_the_valid_rows_import_with_one_button_and_counts_say_would(
    lead_client, project, django_capture_on_commit_callbacks
):
    data = b"id,text,desire\nx1,hello,nonsense\nx2,hi,family\n"
    job, html = upload(lead_client, project, "some.csv", data, django_capture_on_commit_callbacks)
    assert "Import the 1 valid row" in html and 'name="only_valid_rows" value="on"' in html
    assert 'type="checkbox"' not in html
    assert "would create 1 item" in html and "created: 1" not in html and "created 1" not in html
    assert not Item.objects.filter(project=project).exists()
    with django_capture_on_commit_callbacks(execute=True):
        lead_client.post(
            reverse("annotator:import-confirm", args=[project.slug, job.pk]),
            {"only_valid_rows": "on", "on_duplicate": "skip"},
        )
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED
    assert list(Item.objects.filter(project=project).values_list("external_id", flat=True)) == ["x2"]
    html = page(lead_client, project, job)
    assert "created 1 item" in html and "left out 1 row with problems" in html and "would" not in html


def test_the_progress_json_separates_file_errors_from_row_errors(
    lead_client, project, django_capture_on_commit_callbacks
):
    job, _ = upload(lead_client, project, "header.csv", b"id,text\n", django_capture_on_commit_callbacks)
    data = lead_client.get(reverse("annotator:import-detail", args=[project.slug, job.pk]) + "?format=json").json()
    assert data["file_error"] is True and data["row_errors"] == [] and data["summary"] == []
    assert data["valid_rows"] == 0 and "no rows of items" in data["file_errors"][0]
