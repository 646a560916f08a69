"""The "most uncertain first" order reads Item.uncertainty, which inference
stores from the current suggestions (inference/services/uncertainty.py). It
hands out what ranking the current run's suggestions on every claim handed
out, through a seek on the item_queue_uncertain index instead of a sort."""

from __future__ import annotations

import json
import math

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from annotator.models import Item, Project
from annotator.services import queue, votes
from tests.annotator.factories import make_items, make_suggestions, set_counts

pytestmark = pytest.mark.django_db


def _walk(annotator, project) -> list[int]:
    """Item ids in the order the queue hands them to one annotator who skips
    each, until it offers their skipped items again."""
    seen = []
    while (claim := queue.claim_next_item(annotator=annotator, project=project)) is not None:
        if claim.previously_skipped:
            break
        seen.append(claim.item_id)
        votes.skip_item(annotator=annotator, item=claim.item, round_=claim.round, reason="unsure")
    return seen


def _ranked_by_suggestions(project: Project, run) -> list[int]:
    """The order as the queue computed it on every claim before the value
    was stored: the run's suggestions of open items, entropy summed per item,
    highest first, then by id."""
    from inference.models import Suggestion

    open_items = Item.objects.filter(project=project, vote_count__lt=project.votes_per_item)
    return list(
        Suggestion.objects.filter(run=run, item__in=open_items)
        .values("item_id")
        .annotate(total=Sum("entropy"))
        .order_by("-total", "item_id")
        .values_list("item_id", flat=True)
    )


def _uncertain_project(project: Project) -> Project:
    Project.objects.filter(pk=project.pk).update(queue_order=Project.QueueOrder.UNCERTAIN)
    project.refresh_from_db()
    return project


@pytest.mark.parametrize("hand_written", [True, False])
def test_the_stored_order_hands_out_what_ranking_the_suggestions_did(annotator, project, settings, hand_written):
    settings.LABELLING_LOOP_SQL = hand_written
    project = _uncertain_project(project)
    items = make_items(project, 110)
    # 90 scored items over 7 values: ties, and more than two seek batches.
    run = make_suggestions(project, {item: 0.3 * ((i * 37) % 7) + 0.1 for i, item in enumerate(items[:90])})
    for item in items[5:90:9]:
        set_counts(item, vote_count=project.votes_per_item)  # full: not in the queue
    for item in items[3:110:13]:
        set_counts(item, vote_count=2)  # partly voted, scored or not
    expected = _ranked_by_suggestions(project, run)
    unscored_open = [
        pk
        for pk, n in Item.objects.filter(project=project, vote_count__lt=project.votes_per_item, uncertainty=None)
        .order_by("-vote_count", "id")
        .values_list("pk", "vote_count")
    ]

    walked = _walk(annotator, project)

    assert len(expected) > 2 * queue.BATCH
    assert walked[: len(expected)] == expected
    # Then the items the model did not score, in finish-first order.
    assert walked[len(expected) :] == unscored_open


def test_items_the_model_did_not_score_come_after_the_least_uncertain_one(annotator, project):
    project = _uncertain_project(project)
    items = make_items(project, 4)
    make_suggestions(project, {items[1]: 0.01, items[3]: 2.0})
    set_counts(items[2], vote_count=project.votes_per_item - 1)  # finish-first's head

    assert _walk(annotator, project) == [items[3].pk, items[1].pk, items[2].pk, items[0].pk]


@pytest.mark.parametrize("hand_written", [True, False])
def test_unimodal_rounds_rank_each_rounds_items_by_their_uncertainty(lead, settings, hand_written):
    from tests.factories import make_member, make_project

    settings.LABELLING_LOOP_SQL = hand_written
    project = make_project(
        lead=lead,
        name="CH-SIMS style",
        unimodal_rounds=True,
        votes_per_item=2,
        queue_order=Project.QueueOrder.UNCERTAIN,
    )
    both = make_items(project, 3, image=True)
    text_only = make_items(project, 2, start=10)
    make_suggestions(project, {both[0]: 0.1, both[2]: 2.0, text_only[1]: 0.5})

    # The text round (items with both modalities), then the multimodal round
    # of the items with one.
    walked = _walk(make_member(project, username="walker"), project)
    assert walked == [both[2].pk, both[0].pk, both[1].pk, text_only[1].pk, text_only[0].pk]


