"""Majority gold (MSED 3.3: the label that receives the majority of votes),
recomputed in the transaction of the vote that changes it, and lead
adjudication of disputed items."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from .. import gold_jobs, loop_orm, sql, suggestions
from ..errors import DomainError
from ..models import Annotation, Gold, Item, Label, PrelabelPolicy, Project, Task, Vote
from ..selectors import get_project_schema

CHUNK = 500  # items per statement (SQLite allows at most 32766 parameters)
# Gold computed from the votes (the loop's majority, the job's models), as
# opposed to gold a person settled (adjudicated, imported), which always wins.
MODEL_SOURCES = (Gold.Source.DAWID_SKENE, Gold.Source.MACE)
MAINTAINED_SOURCES = (Gold.Source.MAJORITY, *MODEL_SOURCES)

# Majority gold of a set of items in one statement: count the multimodal
# votes per (item, task, label) (control votes never count: issue 14), take
# the top count per (item, task), and call it a tie when more than one label
# has it. Label order breaks no tie: a tie is reported, not resolved
# silently. Every row gets the majority's label (majority_label); a majority
# row also its confidence, votes_for / votes_total (null while tied).
# Adjudicated, imported and model-based (Dawid-Skene, MACE: written by the
# reliability job) gold keep their label, tie flag, confidence and posterior
# and only refresh their support.
_UPSERT = """
WITH counted AS (
    SELECT item_id, task_id, label_id, COUNT(*) AS n FROM {vote}
    WHERE item_id IN ({ids}) AND round = %s AND NOT is_control GROUP BY item_id, task_id, label_id
), tops AS (
    SELECT item_id, task_id, MAX(n) AS top, SUM(n) AS total FROM counted GROUP BY item_id, task_id
), majority AS (
    SELECT c.item_id, c.task_id, t.top, t.total, COUNT(*) AS winners, MIN(c.label_id) AS label_id
    FROM counted c JOIN tops t ON t.item_id = c.item_id AND t.task_id = c.task_id AND c.n = t.top
    GROUP BY c.item_id, c.task_id, t.top, t.total
)
INSERT INTO {gold} (
    item_id, task_id, label_id, majority_label_id, source, votes_for, votes_total, is_tie, confidence, updated_at
)
SELECT item_id, task_id, CASE WHEN winners = 1 THEN label_id END, CASE WHEN winners = 1 THEN label_id END,
    %s, top, total, winners > 1, CASE WHEN winners = 1 THEN top * 1.0 / total END, %s
FROM majority WHERE true
ON CONFLICT (item_id, task_id) DO UPDATE SET
    label_id = CASE WHEN {gold}.source = %s THEN excluded.label_id ELSE {gold}.label_id END,
    is_tie = CASE WHEN {gold}.source = %s THEN excluded.is_tie ELSE {gold}.is_tie END,
    confidence = CASE WHEN {gold}.source = %s THEN excluded.confidence ELSE {gold}.confidence END,
    majority_label_id = excluded.majority_label_id,
    votes_for = CASE WHEN {gold}.source = %s THEN excluded.votes_for ELSE (
        SELECT COUNT(*) FROM {vote} v WHERE v.item_id = {gold}.item_id AND v.task_id = {gold}.task_id
        AND v.round = %s AND NOT v.is_control AND v.label_id = {gold}.label_id) END,
    votes_total = excluded.votes_total,
    updated_at = excluded.updated_at
"""
# Majority and model-based gold of a task whose votes are all gone (an
# optional task cleared by an edit) goes too; adjudicated and imported gold stay.
_DELETE_EMPTY = """
DELETE FROM {gold} WHERE item_id IN ({ids}) AND source IN (%s, %s, %s) AND NOT EXISTS (
    SELECT 1 FROM {vote} v WHERE v.item_id = {gold}.item_id AND v.task_id = {gold}.task_id AND v.round = %s
    AND NOT v.is_control)
