"""Migrations that move data between apps keep it: PrelabelPolicy's rows
(inference -> annotator) and the suggestion run recorded on annotations
(a foreign key into inference -> a plain indexed id)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("annotator", "0012_profile"), ("inference", "0003_add_run_sent_at")]


def _migrate(targets):
    """Migrate the test database to `targets`; the models as they were there."""
    MigrationExecutor(connection).migrate(targets)
    # The state at exactly these nodes (what migrate() returns after a backwards
    # plan can include later migrations of other apps).
    return MigrationExecutor(connection).loader.project_state(targets).apps


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _suggestion_run_column() -> dict:
    """Constraints on annotator_annotation that cover suggestion_run_id."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "annotator_annotation")
    return {name: c for name, c in found.items() if c["columns"] == ["suggestion_run_id"]}


@pytest.mark.django_db(transaction=True)
def test_policies_and_recorded_suggestion_runs_survive_the_move_out_of_inference():
    try:
        old = _migrate(BEFORE)
        User = old.get_model("auth", "User")
        Project = old.get_model("annotator", "Project")
        Item = old.get_model("annotator", "Item")
        Annotation = old.get_model("annotator", "Annotation")
        TrainingRun = old.get_model("inference", "TrainingRun")
        PredictionRun = old.get_model("inference", "PredictionRun")
        OldPolicy = old.get_model("inference", "PrelabelPolicy")

        user = User.objects.create(username="migrating-annotator")
        project = Project.objects.create(name="Moved", slug="moved")
        item = Item.objects.create(project=project, external_id="m-1", text="A walk.")
        training = TrainingRun.objects.create(project=project, config={})
        run = PredictionRun.objects.create(project=project, training_run=training)
        shown = Annotation.objects.create(item=item, annotator=user, suggestion_run=run, suggestion_accepted={"x": 1})
        OldPolicy.objects.create(
            project=project, retrain_every_n_gold=7, suggest_new_items=False, gold_at_last_training=3
        )
        assert any(c["foreign_key"] for c in _suggestion_run_column().values())

        new = _migrate(_latest())
        Policy = new.get_model("annotator", "PrelabelPolicy")
        policy = Policy.objects.get(project_id=project.pk)
        assert (policy.retrain_every_n_gold, policy.suggest_new_items, policy.gold_at_last_training) == (7, False, 3)
        assert Policy._meta.db_table == "annotator_prelabelpolicy"
        annotation = new.get_model("annotator", "Annotation").objects.get(pk=shown.pk)
        assert (annotation.suggestion_run_id, annotation.suggestion_accepted) == (run.pk, {"x": 1})
        constraints = _suggestion_run_column().values()
        assert not any(c["foreign_key"] for c in constraints), "no reference into the inference app is left"
        assert any(c["index"] for c in constraints), "the queue and the reports still find annotations by run"

        # And back: the rows return to the inference app's table.
        old = _migrate(BEFORE)
        assert old.get_model("inference", "PrelabelPolicy").objects.get(project_id=project.pk).retrain_every_n_gold == 7
        assert old.get_model("annotator", "Annotation").objects.get(pk=shown.pk).suggestion_run_id == run.pk
    finally:
        _migrate(_latest())
