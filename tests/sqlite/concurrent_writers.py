"""Run by tests/test_sqlite_default.py: one process of a pair writing to the
same SQLite file at once, as the web server and the demo's worker do.

Each transaction reads and then writes (the pattern that makes a deferred
SQLite transaction fail at once with "database is locked" when the other
process committed in between: WAL's snapshot cannot be upgraded). Usage:

    concurrent_writers.py setup            migrate and create the row
    concurrent_writers.py write N NAME     N read-then-write transactions

Prints OK when every transaction committed."""

import sys

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from annotator.models import Project  # noqa: E402

if sys.argv[1] == "setup":
    call_command("migrate", verbosity=0)
    Project.objects.create(name="Counter", slug="counter")
else:
    rounds, name = int(sys.argv[2]), sys.argv[3]
    for i in range(rounds):
        with transaction.atomic():
            project = Project.objects.get(slug="counter")
            project.description = f"{name} {i}"
            project.guidelines = f"{len(project.guidelines) % 97}"
            project.save(update_fields=["description", "guidelines"])
print("OK")
