"""Builders for the labelling-loop tests: items, members, claims and
submits through the real services, and a pre-labeller's suggestions."""

from __future__ import annotations

import uuid

from django.utils import timezone

from annotator.models import Claim, ImageAsset, Item, Project
from annotator.services import queue, votes
from tests.factories import make_member

MSED_LABELS = {"desire": "family", "sentiment": "positive", "emotion": "happiness"}


MSED_ORDER = ["desire", "sentiment", "emotion"]


def make_image(n: int = 0) -> ImageAsset:
    return ImageAsset.objects.create(
        sha256=f"{n:064x}", file=f"images/{n:064x}.png", format="PNG", width=4, height=4, size_bytes=10
    )


def make_items(project: Project, n: int, *, image: bool = False, text: bool = True, start: int = 0) -> list[Item]:
    items = [
        Item(
            project=project,
            external_id=f"item-{start + i:05d}",
            text=f"A family walk along the river, post {start + i}." if text else "",
            image=make_image(start + i) if image else None,
        )
        for i in range(n)
    ]
    return Item.objects.bulk_create(items)


def submit(annotator, claim: Claim, labels=None, **kwargs) -> votes.SubmitResult:
    defaults = {"inference_order": MSED_ORDER, "client_key": uuid.uuid4(), "duration_ms": 1200}
    return votes.submit_annotation(
        annotator=annotator, item=claim.item, round_=claim.round, labels=labels or MSED_LABELS, **{**defaults, **kwargs}
    )


def claim_and_submit(annotator, project, labels=None) -> votes.SubmitResult:
    claim = queue.claim_next_item(annotator=annotator, project=project)
    assert claim is not None
    return submit(annotator, claim, labels)


def members(project, n: int, prefix: str = "member") -> list:
    return [make_member(project, username=f"{prefix}-{i:02d}") for i in range(n)]


def set_counts(item: Item, **counts) -> None:
    Item.objects.filter(pk=item.pk).update(**counts)


def make_suggestions(
    project, entropies: dict[Item, float], *, label_keys=None, store_uncertainty: bool = True, training=None
):
    """A succeeded prediction run with one suggestion per task for each item
    (entropy split over the tasks), and, as the prediction job does, the
    items' uncertainty stored for the queue. The run is of `training`, or of
    a new training run made the project's pre-labeller."""
    from inference.models import PredictionRun, RunStatus, Suggestion, TrainingRun
    from inference.services.uncertainty import refresh_item_uncertainty

    if training is None:
        training = TrainingRun.objects.create(project=project, is_prelabeller=True, status=RunStatus.SUCCEEDED)
    run = PredictionRun.objects.create(
        project=project, training_run=training, status=RunStatus.SUCCEEDED, finished_at=timezone.now()
    )
    label_keys = label_keys or MSED_LABELS
    tasks = list(project.tasks.prefetch_related("labels"))
    rows = []
    for item, entropy in entropies.items():
        for task in tasks:
            labels = list(task.labels.all())
            label = next(l for l in labels if l.key == label_keys[task.key])
            rows.append(
                Suggestion(
                    run=run,
                    item=item,
                    task=task,
                    label=label,
                    probability=0.8,
                    probabilities=[0.8 if l == label else 0.2 / (len(labels) - 1) for l in labels],
                    entropy=entropy / len(tasks),
                )
            )
    Suggestion.objects.bulk_create(rows)
    if store_uncertainty:
        refresh_item_uncertainty(project=project)
    return run


def make_control(item: Item, answers: dict[str, str]) -> Item:
    """Make `item` a control item with known answers {task key: label key} (source lead)."""
    from annotator.models import ControlAnswer, Label

    for task_key, label_key in answers.items():
        label = Label.objects.select_related("task").get(task__project=item.project, task__key=task_key, key=label_key)
        ControlAnswer.objects.create(item=item, task=label.task, label=label)
    Item.objects.filter(pk=item.pk).update(is_control=True)
    item.is_control = True
    return item
