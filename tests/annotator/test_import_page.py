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
    data = lead_client.get(reverse("api:import-status", args=[project.slug, job.pk])).json()
    assert data["file_error"] is True and data["row_errors"] == [] and data["summary"] == []
    assert data["valid_rows"] == 0 and "no rows of items" in data["file_errors"][0]


HTMX = {"HX-Request": "true"}


def active_job(project, lead, **fields) -> ImportJob:
    return ImportJob.objects.create(
        project=project,
        created_by=lead,
        original_name="posts.csv",
        path="/nonexistent",
        **{"status": ImportJob.Status.RUNNING, "rows_total": 10, "rows_done": 3, **fields},
    )


def test_an_active_import_page_polls_its_progress_partial(lead_client, project, lead):
    job = active_job(project, lead)
    url = reverse("annotator:import-detail", args=[project.slug, job.pk])
    full = lead_client.get(url)
    html = full.content.decode()
    assert "<html" in html and "vendor/htmx/htmx.min.js" in html and "HX-Request" in full["Vary"]
    assert f'hx-get="{url}?shown=running" hx-trigger="every 1s" hx-swap="outerHTML"' in html
    assert 'role="status" id="import-announce"></p>' in html

    partial = lead_client.get(url, {"shown": "running"}, headers=HTMX)
    text = partial.content.decode()
    assert partial.status_code == 200 and "HX-Request" in partial["Vary"]
    assert text.lstrip().startswith('<div id="import-progress"') and "<html" not in text and "<h1" not in text
    assert "3 / 10 rows" in text and 'aria-valuenow="30"' in text and 'style="width:30.0%"' in text
    assert '<b id="import-status-text">Importing</b>' in text and 'hx-trigger="every 1s"' in text
    assert "import-announce" not in text  # the status it shows has not changed

    news = lead_client.get(url, {"shown": "queued"}, headers=HTMX).content.decode()
    assert '<p id="import-announce" hx-swap-oob="innerHTML">Importing</p>' in news


def test_a_settled_import_answers_its_poll_with_a_reload_and_its_page_does_not_poll(lead_client, project, lead):
    job = active_job(project, lead, status=ImportJob.Status.VALID, rows_done=10)
    url = reverse("annotator:import-detail", args=[project.slug, job.pk])
    answer = lead_client.get(url, {"shown": "validating"}, headers=HTMX)
    assert answer.status_code == 200 and answer["HX-Refresh"] == "true" and answer.content == b""
    html = page(lead_client, project, job)
    assert 'id="import-progress"' in html and "hx-trigger" not in html and "Ready to import" in html
    assert "Import now" in html  # the result the reload brings: the confirm button


def test_the_progress_json_is_the_apis_and_the_page_answers_html(lead_client, project, lead):
    job = active_job(project, lead)
    page = lead_client.get(reverse("annotator:import-detail", args=[project.slug, job.pk]), {"format": "json"})
    assert page["Content-Type"].startswith("text/html")  # one API root: JSON only under /api/
    data = lead_client.get(reverse("api:import-status", args=[project.slug, job.pk])).json()
    assert (data["status"], data["rows_done"], data["rows_total"], data["percent"]) == ("running", 3, 10, 30.0)


def test_others_get_no_import_partial(annotator_client, project, lead):
    job = active_job(project, lead)
    url = reverse("annotator:import-detail", args=[project.slug, job.pk])
    assert annotator_client.get(url, headers=HTMX).status_code == 403
