"""Progress blocks in Chromium: htmx refreshes the server-rendered partial
while a job is active, without reloading the page, and stops asking once the
job has reached a final state. The jobs here are rows the test changes
itself (no worker), as a worker would. No CSP violation or console error.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from annotator.models import ImportJob, Task
from inference.models import PredictionRun, RunStatus, TrainingRun
from tests.e2e.browser import Watched

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Set on the page's window after it loads: gone after a reload.
MARK = "() => { window.__sameDocument = true; }"
SAME_DOCUMENT = "() => window.__sameDocument === true"


def history(epochs: int) -> list[dict]:
    return [{"epoch": e, "train_loss": 1.0 / e, "dev_macro_f1": 0.1 * e} for e in range(1, epochs + 1)]


class Polls:
    """The htmx requests a page sends (HX-Request header)."""

    def __init__(self, page):
        self.urls: list[str] = []
        page.on("request", lambda r: self.urls.append(r.url) if r.headers.get("hx-request") == "true" else None)

    def none_during(self, page, ms: int) -> bool:
        before = len(self.urls)
        page.wait_for_timeout(ms)
        return len(self.urls) == before


def watched(logged_in_page, live_server, lead) -> Watched:
    return Watched(logged_in_page(lead), live_server.url)


def attribute_of(page, selector: str, name: str, expected: str) -> None:
    """Wait for an attribute's value: htmx settles attributes of kept ids a moment after the text."""
    page.wait_for_function(
        "([s, n, v]) => document.querySelector(s)?.getAttribute(n) === v", arg=[selector, name, expected]
    )


def text_of(page, selector: str, expected: str) -> None:
    page.wait_for_function(
        "([s, t]) => (document.querySelector(s)?.textContent || '').includes(t)", arg=[selector, expected]
    )


def test_a_training_run_updates_without_reload_and_stops_polling_when_it_finishes(
    logged_in_page, live_server, project, lead
):
    run = TrainingRun.objects.create(
        project=project,
        name="nightly",
        status=RunStatus.QUEUED,
        sent_at=timezone.now(),
        config={"epochs": 4},
        epochs_total=4,
    )
    w = watched(logged_in_page, live_server, lead)
    page, polls = w.page, Polls(w.page)
    w.goto(reverse("inference:run-detail", args=[project.slug, run.pk]))
    page.evaluate(MARK)
    assert page.locator("#run-status-text").inner_text() == "Queued"

    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, epoch=3, phase="training, epoch 3 of 4", history=history(3)
    )
    text_of(page, "#run-epochs", "epoch 3 of 4")
    assert page.evaluate(SAME_DOCUMENT)  # swapped in, not reloaded
    assert page.locator("#run-status-text").inner_text() == "Running"
    assert page.locator("#run-phase").inner_text() == "training, epoch 3 of 4"
    attribute_of(page, "#run-bar", "style", "width:75%")
    # Screen readers hear the new status once, from the region that stays.
    text_of(page, "#run-announce", "Running")
    # The curve is drawn again from the new data, in place.
    page.wait_for_function("() => (document.getElementById('run-curve').data || [{x: []}])[0].x.length === 3")

    # The poll that sees it finished reloads the page, which shows the result and polls no more.
    with page.expect_navigation():
        TrainingRun.objects.filter(pk=run.pk).update(
            status=RunStatus.SUCCEEDED, epoch=4, phase="", history=history(4), finished_at=timezone.now()
        )
    assert not page.evaluate(SAME_DOCUMENT)
    assert page.locator("#run-status-text").inner_text() == "Succeeded"
    assert page.locator("#run-progress[hx-trigger]").count() == 0
    assert "Test scores" in page.locator("main").inner_text()
    assert polls.none_during(page, 3500), polls.urls[-3:]
    w.assert_clean("run progress")
    w.leave()


