"""Item.uncertainty follows the project's current suggestions: written by
the prediction job (calibrated entropies, summed over tasks), when a
pre-labeller is marked, and backfilled by inference/0006 for the runs that
existed before it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Sum
from django.utils import timezone

from annotator.models import Item
from inference.models import RunStatus, Suggestion, TrainingRun
from inference.services import prelabelling
from inference.services.prelabelling import mark_prelabeller
from tests.annotator.factories import make_items, make_suggestions


def _stored(project) -> dict[int, float | None]:
    return dict(Item.objects.filter(project=project).values_list("pk", "uncertainty"))


@pytest.mark.django_db
def test_a_succeeded_prediction_stores_each_items_total_calibrated_entropy(
    project, demo_items, trained_run, django_capture_on_commit_callbacks
):
    assert trained_run.temperatures, "the run was calibrated"
    with django_capture_on_commit_callbacks(execute=True):
        mark_prelabeller(run=trained_run)
    prediction = trained_run.prediction_runs.get()
    assert prediction.status == RunStatus.SUCCEEDED, prediction.error
    totals = dict(
        Suggestion.objects.filter(run=prediction)
        .values("item_id")
        .annotate(total=Sum("entropy"))
        .values_list("item_id", "total")
    )
    stored = _stored(project)
    assert totals and {pk: stored[pk] for pk in totals} == totals
    full = set(
        Item.objects.filter(project=project, vote_count__gte=project.votes_per_item).values_list("pk", flat=True)
    )
    assert {pk for pk, value in stored.items() if value is None} == set(stored) - set(totals) | full


@pytest.mark.django_db
def test_marking_another_prelabeller_clears_the_values_until_it_has_predicted(
    project, monkeypatch, django_capture_on_commit_callbacks
):
    items = make_items(project, 3)
    make_suggestions(project, {items[0]: 1.0, items[1]: 2.0})
    other = TrainingRun.objects.create(
        project=project, status=RunStatus.SUCCEEDED, artefact_path="runs/other", finished_at=timezone.now()
    )
    monkeypatch.setattr(prelabelling.model_files, "has_run_files", lambda run_id: True)

    with django_capture_on_commit_callbacks(execute=True):
        mark_prelabeller(run=other, predict=False)

    assert set(_stored(project).values()) == {None}


@pytest.mark.django_db
def test_items_with_all_their_votes_get_no_uncertainty(project):
    from inference.services.uncertainty import refresh_item_uncertainty

    items = make_items(project, 2)
    Item.objects.filter(pk=items[0].pk).update(vote_count=project.votes_per_item)
    make_suggestions(project, {items[0]: 1.0, items[1]: 2.0})
    assert _stored(project) == {items[0].pk: None, items[1].pk: pytest.approx(2.0)}

    # Votes the project no longer wants back: its value returns with the next refresh.
    Item.objects.filter(pk=items[0].pk).update(vote_count=project.votes_per_item - 1)
    assert refresh_item_uncertainty(project=project) == 1
    assert _stored(project)[items[0].pk] == pytest.approx(1.0)


@pytest.mark.django_db
def test_a_refresh_that_saw_the_current_run_change_while_it_wrote_starts_over(project, monkeypatch):
    from inference import selectors
    from inference.services import uncertainty

    items = make_items(project, 2)
    first = make_suggestions(project, {items[0]: 1.0})
    second = make_suggestions(project, {items[1]: 2.0}, training=first.training_run, store_uncertainty=False)
    seen = iter([first.pk, second.pk, second.pk])  # a newer run succeeded while it wrote
    monkeypatch.setattr(selectors, "get_current_prediction_run_id", lambda project: next(seen))

    uncertainty.refresh_item_uncertainty(project=project)

    assert _stored(project) == {items[0].pk: None, items[1].pk: 2.0}


# ---- the backfill

BEFORE = [("annotator", "0015_quality_control"), ("inference", "0005_move_prelabelpolicy_to_annotator")]


def _migrate(targets):
    """Migrate the test database to `targets`; the models as they were there."""
    MigrationExecutor(connection).migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_the_backfill_stores_the_current_runs_totals():
    try:
        old = _migrate(BEFORE)
        Project, Item_, Task, Label = (old.get_model("annotator", m) for m in ("Project", "Item", "Task", "Label"))
        TrainingRun_, PredictionRun, Suggestion_ = (
            old.get_model("inference", m) for m in ("TrainingRun", "PredictionRun", "Suggestion")
        )
        project = Project.objects.create(name="Backfilled", slug="backfilled")
        quiet = Project.objects.create(name="No model", slug="no-model")
        items = [Item_.objects.create(project=project, external_id=f"b-{i}", text="A walk.") for i in range(5)]
        Item_.objects.filter(pk=items[4].pk).update(vote_count=project.votes_per_item)
        lonely = Item_.objects.create(project=quiet, external_id="q-1", text="A walk.")
        tasks = [Task.objects.create(project=project, key=key, name=key, position=i) for i, key in enumerate("ab")]
        labels = [Label.objects.create(task=task, project=project, key="x", name="x") for task in tasks]
        prelabeller = TrainingRun_.objects.create(project=project, config={}, status="succeeded", is_prelabeller=True)
        retired = TrainingRun_.objects.create(project=project, config={}, status="succeeded")
        now = timezone.now()

        def run(training, status, finished_at, entropies):
            prediction = PredictionRun.objects.create(
                project=project, training_run=training, status=status, finished_at=finished_at
            )
            for item, entropy in entropies.items():
                for task, label in zip(tasks, labels, strict=True):
                    Suggestion_.objects.create(
                        run=prediction,
                        item=item,
                        task=task,
                        label=label,
                        probability=0.5,
                        probabilities=[],
                        entropy=entropy,
                    )

        run(prelabeller, "succeeded", now - timedelta(hours=2), {items[0]: 0.9, items[1]: 0.9, items[2]: 0.9})
        run(prelabeller, "succeeded", now - timedelta(hours=1), {items[0]: 0.25, items[2]: 0.5, items[4]: 1.0})
        run(prelabeller, "failed", now, {items[1]: 3.0})
        run(retired, "succeeded", now, {items[3]: 3.0})

        new = _migrate(_latest())
        stored = dict(new.get_model("annotator", "Item").objects.values_list("pk", "uncertainty"))
        # The second run is current: not the older one, the failed one, nor the retired model's.
        assert stored == {
            **{item.pk: None for item in items},
            items[0].pk: 0.5,
            items[2].pk: 1.0,
            lonely.pk: None,
        }
    finally:
        _migrate(_latest())


def test_a_simulated_pre_labeller_stores_uncertainty_and_refuses_to_predict(
    project, django_capture_on_commit_callbacks
):
    """The demo's simulated run (no model file): the queue's uncertain order
    sees its totals, new items queue no prediction, and Predict says why."""
    from annotator.errors import DomainError
    from annotator.selectors import get_project_schema
    from inference.services import runs, simulated

    items = make_items(project, 3)
    tasks = get_project_schema(project).tasks
    probabilities = {item.pk: {t.key: [1.0 / t.n_categories] * t.n_categories for t in tasks} for item in items}
    with django_capture_on_commit_callbacks(execute=True):
        simulated.store_simulated_run(project=project, probabilities=probabilities, name="simulated")
    stored = set(_stored(project).values())
    assert len(stored) == 1 and next(iter(stored)) > 0
    assert prelabelling.on_items_added(project=project, item_ids=[items[0].pk]) is None
    with pytest.raises(DomainError, match="simulated"):
        runs.start_prediction_run(project=project)
