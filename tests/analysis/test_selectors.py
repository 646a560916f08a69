"""Dashboard selectors turn votes into the right arrays."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from analysis import columns
from analysis import selectors as sel
from analysis.selectors import DashboardFilters
from annotator.models import Annotation, Gold, Membership, Vote
from annotator.selectors import get_project_schema
from tests.analysis.factories import DESIRE, add_votes, make_voted_project
from tests.factories import ItemFactory, make_member


@pytest.fixture
def trio(project):
    """3 items x 3 annotators, votes hand-written so the matrices can be checked cell by cell."""
    a1, a2, a3 = (make_member(project, username=f"hand-{i}") for i in range(3))
    i1, i2, i3 = (ItemFactory(project=project, split=split) for split in ("train", "train", "test"))
    add_votes(
        project,
        {
            (i1, a1): {"desire": "family", "sentiment": "positive"},
            (i1, a2): {"desire": "family", "sentiment": "positive"},
            (i1, a3): {"desire": "romance", "sentiment": "neutral"},
            (i2, a1): {"desire": "none", "sentiment": "neutral"},
            (i2, a2): {"desire": "none"},
            (i2, a3): {"desire": "none", "sentiment": "negative"},
            (i3, a1): {"desire": "curiosity"},
            (i3, a3): {"desire": "curiosity"},
        },
    )
    return project, [i1, i2, i3], [a1, a2, a3]


@pytest.mark.django_db
def test_task_schemas_follow_the_project_schema_order(project):
    tasks = get_project_schema(project).tasks
    assert [t.key for t in tasks] == ["desire", "sentiment", "emotion"]
    assert list(tasks[0].label_keys) == DESIRE
    assert tasks[0].n_categories == 7 and tasks[1].position("neutral") == 1


@pytest.mark.django_db
def test_vote_matrix_holds_label_positions_per_item_and_annotator(trio):
    project, items, annotators = trio
    votes = sel.get_vote_matrix(project, DashboardFilters())
    assert votes.item_ids.tolist() == [i.pk for i in items]
    assert votes.annotator_ids.tolist() == sorted(a.pk for a in annotators)
    assert votes.labels["desire"].tolist() == [[3, 3, 5], [6, 6, 6], [1, -1, 1]]
    # Varying vote counts: the second annotator gave no sentiment on item 2, nobody on item 3.
    assert votes.labels["sentiment"].tolist() == [[0, 0, 1], [1, -1, 2], [-1, -1, -1]]
    assert (votes.labels["emotion"] == -1).all()
    assert votes.n_votes == 8 + 5


@pytest.mark.django_db
def test_vote_matrix_filters_by_split_annotators_and_round(trio):
    project, items, (a1, a2, a3) = trio
    test_only = sel.get_vote_matrix(project, DashboardFilters(split="test"))
    assert test_only.item_ids.tolist() == [items[2].pk]
    assert test_only.labels["desire"].tolist() == [[1, 1]]

    two = sel.get_vote_matrix(project, DashboardFilters(annotators=(a1.pk, a3.pk)))
    assert two.annotator_ids.tolist() == [a1.pk, a3.pk]
    assert two.labels["desire"].tolist() == [[3, 5], [6, 6], [1, 1]]

    text_round = sel.get_vote_matrix(project, DashboardFilters(round=Annotation.Round.TEXT))
    assert text_round.item_ids.size == 0 and text_round.labels["desire"].shape == (0, 0)


@pytest.mark.django_db
def test_vote_matrix_filters_by_annotation_date(trio):
    project, items, annotators = trio
    old = timezone.now() - dt.timedelta(days=30)
    Annotation.objects.filter(item=items[0]).update(created_at=old)
    recent = sel.get_vote_matrix(project, DashboardFilters(date_from=timezone.localdate() - dt.timedelta(days=2)))
    assert recent.item_ids.tolist() == [items[1].pk, items[2].pk]
    early = sel.get_vote_matrix(project, DashboardFilters(date_to=timezone.localdate() - dt.timedelta(days=20)))
    assert early.item_ids.tolist() == [items[0].pk]
    assert early.labels["desire"].tolist() == [[3, 3, 5]]


@pytest.mark.django_db
def test_vote_matrix_of_many_random_votes_matches_the_votes_written(project):
    items, annotators = make_voted_project(project, n_items=40, n_annotators=5, seed=3)
    votes = sel.get_vote_matrix(project, DashboardFilters())
    expected = {
        (item_id, user_id): label_key
        for item_id, user_id, label_key in Vote.objects.filter(item__project=project, task__key="desire").values_list(
            "item_id", "annotator_id", "label__key"
        )
    }
    desire = get_project_schema(project).tasks[0]
    for r, item_id in enumerate(votes.item_ids):
        for c, user_id in enumerate(votes.annotator_ids):
            assert desire.label_keys[votes.labels["desire"][r, c]] == expected[(item_id, user_id)]


@pytest.mark.django_db
def test_packed_and_unpacked_reads_match_the_plain_tuple_read(project, monkeypatch):
    make_voted_project(project, n_items=12, n_annotators=3)
    qs = sel._annotation_queryset(project, DashboardFilters())
    packed = [
        columns.Column("item_id", 0, 10**6),
        columns.Column("annotator_id", 0, 10**4),
        columns.Column("duration_ms", -1, 86_400_000),
    ]
    wide = [
        columns.Column("item_id"),
        columns.Column("annotator_id"),
        columns.Column("created_at", 0, columns.EPOCH_MAX, epoch=True),
    ]
    fast_packed, fast_wide = columns.fetch_columns(qs, packed), columns.fetch_columns(qs, wide)
    monkeypatch.setattr(connection, "vendor", "other")  # force the tuple path
    slow_packed, slow_wide = columns.fetch_columns(qs, packed), columns.fetch_columns(qs, wide)

    def rows(arrays):
        return sorted(zip(*[c.tolist() for c in arrays]))

    assert rows(fast_packed) == rows(slow_packed)
    assert rows(fast_wide) == rows(slow_wide)
    assert len(rows(fast_packed)) == 36


@pytest.mark.django_db
def test_gold_matrix_reads_stored_gold_with_splits(trio):
    project, items, annotators = trio
    gold = sel.get_gold_matrix(project, DashboardFilters())
    assert gold.item_ids.tolist() == [i.pk for i in items]
    assert [sel.SPLITS[s] for s in gold.split] == ["train", "train", "test"]
    assert gold.labels["desire"].tolist() == [3, 6, 1]
    # Item 1's sentiment is 2 x positive vs neutral; item 2's is a tie; item 3 has none.
    assert gold.labels["sentiment"].tolist() == [0, -1, -1]
    test = sel.get_gold_matrix(project, DashboardFilters(split="test"))
    assert test.item_ids.tolist() == [items[2].pk] and test.labels["desire"].tolist() == [1]


@pytest.mark.django_db
def test_annotation_arrays_and_inference_orders(project):
    items, annotators = make_voted_project(project, n_items=6, n_annotators=2)
    arrays = sel.get_annotation_arrays(project, DashboardFilters())
    assert len(arrays) == 12
    assert sorted(arrays.duration_ms.tolist()) == sorted(2000 + 500 * a + 10 * i for i in range(6) for a in range(2))
    orders, annotations, code = sel.get_inference_orders(project, DashboardFilters())
    assert set(orders) == {("desire", "sentiment", "emotion"), ("sentiment", "desire", "emotion")}
    assert (code >= 0).all() and np.bincount(code).tolist() == [6, 6]
    expected = {
        (a.item_id, a.annotator_id): tuple(a.inference_order) for a in Annotation.objects.filter(item__project=project)
    }
    for item_id, user_id, c in zip(annotations.item_ids, annotations.annotator_ids, code):
        assert orders[c] == expected[(item_id, user_id)]


@pytest.mark.django_db
def test_suggestion_counts_group_by_annotator_and_task(project):
    items, (a1, a2) = make_voted_project(project, n_items=4, n_annotators=2)
    Annotation.objects.filter(annotator=a1).update(suggestion_accepted={"desire": True, "emotion": False})
    Annotation.objects.filter(annotator=a2, item=items[0]).update(suggestion_accepted={"desire": False})
    counts = sel.get_suggestion_counts(project, DashboardFilters())
    assert counts == {a1.pk: {"desire": [4, 4], "emotion": [0, 4]}, a2.pk: {"desire": [0, 1]}}


def test_local_week_starts_are_mondays():
    # 2024-01-03 (Wednesday) 12:00 UTC and 2024-01-08 (Monday) 00:30 UTC.
    seconds = np.array([1704283200, 1704673800])
    weeks = sel.local_week_starts(seconds)
    assert [str(np.datetime64(int(w), "D")) for w in weeks] == ["2024-01-01", "2024-01-08"]


def test_filters_parse_leniently_and_round_trip():
    from django.http import QueryDict

    query = QueryDict("split=test&round=text&annotator=3&annotator=5,7&annotator=x&date_from=2024-01-02&date_to=nope")
    filters = DashboardFilters.from_query(query)
    assert filters == DashboardFilters(split="test", round="text", annotators=(3, 5, 7), date_from=dt.date(2024, 1, 2))
    assert DashboardFilters.from_query(QueryDict(filters.as_query())) == filters
    assert DashboardFilters.from_query(QueryDict("split=bogus&round=bogus")) == DashboardFilters()


@pytest.mark.django_db
def test_votes_version_moves_with_a_new_vote_and_an_edit(trio):
    project, items, (a1, a2, a3) = trio
    before = sel.get_votes_version(project)
    assert sel.get_votes_version(project) == before
    add_votes(project, {(items[2], a2): {"desire": "curiosity"}})
    after_vote = sel.get_votes_version(project)
    assert after_vote != before
    Annotation.objects.filter(item=items[0], annotator=a1).first().save()  # an edit touches updated_at
    assert sel.get_votes_version(project) != after_vote


@pytest.mark.django_db
def test_gold_version_moves_when_a_lead_adjudicates(trio):
    project, items, _ = trio
    before = sel.get_gold_version(project)
    Gold.objects.filter(item=items[1]).first().save()
    assert sel.get_gold_version(project) != before


@pytest.mark.django_db
def test_annotator_choices_list_members(trio):
    project, _, annotators = trio
    names = [name for _, name in sel.list_annotator_choices(project)]
    assert {"hand-0", "hand-1", "hand-2", "lena-lead"} == set(names)
    assert Membership.objects.filter(project=project).count() == 4
