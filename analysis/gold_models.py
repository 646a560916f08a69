"""Model-based gold (issue 14, section 2): Dawid-Skene or MACE per task, fitted
by a job over the project's multimodal votes and written into Gold.

The labelling loop keeps majority gold current (annotator/services/gold.py);
a task whose strategy is a model (Task.gold_strategy, else the project's)
gets its label, confidence (the posterior of that label) and posterior from
here, in autocommitted batches after the fit. Adjudicated and imported gold
always win: every write is conditional on the row's source still being one
the votes decide (a lead adjudicating meanwhile is never overwritten).
Switching a task back to majority restores majority gold.

Control items: their votes are fitted too, and for Dawid-Skene their known
answers (ControlAnswer) pin their posteriors (`control=`), so they anchor the
annotators' confusion matrices; they get no gold of their own.

annotator signals the job through annotator/gold_jobs.py (this app registers
the sender in AnalysisConfig.ready(); annotator imports nothing from here).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import numpy as np
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from annotator import gold_jobs
from annotator.jobs import retry_db
from annotator.models import Annotation, ControlAnswer, Gold, Item, Project, Vote
from annotator.schemas import TaskSpec
from annotator.selectors import get_project_schema
from annotator.services.gold import MAINTAINED_SOURCES, restore_majority_gold

from .columns import Column, dense_index, fetch_columns, max_ids
from .label_matrix import UndefinedMetric
from .reliability import dawid_skene, mace

log = logging.getLogger(__name__)

Strategy = Project.GoldStrategy
SOURCE_OF = {Strategy.DAWID_SKENE: Gold.Source.DAWID_SKENE, Strategy.MACE: Gold.Source.MACE}
# Fits: Dawid-Skene to convergence (bounded), MACE as in the issue.
DS_MAX_ITER = 100
MACE_RESTARTS = 10
MACE_MAX_ITER = 50
WRITE_BATCH = 1000


@dataclass(frozen=True)
class TaskVotes:
    """One task's multimodal votes as a label matrix.

    item_ids: (n_items,) sorted; annotator_ids: (n_raters,) sorted;
    labels: (n_items, n_raters) int, the label's position in the task, -1 = no vote;
    is_control: (n_items,) bool, control items; control: {row: known position}
    for control items with a known answer for this task.
    """

    task: TaskSpec
    item_ids: np.ndarray
    annotator_ids: np.ndarray
    labels: np.ndarray
    is_control: np.ndarray
    control: dict[int, int]

    @property
    def n_votes(self) -> int:
        return int((self.labels >= 0).sum())


@dataclass(frozen=True)
class TaskFit:
    """A model fitted on TaskVotes: posteriors (n_items, K); for Dawid-Skene the
    confusions (n_raters, K, K) [true, given] and priors (K,); for MACE the
    competence (n_raters,)."""

    strategy: str
    votes: TaskVotes
    posteriors: np.ndarray
    confusions: np.ndarray | None = None
    priors: np.ndarray | None = None
    competence: np.ndarray | None = None


def get_task_votes(project: Project, task: TaskSpec, *, items: QuerySet | None = None) -> TaskVotes:
    """The task's multimodal votes (control items' included) and known control
    answers. Three queries: votes, control items, their answers."""
    votes = Vote.objects.filter(task_id=task.id, round=Annotation.Round.MULTIMODAL)
    if items is not None:
        votes = votes.filter(item__in=items)
    k = task.n_categories
    position = {label_id: i for i, label_id in enumerate(task.label_ids)}
    label_ids = np.asarray(task.label_ids, dtype=np.int64)
    item_max, user_max = max_ids()
    item, annotator, label = fetch_columns(
        votes,
        [
            Column("item_id", 0, item_max),
            Column("annotator_id", 0, user_max),
            Column("label_id", int(label_ids.min()) if k else 0, int(label_ids.max()) if k else 0),
        ],
    )
    lookup = np.full(int(label_ids.max()) + 1 if k else 1, -1, dtype=np.int64)
    lookup[label_ids] = np.arange(k)
    item_ids, rows = dense_index(item)
    annotator_ids, cols = dense_index(annotator)
    matrix = np.full((item_ids.size, annotator_ids.size), -1, dtype=np.int64)
    matrix[rows, cols] = lookup[label]
    controls = set(Item.objects.filter(project=project, is_control=True).values_list("id", flat=True))
    is_control = np.isin(item_ids, np.fromiter(controls, dtype=np.int64, count=len(controls)))
    row_of = {int(pk): r for r, pk in enumerate(item_ids)}
    known = ControlAnswer.objects.filter(task_id=task.id, item__project=project).values_list("item_id", "label_id")
    control = {row_of[i]: position[label] for i, label in known if i in row_of and label in position}
    return TaskVotes(task, item_ids, annotator_ids, matrix, is_control, control)


def fit_task(votes: TaskVotes, strategy: str, *, mace_restarts: int = MACE_RESTARTS, seed: int = 0) -> TaskFit | None:
    """Fit Dawid-Skene (control answers pinned) or MACE; None without votes."""
    k = votes.task.n_categories
    if votes.n_votes == 0 or k == 0:
        return None
    try:
        if strategy == Strategy.DAWID_SKENE:
            ds = dawid_skene(votes.labels, n_categories=k, max_iter=DS_MAX_ITER, control=votes.control or None)
            return TaskFit(strategy, votes, ds.posteriors, confusions=ds.confusions, priors=ds.priors)
        if strategy == Strategy.MACE:
            fit = mace(votes.labels, n_categories=k, n_restarts=mace_restarts, max_iter=MACE_MAX_ITER, seed=seed)
            return TaskFit(strategy, votes, fit.posteriors, competence=fit.competence)
    except UndefinedMetric:
        return None
    raise ValueError(f"{strategy!r} is not a model strategy")


def _gold_rows(fit: TaskFit, existing: dict[int, int], now) -> list[Gold]:
    """Gold objects (by primary key) for the fitted non-control items that have a row."""
    votes, task = fit.votes, fit.votes.task
    matrix = votes.labels
    k = task.n_categories
    counts = np.stack([(matrix == c).sum(axis=1) for c in range(k)], axis=1)
    top = counts.max(axis=1)
    majority = np.where((counts == top[:, None]).sum(axis=1) == 1, counts.argmax(axis=1), -1)
    chosen = fit.posteriors.argmax(axis=1)
    rows = []
    for r, item_id in enumerate(votes.item_ids.tolist()):
        pk = existing.get(item_id)
        if pk is None or votes.is_control[r]:
            continue
        posterior = fit.posteriors[r]
        rows.append(
            Gold(
                pk=pk,
                label_id=task.label_ids[chosen[r]],
                source=SOURCE_OF[fit.strategy],
                confidence=float(posterior[chosen[r]]),
                posterior={key: round(float(p), 6) for key, p in zip(task.label_keys, posterior)},
                is_tie=False,
                majority_label_id=task.label_ids[majority[r]] if majority[r] >= 0 else None,
                votes_for=int(counts[r, chosen[r]]),
                votes_total=int(counts[r].sum()),
                updated_at=now,
            )
        )
    return rows


def write_task_gold(fit: TaskFit) -> int:
    """Write the fit into the task's majority and model-based gold rows, in
    autocommitted batches; returns the rows written. Each UPDATE is
    conditional on the row's source (read again under its lock), so gold a
    lead adjudicated meanwhile is never overwritten; a row a vote changed
    meanwhile is refitted by the job that vote sent."""
    task = fit.votes.task
    maintained = Gold.objects.filter(task_id=task.id, source__in=MAINTAINED_SOURCES)
    existing = dict(maintained.values_list("item_id", "pk"))
    now = timezone.now()
    rows = _gold_rows(fit, existing, now)
    written = 0
    for start in range(0, len(rows), WRITE_BATCH):
        batch = rows[start : start + WRITE_BATCH]
        if connection.vendor == "postgresql":
            written += _update_from_values(batch, now)
        else:  # SQLite (development): bulk_update's CASE per column, quadratic but small there
            written += maintained.bulk_update(batch, [*_FIELDS, "updated_at"])
    return written


_FIELDS = ["label", "source", "confidence", "posterior", "is_tie", "majority_label", "votes_for", "votes_total"]
# One UPDATE joined to a VALUES list: linear in the batch, where bulk_update's
# CASE WHEN per column compares each row with every id of the batch. The
# source condition is evaluated again on each row under its lock: a row a
# lead adjudicated meanwhile is skipped.
_UPDATE = """
UPDATE {gold} AS g SET label_id = v.label_id, source = v.source, confidence = v.confidence,
    posterior = CAST(v.posterior AS jsonb), is_tie = false, majority_label_id = v.majority_label_id,
    votes_for = v.votes_for, votes_total = v.votes_total, updated_at = %s
