"""Annotation.suggestion_run, a foreign key to inference.PredictionRun,
becomes suggestion_run_id, a plain indexed id: annotator depends on nothing
above it. The column, its values and its index stay; only the foreign-key
constraint goes (the database keeps no reference into the inference app)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotator", "0013_move_prelabelpolicy_from_inference"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The same column as a plain bigint: the schema editor drops the
            # foreign-key constraint and keeps the column's data and index.
            database_operations=[
                migrations.AlterField(
                    model_name="annotation",
                    name="suggestion_run",
                    field=models.BigIntegerField(blank=True, null=True, db_index=True, db_column="suggestion_run_id"),
                ),
            ],
            state_operations=[
                migrations.RemoveField(model_name="annotation", name="suggestion_run"),
                migrations.AddField(
                    model_name="annotation",
                    name="suggestion_run_id",
                    field=models.BigIntegerField(blank=True, null=True, db_index=True),
                ),
            ],
        ),
    ]
