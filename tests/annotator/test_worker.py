"""An import really runs on a Celery worker fed through Redis."""

import time

import pytest

from annotator.models import ImportJob, Item
from annotator.services.import_jobs import create_import_job
from tests.factories import UserFactory, make_project


@pytest.mark.worker
def test_a_worker_imports_an_uploaded_csv_through_redis(celery_worker_process, tmp_path):
    lead = UserFactory(username="worker-lead")
    project = make_project(lead=lead, template="sentiment")
    csv = tmp_path / "items.csv"
    csv.write_text(
        "id,text,sentiment\nw1,A calm morning by the lake,positive\nw2,Rain again,negative\n", encoding="utf-8"
    )

    job = create_import_job(project=project, user=lead, upload=csv, original_name="items.csv", dry_run=False)

    deadline = time.time() + 60
    while time.time() < deadline:
        job.refresh_from_db()
        if job.status in (ImportJob.Status.SUCCEEDED, ImportJob.Status.FAILED, ImportJob.Status.INVALID):
            break
        time.sleep(0.2)
    log = celery_worker_process.log_path.read_text()
    assert job.status == ImportJob.Status.SUCCEEDED, f"{job.status}: {job.message}\n{log}"
    assert "annotator.run_import_job" in log  # it ran in the worker, not in-process
    assert sorted(Item.objects.filter(project=project).values_list("external_id", "gold__label__key")) == [
        ("w1", "positive"),
        ("w2", "negative"),
    ]
