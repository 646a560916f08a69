"""Annotations: submit, skip, change one's own. (What annotators and leads
read of them: annotator.selectors.labelling and .review.)

An annotation is one annotator's judgement of an item in a round: one vote
per task (MSED 3.3: desire, sentiment, emotion), the order in which they
inferred the tasks, the time spent and the suggestions they were shown.
Submitting needs a live claim from the queue (annotator.services.queue) and
converts it into a vote in the same transaction, which also updates the
item's counters and majority gold.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .. import anchoring, loop_orm, selectors, sql, suggestions
from ..errors import DomainError, NotAllowed
from ..models import ROUND_COUNTERS, Annotation, AnnotationEdit, Claim, ControlAnswer, Item, Project, Skip, Vote
from ..schemas import LabelSpec, ProjectSchema
from ..selectors import get_project_schema, labelling
from . import queue
from .gold import recompute_gold

Round = Annotation.Round
MAX_DURATION_MS = 86_400_000  # Annotation's check constraint: below a day


@dataclass(frozen=True)
class SubmitResult:
    annotation: Annotation
    created: bool  # False when a retry returned the first annotation
    item_complete: bool  # the item has its votes_per_item votes in this round
    # On a control item of a project with control_feedback: {task key:
    # {"matched": bool, "answer": label name}} per task with a known answer;
    # None otherwise (nothing tells the annotator it was a control item).
    control_feedback: dict | None = None


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def validate_labels(schema: ProjectSchema, labels) -> dict[str, LabelSpec]:
    """{task key: label key} -> {task key: LabelSpec}; every required task answered."""
    if not isinstance(labels, dict):
        raise DomainError(
            'Send the labels as an object of task to label, e.g. {"sentiment": "positive"}.', field="labels"
        )
    for key in labels:
        if schema.get_task(key) is None:
            raise DomainError(
                f"There is no task {key!r} in this project; its tasks are {_and(list(schema.keys))}.", field="labels"
            )
    chosen: dict[str, LabelSpec] = {}
    for task in schema.tasks:
        value = labels.get(task.key)
        if value in (None, ""):
            continue
        label = task.label(str(value))
        if label is None:
            options = _and(list(task.label_keys))
            raise DomainError(f"{value!r} is not a label of {task.name}; choose one of {options}.", field="labels")
        chosen[task.key] = label
    missing = [t.name for t in schema.tasks if t.required and t.key not in chosen]
    if missing:
        raise DomainError(f"Choose a label for {_and(missing)} before submitting.", field="labels")
    if not chosen:
        raise DomainError("Choose at least one label before submitting.", field="labels")
    return chosen


def validate_inference_order(
    schema: ProjectSchema, chosen: dict[str, LabelSpec], order, *, required: bool
) -> list[str]:
    """The order in which the annotator inferred the tasks (MSED 3.3): each
    labelled task exactly once. Required when the project asks for it."""
    if order in (None, ""):
        order = []
    if not isinstance(order, (list, tuple)):
        raise DomainError("Send the inference order as a list of task keys.", field="inference_order")
    order = [str(k) for k in order]
    expected = [t.key for t in schema.tasks if t.key in chosen]
    if not order:
        if required:
            raise DomainError(
                f"Put the tasks in the order you inferred them ({' → '.join(expected)} or another order) before submitting.",
                field="inference_order",
            )
        return []
    if sorted(order) != sorted(expected):
        raise DomainError(
            f"The inference order must name each task you labelled exactly once ({_and(expected)}); got {' → '.join(order)}.",
            field="inference_order",
        )
    return order


def _clean_duration(duration_ms) -> int | None:
    if duration_ms in (None, ""):
        return None
    try:
        value = int(duration_ms)
    except (TypeError, ValueError) as exc:
        raise DomainError("The time spent must be a whole number of milliseconds.", field="duration_ms") from exc
    if value < 0:
        raise DomainError("The time spent cannot be negative.", field="duration_ms")
    # A tab left open for days still saves the labels; the time is capped.
    return min(value, MAX_DURATION_MS)


def _clean_key(client_key) -> uuid.UUID | None:
    if client_key in (None, ""):
        return None
    try:
        return client_key if isinstance(client_key, uuid.UUID) else uuid.UUID(str(client_key))
    except ValueError as exc:
        raise DomainError("The submission key must be a UUID generated by the page.", field="client_key") from exc


def _suggestion_outcome(
    project: Project, item: Item, round_: str, run_id, chosen: dict[str, LabelSpec], *, arm: str
) -> tuple[int | None, dict[str, bool]]:
    """(run id, {task key: accepted}) for the suggestions the page showed.

    Accepted means the submitted label equals the suggested one, computed
    here rather than trusted from the page. In the hidden arm of the
    anchoring experiment the page showed none: whatever run the client names
    is ignored, and the run the page would have shown (the current one, read
    here: one query more than the shown arm's submit) is recorded with the
    labels' agreement with it, so the dashboard can compare the arms."""
    if arm == anchoring.HIDDEN:
        run_id = suggestions.get_provider().current_run_id(project)
    if run_id in (None, ""):
        return None, {}
    if round_ != Round.MULTIMODAL:
        raise DomainError(
            "Suggestions are not shown in unimodal rounds; submit without a suggestion run.", field="suggestion_run"
        )
    suggested = suggestions.get_provider().label_ids_for_item(project=project, run_id=run_id, item_id=item.pk)
    if suggested is None:
        raise DomainError("That suggestion run does not belong to this project.", field="suggestion_run")
    return run_id, _accepted(chosen, suggested)


def _accepted(chosen: dict[str, LabelSpec], suggested: dict[int, int]) -> dict[str, bool]:
    """{task key: the chosen label is the suggested one}, for the tasks the run suggested."""
    return {key: label.id == suggested[label.task_id] for key, label in chosen.items() if label.task_id in suggested}


# --------------------------------------------------------------------------
# Writes


def submit_annotation(
    *,
    annotator,
    item: Item,
    labels: dict[str, str],
    round_: str = Round.MULTIMODAL,
    inference_order: list[str] | None = None,
    duration_ms: int | None = None,
    client_key: uuid.UUID | str | None = None,
    suggestion_run_id: int | None = None,
) -> SubmitResult:
    """Save the annotator's labels for a claimed item and end the claim.

    Idempotent: a retry with the same `client_key` returns the first
    annotation (created=False) and writes nothing. Refuses an item the
    annotator holds no claim on (expired and swept, or never claimed) and an
    item that already has its votes. Updates the item's counters and, for
    the multimodal round, its majority gold in the same transaction.

    The common case (a live claim) is one transaction of six statements;
    anything else (a retry, a lost claim, a reused key) rolls it back and is
    worked out from a fresh read (_explain_refusal).
    """
    project = item.project
    selectors.require_member(annotator, project)
    key = _clean_key(client_key)
    if round_ not in project.rounds:
        rounds = _and([Round(r).label.lower() for r in project.rounds])
        raise DomainError(f"This project has no {round_!r} round; its rounds are: {rounds}.", field="round")
    # Checked before taking the item's lock, to hold it for less time.
    schema = get_project_schema(project)
    chosen = validate_labels(schema, labels)
    order = validate_inference_order(schema, chosen, inference_order, required=project.ask_inference_order)
    duration = _clean_duration(duration_ms)
    # The server decides the arm (annotator.anchoring); the client cannot send one.
    arm = anchoring.suggestion_arm(project, annotator_id=annotator.pk, item_id=item.pk, round_=round_)
    run_id, accepted = _suggestion_outcome(project, item, round_, suggestion_run_id, chosen, arm=arm)
    try:
        with transaction.atomic():
            return _save_claimed(
                annotator=annotator,
                item=item,
                project=project,
                round_=round_,
                chosen=chosen,
                order=order,
                duration=duration,
                key=key,
                run_id=run_id,
                accepted=accepted,
                arm=arm,
            )
    except (_NoClaim, IntegrityError) as refusal:
        return _explain_refusal(
            annotator=annotator, item=item, project=project, round_=round_, key=key, refusal=refusal
        )


class _NoClaim(Exception):
    """The annotator holds no claim on the item in this round."""


def _save_claimed(
    *, annotator, item, project, round_, chosen, order, duration, key, run_id, accepted, arm
) -> SubmitResult:
    vote_field, claim_field = ROUND_COUNTERS[round_]
    now = timezone.now()
    # Locks this annotator's claims first (queue: Locks).
    queue.renew_held_claims(annotator=annotator, project=project, now=now)
    # Race: a retry racing its own first attempt, or a skip of the same item
    # from another tab. Deleting the claim row decides: one of them finds it.
    if not sql.hand_written():
        deleted = loop_orm.delete_claim(item_id=item.pk, annotator_id=annotator.pk, round_=round_)
    else:
        deleted = sql.execute(
            f"DELETE FROM {Claim._meta.db_table} WHERE item_id = %s AND annotator_id = %s AND round = %s",
            [item.pk, annotator.pk, round_],
        )
    if deleted != 1:
        raise _NoClaim
    annotation = Annotation(
        item=item,
        annotator=annotator,
        round=round_,
        inference_order=order,
        duration_ms=duration,
        suggestion_run_id=run_id,
        suggestion_accepted=accepted,
        suggestion_arm=arm,
        client_key=key,
        is_control=item.is_control,
        created_at=now,
        updated_at=now,
    )
    if not sql.hand_written():
        votes = [
            Vote(
                item=item,
                annotator=annotator,
                round=round_,
                task_id=label.task_id,
                label_id=label.id,
                is_control=item.is_control,
            )
            for label in chosen.values()
        ]
        loop_orm.insert_annotation(annotation, votes)
    else:
        _insert_annotation(annotation, chosen)
    # Race: other annotators submitting the same item. Its row lock, taken
    # here and held to commit, serialises their counters and gold: gold is
    # read below after every earlier submit of the item has committed (a new
    # statement sees them). Taken last, it is held for two statements only;
    # everyone labelling an item at once (finish-first) queues on it. The
    # claim converted above was counted in claim_count, which therefore
    # cannot go below zero (a check constraint says so).
    if item.is_control:
        # A control item's votes count toward nothing (not votes_per_item, not
        # gold, so no retrain either): its claim goes, its counters stay.
        if not sql.hand_written():
            loop_orm.uncount_claim(item.pk, claim_field)
        else:
            sql.execute(f"UPDATE {Item._meta.db_table} SET {claim_field} = {claim_field} - 1 WHERE id = %s", [item.pk])
        given = {label.task_id: label.id for label in chosen.values()}
        feedback = get_control_feedback(item.pk, given) if project.control_feedback else None
        return SubmitResult(annotation=annotation, created=True, item_complete=False, control_feedback=feedback)
    if not sql.hand_written():
        votes_now = loop_orm.count_vote(item.pk, (vote_field, claim_field))
    else:
        votes_now = sql.fetchone(
            f"UPDATE {Item._meta.db_table} SET {vote_field} = {vote_field} + 1, {claim_field} = {claim_field} - 1"
            f" WHERE id = %s RETURNING {vote_field}",
            [item.pk],
        )[0]
    if round_ == Round.MULTIMODAL:
        recompute_gold(item_ids=[item.pk], project=project, votes_removed=False)
    return SubmitResult(annotation=annotation, created=True, item_complete=votes_now >= project.votes_per_item)


def _insert_annotation(annotation: Annotation, chosen: dict[str, LabelSpec]) -> None:
    """The annotation and its votes, in two statements."""
    values = [sql.prep(annotation, name) for name in _ANNOTATION_COLUMNS]
    annotation.pk = sql.fetchone(
        f"INSERT INTO {Annotation._meta.db_table} ({', '.join(_ANNOTATION_COLUMNS)})"
        f" VALUES ({', '.join(['%s'] * len(values))}) RETURNING id",
        values,
    )[0]
    annotation._state.adding, annotation._state.db = False, connection.alias
    item_id, annotator_id, round_ = annotation.item_id, annotation.annotator_id, annotation.round
    control = annotation.is_control
    votes = [
        (annotation.pk, item_id, annotator_id, round_, label.task_id, label.id, control) for label in chosen.values()
    ]
    sql.execute(
        f"INSERT INTO {Vote._meta.db_table} (annotation_id, item_id, annotator_id, round, task_id, label_id, is_control)"
        " VALUES " + ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(votes)),
        [value for vote in votes for value in vote],
    )


