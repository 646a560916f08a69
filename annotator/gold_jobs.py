"""Model-based gold (Dawid-Skene, MACE; issue 14), as far as annotator knows it.

The labelling loop keeps majority gold current in the vote's transaction
(services/gold.py). A project (or task) whose gold strategy is a model gets
its gold from a job of the analysis app (analysis/gold.py, analysis/tasks.py),
which sits above annotator: annotator owns this small interface, analysis
registers the sender in AnalysisConfig.ready(), and without it the default
sends nothing (gold stays majority).

When votes change, `votes_changed` asks for a recompute after the commit,
debounced: the first change after a quiet spell adds a cache key and sends
the job with a countdown (settings.GOLD_RECOMPUTE_DELAY_S); later changes
find the key and send nothing. The job removes the key before it reads the
votes, so a vote committed after that read sends the next job. A job that
never runs (broker down) lets the key expire, and the next vote sends again.
Status for the lead's page lives in the cache too (expiring, so a killed
job never shows "running" for long); Project.gold_computed_at is the record.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from .models import Project

if TYPE_CHECKING:
    from .schemas import ProjectSchema, TaskSpec

log = logging.getLogger(__name__)

MODEL_STRATEGIES = (Project.GoldStrategy.DAWID_SKENE, Project.GoldStrategy.MACE)
# Beyond the countdown, how long a sent job keeps later votes from sending another.
PENDING_GRACE_S = 300
STATUS_TTL_S = 3600
# A job that dies while running (its worker killed) stops saying "running"
# after this; Celery (acks late) hands the task to another worker meanwhile.
RUNNING_TTL_S = 900


class GoldJobSender:
    """Sends the recompute job. This base class is the do-nothing default."""

    def send(self, *, project_id: int, countdown: float) -> None:
        """Send the job recomputing `project_id`'s model-based gold after
        `countdown` seconds. Called after the commit, never in a transaction
        of the labelling loop."""


_sender: GoldJobSender = GoldJobSender()


def register_sender(sender: GoldJobSender) -> None:
    """Install the sender every later call uses (an AppConfig.ready())."""
    global _sender
    _sender = sender


def get_sender() -> GoldJobSender:
    return _sender


# ---------------------------------------------------------------- strategies


def task_strategy(project: Project, task: TaskSpec) -> str:
    """The gold strategy of one task: its own, or the project's when blank."""
    return task.gold_strategy or project.gold_strategy


def uses_model(project: Project, schema: ProjectSchema) -> bool:
    """Whether any task of the project gets model-based gold. No query (the schema is cached)."""
    return any(task_strategy(project, task) in MODEL_STRATEGIES for task in schema.tasks)


# ---------------------------------------------------------------- scheduling


def _pending_key(project_id: int) -> str:
    return f"gold-recompute:pending:{project_id}"


def _status_key(project_id: int) -> str:
    return f"gold-recompute:status:{project_id}"


def votes_changed(project: Project, schema: ProjectSchema) -> None:
    """Votes of `project` changed in the current transaction: when a task uses
    a model, send the recompute job after the commit (debounced). No query;
    after the commit at most one cache.add."""
    if uses_model(project, schema):
        project_id = project.pk
        transaction.on_commit(lambda: _send(project_id, now=False))


def request_recompute(project: Project) -> None:
    """Recompute now (a lead's button, a changed strategy): sent after the
    commit without waiting, whatever the debounce says."""
    project_id = project.pk
    transaction.on_commit(lambda: _send(project_id, now=True))


def _send(project_id: int, *, now: bool) -> None:
    countdown = 0 if now else settings.GOLD_RECOMPUTE_DELAY_S
    if now:
        cache.set(_pending_key(project_id), 1, timeout=PENDING_GRACE_S)
    elif not cache.add(_pending_key(project_id), 1, timeout=countdown + PENDING_GRACE_S):
        return  # a job is on its way and will read these votes
    _set_status(project_id, "scheduled")
    try:
        get_sender().send(project_id=project_id, countdown=countdown)
    except Exception:  # the broker is down: the next vote or the button sends again
        log.warning("could not send the gold recompute of project %s", project_id, exc_info=True)
        cache.delete(_pending_key(project_id))
        _set_status(project_id, "failed", error="The job queue is unreachable; try again later.")


# ---------------------------------------------------------------- the job's side


def job_started(project_id: int) -> None:
    """The job is about to read the votes: later votes must send another."""
    cache.delete(_pending_key(project_id))
    _set_status(project_id, "running")


def job_finished(project_id: int, *, error: str = "") -> None:
    _set_status(project_id, "failed" if error else "succeeded", error=error)


def _set_status(project_id: int, state: str, *, error: str = "") -> None:
    status = {"state": state, "at": timezone.now().isoformat(), "error": error}
    cache.set(_status_key(project_id), status, timeout=RUNNING_TTL_S if state == "running" else STATUS_TTL_S)


def get_status(project: Project) -> dict:
    """{"state": "idle" | "scheduled" | "running" | "succeeded" | "failed",
    "at": ISO time of that state or None, "error": text, "computed_at": the
    last successful recompute or None}."""
    status = cache.get(_status_key(project.pk)) or {"state": "idle", "at": None, "error": ""}
    return {**status, "computed_at": project.gold_computed_at}
