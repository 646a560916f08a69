"""Reads about control items ("honeypots", issue 14 section 3): each
annotator's answers on them against the known answers.

A control answer is scored per task: one vote on a control item for a task
with a known answer is one trial, correct when its label is the known one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, F, Q

from ..models import Item, Project, Vote


@dataclass(frozen=True)
class ControlScore:
    correct: int
    total: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.total if self.total else None


def count_control_items(project: Project) -> int:
    return Item.objects.filter(project=project, is_control=True).count()


def get_control_scores(project: Project, *, task_id: int | None = None) -> dict[int, ControlScore]:
    """{annotator id: ControlScore} over their votes on the project's control
    items (for one task, or all tasks with a known answer)."""
    votes = Vote.objects.filter(item__project=project, is_control=True)
    if task_id is not None:
        votes = votes.filter(task_id=task_id)
    # Join each vote to the known answer of its (item, task), if any.
    rows = (
        votes.filter(item__control_answers__task_id=F("task_id"))
        .values("annotator_id")
        .annotate(
            total=Count("id"),
            correct=Count("id", filter=Q(item__control_answers__label_id=F("label_id"))),
        )
    )
    return {row["annotator_id"]: ControlScore(row["correct"], row["total"]) for row in rows}


def get_control_timeline(project: Project) -> dict[int, list[tuple[str, ControlScore]]]:
    """{annotator id: [(ISO week "2026-W49", ControlScore), ...]} in week order."""
    rows = (
        Vote.objects.filter(item__project=project, is_control=True, item__control_answers__task_id=F("task_id"))
        .values("annotator_id", "annotation__created_at__iso_year", "annotation__created_at__week")
        .annotate(total=Count("id"), correct=Count("id", filter=Q(item__control_answers__label_id=F("label_id"))))
        .order_by("annotator_id", "annotation__created_at__iso_year", "annotation__created_at__week")
    )
    out: dict[int, list[tuple[str, ControlScore]]] = defaultdict(list)
    for row in rows:
        week = f"{row['annotation__created_at__iso_year']}-W{row['annotation__created_at__week']:02d}"
        out[row["annotator_id"]].append((week, ControlScore(row["correct"], row["total"])))
    return dict(out)
