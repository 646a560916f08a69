"""Reads for training and prediction: database rows -> plain records.

A record is the dict inference.modeling.Record reads:
    {"id": item id, "text": "...", "title": "...", "image_path": "/abs/path.jpg" | None,
     "image_sha256": "..." | None, "labels": {task_key: label index}, "split": "train"}
Label indices follow the task's label order (position, id), the order of
Suggestion.probabilities. Each selector runs a fixed handful of queries
(items joined to their image, gold as integer triples), never one per item.

Access is checked by the callers (lead-only views and API permissions, or a
worker acting on a run a lead started).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from annotator.io.soft_labels import soft_label
from annotator.models import Annotation, Gold, Item, PrelabelPolicy, Project, Task, Vote
from annotator.schemas import ProjectSchema
from annotator.selectors import get_project_schema
from annotator.storage import local_image_path

from .models import FINISHED_STATUSES, EmbeddingMap, PredictionRun, RunStatus, Suggestion, TrainingRun

TRAINING_SPLITS = (Item.Split.TRAIN, Item.Split.DEV, Item.Split.TEST)
# Items with at least this many multimodal votes take part in the
# model-versus-annotators comparison (MSED Table 7 used three volunteers).
MIN_VOTES_FOR_HUMAN_EVAL = 3


def _image_path(file: str | None) -> str | None:
    # Worker side only: the image loaders read paths (see annotator.storage).
    return local_image_path(file)


def _records(
    rows: Iterable[tuple],
    labels: dict[int, dict[str, int]] | None = None,
    soft_labels: dict[int, dict[str, list[float]]] | None = None,
) -> list[dict[str, Any]]:
    records = [
        {
            "id": item_id,
            "text": text or "",
            # Metadata is the importer's JSON: a title that is not a string is no title.
            "title": title if isinstance(title, str) else "",
            "image_path": _image_path(file),
            "image_sha256": sha256 or None,
            "labels": (labels or {}).get(item_id, {}),
            "split": split,
        }
        for item_id, text, split, file, sha256, title in rows
    ]
    if soft_labels:
        for record in records:
            if record["id"] in soft_labels:
                record["soft_labels"] = soft_labels[record["id"]]
    return records


# The title is MSED's Title column, which imports keep in Item.metadata.
_RECORD_COLUMNS = ("id", "text", "split", "image__file", "image__sha256", "metadata__title")


def list_training_records(
    project: Project, schema: ProjectSchema | None = None, *, targets: str = "hard"
) -> list[dict[str, Any]]:
    """Records of the items in the train, dev and test splits that have at
    least one gold label, with their gold labels as indices (ties and
    missing gold are left out of `labels`). Two queries; targets="soft"
    adds `soft_labels` to train-split records (list_soft_labels, two more).
    Control items are left out: their answers measure annotators, and a
    model trained on them would suggest those answers on the control items
    themselves."""
    schema = schema or get_project_schema(project)
    label_index = schema.label_index
    gold = Gold.objects.filter(
        item__project=project, item__split__in=TRAINING_SPLITS, item__is_control=False, label__isnull=False
    ).values_list("item_id", "label_id")
    labels: dict[int, dict[str, int]] = {}
    for item_id, label_id in gold.iterator(chunk_size=5000):
        if label_id in label_index:
            key, position = label_index[label_id]
            labels.setdefault(item_id, {})[key] = position
    rows = (
        Item.objects.filter(project=project, split__in=TRAINING_SPLITS, is_control=False)
        .filter(Exists(Gold.objects.filter(item=OuterRef("pk"), label__isnull=False)))
        .order_by("id")
        .values_list(*_RECORD_COLUMNS)
    )
    soft = list_soft_labels(project, schema) if targets == "soft" else None
    return _records(rows.iterator(chunk_size=5000), labels, soft)


def list_soft_labels(project: Project, schema: ProjectSchema | None = None) -> dict[int, dict[str, list[float]]]:
    """{item id: {task key: probabilities in label order}} of the train
    split's items, the targets of soft-label training (issue 14.4):
    annotator.io.soft_labels.soft_label of each item's gold (its posterior,
    or one-hot when adjudicated or imported) and its vote counts. Votes
    count in the multimodal round only, never control votes or control
    items' votes (an item without counted votes or gold has no entry).
    Two queries: gold rows, and votes counted per (item, task, label)."""
    schema = schema or get_project_schema(project)
    tasks_by_id = {task.id: task for task in schema.tasks}
    label_keys = {label.id: label.key for task in schema.tasks for label in task.labels}
    train = Q(item__project=project, item__split=Item.Split.TRAIN)
    gold: dict[tuple[int, int], tuple[str, str | None, Any]] = {}
    for item_id, task_id, label_id, source, posterior in (
        Gold.objects.filter(train).values_list("item_id", "task_id", "label_id", "source", "posterior").iterator(5000)
    ):
        gold[item_id, task_id] = (source, label_keys.get(label_id), posterior)
    votes: dict[tuple[int, int], dict[str, int]] = {}
    counted = (
        Vote.objects.filter(train, round=Annotation.Round.MULTIMODAL, is_control=False, item__is_control=False)
        .values_list("item_id", "task_id", "label_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for item_id, task_id, label_id, n in counted.iterator(5000):
        if label_id in label_keys:
            votes.setdefault((item_id, task_id), {})[label_keys[label_id]] = n
    out: dict[int, dict[str, list[float]]] = {}
    for item_id, task_id in gold.keys() | votes.keys():
        task = tasks_by_id.get(task_id)
        if task is None:
            continue
        source, gold_key, posterior = gold.get((item_id, task_id), (None, None, None))
        distribution = soft_label(
            task.label_keys,
            votes=votes.get((item_id, task_id), {}),
            source=source,
            gold_label=gold_key,
            posterior=posterior,
        )
        if distribution is not None:
            out.setdefault(item_id, {})[task.key] = list(distribution.values())
    return out


def count_train_gold(project: Project) -> int:
    """Gold labels (not ties) on items of the train split."""
    return Gold.objects.filter(
        item__project=project, item__split=Item.Split.TRAIN, item__is_control=False, label__isnull=False
    ).count()


def count_train_items_with_gold(project: Project) -> int:
    """Items of the train split with a gold label (not a tie) for at least one task."""
    items = Item.objects.filter(project=project, split=Item.Split.TRAIN, is_control=False)
    return items.filter(gold__label__isnull=False).distinct().count()


def count_gold_labels(project: Project) -> int:
    """All gold labels (not ties) of the project. Filters on the project's
    task ids so PostgreSQL answers from the (task, label) index, no join:
    the retrain policy asks after every vote."""
    task_ids = list(Task.objects.filter(project=project).values_list("id", flat=True))
    return Gold.objects.filter(task_id__in=task_ids, label__isnull=False).count()


def list_items_to_suggest(project: Project, n_tasks: int) -> QuerySet[Item]:
    """Items a prediction run writes suggestions for, in id order.

    Every item that is not yet settled, i.e. lacks a settled gold label for
    some task. Gold counts as settled when a lead adjudicated it, it was
    imported, or the item received all its votes (votes_per_item); majority
    gold of an item still collecting votes is not settled, so annotators
    still see suggestions there. Also held-out items (not train) with at
    least three votes, so the pre-labeller can be compared with the
    annotators there (MSED Table 7).
    """
    settled = Count(
        "gold",
        filter=Q(gold__label__isnull=False)
        & (~Q(gold__source=Gold.Source.MAJORITY) | Q(vote_count__gte=project.votes_per_item)),
    )
    return (
        Item.objects.filter(project=project)
        .annotate(settled=settled)
        .filter(Q(settled__lt=n_tasks) | (Q(vote_count__gte=MIN_VOTES_FOR_HUMAN_EVAL) & ~Q(split=Item.Split.TRAIN)))
        .order_by("id")
    )


def list_prediction_records(project: Project, n_tasks: int) -> list[dict[str, Any]]:
    """Records (without labels) of list_items_to_suggest, one query."""
    rows = list_items_to_suggest(project, n_tasks).values_list(*_RECORD_COLUMNS)
    return _records(rows.iterator(chunk_size=5000))


def list_map_records(project: Project, limit: int) -> list[dict[str, Any]]:
    """Records of at most `limit` items spread evenly over the project (by
    id), for the embedding map: two queries, however many items."""
    ids = list(Item.objects.filter(project=project).order_by("id").values_list("id", flat=True))
    if len(ids) > limit:
        step = len(ids) / limit
        ids = [ids[int(i * step)] for i in range(limit)]
    rows = Item.objects.filter(id__in=ids).order_by("id").values_list(*_RECORD_COLUMNS)
    return _records(rows)


# ---------------------------------------------------------------------------
# Runs


def list_training_runs(project: Project) -> QuerySet[TrainingRun]:
    return TrainingRun.objects.filter(project=project).select_related("created_by").order_by("-created_at", "-id")


def targets_of(config: dict | None) -> str:
    """A run's training targets; runs from before the option trained on hard labels."""
    return (config or {}).get("targets") or "hard"


