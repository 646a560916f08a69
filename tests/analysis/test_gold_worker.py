"""The model-based gold job really runs on a Celery worker fed through Redis:
sent after the commit of a strategy change, and again (debounced, after its
countdown) after a submit."""

import time

import pytest

from annotator import gold_jobs
from annotator.models import Gold, Project
from annotator.services.projects import update_project_settings
from tests.analysis.factories import make_crowd
from tests.annotator.factories import claim_and_submit, make_items
from tests.factories import UserFactory, make_member, make_project


def _wait(condition, worker, what: str, timeout: float = 90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.3)
    pytest.fail(f"{what} did not happen in {timeout} s\n{worker.log_path.read_text()[-3000:]}")


@pytest.mark.worker
def test_a_worker_writes_dawid_skene_gold_after_a_strategy_change_and_a_submit(
    shared_cache, celery_worker_process, settings
):
    settings.GOLD_RECOMPUTE_DELAY_S = 1
    lead = UserFactory(username="gold-worker-lead")
    project = make_project(lead=lead, name="Gold on a worker")
    make_crowd(project, n_items=12, seed=8)

    update_project_settings(project=project, gold_strategy=Project.GoldStrategy.DAWID_SKENE)  # sent on commit

    model_gold = Gold.objects.filter(item__project=project, source=Gold.Source.DAWID_SKENE)
    _wait(lambda: model_gold.count() == 12 * 3, celery_worker_process, "Dawid-Skene gold of the 12 items")
    project.refresh_from_db()
    assert project.gold_computed_at is not None
    first = project.gold_computed_at

    # A new item gets majority gold from the loop, then model gold from the debounced job.
    make_items(project, 1, start=900)
    claim_and_submit(make_member(project, username="late-annotator"), project)
    _wait(lambda: model_gold.count() == 13 * 3, celery_worker_process, "the job after a submit")
    project.refresh_from_db()
    assert project.gold_computed_at > first
    # The worker's status reaches the page through the shared cache.
    _wait(lambda: gold_jobs.get_status(project)["state"] == "succeeded", celery_worker_process, "the job's status")
    log = celery_worker_process.log_path.read_text()
    assert log.count("analysis.recompute_gold") >= 2  # it ran in the worker, twice
