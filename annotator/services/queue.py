"""The annotation queue: which item an annotator labels next, held as a lease.

(Just over 600 lines: the orders, the control items and the SQL they share
read best in one place, and the docstring below is their map.)

Claims
    `claim_next_item` hands an annotator an item they have not annotated in
    the round and whose votes plus claims are below `votes_per_item`, and
    records a `Claim` (a lease of `Project.claim_minutes`) that reserves one
    of the item's slots. Asking again returns the claim already held, so a
    reload never takes a second item; the labelling page, which fetches the
    next item while the current one is on screen, passes `current_item_id`
    and so holds at most two claims. Any action renews the lease (and the
    page sends a heartbeat); submit and skip end it; an expired claim is
    swept, which gives its slot back to the queue. What the page shows of
    a claim is read by annotator.selectors.labelling.

Rounds (Project.unimodal_rounds; CH-SIMS 3.2: text first, then the other
modality, multimodal last, each seeing only its own modality)
    An annotator works round by round. They get text-round items while any
    is open to them; then image-round items, which are only items whose text
    round *they* did; then multimodal-round items, only items whose image
    round they did. So the same people give an item its three judgements,
    and between two rounds of one item the annotator labels the rest of the
    earlier round, which keeps the modalities apart in memory. Unimodal
    rounds concern items with both modalities: an item with only text or
    only an image has just the multimodal round. Items skipped in any round
    come back last, oldest skip first. Without unimodal rounds there is only
    the multimodal round.

Order strategies (Project.queue_order), within a round
    finish_first  items with the most votes first (gold forms early), in import
                  order within a vote count; at most WINDOW partly voted items
                  are looked at before the unstarted ones, so an annotator whose
                  own half-finished items fill the top of the queue is not
                  slowed by them (they get fresh items; others finish those).
    random        a random starting point in id space between the first and
                  the last open item, then the next open ids (wrapping around).
    sequential    import (id) order.
    uncertain     highest total entropy over tasks of the current suggestions
                  (latest succeeded prediction run of the pre-labeller; stored
                  as Item.uncertainty) first, then finish_first for the items
                  the model has not scored. Control items are never in it.

Control items (Item.is_control, issue 14 section 3)
    The orders above never hand out a control item: every seek, the head
    of the finish-first order and the uncertain order skip them (NOT
    is_control), and so do an annotator's skips. When Project.control_every
    is N > 0, each new claim is, with probability 1/N (an independent draw,
    `control_rng`, so the rate is "about one in N" and nobody can count their
    way to the next one), a control item of the project that this annotator
    has never annotated, claimed or skipped, chosen at random among those
    (_lock_control); when none is left for them, the claim goes on as usual.
    The unique (item, annotator, round) annotation keeps it to once per
    person. A control item has no "room" test: its claims are counted like
    any claim (and given back alike), but its votes are not (votes.py), so
    it never fills up. Only the multimodal round of projects without
    unimodal rounds mixes them in. The claim looks like any other: the page
    and its JSON are the same (annotator.selectors.labelling).

Cost
    Candidate ids are read in small batches by index seeks on (project,
    votes of the round, id), one seek per vote level, so full items are never
    read and nothing is sorted or counted over the project. A locking query
    then checks the first CHUNK of them (room left, no annotation, claim or
    skip of this annotator: NOT EXISTS probes of unique indexes) and locks
    the first eligible one; the rest of the batch only if none was. Vote and
    claim counts live on the item row and change in the transaction that
    holds its lock. The `uncertain` order seeks (project, uncertainty, id)
    the same way: the model's total entropy is stored on the item
    (Item.uncertainty, written by inference when its current run changes),
    so no claim reads or sorts suggestions. A claim's transaction
    commits without waiting for the disk (see _lease_commit); a vote's does.

Locks
    Every transaction that changes an annotator's claims (claim, submit,
    skip) first renews them all, locking them in id order (renew_held_claims): two
    requests of one annotator (the page fetching ahead while submitting)
    queue there instead of deadlocking. Item rows come after claim rows,
    and a submit takes its item's lock last, for its final two statements.
    The claim itself is a race between annotators asking at once: the
    locking query uses SELECT ... FOR UPDATE SKIP LOCKED, so two requests
    never take the same row and never wait for one, and PostgreSQL
    re-checks "votes + claims < votes_per_item" on the latest row version
    when the row changed since the query's snapshot. The expiry sweep takes
    its locks with SKIP LOCKED too and never waits.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from functools import lru_cache

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from .. import loop_orm, selectors, sql
from ..errors import DomainError
from ..models import HAS_BOTH_MODALITIES, HAS_ONE_MODALITY, ROUND_COUNTERS, Annotation, Claim, Item, Project, Skip

Round = Annotation.Round

BATCH = 40  # candidate ids read per index seek
CHUNK = 10  # candidates the first locking query checks
WINDOW = 160  # partly voted items finish_first looks at before unstarted ones
SWEEP_LIMIT = 50  # expired claims released per request

# Draws whether a claim is a control item (see "Control items" above); tests seed it.
control_rng = random.Random()


# --------------------------------------------------------------------------
# Claims


def claim_next_item(*, annotator, project: Project, current_item_id: int | None = None) -> Claim | None:
    """The annotator's next claim in `project`, or None when nothing is left for them.

    Returns the annotator's oldest claim if they hold one (other than on
    `current_item_id`, the item the page shows while fetching ahead);
    otherwise claims a new item following the project's rounds and order
    (see the module docstring). Every call renews the annotator's leases.

    Runs two short transactions: a sweep of expired claims (which never
    waits on a lock), then the claim.
    """
    selectors.require_member(annotator, project)
    release_expired_claims(project=project)
    with transaction.atomic():
        _lease_commit()
        now = timezone.now()
        expires_at = now + _lease(project)
        held = [c for c in renew_held_claims(annotator=annotator, project=project, now=now) if c[1] != current_item_id]
        if held:
            return _load_claim(min(held)[0])
        found = _find_eligible(project, annotator)
        if found is None:
            return None
        item, round_, include_skipped = found
        _, claim_field = ROUND_COUNTERS[round_]
        claim = Claim(
            project=project, item=item, annotator=annotator, round=round_, created_at=now, expires_at=expires_at
        )
        try:
            if not sql.hand_written():
                loop_orm.insert_claim(claim)
            else:
                claim.pk = sql.fetchone(
                    f"INSERT INTO {Claim._meta.db_table} (project_id, item_id, annotator_id, round, created_at, expires_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                    [project.pk, item.pk, annotator.pk, round_, sql.dt(now), sql.dt(expires_at)],
                )[0]
        except IntegrityError as exc:  # the same annotator took it from another tab a moment ago
            # (raising out of the atomic block rolls the whole claim back)
            raise DomainError("You just took this item in another tab or window; reload to continue there.") from exc
        if not sql.hand_written():
            loop_orm.count_claim(item.pk, claim_field)
        else:
            sql.execute(f"UPDATE {Item._meta.db_table} SET {claim_field} = {claim_field} + 1 WHERE id = %s", [item.pk])
            claim._state.adding, claim._state.db = False, connection.alias
        setattr(item, claim_field, getattr(item, claim_field) + 1)
        claim.previously_skipped = include_skipped
        return claim


def _find_eligible(project: Project, annotator) -> tuple[Item, str, bool] | None:
    """Lock the annotator's next item: (item, round, taken from their skips)."""
    if _draw_control(project):
        item = _lock_control(project, annotator)
        if item is not None:
            return item, Round.MULTIMODAL, False
    if not project.unimodal_rounds and project.queue_order == Project.QueueOrder.FINISH_FIRST:
        # The usual case, in one statement: the head of the finish-first order.
        item = _lock_head(project, annotator)
        if item is not None:
            return item, Round.MULTIMODAL, False
    for round_, include_skipped, batches in _candidate_sources(project, annotator):
        item = _lock_first_eligible(
            batches, project=project, annotator=annotator, round_=round_, include_skipped=include_skipped
        )
        if item is not None:
            return item, round_, include_skipped
    return None


