"""Run by tests/test_sqlite_default.py in a fresh process on a fresh SQLite
file (the zero-config default of `make demo`): the demo's anchoring
experiment is seeded and its dashboard computes there too (JSON keys read
by the database, the bulk write through bulk_create). Prints OK."""

import io

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from analysis.dashboards.anchoring import build_anchoring  # noqa: E402
from analysis.selectors import DashboardFilters  # noqa: E402
from annotator.models import Annotation, Project  # noqa: E402

call_command("migrate", verbosity=0)
call_command("seed_demo", items=60, stdout=io.StringIO())
project = Project.objects.get(slug="demo")
assert set(Annotation.objects.filter(round="multimodal").values_list("suggestion_arm", flat=True)) == {
    "shown",
    "hidden",
}
data = build_anchoring(project, DashboardFilters())["data"]
pooled = data["model_agreement"]
assert pooled["ci_low"] <= pooled["difference"] <= pooled["ci_high"], pooled
assert all(task["chi_square"] is not None for task in data["tasks"]), data["tasks"]
print("OK")