_ANNOTATION_COLUMNS = [
    "item_id",
    "annotator_id",
    "round",
    "inference_order",
    "duration_ms",
    "suggestion_run_id",
    "suggestion_accepted",
    "suggestion_arm",
    "client_key",
    "is_control",
    "created_at",
    "updated_at",
]


def get_control_feedback(item_id: int, given: dict[int, int]) -> dict[str, dict]:
    """{task key: {"matched": bool, "answer": label name}} of the labels
    given on a control item ({task id: label id}) against its known answers
    (tasks without one left out). One query."""
    answers = ControlAnswer.objects.filter(item_id=item_id).select_related("task", "label")
    return {
        answer.task.key: {"matched": given.get(answer.task_id) == answer.label_id, "answer": answer.label.name}
        for answer in answers.order_by("task__position", "task_id")
    }


def _explain_refusal(*, annotator, item, project, round_, key, refusal) -> SubmitResult:
    """Why a submit found no claim to convert (or hit a unique constraint),
    read after its transaction rolled back: a retry of a saved submit gets
    its first annotation back; anything else a message to act on."""
    vote_field = ROUND_COUNTERS[round_][0]
    n = project.votes_per_item
    if key is not None:
        first = Annotation.objects.filter(client_key=key).first()
        if first is not None:
            if first.annotator_id != annotator.pk or first.item_id != item.pk:
                raise DomainError(
                    "This submission key was already used for another annotation; send a new key with each annotation."
                )
            first_vote_field = ROUND_COUNTERS[first.round][0]
            votes_now = Item.objects.filter(pk=item.pk).values_list(first_vote_field, flat=True).first() or 0
            if first.is_control:
                given = dict(first.votes.values_list("task_id", "label_id"))
                feedback = get_control_feedback(item.pk, given) if project.control_feedback else None
                return SubmitResult(annotation=first, created=False, item_complete=False, control_feedback=feedback)
            return SubmitResult(annotation=first, created=False, item_complete=votes_now >= n)
    if Annotation.objects.filter(item=item, annotator=annotator, round=round_).exists():
        raise DomainError(
            "You have already labelled this item in this round; change your labels from your history instead."
        )
    if isinstance(refusal, IntegrityError):
        raise refusal  # not a rule the annotator broke: let it surface
    # A held claim reserved its slot, so only an unclaimed submit can find the item full.
    votes_now = Item.objects.filter(pk=item.pk).values_list(vote_field, flat=True).first() or 0
    if votes_now >= n:
        raise DomainError(f"This item already has its {n} votes, so your labels were not saved. Take the next item.")
    raise DomainError(
        f"This item is not assigned to you any more (a claim expires after {project.claim_minutes} minutes "
        "without activity), so your labels were not saved. Take the next item."
    )