def test_control_items_are_not_in_the_uncertain_order(annotator, other_annotator, project, settings):
    project = _uncertain_project(project)
    items = make_items(project, 3)
    make_suggestions(project, {items[0]: 0.5, items[1]: 3.0, items[2]: 1.0})
    Item.objects.filter(pk=items[1].pk).update(is_control=True)
    for person, hand_written in ((annotator, True), (other_annotator, False)):
        settings.LABELLING_LOOP_SQL = hand_written
        assert queue.claim_next_item(annotator=person, project=project).item_id == items[2].pk


def test_a_newer_current_run_replaces_the_values_and_clears_items_it_did_not_score(annotator, project):
    project = _uncertain_project(project)
    items = make_items(project, 4)
    first = make_suggestions(project, {items[0]: 3.0, items[1]: 1.0, items[2]: 2.0})
    assert _stored(items) == [3.0, 1.0, 2.0, None]

    second = make_suggestions(project, {items[1]: 0.5, items[3]: 0.25}, training=first.training_run)

    assert second.finished_at > first.finished_at
    assert _stored(items) == [None, 0.5, None, 0.25]
    assert _walk(annotator, project)[:2] == [items[1].pk, items[3].pk]


def test_a_prediction_of_a_model_that_is_not_the_prelabeller_changes_nothing(project):
    from inference.models import RunStatus, TrainingRun

    items = make_items(project, 2)
    make_suggestions(project, {items[0]: 1.0})
    other = TrainingRun.objects.create(project=project, status=RunStatus.SUCCEEDED)
    make_suggestions(project, {items[0]: 9.0, items[1]: 9.0}, training=other)

    assert _stored(items) == [1.0, None]


def test_with_no_current_run_left_no_item_has_an_uncertainty(project):
    from inference.models import TrainingRun
    from inference.services.uncertainty import refresh_item_uncertainty

    items = make_items(project, 2)
    run = make_suggestions(project, {items[0]: 1.0, items[1]: 2.0})
    TrainingRun.objects.filter(pk=run.training_run_id).update(is_prelabeller=False)

    assert refresh_item_uncertainty(project=project) == 2
    assert _stored(items) == [None, None]
    assert refresh_item_uncertainty(project=project) == 0  # nothing left to write


def _stored(items: list[Item]) -> list[float | None]:
    values = dict(Item.objects.filter(pk__in=[i.pk for i in items]).values_list("pk", "uncertainty"))
    return [None if values[i.pk] is None else round(values[i.pk], 6) for i in items]


# ---- the plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan")
def test_the_seek_scans_the_uncertain_index_without_sorting(lead, project):
    from tests.factories import make_project

    project = _uncertain_project(project)
    other = make_project(lead=lead, name="Another study")
    for p, start in ((project, 0), (other, 5000)):
        # Both modalities (the text round's items) and text only (multimodal only).
        items = make_items(p, 1000, image=True, start=start) + make_items(p, 500, start=start + 1000)
        make_suggestions(p, {item: (i % 97) / 10 for i, item in enumerate(items) if i % 5})
    # And many small projects: a plan guessing from the average project would
    # expect a few rows and fetch and sort them all.
    small = Project.objects.bulk_create(Project(name=f"Small {n}", slug=f"small-{n}") for n in range(400))
    Item.objects.bulk_create(
        Item(project=p, external_id=f"s-{n}", text="A walk.", uncertainty=0.5) for p in small for n in range(3)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Item._meta.db_table}")
        for vote_field, modality in (("vote_count", None), ("text_vote_count", "both"), ("vote_count", "one")):
            # Planned for its parameters, as the queue runs it (not prepared).
            params = [project.pk, math.inf, math.inf, 0, 3]
            cursor.execute(f"EXPLAIN (FORMAT JSON) {queue._uncertain_sql(vote_field, modality)}", params)
            plan = cursor.fetchone()[0]
            if isinstance(plan, str):
                plan = json.loads(plan)
            nodes = list(_nodes(plan[0]["Plan"]))
            assert any(node.get("Index Name") == "item_queue_uncertain" for node in nodes), (modality, nodes)
            assert not any(node["Node Type"] in ("Sort", "Incremental Sort", "Seq Scan") for node in nodes), nodes
            assert not any("suggestion" in node.get("Relation Name", "") for node in nodes), nodes


def _nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def test_a_claim_reads_no_suggestion(annotator, project):
    project = _uncertain_project(project)
    items = make_items(project, 3)
    make_suggestions(project, {items[0]: 0.5, items[2]: 1.5})

    with CaptureQueriesContext(connection) as ctx:
        claim = queue.claim_next_item(annotator=annotator, project=project)

    assert claim.item_id == items[2].pk
    assert not any("inference_" in query["sql"] for query in ctx.captured_queries)
