"""What an annotator sees while labelling: the claimed item as its round
shows it, the model's suggestions, their progress, and their own
annotations (never anyone else's). Reads only; the queue and the votes
(annotator.services.queue, .votes) change data."""

from __future__ import annotations

import math

from django.db.models import QuerySet
from django.urls import reverse

from .. import anchoring, suggestions
from ..models import Annotation, Claim, Item, Membership, Project, Skip
from . import is_lead

Round = Annotation.Round
# An annotation of an earlier round is frozen once a later round of the same
# item is done: a text-only label must reflect the text alone.
LATER_ROUNDS = {Round.TEXT: [Round.IMAGE, Round.MULTIMODAL], Round.IMAGE: [Round.MULTIMODAL]}


# --------------------------------------------------------------------------
# The item on screen


def get_item_view(item: Item, round_: str, *, project: Project) -> dict:
    """What the page may show of `item` in `round_`: the text round never
    carries the image (not even its URL), the image round never the text."""
    show_text = round_ != Round.IMAGE
    show_image = round_ != Round.TEXT
    return {
        "id": item.pk,
        "external_id": item.external_id,
        "round": round_,
        "text": item.text if show_text and item.text else None,
        "image_url": reverse("annotator:item-image", args=[project.slug, item.pk])
        if show_image and item.image_id
        else None,
        "has_text": item.has_text,
        "has_image": item.has_image,
        "hidden": "image" if round_ == Round.TEXT else "text" if round_ == Round.IMAGE else None,
    }


def get_suggestions(item: Item, round_: str, *, project: Project, annotator_id: int) -> dict | None:
    """The current run's suggested label per task with its probability, when
    the project shows suggestions to this annotator for this item. Never in
    unimodal rounds (the model saw both modalities), nor in the hidden arm of
    the anchoring experiment (annotator.anchoring), where not even the run
    is named: the page looks as if the item had no suggestions."""
    if not project.show_suggestions or round_ != Round.MULTIMODAL:
        return None
    if anchoring.suggestion_arm(project, annotator_id=annotator_id, item_id=item.pk) == anchoring.HIDDEN:
        return None
    provider = suggestions.get_provider()
    run_id = provider.current_run_id(project)
    if run_id is None:
        return None
    by_task = {
        task: {"label": s.label, "probability": round(s.probability, 4)}
        for task, s in provider.labels_for_item(run_id=run_id, item_id=item.pk).items()
    }
    if not by_task:
        return None
    return {"run": run_id, "after_first_choice": project.suggestions_after_first_choice, "by_task": by_task}


def get_claim_view(claim: Claim, *, project: Project) -> dict:
    """The payload of a claimed item for the labelling page and the API."""
    item = claim.item
    return {
        "item": get_item_view(item, claim.round, project=project),
        "round": claim.round,
        "expires_at": claim.expires_at,
        "suggestions": get_suggestions(item, claim.round, project=project, annotator_id=claim.annotator_id),
        "previously_skipped": claim.previously_skipped
        if hasattr(claim, "previously_skipped")
        else Skip.objects.filter(item=item, annotator_id=claim.annotator_id, round=claim.round).exists(),
    }


def can_see_image(user, item: Item, *, project: Project) -> bool:
    """Whether `user` may load the image of `item`.

    In a unimodal project an annotator sees the image of an item with text
    only once they have labelled its text alone (the text round must not be
    coloured by the picture). Leads, and projects without unimodal rounds,
    see every image."""
    if not project.unimodal_rounds or not item.text or is_lead(user, project):
        return True
    return Annotation.objects.filter(item=item, annotator=user, round=Round.TEXT).exists()


def get_progress(user, project: Project) -> dict:
    """Progress for the labelling page: the annotator's annotations against
    their share, and the project's complete items against its items.

    Without fixed assignments "my share" is the project's annotations
    (items x votes x rounds) divided among its annotators, capped at what one
    person can do (each item once per round). Control items are no part of
    the project's progress (they never fill up), but are of the annotator's
    own count, which must not tell them which items were controls."""
    rounds = len(project.rounds)
    items = Item.objects.filter(project=project, is_control=False)
    total = items.count()
    done = items.complete(project).count()
    mine = Annotation.objects.filter(item__project=project, annotator=user).count()
    annotators = project.memberships.filter(role=Membership.Role.ANNOTATOR).exclude(user=user).count() + 1
    share = min(total * rounds, math.ceil(total * project.votes_per_item * rounds / annotators))
    return {"mine_done": mine, "mine_share": max(share, mine), "project_done": done, "project_total": total}


