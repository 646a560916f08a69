"""Majority gold written before 0015 gets what the labelling loop now writes
with every vote: its label as the majority's label, and votes for / votes as
its confidence (ties keep neither). Adjudicated and imported rows get their
majority label from the next vote of their item (or the gold job)."""

from django.db import migrations
from django.db.models import F, FloatField
from django.db.models.functions import Cast


def backfill(apps, schema_editor):
    Gold = apps.get_model("annotator", "Gold")
    Gold.objects.filter(source="majority", is_tie=False, votes_total__gt=0, majority_label__isnull=True).update(
        majority_label=F("label"), confidence=Cast(F("votes_for"), FloatField()) / F("votes_total")
    )


class Migration(migrations.Migration):
    dependencies = [("annotator", "0015_quality_control")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