@transaction.atomic
def skip_item(*, annotator, item: Item, round_: str = Round.MULTIMODAL, reason: str = "") -> Skip:
    """Pass on an item: its claim is released and the queue will not offer it
    to this annotator again while it has other items for them."""
    project = item.project
    selectors.require_member(annotator, project)
    if round_ not in project.rounds:
        raise DomainError(f"This project has no {round_!r} round.", field="round")
    queue.renew_held_claims(annotator=annotator, project=project, now=timezone.now())  # claims first (queue: Locks)
    queue.release_claim(item_id=item.pk, annotator=annotator, round_=round_)
    skip, _ = Skip.objects.update_or_create(
        item=item,
        annotator=annotator,
        round=round_,
        defaults={"project": project, "reason": (reason or "").strip()[:500], "at": timezone.now()},
    )
    return skip


@transaction.atomic
def edit_annotation(
    *, annotation: Annotation, editor, labels: dict[str, str], inference_order: list[str] | None = None
) -> Annotation:
    """Change one's own annotation; the change is kept in AnnotationEdit
    (old and new labels and order). Without `inference_order` the recorded
    order is kept. A text- or image-round annotation is frozen once the
    annotator has done a later round of the item."""
    if editor.pk != annotation.annotator_id:
        raise NotAllowed("You can only change your own annotations.")
    item = Item.objects.select_for_update().select_related("project").get(pk=annotation.item_id)
    project = item.project
    selectors.require_member(editor, project)
    annotation = Annotation.objects.get(pk=annotation.pk)
    if labelling.is_frozen(annotation):  # the editor is its annotator
        raise DomainError(
            f"You have since labelled this item in a later round, so its {annotation.get_round_display().lower()} "
            "labels can no longer change: they must reflect that modality alone."
        )
    if labelling.is_answer_known(annotation, project=project):
        raise DomainError("You were told the known answers of this check item, so your labels can no longer change.")
    schema = get_project_schema(project)
    chosen = validate_labels(schema, labels)
    old = labelling.get_annotation_snapshot(annotation)
    if inference_order is None:
        inference_order = old["inference_order"]
    order = validate_inference_order(
        schema, chosen, inference_order, required=project.ask_inference_order and bool(old["inference_order"])
    )
    new = {"labels": {key: label.key for key, label in chosen.items()}, "inference_order": order}
    if new == old:
        return annotation
    votes = {v.task_id: v for v in annotation.votes.all()}
    changed = []
    for label in chosen.values():
        vote = votes.pop(label.task_id, None)
        if vote is None:
            Vote.objects.create(
                annotation=annotation,
                item=item,
                annotator=editor,
                round=annotation.round,
                task_id=label.task_id,
                label_id=label.id,
                is_control=annotation.is_control,
            )
        elif vote.label_id != label.id:
            vote.label_id = label.id
            changed.append(vote)
    Vote.objects.bulk_update(changed, ["label"])
    Vote.objects.filter(pk__in=[v.pk for v in votes.values()]).delete()  # optional tasks cleared
    annotation.inference_order = order
    if annotation.suggestion_run_id is not None:
        # Kept means the label is the suggestion's now: the dashboards count the labels as edited.
        suggested = suggestions.get_provider().label_ids_for_item(
            project=project, run_id=annotation.suggestion_run_id, item_id=item.pk
        )
        if suggested is not None:
            annotation.suggestion_accepted = _accepted(chosen, suggested)
    annotation.save(update_fields=["inference_order", "suggestion_accepted", "updated_at"])
    AnnotationEdit.objects.create(annotation=annotation, editor=editor, old=old, new=new)
    if annotation.round == Round.MULTIMODAL and not annotation.is_control:
        recompute_gold(item_ids=[item.pk], project=project)
    return annotation
