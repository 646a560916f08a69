"""Backfill Item.uncertainty (annotator/0015) from each project's current
suggestions, as inference.services.uncertainty keeps it from now on: the
total entropy over tasks in the latest succeeded prediction run of the
pre-labeller; NULL for items that run did not score and for items with all
their votes."""

from django.db import migrations
from django.db.models import F, OuterRef, Subquery, Sum


def backfill(apps, schema_editor):
    Item = apps.get_model("annotator", "Item")
    Project = apps.get_model("annotator", "Project")
    PredictionRun = apps.get_model("inference", "PredictionRun")
    Suggestion = apps.get_model("inference", "Suggestion")
    for project_id in PredictionRun.objects.order_by().values_list("project_id", flat=True).distinct():
        run_id = (
            PredictionRun.objects.filter(project_id=project_id, training_run__is_prelabeller=True, status="succeeded")
            .order_by(F("finished_at").desc(nulls_last=True), "-id")
            .values_list("pk", flat=True)
            .first()
        )
        if run_id is None:
            continue
        total = (
            Suggestion.objects.filter(run_id=run_id, item_id=OuterRef("pk"))
            .values("item_id")
            .annotate(total=Sum("entropy"))
            .values("total")
        )
        votes_per_item = Project.objects.filter(pk=project_id).values_list("votes_per_item", flat=True).get()
        Item.objects.filter(project_id=project_id, vote_count__lt=votes_per_item).update(uncertainty=Subquery(total))


class Migration(migrations.Migration):
    dependencies = [
        ("annotator", "0015_quality_control"),
        ("inference", "0005_move_prelabelpolicy_to_annotator"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
