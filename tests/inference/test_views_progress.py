"""A training run's and a prediction run's progress as htmx partials: the
same views answer an htmx request (HX-Request header) with the partial, and
every other request with the full page or JSON, as before. A partial polls
only while its run is active, and tells screen readers when the status it
shows has changed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inference.models import PredictionRun, RunStatus, TrainingRun

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def running_run(project, **fields) -> TrainingRun:
    return TrainingRun.objects.create(
        project=project,
        name="nightly",
        status=RunStatus.RUNNING,
        epoch=2,
        epochs_total=8,
        phase="training, epoch 2 of 8",
        history=[
            {"epoch": 1, "train_loss": 1.2, "dev_macro_f1": 0.3},
            {"epoch": 2, "train_loss": 0.9, "dev_macro_f1": 0.4},
        ],
        **fields,
    )


def test_a_running_runs_page_polls_its_progress_partial(lead_client, project):
    run = running_run(project)
    url = reverse("inference:run-detail", args=[project.slug, run.pk])
    page = lead_client.get(url)
    html = page.content.decode()
    assert "<html" in html and "vendor/htmx/htmx.min.js" in html and "HX-Request" in page["Vary"]
    assert f'hx-get="{url}?shown=running" hx-trigger="every 1500ms" hx-swap="outerHTML"' in html
    assert 'role="status" id="run-announce"></p>' in html  # empty until a poll brings news

    partial = lead_client.get(url, {"shown": "running"}, headers=HTMX)
    text = partial.content.decode()
    assert partial.status_code == 200 and "HX-Request" in partial["Vary"]
    assert "<html" not in text and "<h1" not in text and "Cancel" not in text
    assert text.lstrip().startswith('<div id="run-progress"') and 'hx-trigger="every 1500ms"' in text
    assert "epoch 2 of 8" in text and "training, epoch 2 of 8" in text
    assert 'aria-valuenow="25"' in text and 'id="run-bar" style="width:25%"' in text
    assert 'id="figure-curve"' in text and "[0.3, 0.4]" in text
    assert "run-announce" not in text  # the status it shows has not changed


def test_a_poll_that_sees_a_new_status_tells_screen_readers(lead_client, project):
    run = running_run(project)
    url = reverse("inference:run-detail", args=[project.slug, run.pk])
    text = lead_client.get(url, {"shown": "queued"}, headers=HTMX).content.decode()
    assert '<p id="run-announce" hx-swap-oob="innerHTML">Running</p>' in text


def test_a_cancelling_run_says_so_in_its_partial(lead_client, project):
    run = running_run(project, cancel_requested=True)
    url = reverse("inference:run-detail", args=[project.slug, run.pk])
    assert "cancelling…" in lead_client.get(url, {"shown": "running"}, headers=HTMX).content.decode()


@pytest.mark.parametrize("status", [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED])
def test_a_finished_run_answers_its_poll_with_a_reload_and_its_page_does_not_poll(lead_client, project, status):
    run = running_run(project)
    TrainingRun.objects.filter(pk=run.pk).update(status=status)
    url = reverse("inference:run-detail", args=[project.slug, run.pk])
    answer = lead_client.get(url, {"shown": "running"}, headers=HTMX)
    assert answer.status_code == 200 and answer["HX-Refresh"] == "true" and answer.content == b""
    html = lead_client.get(url).content.decode()
    assert 'id="run-progress"' in html and "hx-trigger" not in html


def test_the_runs_json_is_the_apis_and_the_page_answers_html(lead_client, project):
    run = running_run(project)
    page = lead_client.get(reverse("inference:run-detail", args=[project.slug, run.pk]), {"format": "json"})
    assert page["Content-Type"].startswith("text/html")  # one API root: JSON only under /api/
    polled = lead_client.get(reverse("api:run-detail", args=[project.slug, run.pk])).json()
    assert polled["status"] == "running" and polled["progress"] == 0.25 and polled["finished_at"] is None


def prediction(project, **fields) -> PredictionRun:
    run = TrainingRun.objects.create(project=project, name="model a", status=RunStatus.SUCCEEDED)
    return PredictionRun.objects.create(
        project=project, training_run=run, reason="new items", **{"items_total": 10, "items_done": 3, **fields}
    )


def test_an_active_prediction_row_polls_and_its_json_stays(lead_client, project):
    p = prediction(project, status=RunStatus.RUNNING)
    url = reverse("inference:prediction-detail", args=[project.slug, p.pk])
    listing = lead_client.get(reverse("inference:run-list", args=[project.slug])).content.decode()
    assert f'<tr id="prediction-{p.pk}" hx-get="{url}?shown=running" hx-trigger="every 2s"' in listing
    assert 'role="status" id="prediction-announce"' in listing and "vendor/htmx/htmx.min.js" in listing
    run_page = lead_client.get(reverse("inference:run-detail", args=[project.slug, p.training_run_id])).content
    assert f'<tr id="prediction-{p.pk}" hx-get="{url}?shown=running"' in run_page.decode()

    row = lead_client.get(url, {"shown": "running"}, headers=HTMX)
    text = row.content.decode()
    assert row.status_code == 200 and "HX-Request" in row["Vary"]
    assert text.lstrip().startswith(f'<tr id="prediction-{p.pk}"') and 'hx-trigger="every 2s"' in text
    assert "3 / 10" in text and 'aria-valuenow="30"' in text and "model a" in text and "new items" in text
    assert "Cancel" in text and "prediction-announce" not in text

    opened = lead_client.get(url)  # a person opening the row's URL lands on its model's page
    assert opened.status_code == 302
    assert opened["Location"] == reverse("inference:run-detail", args=[project.slug, p.training_run_id])
    polled = lead_client.get(reverse("api:prediction-detail", args=[project.slug, p.pk])).json()
    assert polled["status"] == "running" and polled["items_done"] == 3 and polled["finished_at"] is None


def test_a_finished_prediction_row_stops_polling_and_announces_it(lead_client, project, settings):
    p = prediction(
        project,
        status=RunStatus.FAILED,
        items_done=4,
        error=f"No such file: {settings.MEDIA_ROOT}/secret/place/image.jpg",
    )
    url = reverse("inference:prediction-detail", args=[project.slug, p.pk])
    text = lead_client.get(url, {"shown": "running"}, headers=HTMX).content.decode()
    assert "hx-trigger" not in text and "Cancel" not in text and "4 / 10" in text
    assert 'class="badge bad">Failed' in text and "secret/place/image.jpg" in text
    assert str(settings.MEDIA_ROOT) not in text  # no server path in the row
    assert (
        f'<template><p id="prediction-announce" hx-swap-oob="innerHTML">Prediction run {p.pk}: failed.</p></template>'
        in text
    )


def progress_urls(project) -> list[str]:
    run = running_run(project)
    p = prediction(project, status=RunStatus.RUNNING)
    return [
        reverse("inference:run-detail", args=[project.slug, run.pk]),
        reverse("inference:prediction-detail", args=[project.slug, p.pk]),
    ]


def test_annotators_get_no_partial(annotator_client, project):
    for url in progress_urls(project):
        assert annotator_client.get(url, headers=HTMX).status_code == 403


def test_outsiders_get_no_partial(outsider_client, project):
    for url in progress_urls(project):
        assert outsider_client.get(url, headers=HTMX).status_code == 404


def test_a_poll_after_the_session_expired_takes_the_whole_page_to_sign_in(client, project):
    run = running_run(project)
    url = reverse("inference:run-detail", args=[project.slug, run.pk])
    answer = client.get(url, {"shown": "running"}, headers=HTMX)
    # Not the sign-in form swapped into the progress block: htmx sends the browser there.
    assert answer.status_code == 200 and answer.content == b""
    assert answer["HX-Redirect"].startswith(reverse("login") + "?next=") and "models/runs" in answer["HX-Redirect"]
    plain = client.get(url)
    assert plain.status_code == 302 and plain["Location"].startswith(reverse("login"))
