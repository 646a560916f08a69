"""The labelling loop's statements written with the ORM: the simple version of annotator/sql.py.

The hot paths of the labelling loop (token, project and item loads, claim,
sweep, renew, submit, majority gold) run hand-written prepared SQL. Each
function here does what one of those statements does, in plain ORM code,
with the same locks in the same order. With LABELLING_LOOP_SQL off
(settings) the services call these instead, so the same loop runs through
the ORM:

* bench/serve.py measures both (its ORM row shows what the SQL buys);
* tests/annotator/test_loop_orm.py runs the same scenarios both ways and
  compares every claim, vote and gold label, so the SQL is checked against
  a version anyone can read.

Return values match what the SQL callers read from their rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Case, Count, Exists, F, IntegerField, Max, Min, OuterRef, Q, QuerySet, Value, When

from .models import Annotation, ApiToken, Claim, Gold, Item, Membership, Project, Skip, Vote

# ---------------------------------------------------------------- reads of every request


def api_tokens(key_prefix: str) -> list[ApiToken]:
    """The tokens whose key starts with `key_prefix`, their users loaded."""
    return list(ApiToken.objects.select_related("user").filter(token_key=key_prefix))


def project_for(user_id: int | None, slug: str) -> tuple[Project, Membership | None] | None:
    """The project named `slug` with its pre-labelling policy, and the
    user's membership (None without one); None when there is no such project."""
    project = Project.objects.select_related("prelabel_policy").filter(slug=slug).first()
    if project is None:
        return None
    membership = Membership.objects.filter(project=project, user_id=user_id).first() if user_id is not None else None
    return project, membership


def item_in(project: Project, item_id: int) -> Item | None:
    return Item.objects.filter(pk=item_id, project=project).first()


# ---------------------------------------------------------------- claims


def expired_claims(project: Project, now: datetime, limit: int) -> list[tuple[int, int, str]]:
    """(claim id, item id, round) of up to `limit` expired claims."""
    return list(Claim.objects.filter(project=project, expires_at__lt=now).values_list("id", "item_id", "round")[:limit])


def renew(*, annotator, project: Project, expires_at: datetime) -> list[tuple[int, int, str]]:
    """Lock the annotator's claims in id order and extend them; returns them
    as (claim id, item id, round)."""
    with transaction.atomic(savepoint=False):
        held = list(
            Claim.objects.filter(project=project, annotator=annotator)
            .order_by("id")
            .select_for_update()
            .values_list("id", "item_id", "round")
        )
        if held:
            Claim.objects.filter(pk__in=[claim_id for claim_id, _, _ in held]).update(expires_at=expires_at)
    return held


def load_claim(claim_id: int) -> Claim:
    return Claim.objects.select_related("item").get(pk=claim_id)


def insert_claim(claim: Claim) -> None:
    claim.save(force_insert=True)


def count_claim(item_id: int, claim_field: str) -> None:
    """One more claim on the item (whose row the caller has locked)."""
    Item.objects.filter(pk=item_id).update(**{claim_field: F(claim_field) + 1})


def _eligible(
    items: QuerySet, *, annotator, round_: str, votes_per_item: int, counters: tuple[str, str], include_skipped: bool
) -> QuerySet:
    """Candidates with room left that the annotator has not annotated,
    claimed (or, unless include_skipped, skipped) in the round."""
    vote_field, claim_field = counters
    mine = {"item": OuterRef("pk"), "annotator": annotator, "round": round_}
    items = (
        items.alias(taken=F(vote_field) + F(claim_field))
        .filter(taken__lt=votes_per_item)
        .filter(~Exists(Annotation.objects.filter(**mine)), ~Exists(Claim.objects.filter(**mine)))
    )
    if not include_skipped:
        items = items.filter(~Exists(Skip.objects.filter(**mine)))
    return items