def _draw_control(project: Project) -> bool:
    """Whether this claim is to be a control item: with probability 1/control_every."""
    every = project.control_every
    return every > 0 and not project.unimodal_rounds and control_rng.random() * every < 1


@lru_cache(maxsize=4)
def _lock_control_sql(skip_locked: bool) -> str:
    """Lock one random control item of the project that the annotator has
    never annotated, claimed or skipped (a scan of the item_control index;
    control items are few, and this runs on about 1 in control_every claims)."""
    eligible = _eligible_sql(Round.MULTIMODAL, False, room=False)  # control votes are not counted
    return (
        f"SELECT {sql.columns(Item, 'i')} FROM {Item._meta.db_table} i WHERE i.project_id = %s AND i.is_control"
        f" AND {eligible} ORDER BY random() LIMIT 1" + _for_update(skip_locked)
    )


def _lock_control(project: Project, annotator) -> Item | None:
    if not sql.hand_written():
        return loop_orm.lock_control(project, annotator, round_=Round.MULTIMODAL)
    mine = [annotator.pk, Round.MULTIMODAL]
    query = _lock_control_sql(connection.features.has_select_for_update_skip_locked)
    row = sql.fetchone(query, [project.pk, *mine, *mine, *mine])
    return sql.from_row(Item, row) if row else None