def get_other_targets_run(run: TrainingRun) -> TrainingRun | None:
    """The project's latest succeeded run trained with the same options as
    `run` except its targets (hard <-> soft), or None (issue 14.4). One
    query over the project's succeeded runs with the other targets."""
    other = "soft" if targets_of(run.config) == "hard" else "hard"
    with_other = Q(config__targets=other) | (Q(config__targets__isnull=True) if other == "hard" else Q(pk__in=[]))
    same = {key: value for key, value in (run.config or {}).items() if key != "targets"}
    candidates = (
        TrainingRun.objects.filter(project=run.project, status=RunStatus.SUCCEEDED)
        .filter(with_other)
        .exclude(pk=run.pk)
        .order_by(F("finished_at").desc(nulls_last=True), "-id")
    )
    for candidate in candidates:
        if {key: value for key, value in (candidate.config or {}).items() if key != "targets"} == same:
            return candidate
    return None


def get_prelabeller(project: Project) -> TrainingRun | None:
    return TrainingRun.objects.filter(project=project, is_prelabeller=True).first()


def list_experiments(project: Project) -> list[dict[str, Any]]:
    """[{"experiment", "runs", "finished", "started"}] newest first."""
    from django.db.models import Min

    rows = (
        TrainingRun.objects.filter(project=project)
        .exclude(experiment="")
        .values("experiment")
        .annotate(
            runs=Count("id"),
            finished=Count("id", filter=Q(status__in=FINISHED_STATUSES)),
            started=Min("created_at"),
        )
        .order_by("-started")
    )
    return list(rows)