# --------------------------------------------------------------------------
# Their own annotations


def get_annotation_snapshot(annotation: Annotation) -> dict:
    """{labels: {task key: label key}, inference_order: [task keys]} of an
    annotation, tasks in schema order (what an edit changes and records)."""
    votes = annotation.votes.select_related("task", "label").order_by("task__position", "task_id")
    return {
        "labels": {v.task.key: v.label.key for v in votes},
        "inference_order": list(annotation.inference_order or []),
    }


def is_frozen(annotation: Annotation) -> bool:
    """Whether its annotator has since labelled the item in a later round
    (LATER_ROUNDS): then its labels may no longer change."""
    later = LATER_ROUNDS.get(annotation.round, [])
    return bool(later) and (
        Annotation.objects.filter(
            item_id=annotation.item_id, annotator_id=annotation.annotator_id, round__in=later
        ).exists()
    )


def is_answer_known(annotation: Annotation, *, project: Project) -> bool:
    """Whether its annotator was told the known answers (a control item of a
    project with control feedback): then it may no longer change, or they
    could correct their control accuracy after the fact."""
    return annotation.is_control and project.control_feedback


def list_own_annotations(user, project: Project) -> QuerySet[Annotation]:
    """`user`'s own annotations in `project` (never anyone else's)."""
    return Annotation.objects.filter(item__project=project, annotator=user)


def get_own_annotation(user, project: Project, annotation_id: int) -> Annotation | None:
    return list_own_annotations(user, project).select_related("item").filter(pk=annotation_id).first()


def get_previous_annotation(user, project: Project, *, before_id: int | None = None) -> Annotation | None:
    """The annotator's annotation made just before `before_id` (their latest without it)."""
    qs = list_own_annotations(user, project).select_related("item")
    if before_id:
        qs = qs.filter(pk__lt=before_id)
    return qs.order_by("-pk").first()


def get_next_annotation(user, project: Project, *, after_id: int) -> Annotation | None:
    return list_own_annotations(user, project).select_related("item").filter(pk__gt=after_id).order_by("pk").first()


def get_annotation_view(annotation: Annotation, *, project: Project) -> dict:
    """An own annotation for the labelling page's edit mode: the item as its
    round shows it, and the labels and order to change."""
    snapshot = get_annotation_snapshot(annotation)
    own = Annotation.objects.filter(item__project=project, annotator_id=annotation.annotator_id)
    return {
        "item": get_item_view(annotation.item, annotation.round, project=project),
        "round": annotation.round,
        "annotation": {
            "id": annotation.pk,
            "labels": snapshot["labels"],
            "inference_order": snapshot["inference_order"],
            "duration_ms": annotation.duration_ms,
            "created_at": annotation.created_at,
            "updated_at": annotation.updated_at,
            "editable": not is_frozen(annotation) and not is_answer_known(annotation, project=project),
            "edits": annotation.edits.count(),
            # Whether Back and Forward have somewhere to go (the page asks only then).
            "has_earlier": own.filter(pk__lt=annotation.pk).exists(),
            "has_later": own.filter(pk__gt=annotation.pk).exists(),
        },
    }


def list_own_annotations_page(user, project: Project, *, before: str | None, limit: int = 50) -> dict:
    """The annotator's annotations, newest first, keyset-paginated by id."""
    qs = list_own_annotations(user, project).select_related("item").prefetch_related("votes__task", "votes__label")
    try:
        before_id = int(before) if before else None
    except ValueError:
        before_id = None
    if before_id:
        qs = qs.filter(pk__lt=before_id)
    rows = list(qs.order_by("-pk")[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    for a in rows:
        a.labels = {v.task.key: v.label.name for v in sorted(a.votes.all(), key=lambda v: (v.task.position, v.task_id))}
    return {"annotations": rows, "next_before": rows[-1].pk if has_more and rows else None, "before": before_id}