def _load_claim(claim_id: int) -> Claim:
    """A claim with its item, in one query."""
    if not sql.hand_written():
        return loop_orm.load_claim(claim_id)
    row = sql.fetchone(
        f"SELECT {sql.columns(Claim, 'c')}, {sql.columns(Item, 'i')} FROM {Claim._meta.db_table} c"
        f" JOIN {Item._meta.db_table} i ON i.id = c.item_id WHERE c.id = %s",
        [claim_id],
    )
    claim = sql.from_row(Claim, row)
    claim.item = sql.from_row(Item, row, sql.width(Claim))
    return claim


def renew_claims(*, annotator, project: Project) -> datetime | None:
    """Extend the annotator's leases in `project` (the page's heartbeat).

    Returns the new expiry, or None when they hold no claim (it expired and
    was swept, or they hold nothing)."""
    selectors.require_member(annotator, project)
    now = timezone.now()
    if renew_held_claims(annotator=annotator, project=project, now=now):
        return now + _lease(project)
    return None


def release_expired_claims(*, project: Project, limit: int = SWEEP_LIMIT) -> int:
    """Give the slots of expired claims in `project` back to the queue.

    Called before every claim (an index probe when nothing expired); a
    periodic task may call it too. Items locked right now are left for the
    next sweep. Returns the number of claims released."""
    now = timezone.now()
    if not sql.hand_written():
        expired = loop_orm.expired_claims(project, now, limit)
    else:
        expired = sql.fetchall(  # an index probe (claim_expiry) on every claim
            f"SELECT id, item_id, round FROM {Claim._meta.db_table} WHERE project_id = %s AND expires_at < %s LIMIT %s",
            [project.pk, sql.dt(now), limit],
        )
    if not expired:
        return 0
    with transaction.atomic():
        _lease_commit()
        # The sweep takes its locks (items, then claims) with SKIP LOCKED and
        # so never waits: a row being submitted, skipped or renewed right now
        # is left for the next sweep, and the sweep cannot deadlock with the
        # transactions it passes over.
        items = set(
            Item.objects.filter(pk__in={item_id for _, item_id, _ in expired})
            .order_by("pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
        )
        claims = list(
            Claim.objects.filter(pk__in=[c for c, item_id, _ in expired if item_id in items], expires_at__lt=now)
            .order_by("pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", "item_id", "round")
        )
        Claim.objects.filter(pk__in=[pk for pk, _, _ in claims]).delete()
        for _, item_id, round_ in claims:
            _, claim_field = ROUND_COUNTERS[round_]
            Item.objects.filter(pk=item_id).update(**{claim_field: F(claim_field) - 1})
    return len(claims)


def _lease_commit() -> None:
    """Commit this transaction without waiting for the disk (PostgreSQL).

    Claims are leases: if the database crashed in the few milliseconds
    before the write reached the disk, the claim would be gone and the item
    simply back in the queue. Votes are never written this way (their
    transactions keep synchronous commit), so no acknowledged vote can be lost."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def _lease(project: Project) -> timedelta:
    return timedelta(minutes=project.claim_minutes or 10)


def renew_held_claims(*, annotator, project: Project, now: datetime) -> list[tuple[int, int, str]]:
    """Extend the annotator's leases in `project`, locking their claim rows
    in id order (see Locks above); returns the claims held, as (claim id,
    item id, round). Every transaction that changes the annotator's claims
    (claim, submit, skip) calls this first."""
    if not sql.hand_written():
        return loop_orm.renew(annotator=annotator, project=project, expires_at=now + _lease(project))
    # A conditional update, not read-then-write: it races with the sweep's
    # conditional delete, and whichever commits first wins cleanly.
    return sql.fetchall(
        _renew_sql(connection.features.has_select_for_update), [sql.dt(now + _lease(project)), project.pk, annotator.pk]
    )


@lru_cache(maxsize=4)
def _renew_sql(for_update: bool) -> str:
    claim = Claim._meta.db_table
    return (
        f"UPDATE {claim} SET expires_at = %s WHERE id IN (SELECT id FROM {claim} WHERE project_id = %s AND annotator_id = %s"
        f" ORDER BY id{' FOR UPDATE' if for_update else ''}) RETURNING id, item_id, round"
    )


def release_claim(*, item_id: int, annotator, round_: str) -> bool:
    """Delete a claim and give back its slot; True if there was one. Call
    inside the transaction, after renew_held_claims (the item row is locked
    after the claim rows, as everywhere)."""
    if Claim.objects.filter(item_id=item_id, annotator=annotator, round=round_).delete()[0]:
        _, claim_field = ROUND_COUNTERS[round_]
        Item.objects.filter(pk=item_id).update(**{claim_field: F(claim_field) - 1})
        return True
    return False


# --------------------------------------------------------------------------
# Candidates


def _candidate_sources(project: Project, annotator) -> Iterator[tuple[str, bool, Iterator[list[int]]]]:
    """(round, include_skipped, batches of candidate ids in preference order)."""
    if not project.unimodal_rounds:
        yield Round.MULTIMODAL, False, _order_batches(project, Round.MULTIMODAL, modality=None)
    else:
        yield Round.TEXT, False, _order_batches(project, Round.TEXT, modality="both")
        yield Round.IMAGE, False, _own_round_batches(project, annotator, previous=Round.TEXT)
        yield Round.MULTIMODAL, False, _own_round_batches(project, annotator, previous=Round.IMAGE)
        yield Round.MULTIMODAL, False, _order_batches(project, Round.MULTIMODAL, modality="one")
    for round_ in project.rounds:
        yield round_, True, _skipped_batches(project, annotator, round_)


# Which items a round scans: every item, items with both modalities (text
# round of unimodal projects) or with one (their multimodal-only items). The
# SQL repeats the partial indexes' predicates so PostgreSQL can use them.
MODALITY_Q = {None: Q(), "both": HAS_BOTH_MODALITIES, "one": HAS_ONE_MODALITY}
MODALITY_SQL = {
    None: "",
    "both": " AND image_id IS NOT NULL AND NOT (text = '')",
    "one": " AND (image_id IS NULL OR text = '')",
}

# The statements below run on every claim. They are plain SQL because
# building them through the ORM (three NOT EXISTS subqueries, a union of
# seeks, an ordering by position) cost more than running them.


def _eligible_sql(round_: str, include_skipped: bool, *, room: bool = True) -> str:
    """The conditions on a candidate `i`: room left (unless not `room`), and
    no annotation, claim (or, unless include_skipped, skip) of this annotator
    in the round. Parameters: votes_per_item (with `room`), then (annotator,
    round) per NOT EXISTS."""
    vote_field, claim_field = ROUND_COUNTERS[round_]
    annotation, claim, skip = (m._meta.db_table for m in (Annotation, Claim, Skip))
    # OFFSET keeps PostgreSQL from turning these NOT EXISTS into anti-joins,
    # which (with stale statistics) read all of this annotator's annotations:
    # each stays a probe of a unique (item, annotator, round) index per
    # candidate, so the cost is bounded by the chunk, not by their history.
    mine = "WHERE t.item_id = i.id AND t.annotator_id = %s AND t.round = %s LIMIT 1 OFFSET 0"
    skipped = f" AND NOT EXISTS (SELECT 1 FROM {skip} t {mine})" if include_skipped is False else ""
    return (
        f"i.{vote_field} + i.{claim_field} < %s AND " if room else ""
    ) + f"NOT EXISTS (SELECT 1 FROM {annotation} t {mine}) AND NOT EXISTS (SELECT 1 FROM {claim} t {mine}){skipped}"


def _eligible_params(project: Project, annotator, round_: str, include_skipped: bool) -> list:
    mine = [annotator.pk, round_]
    return [project.votes_per_item, *mine, *mine, *(mine if not include_skipped else [])]


def _for_update(skip_locked: bool) -> str:
    # Race: every annotator asking now reads the same candidates. SKIP
    # LOCKED passes over a row another request is claiming (its counters
    # change when that commits), so no two take one slot; PostgreSQL
    # re-checks the room left on the latest version of a row that changed.
    return " FOR UPDATE SKIP LOCKED" if skip_locked else ""


@lru_cache(maxsize=256)
def _lock_sql(round_: str, include_skipped: bool, n: int, skip_locked: bool) -> str:
    """Lock the first eligible of n candidate ids, in the order given."""
    positions = " ".join(f"WHEN %s THEN {i}" for i in range(n))
    return (
        f"SELECT {sql.columns(Item, 'i')} FROM {Item._meta.db_table} i WHERE i.id IN ({', '.join(['%s'] * n)})"
        f" AND {_eligible_sql(round_, include_skipped)}"
        f" ORDER BY CASE i.id {positions} END LIMIT 1" + _for_update(skip_locked)
    )


@lru_cache(maxsize=8)
def _lock_head_sql(skip_locked: bool) -> str:
    """Seek and lock in one statement: the first eligible of the CHUNK first
    open items of the finish-first order (most votes first, then import
    order), read by one scan of the item_queue_finish_first index."""
    vote_field, claim_field = ROUND_COUNTERS[Round.MULTIMODAL]
    return (
        f"SELECT {sql.columns(Item, 'i')} FROM {Item._meta.db_table} i WHERE i.id IN"
        f" (SELECT id FROM {Item._meta.db_table} WHERE project_id = %s AND {vote_field} < %s"
        f" AND {vote_field} + {claim_field} < %s AND NOT is_control ORDER BY {vote_field} DESC, id LIMIT {CHUNK})"
        f" AND {_eligible_sql(Round.MULTIMODAL, False)}"
        f" ORDER BY i.{vote_field} DESC, i.id LIMIT 1" + _for_update(skip_locked)
    )


def _lock_head(project: Project, annotator) -> Item | None:
    if not sql.hand_written():
        counters = ROUND_COUNTERS[Round.MULTIMODAL]
        return loop_orm.lock_head(project, annotator, counters=counters, chunk=CHUNK, round_=Round.MULTIMODAL)
    n = project.votes_per_item
    query = _lock_head_sql(connection.features.has_select_for_update_skip_locked)
    row = sql.fetchone(query, [project.pk, n, n, *_eligible_params(project, annotator, Round.MULTIMODAL, False)])
    return sql.from_row(Item, row) if row else None


def _lock_first_eligible(
    batches: Iterable[list[int]], *, project: Project, annotator, round_: str, include_skipped: bool
) -> Item | None:
    """Lock and return the first candidate with room that this annotator has
    not annotated, claimed (or, unless include_skipped, skipped) in the round."""
    skip_locked = connection.features.has_select_for_update_skip_locked
    eligible = _eligible_params(project, annotator, round_, include_skipped)
    for batch in batches:
        # The first few candidates usually do; if not (say an annotator whose
        # own half-done items fill the top of the queue), the rest of the
        # batch in one query rather than many.
        for chunk in (batch[:CHUNK], batch[CHUNK:]):
            if not chunk:
                continue
            if not sql.hand_written():
                item = loop_orm.lock_first_eligible(
                    chunk,
                    project,
                    annotator,
                    counters=ROUND_COUNTERS[round_],
                    round_=round_,
                    include_skipped=include_skipped,
                )
                if item is not None:
                    return item
                continue
            row = sql.fetchone(_lock_sql(round_, include_skipped, len(chunk), skip_locked), [*chunk, *eligible, *chunk])
            if row is not None:
                return sql.from_row(Item, row)
    return None


def _order_batches(project: Project, round_: str, *, modality: str | None) -> Iterator[list[int]]:
    order = project.queue_order
    if order == Project.QueueOrder.UNCERTAIN:
        yield from _uncertain_batches(project, round_, modality)
        yield from _finish_first_batches(project, round_, modality)
    elif order == Project.QueueOrder.RANDOM:
        yield from _random_batches(project, round_, modality)
    elif order == Project.QueueOrder.SEQUENTIAL:
        yield from _id_order_batches(project, round_, modality, after=0)
    else:
        yield from _finish_first_batches(project, round_, modality)


def _level_seek(
    project: Project, round_: str, modality: str | None, levels: Iterable[int], *, after: int, upto: int | None = None
) -> list[tuple[int, int]]:
    """One query: up to BATCH ids per vote level, each above `after` (and
    at most `upto`), in id order; returns [(id, level)]. Each branch is a
    range scan of an index (project, votes of the round, id)."""
    vote_field, _ = ROUND_COUNTERS[round_]
    levels = list(levels)
    if not levels:
        return []
    if not sql.hand_written():
        return loop_orm.level_seek(
            project, vote_field, MODALITY_Q[modality], levels, after=after, upto=upto, batch=BATCH
        )
    query = _seek_sql(vote_field, modality, len(levels), bounded=upto is not None)
    return sql.fetchall(query, _seek_params(project, levels, after=after, upto=upto))


@lru_cache(maxsize=256)
def _seek_sql(vote_field: str, modality: str | None, n_levels: int, *, bounded: bool) -> str:
    """A union of n_levels seeks, each up to BATCH (id, votes) of one vote
    level above an id (and, bounded, at most another)."""
    # "project = p AND votes = level AND id > after ORDER BY id", written as
    # a range of the index's own key: this runs as a prepared statement, and
    # a generic plan of the plain form walks the primary key instead (all of
    # a project's items to find a rare vote level). The row comparison can
    # only be served, in order, by the (project, votes, id) index.
    branch = (
        f"SELECT * FROM (SELECT id, {vote_field} FROM {Item._meta.db_table}"
        f" WHERE (project_id, {vote_field}, id) > (%s, %s, %s) AND (project_id, {vote_field}) <= (%s, %s)"
        f"{' AND id <= %s' if bounded else ''}{MODALITY_SQL[modality]} AND NOT is_control"
        f" ORDER BY project_id, {vote_field}, id LIMIT {BATCH}) AS level_{{n}}"
    )
    return " UNION ALL ".join(branch.format(n=n) for n in range(n_levels))


def _seek_params(project: Project, levels: Iterable[int], *, after: int, upto: int | None = None) -> list:
    params = []
    for level in levels:
        params += [project.pk, level, after, project.pk, level] + ([upto] if upto is not None else [])
    return params


def _finish_first_batches(project: Project, round_: str, modality: str | None) -> Iterator[list[int]]:
    n = project.votes_per_item
    partial_levels = list(range(n - 1, 0, -1))
    # 1. A window of partly voted items, most votes first.
    rows = sorted(_level_seek(project, round_, modality, partial_levels, after=0), key=lambda r: (-r[1], r[0]))[:WINDOW]
    if rows:
        yield [pk for pk, _ in rows]
    # 2. Unstarted items, in import order.
    after = 0
    while True:
        ids = [pk for pk, _ in _level_seek(project, round_, modality, [0], after=after)]
        if not ids:
            break
        yield ids
        after = ids[-1]
    # 3. The rest of the partly voted items (only reached near the end of a
    #    project, or by an annotator who has done all the others).
    for level in partial_levels:
        after = 0
        while True:
            ids = [pk for pk, _ in _level_seek(project, round_, modality, [level], after=after)]
            if not ids:
                break
            yield ids
            after = ids[-1]


def _id_order_batches(
    project: Project, round_: str, modality: str | None, *, after: int, upto: int | None = None
) -> Iterator[list[int]]:
    """Open items in id order from `after`: the BATCH smallest ids over all
    vote levels, then the next, without reading full items."""
    levels = range(project.votes_per_item)
    while True:
        ids = sorted(pk for pk, _ in _level_seek(project, round_, modality, levels, after=after, upto=upto))[:BATCH]
        if not ids:
            return
        yield ids
        after = ids[-1]


def _random_batches(project: Project, round_: str, modality: str | None) -> Iterator[list[int]]:
    bounds = _open_bounds(project, round_, modality)
    if bounds["lo"] is None:
        return
    start = random.randint(bounds["lo"], bounds["hi"])
    yield from _id_order_batches(project, round_, modality, after=start - 1)
    yield from _id_order_batches(project, round_, modality, after=0, upto=start - 1)


def _open_bounds(project: Project, round_: str, modality: str | None) -> dict:
    """Lowest and highest open id: a first-and-last seek per vote level, in one query."""
    vote_field, _ = ROUND_COUNTERS[round_]
    if not sql.hand_written():
        return loop_orm.open_bounds(project, vote_field, MODALITY_Q[modality])
    # The same index range as _level_seek, read from either end.
    branch = (
        f"SELECT * FROM (SELECT id FROM {Item._meta.db_table}"
        f" WHERE (project_id, {vote_field}, id) > (%s, %s, 0) AND (project_id, {vote_field}) <= (%s, %s)"
        f"{MODALITY_SQL[modality]} AND NOT is_control ORDER BY project_id {{direction}}, {vote_field} {{direction}}, id {{direction}} LIMIT 1)"
        " AS bound_{n}"
    )
    parts, params = [], []
    for level in range(project.votes_per_item):
        for direction in ("ASC", "DESC"):
            parts.append(branch.format(direction=direction, n=len(parts)))
            params += [project.pk, level, project.pk, level]
    ids = [row[0] for row in sql.fetchall(" UNION ALL ".join(parts), params)]
    return {"lo": min(ids, default=None), "hi": max(ids, default=None)}


def _uncertain_batches(project: Project, round_: str, modality: str | None) -> Iterator[list[int]]:
    """Open items the model scored, highest Item.uncertainty first (then id),
    BATCH at a time, each batch a seek past the last one's (uncertainty, id)."""
    after = (math.inf, 0)
    while True:
        rows = _uncertain_seek(project, round_, modality, after=after)
        if not rows:
            return
        yield [pk for pk, _ in rows]
        after = (rows[-1][1], rows[-1][0])


def _uncertain_seek(
    project: Project, round_: str, modality: str | None, *, after: tuple[float, int]
) -> list[tuple[int, float]]:
    """Up to BATCH (id, uncertainty) of the open, scored, non-control items
    of the round after `after` = (uncertainty, id) in the order
    (uncertainty DESC, id)."""
    vote_field, _ = ROUND_COUNTERS[round_]
    if not sql.hand_written():
        return loop_orm.uncertain_seek(project, vote_field, MODALITY_Q[modality], after=after, batch=BATCH)
    params = [project.pk, after[0], after[0], after[1], project.votes_per_item]
    return sql.fetchall(_uncertain_sql(vote_field, modality), params, prepare=False)


@lru_cache(maxsize=16)
def _uncertain_sql(vote_field: str, modality: str | None) -> str:
    # A range of the item_queue_uncertain index (project, uncertainty DESC,
    # id; uncertainty not null), read in its order: "uncertainty <= last"
    # starts the scan at the last batch's value; items tied with it at a lower
    # id are read again and dropped (a row comparison cannot mix the index's
    # directions). Open and not a control item are checked on the rows read;
    # scored items that filled since the last refresh are passed over (a
    # refresh clears the uncertainty of full items).
    # Not prepared: planned for its parameters on each claim (a fraction of a
    # millisecond). The one generic plan of a prepared statement guesses a
    # project's rows from the average project, and for a large project among
    # many small ones it fetched all the project's items by project_id and
    # sorted them instead of reading this index in order up to the LIMIT.
    return (
        f"SELECT id, uncertainty FROM {Item._meta.db_table}"
        " WHERE project_id = %s AND uncertainty IS NOT NULL AND uncertainty <= %s AND NOT (uncertainty = %s AND id <= %s)"
        f" AND {vote_field} < %s AND NOT is_control{MODALITY_SQL[modality]}"
        f" ORDER BY project_id, uncertainty DESC, id LIMIT {BATCH}"
    )


def _own_round_batches(project: Project, annotator, *, previous: str) -> Iterator[list[int]]:
    """Items of the annotator's own annotations of the previous round, in item
    order (a seek on the index (annotator, round, item))."""
    after = 0
    mine = Annotation.objects.filter(annotator=annotator, round=previous, item__project=project)
    while True:
        ids = list(mine.filter(item_id__gt=after).order_by("item_id").values_list("item_id", flat=True)[:BATCH])
        if not ids:
            return
        yield ids
        after = ids[-1]


def _skipped_batches(project: Project, annotator, round_: str) -> Iterator[list[int]]:
    skipped = Skip.objects.filter(project=project, annotator=annotator, round=round_, item__is_control=False)
    skipped = skipped.order_by("at", "id")
    ids = list(skipped.values_list("item_id", flat=True)[: BATCH * 5])
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]
