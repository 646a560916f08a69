"""Reads about control items ("honeypots", issue 14 section 3): each
annotator's answers on them against the known answers.

A control answer is scored per task: one vote on a control item for a task
with a known answer is one trial, correct when its label is the known one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Exists, F, OuterRef, Q

from ..models import ControlAnswer, Gold, Item, Project, Vote


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


@dataclass(frozen=True)
class ControlItemRow:
    item_id: int
    external_id: str
    text: str
    answers: list[tuple[str, str, str]]  # (task name, label name, source), in task order
    seen: int  # annotators who labelled it as a control item
    score: ControlScore  # their votes on its tasks with a known answer


def list_control_items(project: Project) -> list[ControlItemRow]:
    """The project's control items, in id order, with their known answers,
    how many annotators labelled each as a control item and how often they
    matched. Three queries."""
    items = list(
        Item.objects.filter(project=project, is_control=True)
        .annotate(seen=Count("annotations", filter=Q(annotations__is_control=True)))
        .order_by("id")
        .values_list("id", "external_id", "text", "seen")
    )
    answers: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for answer in (
        ControlAnswer.objects.filter(item__project=project, item__is_control=True)
        .select_related("task", "label")
        .order_by("item_id", "task__position", "task_id")
    ):
        answers[answer.item_id].append((answer.task.name, answer.label.name, answer.get_source_display()))
    scores = {
        row["item_id"]: ControlScore(row["correct"], row["total"])
        for row in Vote.objects.filter(
            item__project=project, is_control=True, item__control_answers__task_id=F("task_id")
        )
        .values("item_id")
        .annotate(total=Count("id"), correct=Count("id", filter=Q(item__control_answers__label_id=F("label_id"))))
    }
    return [
        ControlItemRow(pk, external_id, text, answers.get(pk, []), seen, scores.get(pk, ControlScore(0, 0)))
        for pk, external_id, text, seen in items
    ]


def list_control_candidates(project: Project, *, limit: int = 200) -> list[Item]:
    """Items that could become control items: not control items yet, with
    adjudicated gold for some task (at most `limit`, in id order)."""
    adjudicated = Gold.objects.filter(item=OuterRef("pk"), source=Gold.Source.ADJUDICATED, label__isnull=False)
    return list(
        Item.objects.filter(project=project, is_control=False).filter(Exists(adjudicated)).order_by("id")[:limit]
    )


def list_control_answers(item: Item) -> list[ControlAnswer]:
    """The item's known answers, in task order, with task and label loaded."""
    return list(
        ControlAnswer.objects.filter(item=item).select_related("task", "label").order_by("task__position", "task_id")
    )
