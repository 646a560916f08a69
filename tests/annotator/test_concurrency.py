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
from tests.annotator.test_queue import MSED_LABELS, MSED_ORDER, make_items, members
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
                annotator=person, item=claim.item, round_=claim.round, labels=MSED_LABELS,
                inference_order=MSED_ORDER, client_key=key, duration_ms=1000,
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
                        twin = threading.Thread(name="retry", target=lambda: twin_result.append(submit(person, claim, key)))
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