def list_experiment_runs(project: Project, experiment: str) -> list[TrainingRun]:
    return list(TrainingRun.objects.filter(project=project, experiment=experiment).order_by("id"))


def list_prediction_runs(project: Project, limit: int = 10) -> list[PredictionRun]:
    return list(
        PredictionRun.objects.filter(project=project)
        .select_related("training_run")
        .order_by("-created_at", "-id")[:limit]
    )


def get_current_prediction_run_id(project: Project) -> int | None:
    """The run whose suggestions the project shows now ("current"): the
    latest succeeded prediction run of its pre-labeller, or None. One query."""
    return (
        PredictionRun.objects.filter(project=project, training_run__is_prelabeller=True, status=RunStatus.SUCCEEDED)
        .order_by(F("finished_at").desc(nulls_last=True), "-id")
        .values_list("pk", flat=True)
        .first()
    )


def get_latest_prediction_run(training_run: TrainingRun) -> PredictionRun | None:
    """The training run's latest succeeded prediction run."""
    return (
        PredictionRun.objects.filter(training_run=training_run, status=RunStatus.SUCCEEDED)
        .order_by(F("finished_at").desc(nulls_last=True), "-id")
        .first()
    )


def get_policy(project: Project) -> PrelabelPolicy:
    """The project's policy; an unsaved default when none was stored."""
    return PrelabelPolicy.objects.filter(project=project).first() or PrelabelPolicy(project=project)


