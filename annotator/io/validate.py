"""Check dataset rows against a project's label schema (annotator.schemas.ProjectSchema,
from the database or `ProjectSchema.from_dicts`).

Label values match a label's key or name, ignoring case, and treating
spaces, underscores and hyphens alike ("Social contact" = "social-contact").
Every problem becomes a RowError (row, column, message) worded so that the
person who made the file can fix it; a row with any problem yields no
CleanRow.

Gold columns: a task key (`desire`) or `gold_desire` holds a gold label;
`gold_desire_source` may say majority, adjudicated, imported, dawid_skene or
mace. Gold given by the file is stored as imported (or adjudicated when the
source column says so), except that gold marked `majority` which the row's own
multimodal votes reproduce is left to the majority computation, and gold a
reliability model gave (dawid_skene, mace) on a row with votes is computed
again from the votes under the project's gold strategy, so an
export re-imports unchanged. `gold_<task>_support` and the soft-label
columns `<task>_votes` / `<task>_posterior` are derived and ignored.

Control items (issue 14): `control` holds the known answers as a JSON object
of task key to label (JSONL: an object; CSV: its JSON text), or CSV columns
`control_<task>` hold one task's answer each. A row with any known answer
becomes a control item; it may not carry votes (they would count toward
nothing).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..schemas import ProjectSchema, normalise
from . import DatasetError
from .images import ImageInfo
from .jsonsafe import UNSTORABLE, JSONProblem, find_unstorable
from .jsonsafe import loads as json_loads
from .readers import RawRow

RESERVED_COLUMNS = ("id", "text", "image", "split", "metadata", "inference_order", "votes", "control")
ROUNDS = ("multimodal", "text", "image")
SPLITS = ("train", "dev", "test", "unassigned")
_SPLIT_ALIASES = {"val": "dev", "valid": "dev", "validation": "dev", "none": "unassigned"}
GOLD_SOURCES = ("majority", "adjudicated", "imported", "dawid-skene", "mace")  # as normalised (dawid_skene too)
# Gold an export took from the votes by a reliability model (issue 14): on
# import it is computed again from the votes (the project's own strategy).
MODEL_GOLD_SOURCES = ("dawid-skene", "mace")
VOTE_KEYS = ("annotator", "round", "inference_order", "duration_ms", "labels")
MAX_ID_LENGTH = 200
MAX_DURATION_MS = 86_400_000
# Django's username rule: the annotator name becomes a username.
_USERNAME = re.compile(r"^[\w.@+-]{1,150}$")
_STRONG_SEPARATORS = re.compile(r"\s*(?:->|=>|→|⇒|>|,|;|\||/)\s*|\s+")


@dataclass(frozen=True)
class RowError:
    row: int | None
    column: str
    message: str
    file: str = ""

    def as_dict(self) -> dict:
        # Messages quote the file's text; what the database cannot store is shown escaped.
        data = {"row": self.row, "column": _storable(self.column), "message": _storable(self.message)}
        if self.file:
            data["file"] = _storable(self.file)
        return data


def _storable(text: str) -> str:
    return UNSTORABLE.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if m.group() == "\x00" else f"\\u{ord(m.group()):04x}", text
    )


@dataclass(frozen=True)
class CleanVote:
    annotator: str
    round: str
    inference_order: tuple[str, ...]
    duration_ms: int | None
    labels: dict[str, str]  # task key -> label key


@dataclass(frozen=True)
class GoldValue:
    label: str | None
    #: imported | adjudicated: store this label. majority: the row's votes give it; recompute.
    source: str


@dataclass
class CleanRow:
    number: int
    file: str
    external_id: str
    text: str
    image: str | None
    image_info: ImageInfo | None
    split: str | None  # None: the file does not say
    metadata: dict | None  # None: the file does not say
    inference_order: tuple[str, ...] | None
    gold: dict[str, GoldValue] = field(default_factory=dict)
    votes: list[CleanVote] = field(default_factory=list)
    control: dict[str, str] = field(default_factory=dict)  # task key -> label key; empty: not a control item


def _label(schema: ProjectSchema, task: str, value: Any) -> str:
    key = schema.task(task).match_label(value)
    if key is None:
        raise ValueError(
            f"unknown label {str(value)!r} for the task {task!r}; allowed labels: {', '.join(schema.task(task).label_keys)}."
        )
    return key


def _task(schema: ProjectSchema, value: Any) -> str:
    key = schema.match_task(value)
    if key is None:
        raise ValueError(f"unknown task {str(value)!r}; the project's tasks are {', '.join(schema.keys)}.")
    return key


def _order_token(schema: ProjectSchema, token: str) -> str:
    key = schema.match_task(token)
    if key is not None:
        return key
    # MSED writes initials: D-S-E = desire, sentiment, emotion.
    norm = normalise(token)
    matches = [k for k in schema.keys if normalise(k).startswith(norm)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ValueError(f"{token!r} could be any of {', '.join(matches)}; write the task keys in full.")
    raise ValueError(f"{token!r} is not a task of this project ({', '.join(schema.keys)}).")


def parse_inference_order(schema: ProjectSchema, value: Any) -> tuple[str, ...]:
    """Task keys in inference order, from a list or a string such as
    'D-S-E', 'desire > sentiment > emotion' or '["desire", ...]'."""
    if value is None or value == "":
        return ()
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json_loads(value)
        except JSONProblem as exc:
            raise ValueError(f"is not a valid JSON list ({exc.message.rstrip('.')}).") from exc
    if isinstance(value, str):
        tokens = [t for t in _STRONG_SEPARATORS.split(value.strip()) if t]
        try:
            order = tuple(_order_token(schema, t) for t in tokens)
        except ValueError:
            tokens = [t for t in re.split(r"[\s>,;|/-]+", value.strip()) if t]
            order = tuple(_order_token(schema, t) for t in tokens)
    elif isinstance(value, (list, tuple)):
        order = tuple(_order_token(schema, str(t)) for t in value)
    else:
        raise ValueError("must be a list of task keys or a text such as D-S-E.")
    repeated = [k for k, n in Counter(order).items() if n > 1]
    if repeated:
        raise ValueError(f"names {', '.join(repeated)} more than once; each task appears at most once.")
    return order


def expected_columns(schema: ProjectSchema) -> list[str]:
    columns = [c for c in RESERVED_COLUMNS if c != "control"]
    for key in schema.keys:
        if key not in RESERVED_COLUMNS:
            columns.append(key)
        columns += [f"gold_{key}", f"gold_{key}_source", f"gold_{key}_support"]
        columns += [f"{key}_votes", f"{key}_posterior"]  # an export's soft labels: derived, ignored
    return columns + ["control"] + [f"control_{key}" for key in schema.keys]


def check_columns(
    columns: Iterable[str],
    schema: ProjectSchema,
    *,
    display: dict[str, str] | None = None,
    ignorable: Iterable[str] = (),
) -> list[RowError]:
    """Problems with a file's columns as a whole: missing `id`, neither
    `text` nor `image`, or unknown columns. One error naming them all."""
    display = display or {}
    columns = list(columns)
    known = set(expected_columns(schema))
    unknown = [display.get(c, c) for c in columns if c not in known and c not in ignorable]
    missing = []
    if "id" not in columns:
        missing.append("id")
    if "text" not in columns and "image" not in columns:
        missing.append("text or image")
    if not unknown and not missing:
        return []
    parts = []
    if missing:
        parts.append(f"Missing column(s): {', '.join(missing)}.")
    if unknown:
        parts.append(f"Unknown column(s): {', '.join(unknown)}.")
    parts.append(
        f"Expected columns: {', '.join(expected_columns(schema))} (id, and text or image, are required; "
        "a column named after a task holds its gold label)."
    )
    return [RowError(row=None, column="", message=" ".join(parts))]


def _as_text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{what} must be text, not {type(value).__name__}.")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _json_value(value: Any, what: str) -> Any:
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = json_loads(value)
        except JSONProblem as exc:
            raise ValueError(
                f"{what} is not valid JSON ({exc.message.removeprefix('not valid JSON: ').rstrip('.')})."
            ) from exc
        if reason := find_unstorable(value):  # "\u0000" in the JSON text is a NUL once parsed
            raise ValueError(f"{what}: a value {reason}")
    return value


def _majority(votes: list[CleanVote], task: str) -> str | None:
    counts = Counter(v.labels[task] for v in votes if v.round == "multimodal" and task in v.labels)
    if not counts:
        return None
    (top, n), *rest = counts.most_common()
    return None if rest and rest[0][1] == n else top


class RowValidator:
    """Validate rows one at a time, remembering ids (duplicates within a
    file are errors) and checked images (an image named by many rows is
    read once)."""

    def __init__(
        self,
        schema: ProjectSchema,
        *,
        image_check: Callable[[str], ImageInfo] | None = None,
        display: dict[str, str] | None = None,
        per_row_keys: bool = False,
        ignorable: Iterable[str] = (),
    ):
        self.schema = schema
        self.image_check = image_check
        self.display = display or {}
        self.per_row_keys = per_row_keys
        self.known = set(expected_columns(schema))
        # Columns for tasks this project lacks (MSED labels) are dropped.
        self.drop = {c for c in ignorable if c not in self.known}
        self.seen: dict[str, tuple[str, int]] = {}
        self.images: dict[str, ImageInfo | str] = {}

    def _col(self, name: str) -> str:
        return self.display.get(name, name)

    def _image(self, name: str) -> ImageInfo:
        cached = self.images.get(name)
        if cached is None:
            try:
                if self.image_check is None:
                    raise DatasetError("images cannot be checked here.")
                cached = self.image_check(name)
            except DatasetError as exc:
                cached = exc.message
            self.images[name] = cached
        if isinstance(cached, str):
            raise ValueError(cached)
        return cached

    def validate(self, raw: RawRow) -> tuple[CleanRow | None, list[RowError]]:
        errors: list[RowError] = []

        def fail(column: str, message: str) -> None:
            errors.append(
                RowError(row=raw.number, column=self._col(column) if column else "", message=message, file=raw.file)
            )

        for column, message in raw.problems:
            fail(column, message)
        values = {k: v for k, v in raw.values.items() if k not in self.drop}
        if not values:
            return None, errors
        for column, value in values.items():
            if reason := find_unstorable(value):
                fail(column, f"this value {reason}")
        if errors:
            return None, errors
        if self.per_row_keys:
            unknown = sorted(k for k in values if k not in self.known)
            if unknown:
                fail(
                    "",
                    f"unknown key(s) {', '.join(unknown)}. Expected keys: {', '.join(expected_columns(self.schema))}.",
                )

        # id
        external_id = ""
        try:
            external_id = _as_text(values.get("id"), "id")
        except ValueError as exc:
            fail("id", str(exc))
        else:
            if not external_id:
                fail("id", "the id is empty; every row needs a unique id.")
            elif len(external_id) > MAX_ID_LENGTH:
                fail("id", f"the id is {len(external_id)} characters long; at most {MAX_ID_LENGTH} are allowed.")
            elif external_id in self.seen:
                file, number = self.seen[external_id]
                where = f"row {number}" + (f" of {file}" if file and file != raw.file else "")
                fail("id", f"the id {external_id!r} was already used in {where}; ids must be unique within a file.")
            else:
                self.seen[external_id] = (raw.file, raw.number)

        # text and image
        text = ""
        try:
            text = _as_text(values.get("text"), "text")
        except ValueError as exc:
            fail("text", str(exc))
        image_name: str | None = None
        image_info: ImageInfo | None = None
        try:
            image_name = _as_text(values.get("image"), "image") or None
        except ValueError as exc:
            fail("image", str(exc))
        if image_name:
            try:
                image_info = self._image(image_name)
            except ValueError as exc:
                fail("image", str(exc))
        elif not text and "text" not in {e.column for e in errors}:
            fail("", "this row has neither text nor an image; every item needs at least one.")

        # split
        split: str | None = None
        try:
            split_value = normalise(_as_text(values.get("split"), "split"))
        except ValueError as exc:
            fail("split", str(exc))
        else:
            if split_value:
                split = _SPLIT_ALIASES.get(split_value, split_value)
                if split not in SPLITS:
                    fail("split", f"the split {split_value!r} is not one of train, dev, test, unassigned (or empty).")
                    split = None

        # metadata
        metadata: dict | None = None
        try:
            meta = _json_value(values.get("metadata"), "metadata")
            if meta is not None and not isinstance(meta, dict):
                raise ValueError('metadata must be a JSON object such as {"title": "..."}.')
            metadata = meta
        except ValueError as exc:
            fail("metadata", str(exc))

        # inference order of the item (MSED's Inference Sequence)
        inference_order: tuple[str, ...] | None = None
        if values.get("inference_order") not in (None, ""):
            try:
                inference_order = parse_inference_order(self.schema, values.get("inference_order"))
            except ValueError as exc:
                fail("inference_order", f"the inference order {exc}")

        votes = self._votes(values.get("votes"), fail)
        gold = self._gold(values, votes, fail)
        control = self._control(values, fail)
        if control and votes:
            fail("votes", "a control item cannot come with votes (they would count toward nothing); remove one.")

        if errors:
            return None, errors
        return (
            CleanRow(
                number=raw.number,
                file=raw.file,
                external_id=external_id,
                text=text,
                image=image_name,
                image_info=image_info,
                split=split,
                metadata=metadata,
                inference_order=inference_order,
                gold=gold,
                votes=votes,
                control=control,
            ),
            errors,
        )

    def _control(self, values: dict, fail) -> dict[str, str]:
        """Known answers of a control item: {task key: label key}."""
        answers: dict[str, str] = {}
        try:
            given = _json_value(values.get("control"), "control")
        except ValueError as exc:
            fail("control", str(exc))
            given = None
        if given is not None:
            if not isinstance(given, dict):
                fail("control", 'control must be a JSON object of task to label, e.g. {"sentiment": "positive"}.')
            else:
                for task_value, label_value in given.items():
                    try:
                        task = _task(self.schema, task_value)
                        answers[task] = _label(self.schema, task, _as_text(label_value, "the control label"))
                    except ValueError as exc:
                        fail("control", str(exc))
        for task in self.schema.keys:
            column = f"control_{task}"
            try:
                value = _as_text(values.get(column), column)
                if not value:
                    continue
                label = _label(self.schema, task, value)
            except ValueError as exc:
                fail(column, str(exc))
                continue
            if answers.get(task, label) != label:
                fail(column, f"the columns control and {column} give different answers for {task}; keep one.")
            answers[task] = label
        return answers

    def _gold(self, values: dict, votes: list[CleanVote], fail) -> dict[str, GoldValue]:
        gold: dict[str, GoldValue] = {}
        for task in self.schema.keys:
            given: dict[str, str] = {}
            for column in (task, f"gold_{task}"):
                if column == task and task in RESERVED_COLUMNS:
                    continue
                try:
                    value = _as_text(values.get(column), column)
                    if value:
                        given[column] = _label(self.schema, task, value)
                except ValueError as exc:
                    fail(column, str(exc))
            if len(set(given.values())) > 1:
                fail(
                    f"gold_{task}",
                    f"the columns {task} and gold_{task} give different gold labels ({', '.join(given.values())}); keep one.",
                )
                continue
            try:
                source = normalise(_as_text(values.get(f"gold_{task}_source"), "source"))
            except ValueError as exc:
                fail(f"gold_{task}_source", str(exc))
                continue
            if source and source not in GOLD_SOURCES:
                fail(f"gold_{task}_source", f"the gold source {source!r} is not one of {', '.join(GOLD_SOURCES)}.")
                continue
            label = next(iter(given.values()), None)
            has_votes = any(v.round == "multimodal" and task in v.labels for v in votes)
            if label is None:
                if source == "majority":
                    gold[task] = GoldValue(None, "majority")
                continue
            if source in MODEL_GOLD_SOURCES and has_votes:
                gold[task] = GoldValue(None, "majority")  # the votes give it again, under the project's strategy
                continue
            if source == "adjudicated":
                gold[task] = GoldValue(label, "adjudicated")
            elif source == "majority" and has_votes and _majority(votes, task) == label:
                gold[task] = GoldValue(label, "majority")
            else:
                gold[task] = GoldValue(label, "imported")
        return gold

    def _votes(self, value: Any, fail) -> list[CleanVote]:
        try:
            value = _json_value(value, "votes")
        except ValueError as exc:
            fail("votes", str(exc))
            return []
        if value is None or value == []:
            return []
        if not isinstance(value, list):
            fail("votes", 'votes must be a JSON list: [{"annotator": "...", "labels": {"desire": "family"}}, ...].')
            return []
        votes: list[CleanVote] = []
        seen: set[tuple[str, str]] = set()
        for index, vote in enumerate(value, start=1):
            who = f"vote {index}"
            if not isinstance(vote, dict):
                fail("votes", f"{who} must be a JSON object with annotator and labels.")
                continue
            annotator = str(vote.get("annotator") or "").strip()
            if annotator:
                who = f"vote {index} (by {annotator})"
            problems: list[str] = []
            unknown = sorted(set(vote) - set(VOTE_KEYS))
            if unknown:
                problems.append(f"has unknown key(s) {', '.join(unknown)}; allowed: {', '.join(VOTE_KEYS)}")
            if not annotator:
                problems.append("names no annotator")
            elif not _USERNAME.match(annotator):
                problems.append(
                    "has an annotator name that is not a valid username (letters, digits and @ . + - _ only, no spaces, at most 150)"
                )
            round_ = str(vote.get("round") or "multimodal").strip().lower()
            if round_ not in ROUNDS:
                problems.append(f"has the round {round_!r}; rounds are {', '.join(ROUNDS)}")
            order: tuple[str, ...] = ()
            try:
                order = parse_inference_order(self.schema, vote.get("inference_order"))
            except ValueError as exc:
                problems.append(f"has an inference order that {exc}")
            duration = vote.get("duration_ms")
            if isinstance(duration, str) and duration.strip():
                try:
                    duration = float(duration)
                except ValueError:
                    pass
            elif isinstance(duration, str):
                duration = None
            if duration is not None:
                if (
                    isinstance(duration, bool)
                    or not isinstance(duration, (int, float))
                    or not float(duration).is_integer()
                ):
                    problems.append("has a duration_ms that is not a whole number of milliseconds")
                    duration = None
                elif not 0 <= duration <= MAX_DURATION_MS:
                    problems.append(f"has a duration_ms of {int(duration)}, outside 0 to {MAX_DURATION_MS} (one day)")
                    duration = None
                else:
                    duration = int(duration)
            labels: dict[str, str] = {}
            raw_labels = vote.get("labels")
            if not isinstance(raw_labels, dict) or not raw_labels:
                problems.append('has no labels; give them as {"task": "label", ...}')
            else:
                for task_value, label_value in raw_labels.items():
                    if label_value in (None, ""):
                        continue
                    try:
                        task = _task(self.schema, task_value)
                        labels[task] = _label(self.schema, task, label_value)
                    except ValueError as exc:
                        problems.append(f"names an {exc}")
                if not labels and not problems:
                    problems.append("has no labels")
            if annotator and (annotator.lower(), round_) in seen:
                problems.append(f"repeats the annotator in the {round_} round; one vote per annotator and round")
            seen.add((annotator.lower(), round_))
            if problems:
                fail("votes", f"{who} " + "; ".join(p.rstrip(".") for p in problems) + ".")
                continue
            votes.append(
                CleanVote(annotator=annotator, round=round_, inference_order=order, duration_ms=duration, labels=labels)
            )
        return votes
