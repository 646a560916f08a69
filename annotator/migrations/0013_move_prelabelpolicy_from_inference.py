"""PrelabelPolicy moves from the inference app to annotator, rows and all.

The labelling loop reads the policy with every project (annotator must not
depend on inference), so the model now lives beside Project. Only the state
moves; the table is renamed to annotator's name, and the content type (and
with it any permission given on the model) follows. The inference app's
half is inference/0005_move_prelabelpolicy_to_annotator."""

import django.db.models.deletion
from django.db import migrations, models


def move_content_type(apps, schema_editor, *, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    if not ContentType.objects.using(db).filter(app_label=target, model="prelabelpolicy").exists():
        ContentType.objects.using(db).filter(app_label=source, model="prelabelpolicy").update(app_label=target)


def forwards(apps, schema_editor):
    move_content_type(apps, schema_editor, source="inference", target="annotator")


def backwards(apps, schema_editor):
    move_content_type(apps, schema_editor, source="annotator", target="inference")


class Migration(migrations.Migration):
    dependencies = [
        ("annotator", "0012_profile"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("inference", "0003_add_run_sent_at"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE inference_prelabelpolicy RENAME TO annotator_prelabelpolicy",
                    reverse_sql="ALTER TABLE annotator_prelabelpolicy RENAME TO inference_prelabelpolicy",
                ),
            ],
            state_operations=[
                migrations.CreateModel(
                    name="PrelabelPolicy",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("retrain_every_n_gold", models.PositiveIntegerField(default=0)),
                        ("suggest_new_items", models.BooleanField(default=True)),
                        ("gold_at_last_training", models.PositiveIntegerField(default=0)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "project",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="prelabel_policy",
                                to="annotator.project",
                            ),
                        ),
                    ],
                ),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