def get_embedding_map(run: TrainingRun) -> EmbeddingMap | None:
    return EmbeddingMap.objects.filter(run=run).first()


def get_suggestion_arrays(
    run: PredictionRun, task_id: int, item_ids: Iterable[int] | None = None
) -> dict[int, tuple[int, float, float]]:
    """{item id: (label id, probability, entropy)} of one task's suggestions in a run."""
    qs = Suggestion.objects.filter(run=run, task_id=task_id)
    if item_ids is not None:
        qs = qs.filter(item_id__in=list(item_ids))
    return {
        item_id: (label_id, p, h)
        for item_id, label_id, p, h in qs.values_list("item_id", "label_id", "probability", "entropy")
    }


def list_current_suggestions(project: Project, item_ids: Iterable[int]) -> dict[int, dict[str, dict[str, Any]]]:
    """The pre-labeller's current suggestions of the given items:
    {item id: {task key: {"label": key, "probability": p, "probabilities": [...], "entropy": h}}}.
    "Current" is the pre-labeller's latest succeeded prediction run, as the
    labelling queue uses it. Two queries."""
    prelabeller = get_prelabeller(project)
    run = get_latest_prediction_run(prelabeller) if prelabeller else None
    if run is None:
        return {}
    rows = Suggestion.objects.filter(run=run, item_id__in=list(item_ids)).values_list(
        "item_id", "task__key", "label__key", "probability", "probabilities", "entropy"
    )
    out: dict[int, dict[str, dict[str, Any]]] = {}
    for item_id, task_key, label_key, p, probabilities, entropy in rows:
        out.setdefault(item_id, {})[task_key] = {
            "label": label_key,
            "probability": p,
            "probabilities": probabilities,
            "entropy": entropy,
        }
    return out


def get_gold_and_support(
    project: Project, item_ids: Iterable[int]
) -> dict[int, dict[int, tuple[int | None, int, int]]]:
    """{item id: {task id: (gold label id or None, votes_for, votes_total)}}, one query."""
    rows = Gold.objects.filter(item_id__in=list(item_ids), item__project=project).values_list(
        "item_id", "task_id", "label_id", "votes_for", "votes_total"
    )
    out: dict[int, dict[int, tuple[int | None, int, int]]] = {}
    for item_id, task_id, label_id, votes_for, votes_total in rows:
        out.setdefault(item_id, {})[task_id] = (label_id, votes_for, votes_total)
    return out


def get_item_summaries(item_ids: Iterable[int]) -> dict[int, tuple[str, str, bool]]:
    """{item id: (external id, text, has image)}, one query."""
    rows = Item.objects.filter(id__in=list(item_ids)).values_list("id", "external_id", "text", "image_id")
    return {item_id: (external_id, text, image_id is not None) for item_id, external_id, text, image_id in rows}


def list_calibration_rows(run: TrainingRun, schema: ProjectSchema) -> list[dict[str, Any]]:
    """The run's calibration per task in the project's task order (issue 14.5):
    [{"key", "name", "temperature", "fitted", "note", "dev_items",
    "test_items", "ece_before", "ece_after", "bins_before", "bins_after"}]
    from TrainingRun.calibration; [] for a run trained before calibration
    was measured. No query beyond the run row."""
    stored = run.calibration or {}
    rows = []
    for task in schema.tasks:
        entry = stored.get(task.key)
        if isinstance(entry, dict):
            rows.append({**entry, "key": task.key, "name": task.name})
    return rows
