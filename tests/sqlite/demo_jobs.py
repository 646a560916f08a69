"""Run by tests/test_demo_worker.py beside `manage.py serve` on the same
SQLite file, broker folder and cache folder (the embedded default of
`make demo`). Usage:

    demo_jobs.py setup       the lead and the project
    demo_jobs.py import CSV  queue an import as the import page does; check it
                             returns before the work is done and that the
                             worker finishes it. Prints OK.
"""

import sys
import time

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402

from annotator.models import ImportJob, Item, Project  # noqa: E402
from annotator.services import import_jobs, projects  # noqa: E402

User = get_user_model()

if sys.argv[1] == "setup":
    lead = User.objects.create_user("lead", password="x")
    projects.create_project(name="Demo jobs", created_by=lead, template="msed")
else:
    lead, project = User.objects.get(username="lead"), Project.objects.get()
    job = import_jobs.create_import_job(project=project, user=lead, upload=sys.argv[2])
    job.refresh_from_db()
    # Returned at once: the request only queued the job, the worker does it.
    assert job.status == ImportJob.Status.QUEUED, job.status
    deadline = time.monotonic() + 180
    while job.status not in (ImportJob.Status.SUCCEEDED, ImportJob.Status.FAILED, ImportJob.Status.INVALID):
        assert time.monotonic() < deadline, f"the worker did not finish the import: {job.status} {job.message}"
        time.sleep(0.5)
        job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert Item.objects.filter(project=project).count() == 3
print("OK")
