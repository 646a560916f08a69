"""Run by tests/test_sqlite_default.py in a fresh process on a fresh SQLite
file (the zero-config default of `make demo`): the demo's anchoring
experiment is seeded and its dashboard computes there too (JSON keys read
by the database, the bulk write through bulk_create), and its control answers
are written as control votes. Prints OK."""

import io

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from analysis.dashboards.anchoring import build_anchoring  # noqa: E402
from analysis.selectors import DashboardFilters  # noqa: E402
from annotator.models import Annotation, Item, Project, Vote  # noqa: E402

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
controls = Item.objects.filter(project=project, is_control=True)
assert controls.exists() and set(controls.values_list("vote_count", flat=True)) == {0}
assert Vote.objects.filter(item__in=controls).exists()
assert not Vote.objects.filter(item__in=controls, is_control=False).exists()
print("OK")