def lock_head(project: Project, annotator, *, counters: tuple[str, str], chunk: int, round_: str) -> Item | None:
    """Lock the first eligible item among the `chunk` first open items of the
    finish-first order (most votes first, then import order)."""
    vote_field, claim_field = counters
    n = project.votes_per_item
    head = (
        Item.objects.filter(project=project, is_control=False, **{f"{vote_field}__lt": n})
        .alias(taken=F(vote_field) + F(claim_field))
        .filter(taken__lt=n)
        .order_by(f"-{vote_field}", "id")
        .values("id")[:chunk]
    )
    candidates = _eligible(
        Item.objects.filter(pk__in=head),
        annotator=annotator,
        round_=round_,
        votes_per_item=n,
        counters=counters,
        include_skipped=False,
    )
    # Race: as in the SQL, SKIP LOCKED passes over rows another request is claiming.
    return candidates.order_by(f"-{vote_field}", "id").select_for_update(skip_locked=_skip_locked()).first()


def lock_first_eligible(
    ids: Sequence[int],
    project: Project,
    annotator,
    *,
    counters: tuple[str, str],
    round_: str,
    include_skipped: bool,
) -> Item | None:
    """Lock the first eligible item of `ids`, in the order given."""
    position = Case(*[When(pk=pk, then=Value(i)) for i, pk in enumerate(ids)], output_field=IntegerField())
    candidates = _eligible(
        Item.objects.filter(pk__in=ids),
        annotator=annotator,
        round_=round_,
        votes_per_item=project.votes_per_item,
        counters=counters,
        include_skipped=include_skipped,
    )
    return candidates.order_by(position).select_for_update(skip_locked=_skip_locked()).first()


def lock_control(project: Project, annotator, *, round_: str) -> Item | None:
    """Lock a random control item of the project that the annotator has never
    annotated, claimed or skipped in the round (no room test: control votes
    are not counted)."""
    mine = {"item": OuterRef("pk"), "annotator": annotator, "round": round_}
    candidates = Item.objects.filter(project=project, is_control=True).filter(
        ~Exists(Annotation.objects.filter(**mine)),
        ~Exists(Claim.objects.filter(**mine)),
        ~Exists(Skip.objects.filter(**mine)),
    )
    return candidates.order_by("?").select_for_update(skip_locked=_skip_locked()).first()


def _skip_locked() -> bool:
    return connection.features.has_select_for_update_skip_locked


def level_seek(
    project: Project,
    vote_field: str,
    modality: Q,
    levels: Iterable[int],
    *,
    after: int,
    upto: int | None,
    batch: int,
) -> list[tuple[int, int]]:
    """Up to `batch` (id, votes) per vote level, ids above `after` (and at most `upto`), in id order."""
    parts = []
    for level in levels:
        rows = Item.objects.filter(modality, project=project, is_control=False, id__gt=after, **{vote_field: level})
        if upto is not None:
            rows = rows.filter(id__lte=upto)
        parts.append(rows.order_by("id").values_list("id", vote_field)[:batch])
    if not parts:
        return []
    if connection.features.supports_slicing_ordering_in_compound:
        return list(parts[0].union(*parts[1:], all=True)) if len(parts) > 1 else list(parts[0])
    return [row for part in parts for row in part]  # SQLite: no LIMIT inside a UNION


def uncertain_seek(
    project: Project, vote_field: str, modality: Q, *, after: tuple[float, int], batch: int
) -> list[tuple[int, float]]:
    """Up to `batch` (id, uncertainty) of open, scored, non-control items
    after `after` = (uncertainty, id), highest uncertainty first, then id."""
    last, last_id = after
    rows = Item.objects.filter(
        modality,
        project=project,
        uncertainty__isnull=False,
        uncertainty__lte=last,
        is_control=False,
        **{f"{vote_field}__lt": project.votes_per_item},
    ).exclude(uncertainty=last, id__lte=last_id)
    return list(rows.order_by("-uncertainty", "id").values_list("id", "uncertainty")[:batch])