"""


def recompute_gold(
    *, item_ids: Iterable[int], project: Project | None = None, votes_removed: bool = True, votes_changed: bool = True
) -> None:
    """Recompute gold of the given items from their multimodal-round votes.

    Majority gold takes the most voted label; a shared top count is a tie
    (label None, is_tie True). Adjudicated, imported and model-based gold
    keep their label and only refresh their support. Call inside the
    transaction that changed the votes; the caller holds the item rows'
    locks. `project` (the items' project) saves a query when given. Pass
    votes_removed=False when votes were only added (a submit): the sweep of
    emptied majority gold is then skipped. With `votes_changed` (the votes
    moved, not just the source of gold) a project with model-based gold gets
    its recompute job sent after the commit (annotator/gold_jobs.py).
    """
    item_ids = list(item_ids)
    if not item_ids:
        return
    project = project or Project.objects.get(items=item_ids[0])
    if votes_changed:
        gold_jobs.votes_changed(project, get_project_schema(project))
    if not sql.hand_written():
        changed = sum(
            loop_orm.recompute_gold(item_ids[start : start + CHUNK], votes_removed=votes_removed)
            for start in range(0, len(item_ids), CHUNK)
        )
        if changed:
            _gold_changed(project)
        return
    majority, multimodal = Gold.Source.MAJORITY, Annotation.Round.MULTIMODAL
    tables = {"gold": Gold._meta.db_table, "vote": Vote._meta.db_table}
    now = sql.dt(timezone.now())
    changed = 0
    for start in range(0, len(item_ids), CHUNK):
        chunk = item_ids[start : start + CHUNK]
        ids = ", ".join(["%s"] * len(chunk))
        params = [*chunk, multimodal, majority, now, majority, majority, majority, majority, multimodal]
        changed += max(sql.execute(_UPSERT.format(ids=ids, **tables), params), 0)
        if votes_removed:
            params = [*chunk, *MAINTAINED_SOURCES, multimodal]
            changed += max(sql.execute(_DELETE_EMPTY.format(ids=ids, **tables), params), 0)
    if changed:
        _gold_changed(project)


def _gold_changed(project: Project) -> None:
    """Tell the pre-labeller (annotator/suggestions.py) when the project's
    policy retrains on new gold; no query when the policy came with the
    project (selectors.get_project_for), one otherwise."""
    cache = Project.prelabel_policy.related
    if cache.is_cached(project):
        policy = cache.get_cached_value(project)
        wanted = policy is not None and policy.retrain_every_n_gold > 0
    else:
        wanted = PrelabelPolicy.objects.filter(project=project, retrain_every_n_gold__gt=0).exists()
    if wanted:
        suggestions.get_provider().on_gold_changed(project=project)


@transaction.atomic
def adjudicate(*, item: Item, task: Task, label: Label, lead) -> Gold:
    """A lead settles the gold label of an item for one task. The choice is
    kept (source = adjudicated) even when more votes arrive."""
    if task.project_id != item.project_id:
        raise DomainError("That task belongs to another project.")
    if label.task_id != task.pk:
        raise DomainError(f"{label.key!r} is not a label of the task {task.key!r}.")
    Item.objects.select_for_update().get(pk=item.pk)
    gold, _ = Gold.objects.get_or_create(item=item, task=task)
    votes = Vote.objects.filter(item=item, task=task, round=Annotation.Round.MULTIMODAL, is_control=False)
    gold.label = label
    gold.source = Gold.Source.ADJUDICATED
    gold.is_tie = False
    gold.confidence = None  # a person's choice, not a model's probability
    gold.adjudicated_by = lead
    gold.adjudicated_at = timezone.now()
    gold.votes_total = votes.count()
    gold.votes_for = votes.filter(label=label).count()
    gold.save()
    _gold_changed(item.project)
    return gold


def restore_majority_gold(*, project: Project, task_ids: Iterable[int]) -> int:
    """Turn the model-based gold of these tasks back into majority gold (their
    strategy is majority again): the reliability job calls this. Adjudicated
    and imported gold are untouched. Returns the rows restored.

    Locks the items (in id order, as one statement) like the labelling loop
    does, so a concurrent submit waits instead of interleaving; one
    transaction per CHUNK items keeps the locks short."""
    rows = Gold.objects.filter(task__project=project, task_id__in=list(task_ids), source__in=MODEL_SOURCES)
    item_ids = sorted(set(rows.values_list("item_id", flat=True)))
    restored = 0
    for start in range(0, len(item_ids), CHUNK):
        chunk = item_ids[start : start + CHUNK]
        with transaction.atomic():
            list(Item.objects.select_for_update().filter(pk__in=chunk).order_by("pk").values_list("pk", flat=True))
            restored += rows.filter(item_id__in=chunk).update(source=Gold.Source.MAJORITY, posterior=None)
            recompute_gold(item_ids=chunk, project=project, votes_changed=False)
    return restored
