"""Item.uncertainty: the total entropy over tasks of each item's current
suggestions, stored on the item so the queue's "most uncertain first" order
is a seek on the item_queue_uncertain index (annotator/services/queue.py)
instead of a sort of the run's suggestions on every claim.

"Current" is the run the project shows (selectors.get_current_prediction_run_id:
the latest succeeded prediction run of the pre-labeller). An item that run did
not score has no uncertainty (NULL): the queue hands it out after the scored
ones, in finish-first order, as it did when it ranked the run's suggestions
per claim. The entropies are the calibrated ones the run wrote (the training
run's temperatures are applied when predicting, execution.py).

An item that has all its votes (votes_per_item in the multimodal round, the
last: it then has them in every round) gets NULL too. The queue never hands
it out, in any order, and its value would only sit at the top of the index
for every claim to pass over: held-out items keep being scored once they
have three votes (for the model-versus-annotators comparison), and they
would pile up there. (Raising votes_per_item reopens such items; they come
after the scored ones until the next prediction run stores their values.)

The current run changes when a prediction run succeeds (execute_prediction_run)
and when another training run becomes the pre-labeller (mark_prelabeller);
both call refresh_item_uncertainty, in the job or once the marking commits.
"""

from __future__ import annotations

import math

from django.db import connection, transaction
from django.db.models import Sum

from annotator.models import Item, Project

from .. import selectors
from ..models import Suggestion

# Items per transaction. Each chunk locks only the rows whose value changes,
# for two statements: a claim meanwhile passes over them (SKIP LOCKED) to the
# next candidate, so a large project never has all its items locked at once.
CHUNK = 500


def refresh_item_uncertainty(*, project: Project) -> int:
    """Make Item.uncertainty of every item of `project` the sum of the
    entropies of its suggestions in the current run (NULL when that run did
    not score it, there is no current run, or the item has all its votes).
    Returns the rows changed.

    Reads the items in id order, CHUNK at a time, and writes only the values
    that differ, each chunk in its own short transaction (rows locked in id
    order, as the other writers of several items lock them). Not atomic over
    the project: the queue may read a mix of old and new values for a
    moment, which only changes which item is handed out next. Two refreshes
    at once (a prediction run finishing while a lead marks another
    pre-labeller) end consistent: each reads the current run again at the
    end and starts over if it changed while it wrote."""
    changed = 0
    run_id = selectors.get_current_prediction_run_id(project)
    while True:
        changed += _write_run(project, run_id)
        latest = selectors.get_current_prediction_run_id(project)
        if latest == run_id:
            return changed
        run_id = latest


def _write_run(project: Project, run_id: int | None) -> int:
    changed, after = 0, 0
    while True:
        rows = list(
            Item.objects.filter(project=project, pk__gt=after)
            .order_by("pk")
            .values_list("pk", "uncertainty", "vote_count")[:CHUNK]
        )
        if not rows:
            return changed
        first, after = rows[0][0], rows[-1][0]
        totals = _totals(run_id, first, after)
        wanted = {pk: totals.get(pk) if votes < project.votes_per_item else None for pk, _, votes in rows}
        updates = {pk: wanted[pk] for pk, stored, _ in rows if wanted[pk] != stored}
        if updates:
            changed += _store(updates)


def _totals(run_id: int | None, first: int, last: int) -> dict[int, float]:
    """{item id: total entropy} of the run's suggestions for items first..last
    (a range of the (run, item, task) unique index)."""
    if run_id is None:
        return {}
    rows = (
        Suggestion.objects.filter(run_id=run_id, item_id__gte=first, item_id__lte=last)
        .values("item_id")
        .annotate(total=Sum("entropy"))
        .order_by()
        .values_list("item_id", "total")
    )
    # A non-finite entropy would sort above every real number in PostgreSQL:
    # such an item is treated as not scored rather than as the most uncertain.
    return {pk: total for pk, total in rows if total is not None and math.isfinite(total)}


def _store(updates: dict[int, float | None]) -> int:
    with transaction.atomic():
        locked = list(
            Item.objects.filter(pk__in=list(updates)).order_by("pk").select_for_update().values_list("pk", flat=True)
        )
        if connection.vendor != "postgresql":
            return Item.objects.bulk_update([Item(pk=pk, uncertainty=updates[pk]) for pk in locked], ["uncertainty"])
        # One statement for the chunk, the values as two arrays (bulk_update's
        # CASE of one branch per row cost ~0.5 ms per row).
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Item._meta.db_table} AS i SET uncertainty = v.uncertainty"
                " FROM unnest(%s::bigint[], %s::double precision[]) AS v(id, uncertainty) WHERE i.id = v.id",
                [locked, [updates[pk] for pk in locked]],
            )
            return cursor.rowcount
