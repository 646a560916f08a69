"""Many annotators claiming and submitting at once on PostgreSQL.

Each thread has its own database connection and commits for real, so the
row locks (SELECT ... FOR UPDATE SKIP LOCKED on claims, FOR UPDATE on
submits) are what keeps the counts right, not the test's ordering.
"""

from __future__ import annotations

import queue as stdlib_queue
import threading
import uuid
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Count

from annotator.models import Annotation, Claim, Gold, Item, Vote
from annotator.services import queue, votes
from tests.annotator.factories import MSED_LABELS, MSED_ORDER, make_items, members
from tests.factories import make_project

THREADS = 20
ANNOTATORS = 25
ITEMS = 200
VOTES_PER_ITEM = 5


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_twenty_annotators_at_once_give_every_item_exactly_its_votes(lead):
    project = make_project(lead=lead, name="Busy afternoon", votes_per_item=VOTES_PER_ITEM)
    make_items(project, ITEMS)
    people: stdlib_queue.Queue = stdlib_queue.Queue()
    for person in members(project, ANNOTATORS, prefix="busy"):
        people.put(person)
    lock = threading.Lock()
    created: list[int] = []
    retried: Counter = Counter()
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def submit(person, claim, key):
        try:
            return votes.submit_annotation(
                annotator=person,
                item=claim.item,
                round_=claim.round,
                labels=MSED_LABELS,
                inference_order=MSED_ORDER,
                client_key=key,
                duration_ms=1000,
            )
        finally:
            if threading.current_thread().name.startswith("retry"):
                connection.close()

    def annotate():
        try:
            start.wait()
            while True:
                try:
                    person = people.get_nowait()
                except stdlib_queue.Empty:
                    return
                n = 0
                while (claim := queue.claim_next_item(annotator=person, project=project)) is not None:
                    n += 1
                    key = uuid.uuid4()
                    if n % 10 == 0:
                        # A retry racing its own first attempt (a double-clicked
                        # submit): both run at once with one key.
                        twin_result = []
                        twin = threading.Thread(
                            name="retry", target=lambda: twin_result.append(submit(person, claim, key))
                        )
                        twin.start()
                        result = submit(person, claim, key)
                        twin.join()
                        results = [result, *twin_result]
                        assert sorted(r.created for r in results) == [False, True]
                        assert len({r.annotation.pk for r in results}) == 1
                        with lock:
                            retried["racing"] += 1
                    else:
                        result = submit(person, claim, key)
                    if n % 7 == 0:  # a retry after a lost response
                        again = submit(person, claim, key)
                        assert not again.created and again.annotation.pk == result.annotation.pk
                        with lock:
                            retried["later"] += 1
                    with lock:
                        created.append(result.annotation.pk)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=annotate) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert retried["racing"] > 0 and retried["later"] > 0

    # No submission lost, none duplicated.
    assert len(created) == len(set(created)) == ITEMS * VOTES_PER_ITEM
    assert Annotation.objects.count() == ITEMS * VOTES_PER_ITEM
    assert Vote.objects.count() == ITEMS * VOTES_PER_ITEM * 3
    # Every item: exactly five votes from five different people, counters right, no claim left.
    per_item = Annotation.objects.values("item").annotate(n=Count("id"), people=Count("annotator", distinct=True))
    assert {(row["n"], row["people"]) for row in per_item} == {(VOTES_PER_ITEM, VOTES_PER_ITEM)}
    assert set(Item.objects.values_list("vote_count", "claim_count")) == {(VOTES_PER_ITEM, 0)}
    assert not Claim.objects.exists()
    assert Gold.objects.filter(votes_total=VOTES_PER_ITEM).count() == ITEMS * 3


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_page_fetching_ahead_while_it_submits_or_skips_never_deadlocks(lead):
    # The labelling page submits (or skips) the item on screen while it
    # fetches the next one: two requests of one annotator at once, both
    # touching that annotator's claims. Six annotators do that 40 times each.
    project = make_project(lead=lead, name="Fetch ahead", votes_per_item=3)
    make_items(project, 120)
    people = members(project, 6, prefix="ahead")
    errors: list[BaseException] = []
    start = threading.Barrier(len(people))

    def both(first, second):
        out: list = [None, None]

        def run(i, fn):
            try:
                out[i] = fn()
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        twin = threading.Thread(target=run, args=(1, second))
        twin.start()
        run(0, first)
        twin.join(timeout=60)
        return out

    def page(person):
        try:
            start.wait()
            current = queue.claim_next_item(annotator=person, project=project)
            for n in range(40):
                if current is None:
                    return
                claim = current
                if n % 5 == 4:

                    def act():
                        return votes.skip_item(annotator=person, item=claim.item, round_=claim.round, reason="blurry")
                else:
                    act = lambda: votes.submit_annotation(  # noqa: E731
                        annotator=person,
                        item=claim.item,
                        round_=claim.round,
                        labels=MSED_LABELS,
                        inference_order=MSED_ORDER,
                        client_key=uuid.uuid4(),
                        duration_ms=900,
                    )
                _, current = both(
                    act, lambda: queue.claim_next_item(annotator=person, project=project, current_item_id=claim.item_id)
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=page, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert Annotation.objects.count() > 100
    # Counters agree with the rows: no vote or claim lost or counted twice.
    votes_per_item = dict(Annotation.objects.values_list("item").annotate(n=Count("id")))
    claims_per_item = dict(Claim.objects.values_list("item").annotate(n=Count("id")))
    for item_id, vote_count, claim_count in Item.objects.filter(project=project).values_list(
        "id", "vote_count", "claim_count"
    ):
        assert (vote_count, claim_count) == (votes_per_item.get(item_id, 0), claims_per_item.get(item_id, 0))
        assert vote_count + claim_count <= 3