def open_bounds(project: Project, vote_field: str, modality: Q) -> dict:
    """Lowest and highest id of an item with a vote level below votes_per_item."""
    open_items = Item.objects.filter(modality, project=project, is_control=False)
    return open_items.filter(**{f"{vote_field}__lt": project.votes_per_item}).aggregate(lo=Min("id"), hi=Max("id"))


# ---------------------------------------------------------------- submit


def delete_claim(*, item_id: int, annotator_id: int, round_: str) -> int:
    """Delete the annotator's claim on the item in the round; returns how many went (0 or 1)."""
    return Claim.objects.filter(item_id=item_id, annotator_id=annotator_id, round=round_).delete()[0]


def insert_annotation(annotation: Annotation, votes: list[Vote]) -> None:
    """Save a new annotation and its votes."""
    annotation.save(force_insert=True)
    for vote in votes:
        vote.annotation = annotation
    Vote.objects.bulk_create(votes)


def uncount_claim(item_id: int, claim_field: str) -> None:
    """One claim fewer on the item, no vote counted (a control item's submit; locks the item row)."""
    Item.objects.filter(pk=item_id).update(**{claim_field: F(claim_field) - 1})


def count_vote(item_id: int, counters: tuple[str, str]) -> int:
    """Turn the item's claim into a vote (locks the item row); returns its votes now."""
    vote_field, claim_field = counters
    Item.objects.filter(pk=item_id).update(**{vote_field: F(vote_field) + 1, claim_field: F(claim_field) - 1})
    return Item.objects.filter(pk=item_id).values_list(vote_field, flat=True).get()


def recompute_gold(item_ids: list[int], *, votes_removed: bool) -> int:
    """Majority gold of the items from their multimodal votes, as gold.py's
    upsert does it: a new or majority row takes the most voted label (None
    and is_tie on a shared top count); adjudicated and imported rows keep
    their label and refresh their support, as do model-based rows (written
    by the reliability job); every row gets the majority's label and a
    majority row its confidence; with `votes_removed`, majority and model
    rows of a task without votes go. Returns the rows written or deleted."""
    counts: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
    rows = (
        Vote.objects.filter(item_id__in=item_ids, round=Annotation.Round.MULTIMODAL, is_control=False)
        .values_list("item_id", "task_id", "label_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for item_id, task_id, label_id, n in rows:
        counts[(item_id, task_id)][label_id] = n
    existing = {(g.item_id, g.task_id): g for g in Gold.objects.filter(item_id__in=item_ids)}
    to_save, to_delete = [], []
    maintained = (Gold.Source.MAJORITY, Gold.Source.DAWID_SKENE, Gold.Source.MACE)
    for key, gold in existing.items():
        if key not in counts and gold.source in maintained and votes_removed:
            to_delete.append(gold.pk)
    for (item_id, task_id), by_label in counts.items():
        gold = existing.get((item_id, task_id)) or Gold(item_id=item_id, task_id=task_id)
        top = max(by_label.values())
        total = sum(by_label.values())
        # Label order breaks no tie: a tie is reported, not resolved silently.
        winners = [label for label, n in by_label.items() if n == top]
        gold.majority_label_id = winners[0] if len(winners) == 1 else None
        if gold.source == Gold.Source.MAJORITY:
            gold.is_tie = len(winners) > 1
            gold.label_id = gold.majority_label_id
            gold.votes_for = top
            gold.confidence = None if gold.is_tie else top / total
        else:  # a person's or the reliability job's label is kept
            gold.votes_for = by_label.get(gold.label_id, 0)
        gold.votes_total = total
        gold.pk = None  # matched on (item, task) below, not on the primary key
        to_save.append(gold)
    Gold.objects.bulk_create(
        to_save,
        update_conflicts=True,
        unique_fields=["item", "task"],
        update_fields=["label", "majority_label", "votes_for", "votes_total", "is_tie", "confidence", "updated_at"],
    )
    deleted = Gold.objects.filter(pk__in=to_delete).delete()[0] if to_delete else 0
    return len(to_save) + deleted
