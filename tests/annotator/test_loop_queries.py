"""The labelling loop's statement count, through the API as scripts and the
page call it (token authentication): claiming the next item, fetching ahead
and submitting. Pinned so that a change that adds a query to every request
of every annotator shows up here (the loop's SQL is annotator/sql.py)."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from annotator.models import Annotation, Item, Project
from tests.factories import make_member, make_project, make_token

pytestmark = pytest.mark.django_db

LABELS = {"desire": "family", "sentiment": "positive", "emotion": "happiness"}
ORDER = ["desire", "sentiment", "emotion"]


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(user)}")
    return client


def _counted(client, path: str, body: dict) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(path, body, format="json")
    assert response.status_code in (200, 201), response.content
    return len(ctx.captured_queries), response.json()


def _loop(project: Project, prepare=None) -> dict[str, int]:
    """Statements of: next (a new claim), next fetching ahead, submit of the
    first. `prepare(items)` runs once the items exist."""
    items = [Item(project=project, external_id=f"q-{i}", text=f"A walk by the river {i}.") for i in range(6)]
    Item.objects.bulk_create(items)
    if prepare is not None:
        prepare(items)
    annotator = make_member(project, username="loop-annotator")
    client = _client(annotator)
    # One warm-up round: caches of the process (schema, prepared statements) filled.
    _, first = _counted(client, reverse("api:queue-next", args=[project.slug]), {})
    _counted(
        client,
        reverse("api:item-submit", args=[project.slug, first["work"]["item"]["id"]]),
        {"labels": LABELS, "inference_order": ORDER, "client_key": str(uuid.uuid4())},
    )
    counts = {}
    counts["next"], work = _counted(client, reverse("api:queue-next", args=[project.slug]), {})
    item_id = work["work"]["item"]["id"]
    counts["next_ahead"], _ = _counted(
        client, reverse("api:queue-next", args=[project.slug]), {"current_item": item_id}
    )
    suggestions = work["work"]["suggestions"]
    counts["submit"], _ = _counted(
        client,
        reverse("api:item-submit", args=[project.slug, item_id]),
        {
            "labels": LABELS,
            "inference_order": ORDER,
            "client_key": str(uuid.uuid4()),
            "duration_ms": 900,
            "suggestion_run": suggestions["run"] if suggestions else None,
        },
    )
    return counts


# The counts include the SAVEPOINT and RELEASE of each transaction (a test
# runs inside one), and the token's last_used write is not among them (once
# a minute).


def test_the_labelling_loop_runs_a_fixed_number_of_statements(lead):
    project = make_project(lead=lead, name="Loop")
    assert _loop(project) == {"next": 10, "next_ahead": 10, "submit": 11}


def test_suggestions_and_a_retrain_policy_cost_a_fixed_number_of_statements(lead):
    from annotator.models import PrelabelPolicy
    from inference.models import PredictionRun, RunStatus, Suggestion, TrainingRun

    project = make_project(lead=lead, name="Loop with suggestions", show_suggestions=True)
    training = TrainingRun.objects.create(project=project, is_prelabeller=True, status=RunStatus.SUCCEEDED)
    run = PredictionRun.objects.create(
        project=project, training_run=training, status=RunStatus.SUCCEEDED, finished_at=timezone.now()
    )
    PrelabelPolicy.objects.create(project=project, retrain_every_n_gold=1000)

    def suggest(items):
        Suggestion.objects.bulk_create(
            Suggestion(run=run, item=item, task=task, label=label, probability=0.8, probabilities=[], entropy=0.1)
            for item in items
            for task in project.tasks.all()
            for label in task.labels.filter(key=LABELS[task.key])
        )

    counts = _loop(project, suggest)
    annotation = Annotation.objects.filter(suggestion_run_id=run.pk).get()
    assert annotation.suggestion_accepted == {"desire": True, "sentiment": True, "emotion": True}
    assert counts == {"next": 12, "next_ahead": 12, "submit": 16}


def test_a_claim_in_uncertain_order_costs_one_seek_more_than_finish_first(lead):
    """The seek on item_queue_uncertain (Item.uncertainty, stored by
    inference) and the locking query: no statement reads suggestions or the
    current run, which ranking them per claim took two of."""
    from tests.annotator.factories import make_suggestions

    project = make_project(lead=lead, name="Loop in uncertain order", queue_order=Project.QueueOrder.UNCERTAIN)

    def suggest(items):
        make_suggestions(project, {item: 0.1 * i for i, item in enumerate(items)}, label_keys=LABELS)

    assert _loop(project, suggest) == {"next": 11, "next_ahead": 11, "submit": 11}


@pytest.mark.parametrize(
    "share, arm, expected",
    [
        # Without a retrain policy (compare the test above). The hidden arm's
        # claim reads no suggestions (as without them); its submit reads the
        # run the page would have shown and its suggestions (one more than the
        # shown arm, whose page names the run).
        (1e-12, "hidden", {"next": 10, "next_ahead": 10, "submit": 14}),
        (1 - 1e-12, "shown", {"next": 12, "next_ahead": 12, "submit": 13}),
    ],
)
def test_the_anchoring_experiment_costs_a_fixed_number_of_statements(lead, share, arm, expected):
    from inference.models import PredictionRun, RunStatus, Suggestion, TrainingRun

    project = make_project(lead=lead, name=f"Loop in the {arm} arm", show_suggestions=True)
    Project.objects.filter(pk=project.pk).update(suggestion_share=share)
    training = TrainingRun.objects.create(project=project, is_prelabeller=True, status=RunStatus.SUCCEEDED)
    run = PredictionRun.objects.create(
        project=project, training_run=training, status=RunStatus.SUCCEEDED, finished_at=timezone.now()
    )

    def suggest(items):
        Suggestion.objects.bulk_create(
            Suggestion(run=run, item=item, task=task, label=label, probability=0.8, probabilities=[], entropy=0.1)
            for item in items
            for task in project.tasks.all()
            for label in task.labels.filter(key=LABELS[task.key])
        )

    counts = _loop(project, suggest)
    assert set(Annotation.objects.values_list("suggestion_arm", flat=True)) == {arm}
    assert Annotation.objects.filter(suggestion_run_id=run.pk).exists()
    assert counts == expected


def test_a_control_item_in_the_loop_costs_a_fixed_number_of_statements(lead, monkeypatch):
    """With control_every = 1 every claim draws a control item: the claim
    locks one in place of the queue's head (the same count), and its submit
    counts no vote and recomputes no gold (one statement fewer) while the
    feedback reads the item's known answers (one more)."""
    import random

    from annotator.models import ControlAnswer, Label
    from annotator.services import queue

    monkeypatch.setattr(queue, "control_rng", random.Random(0))
    project = make_project(lead=lead, name="Loop with controls")
    Project.objects.filter(pk=project.pk).update(control_every=1, control_feedback=True)
    project.refresh_from_db()
    label = Label.objects.get(task__project=project, task__key="sentiment", key="positive")

    def controls(items):
        for item in items[:4]:
            ControlAnswer.objects.create(item=item, task=label.task, label=label)
        Item.objects.filter(pk__in=[item.pk for item in items[:4]]).update(is_control=True)

    counts = _loop(project, controls)
    assert Annotation.objects.filter(is_control=True).count() == 2
    assert counts == {"next": 10, "next_ahead": 10, "submit": 11}
