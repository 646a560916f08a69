"""What a lead reviews: an item's whole record, and the disputed
items (a tied majority, or support below the project's dispute threshold,
not yet adjudicated) with their vote distributions. Reads only; a lead's
decision is annotator.services.gold.adjudicate."""

from __future__ import annotations

from collections import Counter, defaultdict

from django.db.models import Exists, F, OuterRef, Q

from .. import suggestions
from ..models import ROUND_COUNTERS, Annotation, AnnotationEdit, Gold, Item, Label, Membership, Project, Task, Vote

Round = Annotation.Round


def list_disputed_items(
    project: Project, *, after: str | int | None = None, limit: int = 50, complete_only: bool = False
) -> dict:
    """Items with at least one disputed gold label, in id order after `after`
    (keyset), each with its gold and multimodal vote counts per task."""
    try:
        after_id = int(after) if after else 0
    except (TypeError, ValueError):
        after_id = 0
    qs = Item.objects.filter(project=project, pk__gt=after_id).disputed(project)
    if complete_only:
        qs = qs.complete(project)
    return _page(project, qs, after_id, limit, lambda g: g.is_disputed(project.dispute_threshold))


def _page(project: Project, qs, after_id: int, limit: int, flag) -> dict:
    """A keyset page of items with their gold rows (g.disputed = flag(g)),
    vote distributions, label choices and inference orders."""
    rows = list(qs.select_related("image").order_by("pk")[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    gold: dict[int, list[Gold]] = defaultdict(list)
    for g in (
        Gold.objects.filter(item__in=rows)
        .select_related("task", "label", "majority_label", "adjudicated_by")
        .order_by("task__position", "task_id")
    ):
        g.disputed = flag(g)
        gold[g.item_id].append(g)
    ids = [i.pk for i in rows]
    counts, by_label = get_vote_distribution(ids), _vote_counts_by_label(ids)
    labels = _labels_by_task(project)
    annotations: dict[int, list[dict]] = defaultdict(list)
    for a in (
        Annotation.objects.filter(item_id__in=ids, round=Round.MULTIMODAL)
        .select_related("annotator")
        .order_by("created_at", "id")
    ):
        annotations[a.item_id].append({"annotator": a.annotator.username, "inference_order": a.inference_order})
    for item in rows:
        item.gold_rows = gold.get(item.pk, [])
        item.orders = annotations.get(item.pk, [])
        for g in item.gold_rows:
            g.distribution = counts.get((item.pk, g.task_id), [])
            g.choices = label_choices(labels.get(g.task_id, []), by_label.get((item.pk, g.task_id), Counter()))
    return {"items": rows, "next_after": rows[-1].pk if has_more and rows else None, "after": after_id}


def get_next_disputed_item(project: Project, *, from_id: int, complete_only: bool = False) -> Item | None:
    """The first disputed item at or after `from_id` (the same item while it
    still has a disputed task), else the first one from the start; None when
    nothing is left to adjudicate."""
    qs = Item.objects.filter(project=project).disputed(project).order_by("pk")
    if complete_only:
        qs = qs.complete(project)
    return qs.filter(pk__gte=from_id).first() or qs.first()


# ---------------------------------------------------------------- model-based gold in doubt

MODEL_SOURCES = (Gold.Source.DAWID_SKENE, Gold.Source.MACE)


def parse_doubt_filters(project: Project, *, task: str | None, below) -> tuple[Task | None, float]:
    """(the task named by its key, or None for all; the confidence threshold,
    the project's dispute threshold unless `below` is a share in [0, 1])."""
    chosen = Task.objects.filter(project=project, key=task).first() if task else None
    try:
        threshold = float(below)
    except (TypeError, ValueError):
        threshold = project.dispute_threshold
    if not 0 <= threshold <= 1:
        threshold = project.dispute_threshold
    return chosen, threshold


def _doubtful_gold(threshold: float, task: Task | None):
    """Model-based gold (Dawid-Skene, MACE) that differs from the plain
    majority (or the majority is tied), or whose confidence is below `threshold`."""
    qs = Gold.objects.filter(source__in=MODEL_SOURCES).filter(
        Q(majority_label__isnull=True) | ~Q(label=F("majority_label")) | Q(confidence__lt=threshold)
    )
    return qs.filter(task=task) if task is not None else qs


def is_doubtful(g: Gold, threshold: float, task: Task | None = None) -> bool:
    """_doubtful_gold for one row."""
    if g.source not in MODEL_SOURCES or (task is not None and g.task_id != task.pk):
        return False
    return g.majority_label_id is None or g.label_id != g.majority_label_id or (g.confidence or 0) < threshold


def list_model_doubts(
    project: Project, *, task: Task | None = None, threshold: float, after: str | int | None = None, limit: int = 50
) -> dict:
    """Items whose model-based gold differs from the majority or has confidence
    below `threshold` (for `task`, or any task), not yet adjudicated, in id
    order after `after` (keyset); the shape of list_disputed_items."""
    try:
        after_id = int(after) if after else 0
    except (TypeError, ValueError):
        after_id = 0
    qs = Item.objects.filter(project=project, pk__gt=after_id).filter(
        Exists(_doubtful_gold(threshold, task).filter(item=OuterRef("pk")))
    )
    return _page(project, qs, after_id, limit, lambda g: is_doubtful(g, threshold, task))


def get_next_model_doubt(project: Project, *, from_id: int, task: Task | None, threshold: float) -> Item | None:
    """As get_next_disputed_item, over list_model_doubts' items."""
    qs = (
        Item.objects.filter(project=project)
        .filter(Exists(_doubtful_gold(threshold, task).filter(item=OuterRef("pk"))))
        .order_by("pk")
    )
    return qs.filter(pk__gte=from_id).first() or qs.first()


def _labels_by_task(project: Project) -> dict[int, list[Label]]:
    """task id -> its labels in schema order."""
    labels: dict[int, list[Label]] = defaultdict(list)
    for label in Label.objects.filter(task__project=project).order_by("task_id", "position", "id"):
        labels[label.task_id].append(label)
    return labels


def label_choices(labels: list[Label], counts: Counter) -> list[tuple[Label, int]]:
    """[(label, multimodal votes for it)] in schema order: every label a lead
    may choose, each with the votes it got (zero included)."""
    return [(label, counts.get(label.pk, 0)) for label in labels]


def _vote_counts_by_label(item_ids: list[int]) -> dict[tuple[int, int], Counter]:
    """(item, task) -> Counter(label id -> multimodal votes)."""
    counter: dict[tuple[int, int], Counter] = defaultdict(Counter)
    for item_id, task_id, label_id in Vote.objects.filter(item_id__in=item_ids, round=Round.MULTIMODAL).values_list(
        "item_id", "task_id", "label_id"
    ):
        counter[(item_id, task_id)][label_id] += 1
    return counter


def get_vote_distribution(item_ids: list[int]) -> dict[tuple[int, int], list[tuple[str, int]]]:
    """(item, task) -> [(label name, multimodal votes)], most voted first."""
    counter: dict[tuple[int, int], Counter] = defaultdict(Counter)
    rows = Vote.objects.filter(item_id__in=item_ids, round=Round.MULTIMODAL).values_list(
        "item_id", "task_id", "label__name"
    )
    for item_id, task_id, name in rows:
        counter[(item_id, task_id)][name] += 1
    return {key: c.most_common() for key, c in counter.items()}


def get_item_record(item: Item, *, project: Project) -> dict:
    """Everything a lead needs to judge an item: every annotation (who, round,
    labels, order, time, suggestions kept), gold with support, the model's
    suggestions, the edit history, skips and live claims."""
    pseudonyms = dict(Membership.objects.filter(project=project).values_list("user_id", "pseudonym"))
    annotations = list(
        item.annotations.select_related("annotator")
        .prefetch_related("votes__task", "votes__label")
        .order_by("created_at", "id")
    )
    round_order = {r: i for i, r in enumerate(project.rounds)}
    annotations.sort(key=lambda a: (round_order.get(a.round, 9), a.created_at, a.pk))
    edits = list(
        AnnotationEdit.objects.filter(annotation__item=item)
        .select_related("editor", "annotation__annotator")
        .order_by("at", "id")
    )
    edit_counts = Counter(e.annotation_id for e in edits)
    gold = list(
        item.gold.select_related("task", "label", "majority_label", "adjudicated_by").order_by(
            "task__position", "task_id"
        )
    )
    counts, by_label = get_vote_distribution([item.pk]), _vote_counts_by_label([item.pk])
    labels = _labels_by_task(project)
    for g in gold:
        g.disputed = g.is_disputed(project.dispute_threshold)
        g.distribution = counts.get((item.pk, g.task_id), [])
    # Pages show names (the schema's task names, "Text only"), not raw keys.
    task_names = dict(project.tasks.values_list("key", "name"))
    return {
        "item": item,
        "counts": {
            r: {"votes": getattr(item, v), "claims": getattr(item, c)}
            for r, (v, c) in ROUND_COUNTERS.items()
            if r in project.rounds
        },
        "annotations": [
            {
                "id": a.pk,
                "annotator": a.annotator.username,
                "pseudonym": pseudonyms.get(a.annotator_id, ""),
                "round": a.round,
                "labels": {
                    v.task.key: v.label.key for v in sorted(a.votes.all(), key=lambda v: (v.task.position, v.task_id))
                },
                "label_by_task": {v.task.key: v.label.name for v in a.votes.all()},
                "round_name": Round(a.round).label if a.round in Round.values else a.round,
                "inference_order_names": [task_names.get(k, k) for k in (a.inference_order or [])],
                "suggestions_kept": [(task_names.get(k, k), kept) for k, kept in (a.suggestion_accepted or {}).items()],
                "label_names": [
                    v.label.name for v in sorted(a.votes.all(), key=lambda v: (v.task.position, v.task_id))
                ],
                "inference_order": a.inference_order,
                "duration_ms": a.duration_ms,
                "suggestion_run": a.suggestion_run_id,
                "suggestion_accepted": a.suggestion_accepted,
                # In the anchoring experiment's hidden arm the suggestions were
                # withheld: suggestion_accepted then says whether the label matched them.
                "suggestion_arm": a.suggestion_arm,
                "edits": edit_counts.get(a.pk, 0),
                "created_at": a.created_at,
                "updated_at": a.updated_at,
            }
            for a in annotations
        ],
        "gold": gold,
        # task id -> [(label, multimodal votes)] for every task, gold or not.
        "choices": {t: label_choices(ls, by_label.get((item.pk, t), Counter())) for t, ls in labels.items()},
        "suggestions": suggestions.get_provider().list_for_item(item),
        "edits": edits,
        "skips": list(item.skips.select_related("annotator").order_by("at")),
        "claims": list(item.claims.select_related("annotator").order_by("created_at")),
    }
