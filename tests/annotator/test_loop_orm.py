"""The labelling loop through the ORM (LABELLING_LOOP_SQL off, annotator/loop_orm.py)
does what the hand-written SQL does: the same scenario run both ways hands out
the same items, and leaves the same votes, gold, counters, claims and skips."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from annotator.errors import DomainError
from annotator.models import Annotation, Claim, Gold, Item, Label, Project, Skip, Vote
from annotator.services import gold, queue, votes
from annotator.services.projects import add_member
from tests.analysis.factories import add_votes
from tests.annotator.factories import MSED_ORDER, make_items, make_suggestions, members
from tests.factories import make_project

LABELLINGS = [
    {"desire": "family", "sentiment": "positive", "emotion": "happiness"},
    {"desire": "romance", "sentiment": "neutral", "emotion": "sad"},
    {"desire": "family", "sentiment": "negative", "emotion": "happiness"},
    {"desire": "family", "sentiment": "positive", "emotion": "sad"},
]
STEPS = 60


def run_scenario(project: Project, people: list, lead) -> dict:
    """Claims, submits (each retried once with its key), skips, an expired
    claim, a submit without a claim and an adjudication, round-robin over
    `people`; returns what happened and what is stored, with items named by
    their position in the project and people by their username."""
    items = list(Item.objects.filter(project=project).order_by("pk").values_list("pk", flat=True))
    position = {pk: i for i, pk in enumerate(items)}
    transcript = []
    adjudicated = False
    for step in range(STEPS):
        person = people[step % len(people)]
        claim = queue.claim_next_item(annotator=person, project=project)
        if claim is None:
            transcript.append((step, person.username, None))
            continue
        where = (step, person.username, position[claim.item_id], claim.round)
        if step % 7 == 3:
            votes.skip_item(annotator=person, item=claim.item, round_=claim.round, reason="unsure")
            transcript.append((*where, "skipped"))
            continue
        labels = LABELLINGS[(step // len(people) + people.index(person)) % len(LABELLINGS)]
        key = uuid.uuid5(uuid.NAMESPACE_URL, f"{project.slug}/{step}")
        if step % 11 == 5:
            # The lease runs out and is swept before the labels arrive.
            Claim.objects.filter(pk=claim.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
            released = queue.release_expired_claims(project=project)
            with pytest.raises(DomainError) as refused:
                votes.submit_annotation(
                    annotator=person, item=claim.item, round_=claim.round, labels=labels, inference_order=MSED_ORDER
                )
            transcript.append((*where, "expired", released, str(refused.value)))
            continue
        first = votes.submit_annotation(
            annotator=person,
            item=claim.item,
            round_=claim.round,
            labels=labels,
            inference_order=MSED_ORDER,
            client_key=key,
            duration_ms=1000 + step,
        )
        retry = votes.submit_annotation(
            annotator=person,
            item=claim.item,
            round_=claim.round,
            labels=labels,
            inference_order=MSED_ORDER,
            client_key=key,
            duration_ms=1000 + step,
        )
        transcript.append(
            (*where, first.created, first.item_complete, retry.created, retry.annotation.pk == first.annotation.pk)
        )
        if not adjudicated and step >= STEPS // 3:
            contested = Gold.objects.filter(item__project=project, task__key="desire").order_by("item_id").first()
            if contested is not None:
                romance = Label.objects.get(task=contested.task, key="romance")
                gold.adjudicate(item=contested.item, task=contested.task, label=romance, lead=lead)
                adjudicated = True
                transcript.append((step, "adjudicated", position[contested.item_id]))
    return {
        "transcript": transcript,
        "votes": sorted(
            (position[v.item_id], v.annotator.username, v.round, v.task.key, v.label.key)
            for v in Vote.objects.filter(item__project=project).select_related("annotator", "task", "label")
        ),
        "annotations": sorted(
            (position[a.item_id], a.annotator.username, a.round, tuple(a.inference_order), a.duration_ms)
            for a in Annotation.objects.filter(item__project=project).select_related("annotator")
        ),
        "gold": sorted(
            (position[g.item_id], g.task.key, g.label.key if g.label else None, g.source, g.votes_for)
            + (g.votes_total, g.is_tie, g.majority_label_id is not None, g.confidence)
            for g in Gold.objects.filter(item__project=project).select_related("task", "label")
        ),
        "counters": [
            (position[pk], *counts)
            for pk, *counts in Item.objects.filter(project=project)
            .order_by("pk")
            .values_list(
                "pk",
                "vote_count",
                "claim_count",
                "text_vote_count",
                "text_claim_count",
                "image_vote_count",
                "image_claim_count",
            )
        ],
        "claims": sorted(
            (position[c.item_id], c.annotator.username, c.round)
            for c in Claim.objects.filter(project=project).select_related("annotator")
        ),
        "skips": sorted(
            (position[s.item_id], s.annotator.username, s.round)
            for s in Skip.objects.filter(project=project).select_related("annotator")
        ),
    }


def build(lead, name: str, people: list | None, *, order: str, unimodal: bool, start: int):
    project = make_project(lead=lead, name=name, queue_order=order, unimodal_rounds=unimodal, votes_per_item=3)
    items = make_items(project, 6, image=True, start=start) + make_items(project, 6, start=start + 6)
    if people is None:
        people = members(project, 6, prefix="rater")
    else:
        for person in people:
            add_member(project=project, user=person)
    # Votes from before (two people who will not label now): the queue meets
    # items with one or two votes after unstarted ones, which tells the orders apart.
    earlier, now = people[:2], people[2:]
    add_votes(
        project,
        {
            (items[9], earlier[0]): LABELLINGS[0],
            (items[9], earlier[1]): LABELLINGS[1],
            (items[4], earlier[0]): LABELLINGS[2],
            (items[10], earlier[1]): LABELLINGS[0],
        },
    )
    if order == Project.QueueOrder.UNCERTAIN:
        make_suggestions(project, {item: (i * 7) % 5 + 0.5 for i, item in enumerate(items[:8])})
    return project, people, now


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("order", "unimodal"),
    [
        (Project.QueueOrder.FINISH_FIRST, False),
        (Project.QueueOrder.SEQUENTIAL, False),
        (Project.QueueOrder.RANDOM, False),
        (Project.QueueOrder.UNCERTAIN, False),
        (Project.QueueOrder.FINISH_FIRST, True),
    ],
)
def test_the_orm_loop_hands_out_and_stores_what_the_sql_loop_does(lead, settings, order, unimodal):
    random.seed(3)
    project, people, labelling = build(lead, "By hand-written SQL", None, order=order, unimodal=unimodal, start=0)
    by_sql = run_scenario(project, labelling, lead)

    settings.LABELLING_LOOP_SQL = False
    random.seed(3)
    project, _, labelling = build(lead, "By the ORM", people, order=order, unimodal=unimodal, start=100)
    by_orm = run_scenario(project, labelling, lead)

    assert by_sql["transcript"] and any(len(step) > 4 and step[4] is True for step in by_sql["transcript"])
    for part in by_sql:
        assert by_orm[part] == by_sql[part], part


@pytest.mark.django_db
def test_the_orm_loop_reads_token_project_and_item_as_the_sql_does(lead, annotator, project, settings):
    from annotator import selectors
    from tests.factories import make_token

    key = make_token(annotator)
    item = make_items(project, 1)[0]
    found = {}
    for hand_written in (True, False):
        settings.LABELLING_LOOP_SQL = hand_written
        token = selectors.get_api_token(key, timezone.now())
        annotator._membership_cache = {}
        loaded = selectors.get_project_for(annotator, project.slug)
        found[hand_written] = (
            token.pk,
            token.user.pk,
            selectors.get_api_token(key[:-1] + ("A" if key[-1] != "A" else "B"), timezone.now()),
            loaded.pk,
            annotator._membership_cache[project.pk].role,
            selectors.get_project_for(annotator, "no-such-project"),
            selectors.get_item_in(project, item.pk).external_id,
            selectors.get_item_in(project, item.pk + 1000),
        )
    assert found[False] == found[True]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_orm_loop_keeps_every_vote_with_annotators_at_once(lead, settings):
    settings.LABELLING_LOOP_SQL = False
    project = make_project(lead=lead, name="Busy ORM afternoon", votes_per_item=3)
    make_items(project, 40)
    people = members(project, 8, prefix="busy")
    lock = threading.Lock()
    acknowledged: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(people))

    def annotate(person):
        try:
            start.wait()
            while (claim := queue.claim_next_item(annotator=person, project=project)) is not None:
                result = votes.submit_annotation(
                    annotator=person,
                    item=claim.item,
                    round_=claim.round,
                    labels=LABELLINGS[person.pk % len(LABELLINGS)],
                    inference_order=MSED_ORDER,
                    client_key=uuid.uuid4(),
                )
                with lock:
                    acknowledged.append(result.annotation.pk)
        except BaseException as error:  # reported below, with the thread's traceback
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=annotate, args=(person,)) for person in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    stored = set(Annotation.objects.filter(item__project=project).values_list("pk", flat=True))
    assert stored == set(acknowledged) and len(acknowledged) == 40 * 3  # none lost, none twice
    per_item = Counter(Annotation.objects.filter(item__project=project).values_list("item_id", flat=True))
    assert set(per_item.values()) == {3}
    assert not Item.objects.filter(project=project).exclude(vote_count=3).exists()
    assert not Item.objects.filter(project=project).exclude(claim_count=0).exists()
    assert Vote.objects.filter(item__project=project).count() == 40 * 3 * 3
    tallies = Gold.objects.filter(item__project=project).values("votes_total").annotate(n=Count("id"))
    assert list(tallies) == [{"votes_total": 3, "n": 40 * 3}]


@pytest.mark.django_db
def test_the_orm_loop_mixes_in_control_items_as_the_sql_loop_does(lead, settings, monkeypatch):
    """One control item (so the random choice among them is no choice), drawn
    by the same seeded draw both ways: the same people get it, once each, and
    its votes count toward nothing."""
    from annotator.models import ControlAnswer

    def with_control(name, people, start):
        project, people, labelling = build(
            lead, name, people, order=Project.QueueOrder.FINISH_FIRST, unimodal=False, start=start
        )
        Project.objects.filter(pk=project.pk).update(control_every=3)
        project.refresh_from_db()
        item = Item.objects.filter(project=project).order_by("pk")[2]
        label = Label.objects.get(task__project=project, task__key="sentiment", key="positive")
        ControlAnswer.objects.create(item=item, task=label.task, label=label)
        Item.objects.filter(pk=item.pk).update(is_control=True)
        return project, people, labelling

    monkeypatch.setattr(queue, "control_rng", random.Random(5))
    project, people, labelling = with_control("Controls by SQL", None, 0)
    by_sql = run_scenario(project, labelling, lead)

    settings.LABELLING_LOOP_SQL = False
    monkeypatch.setattr(queue, "control_rng", random.Random(5))
    project, _, labelling = with_control("Controls by the ORM", people, 100)
    by_orm = run_scenario(project, labelling, lead)

    # Labelled (not skipped, not lost to an expired claim) by each person at most once.
    given = [step for step in by_sql["transcript"] if len(step) > 4 and step[2] == 2 and step[4] is True]
    assert len(given) >= 2 and len({step[1] for step in given}) == len(given)
    assert all(c[1] == 0 for c in by_sql["counters"] if c[0] == 2)  # no votes counted on it
    for part in by_sql:
        assert by_orm[part] == by_sql[part], part