def test_a_prediction_row_updates_in_place_and_stops_polling_when_it_finishes(
    logged_in_page, live_server, project, lead
):
    model = TrainingRun.objects.create(project=project, name="model a", status=RunStatus.SUCCEEDED)
    prediction = PredictionRun.objects.create(
        project=project, training_run=model, status=RunStatus.RUNNING, items_total=10, items_done=2
    )
    w = watched(logged_in_page, live_server, lead)
    page, polls = w.page, Polls(w.page)
    w.goto(reverse("inference:run-list", args=[project.slug]))
    page.evaluate(MARK)
    row = f"#prediction-{prediction.pk}"
    assert "2 / 10" in page.locator(row).inner_text()

    # A keyboard user on the row's Cancel button keeps the focus through the swaps.
    page.focus(f"#prediction-{prediction.pk}-cancel")
    PredictionRun.objects.filter(pk=prediction.pk).update(items_done=7)
    text_of(page, row, "7 / 10")
    assert page.evaluate(SAME_DOCUMENT)
    assert page.evaluate("() => document.activeElement.id") == f"prediction-{prediction.pk}-cancel"
    attribute_of(page, f"{row} [role=progressbar]", "aria-valuenow", "70")

    PredictionRun.objects.filter(pk=prediction.pk).update(
        status=RunStatus.SUCCEEDED, items_done=10, finished_at=timezone.now()
    )
    text_of(page, row, "Succeeded")
    assert page.evaluate(SAME_DOCUMENT)  # the row changed; the page stayed
    assert page.locator(row).get_attribute("hx-trigger") is None
    assert page.locator(f"{row} button", has_text="Cancel").count() == 0
    text_of(page, "#prediction-announce", f"Prediction run {prediction.pk}: succeeded.")
    assert polls.none_during(page, 4500), polls.urls[-3:]
    w.assert_clean("prediction progress")
    w.leave()


def test_an_import_updates_without_reload_and_shows_its_result_when_it_settles(
    logged_in_page, live_server, project, lead
):
    job = ImportJob.objects.create(
        project=project,
        created_by=lead,
        original_name="posts.csv",
        path="/nonexistent",
        status=ImportJob.Status.RUNNING,
        rows_total=10,
        rows_done=3,
    )
    w = watched(logged_in_page, live_server, lead)
    page, polls = w.page, Polls(w.page)
    w.goto(reverse("annotator:import-detail", args=[project.slug, job.pk]))
    page.evaluate(MARK)
    assert page.locator("#import-rows").inner_text() == "3 / 10 rows"

    ImportJob.objects.filter(pk=job.pk).update(rows_done=8)
    text_of(page, "#import-rows", "8 / 10 rows")
    assert page.evaluate(SAME_DOCUMENT)
    attribute_of(page, "#import-bar", "style", "width:80.0%")

    with page.expect_navigation():
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.SUCCEEDED, rows_done=10, counts={"created": 10}, message="Imported."
        )
    assert not page.evaluate(SAME_DOCUMENT)
    text_of(page, "#import-summary", "created 10 items")
    assert page.locator("#import-status-text").inner_text() == "Imported"
    assert page.locator("#import-progress[hx-trigger]").count() == 0
    assert polls.none_during(page, 2500), polls.urls[-3:]
    w.assert_clean("import progress")
    w.leave()


def test_an_experiments_comparison_fills_in_as_its_runs_finish_without_reload(
    logged_in_page, live_server, project, lead
):
    keys = list(Task.objects.filter(project=project).values_list("key", flat=True))

    def scores(f1: float) -> dict:
        return {key: {"precision": f1, "recall": f1, "macro_f1": f1, "accuracy": f1} for key in keys}

    TrainingRun.objects.create(
        project=project, name="lr 1e-3", experiment="grid", status=RunStatus.SUCCEEDED, test_metrics=scores(0.5)
    )
    second = TrainingRun.objects.create(project=project, name="lr 1e-4", experiment="grid", status=RunStatus.RUNNING)
    w = watched(logged_in_page, live_server, lead)
    page, polls = w.page, Polls(w.page)
    w.goto(reverse("inference:run-compare", args=[project.slug]) + "?experiment=grid")
    page.wait_for_selector("#compare [data-figure] .main-svg")
    page.evaluate(MARK)
    assert "still training" in page.locator("#compare").inner_text()
    assert page.evaluate("() => document.querySelector('#compare [data-figure]').data.length") == 1

    TrainingRun.objects.filter(pk=second.pk).update(status=RunStatus.SUCCEEDED, test_metrics=scores(0.7))
    # Within a poll (5 s) the comparison and its chart show both runs; the page stayed.
    page.wait_for_function(
        "() => (document.querySelector('#compare [data-figure]')?.data || []).length === 2", timeout=12_000
    )
    assert page.evaluate(SAME_DOCUMENT)
    assert "still training" not in page.locator("#compare").inner_text()
    assert page.locator("#compare[hx-trigger]").count() == 0
    assert "70.0" in page.locator("#compare table").inner_text()
    assert polls.none_during(page, 5500), polls.urls[-3:]
    w.assert_clean("experiment comparison")
    w.leave()
