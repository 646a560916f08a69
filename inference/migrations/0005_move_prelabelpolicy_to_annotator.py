"""PrelabelPolicy now belongs to annotator (annotator/0013_move_prelabelpolicy_from_inference
renamed its table and took its rows): drop it from this app's state only."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("annotator", "0013_move_prelabelpolicy_from_inference"),
        ("inference", "0004_add_run_calibration"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="PrelabelPolicy")],
        ),
    ]
