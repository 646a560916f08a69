"""Dashboard reads: database rows -> compact NumPy arrays.

One module (just over 600 lines since the quality-control reads joined it):
every dashboard filters votes the same way (_vote_queryset: round, split,
annotators, weeks, control items left out), and splitting the pages' reads
apart would scatter that one rule.

Every selector here runs one query (or a fixed handful) and builds arrays
from integer columns; none loops over ORM objects. The queries are ordinary
QuerySets, so filters, joins and permissions read like the rest of the code
and work on SQLite too; analysis.columns reads their integer columns into
NumPy without a Python object per row.

Shapes used by the dashboards:

* ``VoteMatrix``: for one round, the items x annotators matrix of label
  positions of every task (-1 = no vote), rows and columns shared by tasks.
* ``GoldMatrix``: per item its split and, per task, the gold label position.
* ``AnnotationArrays``: per annotation its item, annotator, time and duration.

Access is checked by the views (`project_view(role="lead")`) and API
permissions: these selectors are for leads, who see every vote.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import Case, Count, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from annotator.models import Annotation, AnnotationEdit, ControlAnswer, Gold, Item, Membership, Project, Vote
from annotator.schemas import TaskSpec
from annotator.selectors import get_project_schema

from .columns import EPOCH_MAX, Column, dense_index, fetch_columns, max_ids

ROUNDS: tuple[str, ...] = tuple(Annotation.Round.values)
SPLITS: tuple[str, ...] = tuple(Item.Split.values)


# ---------------------------------------------------------------------------
# Filters


def _parse_date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class DashboardFilters:
    """Filters shared by every dashboard page.

    split: "" (all) or an Item.Split; round: the annotation round whose votes
    count (default multimodal, MSED's only round); annotators: user ids, empty
    = everyone; date_from / date_to: inclusive dates of Annotation.created_at
    in the site's time zone.
    """

    split: str = ""
    round: str = Annotation.Round.MULTIMODAL
    annotators: tuple[int, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> DashboardFilters:
        """Lenient parse of a query string (QueryDict): unknown values are ignored, not errors."""
        getlist = getattr(query, "getlist", None)
        raw_annotators = getlist("annotator") if getlist else query.get("annotator", [])
        if isinstance(raw_annotators, (str, int)):
            raw_annotators = [raw_annotators]
        annotators: set[int] = set()
        for value in raw_annotators:
            for part in str(value).split(","):
                if part.strip().isdigit():
                    annotators.add(int(part))
        split = query.get("split") or ""
        round_ = query.get("round") or Annotation.Round.MULTIMODAL
        return cls(
            split=split if split in SPLITS else "",
            round=round_ if round_ in ROUNDS else Annotation.Round.MULTIMODAL,
            annotators=tuple(sorted(annotators)),
            date_from=_parse_date(query.get("date_from")),
            date_to=_parse_date(query.get("date_to")),
        )

    def as_params(self) -> list[tuple[str, str]]:
        """Non-default values as (name, value) pairs for a query string."""
        params: list[tuple[str, str]] = []
        if self.split:
            params.append(("split", self.split))
        if self.round != Annotation.Round.MULTIMODAL:
            params.append(("round", self.round))
        params += [("annotator", str(a)) for a in self.annotators]
        if self.date_from:
            params.append(("date_from", self.date_from.isoformat()))
        if self.date_to:
            params.append(("date_to", self.date_to.isoformat()))
        return params

    def as_query(self) -> str:
        from urllib.parse import urlencode

        return urlencode(self.as_params())

    def as_dict(self) -> dict[str, Any]:
        return {
            "split": self.split or None,
            "round": self.round,
            "annotators": list(self.annotators),
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
        }

    @property
    def narrows_votes(self) -> bool:
        """Whether the filters pick a subset of the votes behind the stored gold (multimodal, everyone, any date)."""
        return bool(self.annotators or self.date_from or self.date_to or self.round != Annotation.Round.MULTIMODAL)

    def datetime_range(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """[start, end) as aware datetimes: date_to is inclusive, so end is the next midnight."""
        tz = timezone.get_current_timezone()
        start = dt.datetime.combine(self.date_from, dt.time.min, tzinfo=tz) if self.date_from else None
        end = dt.datetime.combine(self.date_to + dt.timedelta(days=1), dt.time.min, tzinfo=tz) if self.date_to else None
        return start, end


def list_annotator_choices(project: Project) -> list[tuple[int, str]]:
    """(user id, username) of the project's members, for the annotator filter."""
    return list(
        Membership.objects.filter(project=project).order_by("user__username").values_list("user_id", "user__username")
    )


def get_usernames(user_ids: Iterable[int]) -> dict[int, str]:
    ids = [int(i) for i in user_ids]
    if not ids:
        return {}
    return dict(get_user_model().objects.filter(id__in=ids).values_list("id", "username"))


# ---------------------------------------------------------------------------
# Votes


@dataclass
class VoteMatrix:
    """Label positions of one round's votes.

    item_ids: (n_items,) sorted; annotator_ids: (n_raters,) sorted;
    labels[task_key]: (n_items, n_raters) int16, the position of the label in
    the task's label list, -1 where the annotator gave no vote for the task.
    Rows and columns are shared by every task (an item or annotator with no
    vote for a task has a row or column of -1 there).
    """

    tasks: list[TaskSpec]
    item_ids: np.ndarray
    annotator_ids: np.ndarray
    labels: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_votes(self) -> int:
        return int(sum((m >= 0).sum() for m in self.labels.values()))

    def task(self, key: str) -> TaskSpec:
        return next(t for t in self.tasks if t.key == key)

    def reindex(self, item_ids: np.ndarray) -> VoteMatrix:
        """The same votes on the rows ``item_ids`` (sorted; rows of items not here are all -1)."""
        position = np.searchsorted(item_ids, self.item_ids)
        labels = {}
        for key, matrix in self.labels.items():
            out = np.full((item_ids.size, matrix.shape[1]), -1, dtype=matrix.dtype)
            out[position] = matrix
            labels[key] = out
        return VoteMatrix(self.tasks, item_ids, self.annotator_ids, labels)


def _vote_queryset(project: Project, filters: DashboardFilters, *, round: str, tasks: Sequence[TaskSpec]) -> QuerySet:
    # Control items (issue 14) count toward no agreement: their control votes
    # (no join), and votes given before a lead made the item a control item
    # (a probe of the item_control index).
    controls = Item.objects.filter(project=project, is_control=True).values("id")
    qs = Vote.objects.filter(task_id__in=[t.id for t in tasks], round=round, is_control=False)
    qs = qs.exclude(item_id__in=controls)
    if filters.split:
        qs = qs.filter(item__split=filters.split)
    if filters.annotators:
        qs = qs.filter(annotator_id__in=filters.annotators)
    start, end = filters.datetime_range()
    if start:
        qs = qs.filter(annotation__created_at__gte=start)
    if end:
        qs = qs.filter(annotation__created_at__lt=end)
    return qs


def get_vote_matrix(
    project: Project,
    filters: DashboardFilters,
    *,
    round: str | None = None,
    tasks: Sequence[TaskSpec] | None = None,
) -> VoteMatrix:
    """The items x annotators label matrices of every task for one round (default: filters.round).

    One query over the vote table (index vote_task_round_item; joins only for
    the split and date filters), packed as [item id | annotator id | label id
    - the project's smallest label id] in one int8 per vote.
    """
    tasks = list(tasks if tasks is not None else get_project_schema(project).tasks)
    round = round or filters.round
    if not tasks:
        return VoteMatrix(tasks, np.zeros(0, np.int64), np.zeros(0, np.int64), {})
    label_ids = np.array([i for t in tasks for i in t.label_ids], dtype=np.int64)
    label_lo, label_hi = int(label_ids.min()), int(label_ids.max())
    item_max, user_max = max_ids()
    item, annotator, label = fetch_columns(
        _vote_queryset(project, filters, round=round, tasks=tasks),
        [
            Column("item_id", 0, item_max),
            Column("annotator_id", 0, user_max),
            Column("label_id", label_lo, label_hi),
        ],
    )
    # label id -> (task index, position) through a lookup table over the project's label ids.
    task_of = np.full(label_hi - label_lo + 1, -1, dtype=np.int64)
    position_of = np.full(label_hi - label_lo + 1, -1, dtype=np.int64)
    for t_index, task in enumerate(tasks):
        offsets = np.asarray(task.label_ids, dtype=np.int64) - label_lo
        task_of[offsets] = t_index
        position_of[offsets] = np.arange(len(task.label_ids))
    vote_task = task_of[label - label_lo]
    vote_position = position_of[label - label_lo]
    if (vote_task < 0).any():  # a label id between the project's that is not one of its tasks' (not expected)
        known = vote_task >= 0
        item, annotator, vote_task, vote_position = (
            item[known],
            annotator[known],
            vote_task[known],
            vote_position[known],
        )
    item_ids, rows = dense_index(item)
    annotator_ids, cols = dense_index(annotator)
    # One scatter into a (task, item, annotator) block; each task's matrix is a contiguous slice of it.
    cube = np.full((len(tasks), item_ids.size, annotator_ids.size), -1, dtype=np.int16)
    cube.reshape(-1)[(vote_task * item_ids.size + rows) * annotator_ids.size + cols] = vote_position
    labels = {task.key: cube[t_index] for t_index, task in enumerate(tasks)}
    return VoteMatrix(tasks, item_ids, annotator_ids, labels)


def list_vote_rounds(project: Project) -> list[str]:
    """Rounds in which the project has votes, in CH-SIMS order; one index probe per round."""
    task_ids = list(project.tasks.values_list("id", flat=True))
    order = [Annotation.Round.TEXT, Annotation.Round.IMAGE, Annotation.Round.MULTIMODAL]
    return [r for r in order if Vote.objects.filter(task_id__in=task_ids, round=r).exists()]


# ---------------------------------------------------------------------------
# Annotations


@dataclass
class AnnotationArrays:
    """One entry per annotation: item, annotator, created_at as Unix seconds
    (UTC) and duration in ms (-1 when not recorded)."""

    item_ids: np.ndarray
    annotator_ids: np.ndarray
    created: np.ndarray
    duration_ms: np.ndarray

    def __len__(self) -> int:
        return int(self.item_ids.size)


def _annotation_queryset(project: Project, filters: DashboardFilters, *, round: str | None = None) -> QuerySet:
    items = Item.objects.filter(project=project, is_control=False)
    if filters.split:
        items = items.filter(split=filters.split)
    qs = Annotation.objects.filter(item_id__in=items.values("id"), round=round or filters.round)
    if filters.annotators:
        qs = qs.filter(annotator_id__in=filters.annotators)
    start, end = filters.datetime_range()
    if start:
        qs = qs.filter(created_at__gte=start)
    if end:
        qs = qs.filter(created_at__lt=end)
    return qs


def get_item_last_annotated(project: Project, filters: DashboardFilters) -> tuple[np.ndarray, np.ndarray]:
    """(item ids, Unix seconds of each item's latest annotation) among the annotations the filters keep.

    Grouped in the database, so 1M annotations come back as one row per item.
    """
    item_max, _ = max_ids()
    qs = _annotation_queryset(project, filters).values("item_id").annotate(last=Max("created_at"))
    item, last = fetch_columns(qs, [Column("item_id", 0, item_max), Column("last", 0, EPOCH_MAX, epoch=True)])
    return item, last


def get_annotation_arrays(project: Project, filters: DashboardFilters) -> AnnotationArrays:
    """Item, annotator, creation time and duration of every annotation the filters keep, in one query."""
    item_max, user_max = max_ids()
    item, annotator, created, duration = fetch_columns(
        _annotation_queryset(project, filters),
        [
            Column("item_id", 0, item_max),
            Column("annotator_id", 0, user_max),
            Column("created_at", 0, EPOCH_MAX, epoch=True),
            # The model caps durations at one day (86,400,000 ms); NULL reads as -1.
            Column("duration_ms", -1, 86_400_000),
        ],
    )
    return AnnotationArrays(item, annotator, created, duration)


def local_week_starts(seconds: np.ndarray) -> np.ndarray:
    """Monday of the local (site time zone) week of each Unix time, as days since 1970-01-01.

    The UTC offset is looked up once per distinct UTC day, so a million
    timestamps cost a few thousand zoneinfo calls at most.
    """
    if seconds.size == 0:
        return np.zeros(0, dtype=np.int64)
    tz = timezone.get_current_timezone()
    days, inverse = np.unique(seconds // 86_400, return_inverse=True)
    offsets = np.array(
        [
            int(
                dt.datetime.fromtimestamp(int(d) * 86_400 + 43_200, tz=zoneinfo.ZoneInfo("UTC"))
                .astimezone(tz)
                .utcoffset()
                .total_seconds()
            )
            for d in days
        ],
        dtype=np.int64,
    )
    local_days = (seconds + offsets[inverse.reshape(-1)]) // 86_400
    # 1970-01-01 was a Thursday: Monday-based weeks start 3 days before day 0.
    return local_days - (local_days + 3) % 7


def get_inference_orders(
    project: Project, filters: DashboardFilters
) -> tuple[list[tuple[str, ...]], AnnotationArrays, np.ndarray]:
    """Inference orders (MSED 3.3) of the annotations the filters keep.

    Returns (orders, annotations, code): the distinct orders recorded (tuples
    of task keys, most frequent first), the annotations (item, annotator) and
    code[i] = index into orders of annotation i's order, -1 when none was
    recorded. Two queries: the distinct orders with their counts (grouped in
    the database), then the rows with each order replaced by its index.
    """
    qs = _annotation_queryset(project, filters)
    grouped = qs.order_by().values_list("inference_order").annotate(n=Count("id"))
    counted: dict[tuple[str, ...], int] = {}
    raw_of: dict[tuple[str, ...], list[Any]] = {}
    for order, n in grouped:
        if isinstance(order, str):  # SQLite without JSON1 decoding
            order = json.loads(order)
        key = tuple(order or ())
        if not key:
            continue
        counted[key] = counted.get(key, 0) + n
        raw_of.setdefault(key, []).append(order)
    orders = sorted(counted, key=lambda k: (-counted[k], k))
    item_max, user_max = max_ids()
    whens = [When(inference_order=list(order), then=Value(i)) for i, order in enumerate(orders)]
    code_expression = (
        Case(*whens, default=Value(-1), output_field=IntegerField())
        if whens
        else Value(-1, output_field=IntegerField())
    )
    item, annotator, code = fetch_columns(
        qs.annotate(order_code=code_expression),
        [
            Column("item_id", 0, item_max),
            Column("annotator_id", 0, user_max),
            Column("order_code", -1, max(len(orders), 1)),
        ],
    )
    arrays = AnnotationArrays(item, annotator, np.zeros(item.size, np.int64), np.full(item.size, -1, np.int64))
    return orders, arrays, code


def get_suggestion_counts(project: Project, filters: DashboardFilters) -> dict[int, dict[str, list[int]]]:
    """{annotator id: {task key: [kept, shown]}} from Annotation.suggestion_accepted ({task: bool}).

    Grouped in the database by (annotator, suggestion_accepted): the number of
    distinct dicts is tiny, so this returns a handful of rows at any size.
    The anchoring experiment's hidden arm is left out: it was shown nothing
    (its suggestion_accepted says whether the label matched unseen).
    """
    rows = (
        _annotation_queryset(project, filters)
        .exclude(suggestion_accepted={})
        .exclude(suggestion_arm=Annotation.SuggestionArm.HIDDEN)
        .order_by()
        .values_list("annotator_id", "suggestion_accepted")
        .annotate(n=Count("id"))
    )
    result: dict[int, dict[str, list[int]]] = {}
    for annotator_id, accepted, n in rows:
        if isinstance(accepted, str):
            accepted = json.loads(accepted)
        for task_key, kept in (accepted or {}).items():
            if kept is None:
                continue
            cell = result.setdefault(annotator_id, {}).setdefault(task_key, [0, 0])
            cell[0] += n if kept else 0
            cell[1] += n
    return result


@dataclass
class ArmAnnotations:
    """The anchoring experiment's annotations (multimodal round, arm recorded;
    annotator.anchoring), one entry per annotation, sorted by id: whether
    its arm was shown suggestions, its item, annotator and duration in ms (-1
    when not recorded), and per task the label position (-1 = no vote) and
    whether it equals the suggestion of the recorded run (1 yes, 0 no, -1
    no suggestion known, from Annotation.suggestion_accepted)."""

    shown: np.ndarray
    item_ids: np.ndarray
    annotator_ids: np.ndarray
    duration_ms: np.ndarray
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    agrees: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.shown.size)


def get_arm_annotations(project: Project, filters: DashboardFilters, *, tasks: Sequence[TaskSpec]) -> ArmAnnotations:
    """Annotations of both arms of the anchoring experiment that the filters
    keep (the round filter does not apply: the experiment runs in the
    multimodal round). Two queries: the annotations, with the arm and each
    task's agreement decoded in the database, then their votes."""
    qs = _annotation_queryset(project, filters, round=Annotation.Round.MULTIMODAL).exclude(suggestion_arm="")
    codes = {"shown": Case(When(suggestion_arm="shown", then=Value(1)), default=Value(0), output_field=IntegerField())}
    for t, task in enumerate(tasks):
        # KeyTransform takes the key as data: a task key with "__" is no lookup path.
        qs = qs.alias(**{f"accepted_{t}": KeyTransform(task.key, "suggestion_accepted")})
        codes[f"agrees_{t}"] = Case(
            When(**{f"accepted_{t}": True}, then=Value(1)),
            When(**{f"accepted_{t}": False}, then=Value(0)),
            default=Value(-1),
            output_field=IntegerField(),
        )
    item_max, user_max = max_ids()
    columns = fetch_columns(
        qs.annotate(**codes),
        [
            Column("id"),
            Column("item_id", 0, item_max),
            Column("annotator_id", 0, user_max),
            Column("duration_ms", -1, 86_400_000),
            Column("shown", 0, 1),
            *(Column(f"agrees_{t}", -1, 1) for t in range(len(tasks))),
        ],
    )
    order = np.argsort(columns[0], kind="stable")
    ids, item, annotator, duration, shown, *agrees = (c[order] for c in columns)
    result = ArmAnnotations(
        shown.astype(bool),
        item,
        annotator,
        duration,
        labels={task.key: np.full(ids.size, -1, dtype=np.int16) for task in tasks},
        agrees={task.key: a.astype(np.int8) for task, a in zip(tasks, agrees)},
    )
    if ids.size == 0:
        return result
    votes = Vote.objects.filter(annotation_id__in=qs.values("id"), task_id__in=[t.id for t in tasks])
    annotation_id, label_id = fetch_columns(votes, [Column("annotation_id"), Column("label_id")])
    row = np.searchsorted(ids, annotation_id)
    for task in tasks:
        # label id -> its position in the task's label list, through the ids sorted.
        ids_of_task = np.asarray(task.label_ids, dtype=np.int64)
        by_id = np.argsort(ids_of_task)
        of_task = np.isin(label_id, ids_of_task)
        result.labels[task.key][row[of_task]] = by_id[np.searchsorted(ids_of_task[by_id], label_id[of_task])]
    return result


# ---------------------------------------------------------------------------
# Items and gold


@dataclass
class GoldMatrix:
    """Per item (sorted ids): split code (index into SPLITS) and, per task, the gold label position (-1 = none or tie)."""

    tasks: list[TaskSpec]
    item_ids: np.ndarray
    split: np.ndarray
    labels: dict[str, np.ndarray] = field(default_factory=dict)


def get_item_splits(project: Project, filters: DashboardFilters) -> tuple[np.ndarray, np.ndarray]:
    """(item ids sorted, split code per item) of the project's items (not
    control items) in the filtered split."""
    qs = Item.objects.filter(project=project, is_control=False)
    if filters.split:
        qs = qs.filter(split=filters.split)
    split_code = Case(
        *[When(split=s, then=Value(i)) for i, s in enumerate(SPLITS)],
        default=Value(len(SPLITS) - 1),
        output_field=IntegerField(),
    )
    item_max, _ = max_ids()
    ids, codes = fetch_columns(
        qs.annotate(split_code=split_code), [Column("id", 0, item_max), Column("split_code", 0, 7)]
    )
    order = np.argsort(ids, kind="stable")
    return ids[order], codes[order]


def get_gold_matrix(
    project: Project, filters: DashboardFilters, *, tasks: Sequence[TaskSpec] | None = None
) -> GoldMatrix:
    """Stored gold labels (majority, adjudicated or imported) of the project's items in the filtered split.

    Rows are every item of the split (an item without gold for a task has
    -1 there), so counts per split can be read off directly. Two queries:
    items with their split, gold with its label.
    """
    tasks = list(tasks if tasks is not None else get_project_schema(project).tasks)
    item_ids, split = get_item_splits(project, filters)
    labels = {t.key: np.full(item_ids.size, -1, dtype=np.int16) for t in tasks}
    if tasks and item_ids.size:
        label_ids = np.array([i for t in tasks for i in t.label_ids], dtype=np.int64)
        label_lo, label_hi = int(label_ids.min()), int(label_ids.max())
        qs = Gold.objects.filter(task_id__in=[t.id for t in tasks], label__isnull=False, item__is_control=False)
        qs = qs.filter(item__split=filters.split) if filters.split else qs.filter(item__project=project)
        item_max, _ = max_ids()
        item, label = fetch_columns(qs, [Column("item_id", 0, item_max), Column("label_id", label_lo, label_hi)])
        rows = np.searchsorted(item_ids, item)
        for task in tasks:
            offsets = np.full(label_hi - label_lo + 1, -1, dtype=np.int64)
            offsets[np.asarray(task.label_ids) - label_lo] = np.arange(task.n_categories)
            position = offsets[label - label_lo]
            mine = position >= 0
            labels[task.key][rows[mine]] = position[mine]
    return GoldMatrix(tasks, item_ids, split, labels)


def get_item_texts(project: Project, filters: DashboardFilters) -> tuple[np.ndarray, list[str]]:
    """(item ids sorted, their texts) of the project's items in the filtered split ("" when an item has none).

    Texts are strings, so this is one plain values_list query; keyword
    analysis tokenises them in Python anyway.
    """
    qs = Item.objects.filter(project=project, is_control=False)
    if filters.split:
        qs = qs.filter(split=filters.split)
    rows = list(qs.order_by("id").values_list("id", "text"))
    return np.array([r[0] for r in rows], dtype=np.int64), [r[1] or "" for r in rows]


# ---------------------------------------------------------------------------
# Cache version


def get_votes_version(project: Project) -> str:
    """A cheap fingerprint of the project's votes and gold, for cache keys.

    Recomputing every chart on each request is what the cache avoids, so
    this must stay far cheaper than the charts. Two queries:

    * items: count, per-split counts and the sum of Item.vote_count (kept in
      the vote's transaction): new items, new multimodal votes, deletions and
      split changes move it;
    * the newest Annotation.updated_at of the project's members, one probe
      per member of the (annotator, -updated_at) index (a correlated
      subquery): new or edited annotations in any round move it (an
      annotation of a member in another project only costs a recompute),
      plus the newest AnnotationEdit id, for a lead's correction of a former
      member's annotation.

    Not seen: a change that leaves all of these equal (e.g. two items
    swapping splits). The cache entries also expire (see analysis.dashboards).
    """
    split_counts = {f"n_{s}": Count("id", filter=Q(split=s)) for s in SPLITS}
    split_counts["n_control"] = Count("id", filter=Q(is_control=True))  # marking changes no vote
    items = Item.objects.filter(project=project).aggregate(n=Count("id"), votes=Sum("vote_count"), **split_counts)
    newest = (
        Annotation.objects.filter(annotator_id=OuterRef("user_id")).order_by("-updated_at").values("updated_at")[:1]
    )
    members = (
        Membership.objects.filter(project=project)
        .annotate(last_update=Subquery(newest))
        .aggregate(newest=Max("last_update"), n=Count("id"))
    )
    edit = AnnotationEdit.objects.aggregate(m=Max("id"))["m"]
    newest_at = members["newest"].isoformat() if members["newest"] else "-"
    parts = [items["n"], items["votes"] or 0, *(items[f"n_{s}"] for s in SPLITS), items["n_control"]]
    parts += [members["n"], newest_at, edit or 0]
    return ":".join(str(p) for p in parts)


def get_gold_version(project: Project) -> str:
    """Newest gold change and gold count of the project (adjudication changes gold without a vote)."""
    agg = Gold.objects.filter(task__project=project).aggregate(m=Max("updated_at"), n=Count("id"))
    return f"{agg['n']}:{agg['m'].isoformat() if agg['m'] else '-'}"


def get_control_version(project: Project) -> str:
    """Count and newest id of the project's control votes and control answers (two queries)."""
    agg = Vote.objects.filter(item__project=project, is_control=True).aggregate(n=Count("id"), m=Max("id"))
    answers = ControlAnswer.objects.filter(item__project=project).aggregate(n=Count("id"), m=Max("id"))
    return f"{agg['n']}:{agg['m'] or 0}:{answers['n']}:{answers['m'] or 0}"