FROM (VALUES {values}) AS v(id, label_id, source, confidence, posterior, majority_label_id, votes_for, votes_total)
WHERE g.id = v.id AND g.source IN (%s, %s, %s)
"""


def _update_from_values(batch: list[Gold], now) -> int:
    values = ", ".join(
        ["(%s::bigint, %s::bigint, %s, %s::double precision, %s, %s::bigint, %s::int, %s::int)"] * len(batch)
    )
    params: list = [now]  # updated_at, first in the statement
    for g in batch:
        params += [g.pk, g.label_id, g.source, g.confidence, json.dumps(g.posterior), g.majority_label_id]
        params += [g.votes_for, g.votes_total]
    with connection.cursor() as cursor:
        cursor.execute(_UPDATE.format(gold=Gold._meta.db_table, values=values), [*params, *MAINTAINED_SOURCES])
        return cursor.rowcount


@dataclass
class RecomputeReport:
    fitted: dict[str, int]  # task key -> gold rows written
    restored: int  # model-based rows turned back into majority gold


def recompute_project_gold(*, project: Project) -> RecomputeReport:
    """Fit each model-strategy task of the project and write its gold; restore
    majority gold in the majority-strategy tasks; stamp gold_computed_at.

    Safe to repeat (it recomputes from the votes), so a dropped database
    connection retries it on a fresh one (annotator.jobs.retry_db)."""
    schema = get_project_schema(project)
    report = RecomputeReport(fitted={}, restored=0)
    majority_tasks = []
    for task in schema.tasks:
        strategy = gold_jobs.task_strategy(project, task)
        if strategy not in SOURCE_OF:
            majority_tasks.append(task.id)
            continue
        fit = fit_task(get_task_votes(project, task), strategy)
        report.fitted[task.key] = write_task_gold(fit) if fit is not None else 0
    if majority_tasks:
        report.restored = restore_majority_gold(project=project, task_ids=majority_tasks)
    Project.objects.filter(pk=project.pk).update(gold_computed_at=timezone.now())
    return report


def run_recompute(project_id: int) -> str:
    """The job's body: status for the lead's page around recompute_project_gold."""
    gold_jobs.job_started(project_id)
    try:
        project = retry_db(Project.objects.filter(pk=project_id).first, what="loading the project")
        if project is None:
            gold_jobs.job_finished(project_id, error="The project was deleted.")
            return "missing"
        report = retry_db(recompute_project_gold, project=project, what="recomputing gold")
    except Exception as exc:
        log.exception("gold recompute of project %s failed", project_id)
        gold_jobs.job_finished(project_id, error=f"The recompute failed: {exc.__class__.__name__}: {exc}"[:500])
        return "failed"
    gold_jobs.job_finished(project_id)
    return f"fitted {sum(report.fitted.values())}, restored {report.restored}"


class CeleryGoldJobSender(gold_jobs.GoldJobSender):
    """Sends analysis.recompute_gold (analysis/tasks.py) through Celery."""

    def send(self, *, project_id: int, countdown: float) -> None:
        from .tasks import recompute_gold

        recompute_gold.apply_async(
            (project_id,),
            countdown=countdown,
            retry=True,
            retry_policy={"max_retries": 1, "interval_start": 0.2, "interval_step": 0.5},
        )
