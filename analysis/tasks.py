"""Celery tasks of the analysis app: each takes ids and calls one service."""

from __future__ import annotations

from celery import shared_task

from .gold_models import run_recompute


@shared_task(name="analysis.recompute_gold")
def recompute_gold(project_id: int) -> str:
    """Refit the project's model-based gold (Dawid-Skene, MACE) from its votes.
    The service rides out database blips, records its status for the lead's
    page and is safe to repeat, so the task needs no retries of its own."""
    return run_recompute(project_id)
