"""The queue: claims as leases, rounds and order strategies.

The builders shared with the other workspace tests are in tests/annotator/factories.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotator.errors import NotAllowed
from annotator.models import Annotation, Claim, Item, Membership, Project, Skip
from annotator.selectors import labelling
from annotator.services import queue, votes
from tests.annotator.factories import claim_and_submit, make_items, make_suggestions, members, set_counts, submit
from tests.factories import make_member, make_project

Round = Annotation.Round


@pytest.fixture
def items(project):
    return make_items(project, 6)


# ---- claims


def test_a_claim_reserves_a_slot_of_the_item(annotator, project, items):
    claim = queue.claim_next_item(annotator=annotator, project=project)
    assert claim.item == items[0]
    assert claim.round == Round.MULTIMODAL
    assert claim.expires_at > timezone.now() + timedelta(minutes=project.claim_minutes - 1)
    assert Item.objects.get(pk=items[0].pk).claim_count == 1


def test_asking_again_returns_the_claim_already_held(annotator, project, items):
    first = queue.claim_next_item(annotator=annotator, project=project)
    again = queue.claim_next_item(annotator=annotator, project=project)
    assert again.pk == first.pk
    assert Claim.objects.filter(annotator=annotator).count() == 1


def test_fetching_ahead_holds_at_most_two_claims(annotator, project, items):
    current = queue.claim_next_item(annotator=annotator, project=project)
    ahead = queue.claim_next_item(annotator=annotator, project=project, current_item_id=current.item_id)
    ahead_again = queue.claim_next_item(annotator=annotator, project=project, current_item_id=current.item_id)
    assert ahead.item_id != current.item_id
    assert ahead_again.pk == ahead.pk
    assert Claim.objects.filter(annotator=annotator).count() == 2


def test_an_item_is_not_handed_out_beyond_its_votes_per_item(lead, annotator):
    project = make_project(lead=lead, name="Two votes", votes_per_item=2)
    items = make_items(project, 2)
    people = members(project, 3)
    claims = [queue.claim_next_item(annotator=p, project=project) for p in people]
    assert [c.item_id for c in claims] == [items[0].pk, items[0].pk, items[1].pk]


def test_an_annotator_never_gets_an_item_they_annotated(annotator, project):
    make_items(project, 2)
    first = claim_and_submit(annotator, project).annotation.item_id
    second = claim_and_submit(annotator, project).annotation.item_id
    assert first != second
    assert queue.claim_next_item(annotator=annotator, project=project) is None


def test_an_expired_claim_returns_to_the_queue(lead):
    project = make_project(lead=lead, name="One vote", votes_per_item=1)
    (item,) = make_items(project, 1)
    slow, quick = members(project, 2)
    claim = queue.claim_next_item(annotator=slow, project=project)
    assert queue.claim_next_item(annotator=quick, project=project) is None
    Claim.objects.filter(pk=claim.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    taken = queue.claim_next_item(annotator=quick, project=project)
    assert taken.item_id == item.pk
    assert not Claim.objects.filter(annotator=slow).exists()
    assert Item.objects.get(pk=item.pk).claim_count == 1


def test_a_heartbeat_renews_the_lease(annotator, project, items):
    claim = queue.claim_next_item(annotator=annotator, project=project)
    Claim.objects.filter(pk=claim.pk).update(expires_at=timezone.now() + timedelta(seconds=5))
    expires_at = queue.renew_claims(annotator=annotator, project=project)
    assert expires_at > timezone.now() + timedelta(minutes=9)
    assert Claim.objects.get(pk=claim.pk).expires_at == expires_at


def test_a_heartbeat_after_the_claim_was_swept_says_so(annotator, other_annotator, project, items):
    claim = queue.claim_next_item(annotator=annotator, project=project)
    Claim.objects.filter(pk=claim.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    queue.release_expired_claims(project=project)
    assert queue.renew_claims(annotator=annotator, project=project) is None


def test_a_skipped_item_comes_back_only_when_nothing_else_is_left(annotator, project):
    first, second = make_items(project, 2)
    claim = queue.claim_next_item(annotator=annotator, project=project)
    votes.skip_item(annotator=annotator, item=claim.item, reason="The image does not load")
    assert Item.objects.get(pk=first.pk).claim_count == 0
    assert queue.claim_next_item(annotator=annotator, project=project).item_id == second.pk
    submit(annotator, Claim.objects.get(annotator=annotator))
    assert queue.claim_next_item(annotator=annotator, project=project).item_id == first.pk
    assert Skip.objects.get(annotator=annotator).reason == "The image does not load"


def test_outsiders_cannot_claim(outsider, project, items):
    with pytest.raises(NotAllowed):
        queue.claim_next_item(annotator=outsider, project=project)


def test_claiming_costs_the_same_number_of_queries_on_a_bigger_project(lead):
    small = make_project(lead=lead, name="Small")
    big = make_project(lead=lead, name="Big")
    make_items(small, 20)
    make_items(big, 400, start=1000)
    counts = []
    for project in (small, big):
        people = members(project, 3, prefix=project.slug)
        for person in people[:2]:
            for _ in range(3):
                claim_and_submit(person, project)
        with CaptureQueriesContext(connection) as ctx:
            queue.claim_next_item(annotator=people[2], project=project)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


# ---- order strategies


def test_finish_first_hands_out_the_item_with_the_most_votes(annotator, project, items):
    set_counts(items[3], vote_count=3)
    set_counts(items[1], vote_count=1)
    set_counts(items[4], vote_count=project.votes_per_item)  # full
    assert queue.claim_next_item(annotator=annotator, project=project).item_id == items[3].pk


def test_finish_first_skips_items_whose_slots_are_all_claimed(annotator, project, items):
    set_counts(items[3], vote_count=3, claim_count=2)
    set_counts(items[1], vote_count=2)
    assert queue.claim_next_item(annotator=annotator, project=project).item_id == items[1].pk


def test_sequential_hands_out_items_in_import_order(annotator, project, items):
    Project.objects.filter(pk=project.pk).update(queue_order=Project.QueueOrder.SEQUENTIAL)
    project.refresh_from_db()
    set_counts(items[0], vote_count=project.votes_per_item)
    set_counts(items[3], vote_count=3)
    assert queue.claim_next_item(annotator=annotator, project=project).item_id == items[1].pk


def test_random_starts_at_a_random_id_and_takes_the_next_open_item(annotator, project, items, monkeypatch):
    Project.objects.filter(pk=project.pk).update(queue_order=Project.QueueOrder.RANDOM)
    project.refresh_from_db()
    set_counts(items[3], vote_count=project.votes_per_item)
    monkeypatch.setattr(queue.random, "randint", lambda lo, hi: items[3].pk)
    assert queue.claim_next_item(annotator=annotator, project=project).item_id == items[4].pk


def test_random_wraps_around_to_the_first_open_item(annotator, project, items, monkeypatch):
    Project.objects.filter(pk=project.pk).update(queue_order=Project.QueueOrder.RANDOM)
    project.refresh_from_db()
    set_counts(items[5], vote_count=project.votes_per_item)
    monkeypatch.setattr(queue.random, "randint", lambda lo, hi: items[5].pk)
    assert queue.claim_next_item(annotator=annotator, project=project).item_id == items[0].pk


def test_uncertain_hands_out_the_item_the_model_is_least_sure_about(annotator, project, items):
    Project.objects.filter(pk=project.pk).update(queue_order=Project.QueueOrder.UNCERTAIN)
    project.refresh_from_db()
    make_suggestions(project, {items[0]: 0.3, items[2]: 2.5, items[4]: 1.1})
    set_counts(items[1], vote_count=3)
    first = queue.claim_next_item(annotator=annotator, project=project)
    second = queue.claim_next_item(annotator=annotator, project=project, current_item_id=first.item_id)
    assert [first.item_id, second.item_id] == [items[2].pk, items[4].pk]


def test_uncertain_falls_back_to_finish_first_without_suggestions(annotator, project, items):
    Project.objects.filter(pk=project.pk).update(queue_order=Project.QueueOrder.UNCERTAIN)
    project.refresh_from_db()
    set_counts(items[2], vote_count=2)
    assert queue.claim_next_item(annotator=annotator, project=project).item_id == items[2].pk


# ---- unimodal rounds


@pytest.fixture
def unimodal(lead):
    project = make_project(lead=lead, name="CH-SIMS style", unimodal_rounds=True, votes_per_item=2)
    both = make_items(project, 2, image=True)
    text_only = make_items(project, 1, start=10)
    return project, both, text_only


def test_unimodal_rounds_go_text_then_image_then_both(unimodal):
    project, (a, b), (text_only,) = unimodal
    ana = make_member(project, username="ana-uni")
    seen = []
    while (claim := queue.claim_next_item(annotator=ana, project=project)) is not None:
        seen.append((claim.item_id, claim.round))
        submit(ana, claim)
    assert seen == [
        (a.pk, Round.TEXT),
        (b.pk, Round.TEXT),
        (a.pk, Round.IMAGE),
        (b.pk, Round.IMAGE),
        (a.pk, Round.MULTIMODAL),
        (b.pk, Round.MULTIMODAL),
        (text_only.pk, Round.MULTIMODAL),
    ]


def test_the_image_round_is_only_for_those_who_did_the_text_round(unimodal):
    project, (a, b), _ = unimodal
    ana, otto, tess = (make_member(project, username=n) for n in ("ana-u", "otto-u", "tess-u"))
    for person in (ana, otto):
        for _ in range(2):
            claim_and_submit(person, project)
    # Both items have their two text votes: tess gets no text round, and no
    # image round of items whose text she did not label.
    claim = queue.claim_next_item(annotator=tess, project=project)
    assert claim.round == Round.MULTIMODAL and claim.item.text and claim.item.image_id is None


def test_an_annotator_cannot_load_the_image_before_the_text_round(unimodal):
    project, (a, _), _ = unimodal
    ana = make_member(project, username="ana-img")
    assert not labelling.can_see_image(ana, a, project=project)
    claim_and_submit(ana, project)
    assert labelling.can_see_image(ana, a, project=project)


def test_the_text_round_payload_carries_no_image_and_the_image_round_no_text(unimodal):
    project, (a, _), _ = unimodal
    ana = make_member(project, username="ana-view")
    text_view = labelling.get_item_view(a, Round.TEXT, project=project)
    image_view = labelling.get_item_view(a, Round.IMAGE, project=project)
    assert text_view["image_url"] is None and text_view["text"] == a.text
    assert image_view["text"] is None and image_view["image_url"].endswith(f"/items/{a.pk}/image/")
    assert ana  # the views depend on the round only


def test_progress_counts_my_annotations_against_my_share(annotator, other_annotator, project, items):
    claim_and_submit(annotator, project)
    progress = labelling.get_progress(annotator, project)
    # 6 items x 5 votes shared by 2 annotators, capped at 6 (one vote each per item).
    assert progress == {"mine_done": 1, "mine_share": 6, "project_done": 0, "project_total": 6}


def test_leads_can_annotate_too(lead, project, items):
    assert queue.claim_next_item(annotator=lead, project=project) is not None
    assert Membership.objects.get(user=lead, project=project).role == Membership.Role.LEAD


def test_finish_first_looks_past_a_head_of_items_the_annotator_already_did(lead):
    # More of my own half-voted items than the head query reads at once
    # (queue.CHUNK): they top the order, so the claim must fall back to the
    # full search and hand me an item I have not labelled.
    project = make_project(lead=lead, name="Deep head")
    make_items(project, queue.CHUNK + 10)
    me, other = members(project, 2)
    mine = {claim_and_submit(me, project).annotation.item_id for _ in range(queue.CHUNK + 2)}
    claim = queue.claim_next_item(annotator=me, project=project)
    assert claim.item_id not in mine and claim.item.vote_count == 0
    # Someone else gets the most voted of them first.
    assert queue.claim_next_item(annotator=other, project=project).item_id == min(mine)
