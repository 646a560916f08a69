"""A project's label schema: the one type every app reads it through, and the
templates offered when a project is created.

Pure module (no Django), so annotator.io can check files against the same
type. `annotator.selectors.get_project_schema(project)` builds it from the
database (cached per process under the project's schema token); the demo
generator (annotator.demo) derives its labels from the MSED template here.

A schema is an ordered tuple of tasks, each an ordered tuple of labels; a
label's position in its task is its index (the order of votes' matrices,
models' outputs and exports). Its wire shape (API, schema editor, sample
files, `save_schema`) is a list of task dicts:
    [{"key", "name", "required", "labels": [{"key", "name", "description", "hotkey"}]}]
(`ProjectSchema.from_dicts` / `as_dicts`).

The MSED template follows the paper: six desires plus none (explanations of
MSED Table 3), three sentiments and six emotions, in the order of Table 4.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from types import MappingProxyType
from typing import Any


def normalise(value: Any) -> str:
    """Lower-case, trimmed, with runs of spaces, underscores and hyphens as one hyphen."""
    return re.sub(r"[\s_-]+", "-", str(value).strip().lower())


def _lenient_lookup(entries: Iterable[tuple[str, str]]) -> Mapping[str, str]:
    """normalised key or name -> key, keys winning over names."""
    entries = list(entries)
    lookup: dict[str, str] = {}
    for key, name in entries:
        lookup.setdefault(normalise(name or key), key)
    for key, _ in entries:
        lookup[normalise(key)] = key
    return MappingProxyType(lookup)


# Instances are shared between requests through the selector's cache, so they
# are frozen and their lookups are read-only mappings (cached_property works on
# a frozen dataclass: it writes the instance __dict__ directly).


@dataclass(frozen=True)
class LabelSpec:
    """One label of a task. `id` and `task_id` are the database rows' ids
    (None in a template or a schema read from a file)."""

    key: str
    name: str
    description: str = ""
    hotkey: str = ""
    id: int | None = None
    task_id: int | None = None


@dataclass(frozen=True)
class TaskSpec:
    """One task (classification question) with its labels in order."""

    key: str
    name: str
    labels: tuple[LabelSpec, ...] = ()
    required: bool = True
    id: int | None = None
    # The task's own gold strategy (Task.gold_strategy; blank: the project's).
    gold_strategy: str = ""

    @cached_property
    def label_keys(self) -> tuple[str, ...]:
        return tuple(label.key for label in self.labels)

    @cached_property
    def label_names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    @cached_property
    def label_ids(self) -> tuple[int | None, ...]:
        return tuple(label.id for label in self.labels)

    @property
    def n_categories(self) -> int:
        """K, the size of the label set (the metrics' `n_categories`)."""
        return len(self.labels)

    @cached_property
    def _by_key(self) -> Mapping[str, LabelSpec]:
        return MappingProxyType({label.key: label for label in self.labels})

    @cached_property
    def _positions(self) -> Mapping[str, int]:
        return MappingProxyType({label.key: i for i, label in enumerate(self.labels)})

    @cached_property
    def _lenient(self) -> Mapping[str, str]:
        return _lenient_lookup((label.key, label.name) for label in self.labels)

    def label(self, key: str) -> LabelSpec | None:
        """The label with this exact key, or None."""
        return self._by_key.get(key)

    def position(self, key: str) -> int | None:
        """The index of the label with this key, or None."""
        return self._positions.get(key)

    def match_label(self, value: Any) -> str | None:
        """The key of the label whose key or name matches `value` ignoring case
        and treating spaces, underscores and hyphens alike ("Social contact" =
        "social-contact"); keys win over names. None when nothing matches."""
        return self._lenient.get(normalise(value))


@dataclass(frozen=True)
class ProjectSchema:
    """A project's tasks in order. Build it with
    `annotator.selectors.get_project_schema(project)` (cached; read it, never
    change it), `from_dicts` or a template."""

    tasks: tuple[TaskSpec, ...] = ()

    @cached_property
    def keys(self) -> tuple[str, ...]:
        """Task keys in order."""
        return tuple(task.key for task in self.tasks)

    @cached_property
    def _by_key(self) -> Mapping[str, TaskSpec]:
        return MappingProxyType({task.key: task for task in self.tasks})

    @cached_property
    def _labels_by_id(self) -> Mapping[int, LabelSpec]:
        return MappingProxyType(
            {label.id: label for task in self.tasks for label in task.labels if label.id is not None}
        )

    @cached_property
    def _lenient(self) -> Mapping[str, str]:
        return _lenient_lookup((task.key, task.name) for task in self.tasks)

    def task(self, key: str) -> TaskSpec:
        """The task with this key; KeyError when the project has none."""
        return self._by_key[key]

    def get_task(self, key: str) -> TaskSpec | None:
        return self._by_key.get(key)

    def label_by_id(self, label_id: int) -> LabelSpec | None:
        return self._labels_by_id.get(label_id)

    @cached_property
    def label_index(self) -> Mapping[int, tuple[str, int]]:
        """label id -> (task key, position of the label in its task)."""
        return MappingProxyType(
            {
                label.id: (task.key, i)
                for task in self.tasks
                for i, label in enumerate(task.labels)
                if label.id is not None
            }
        )

    def match_task(self, value: Any) -> str | None:
        """The key of the task whose key or name matches `value` leniently
        (see TaskSpec.match_label), or None."""
        return self._lenient.get(normalise(value))

    def as_modeling_schema(self) -> list[tuple[str, int]]:
        """[(task key, number of labels)] in order, as inference.modeling.train expects."""
        return [(task.key, task.n_categories) for task in self.tasks]

    def as_dicts(self) -> list[dict]:
        """The wire shape (see the module docstring), a fresh copy."""
        return [
            {
                "key": task.key,
                "name": task.name,
                "required": task.required,
                "labels": [
                    {"key": label.key, "name": label.name, "description": label.description, "hotkey": label.hotkey}
                    for label in task.labels
                ],
            }
            for task in self.tasks
        ]

    @classmethod
    def from_dicts(cls, tasks: Iterable[Mapping[str, Any]]) -> ProjectSchema:
        """A schema from the wire shape; missing names default to the key,
        missing `required` to True. Does not validate (see
        annotator.services.projects.validate_schema)."""
        return cls(
            tasks=tuple(
                TaskSpec(
                    key=task["key"],
                    name=task.get("name") or task["key"],
                    required=bool(task.get("required", True)),
                    labels=tuple(
                        LabelSpec(
                            key=label["key"],
                            name=label.get("name") or label["key"],
                            description=label.get("description") or "",
                            hotkey=label.get("hotkey") or "",
                        )
                        for label in task.get("labels") or ()
                    ),
                )
                for task in tasks
            )
        )


# --------------------------------------------------------------------------- templates


def _labels(entries: Iterable[tuple[str, str, str]], hotkeys: str) -> tuple[LabelSpec, ...]:
    return tuple(
        LabelSpec(key=key, name=name, description=description, hotkey=hotkey)
        for (key, name, description), hotkey in zip(entries, hotkeys, strict=True)
    )


# Desire explanations are MSED Table 3 word for word; "none" paraphrases the
# paper's word-cloud analysis (section 4: non-desire posts describe an object
# or action). The paper gives no explanations for sentiments and emotions.
MSED_DESIRE = TaskSpec(
    key="desire",
    name="Desire",
    labels=_labels(
        [
            ("vengeance", "Vengeance", "The need to strike back against another person."),
            ("curiosity", "Curiosity", "The wish to gain knowledge or explore the unexpected."),
            (
                "social-contact",
                "Social-contact",
                "The need to communicate, converse and establish a relationship with others.",
            ),
            ("family", "Family", "The need to take care of one's offspring."),
            ("tranquility", "Tranquility", "The wish to be secure, protected or company."),
            ("romance", "Romance", "A feeling of excitement and mystery associated with love."),
            ("none", "None", "No desire is expressed: the post describes an object, scene or action."),
        ],
        "1234567",
    ),
)
MSED_SENTIMENT = TaskSpec(
    key="sentiment",
    name="Sentiment",
    labels=_labels(
        [
            ("positive", "Positive", "The post conveys a favourable, pleasant attitude."),
            ("neutral", "Neutral", "Neither clearly favourable nor unfavourable."),
            ("negative", "Negative", "The post conveys an unfavourable, unpleasant attitude."),
        ],
        "qwe",
    ),
)
MSED_EMOTION = TaskSpec(
    key="emotion",
    name="Emotion",
    labels=_labels(
        [
            ("happiness", "Happiness", "Joy, delight, amusement or contentment."),
            ("sad", "Sad", "Sorrow, grief, loneliness or disappointment."),
            ("neutral", "Neutral", "No marked emotion."),
            ("disgust", "Disgust", "Revulsion or strong disapproval."),
            ("anger", "Anger", "Irritation, rage or hostility."),
            ("fear", "Fear", "Fright, anxiety or worry about a threat."),
        ],
        "asdfgh",
    ),
)
# Task and label order follows MSED (section 3.2, Table 4).
MSED = ProjectSchema(tasks=(MSED_DESIRE, MSED_SENTIMENT, MSED_EMOTION))


def _with_hotkeys(task: TaskSpec, hotkeys: str) -> TaskSpec:
    labels = tuple(replace(label, hotkey=key) for label, key in zip(task.labels, hotkeys, strict=True))
    return replace(task, labels=labels)


SCHEMA_TEMPLATES: dict[str, dict] = {
    "msed": {"name": "MSED: desire, sentiment and emotion", "tasks": MSED.as_dicts()},
    "sentiment": {
        "name": "Sentiment only",
        "tasks": ProjectSchema(tasks=(_with_hotkeys(MSED_SENTIMENT, "123"),)).as_dicts(),
    },
    "custom": {"name": "Custom (define your own tasks)", "tasks": []},
}


def template_tasks(template: str) -> list[dict]:
    """A deep copy of the tasks of a template, ready to be edited or saved."""
    if template not in SCHEMA_TEMPLATES:
        raise KeyError(template)
    return copy.deepcopy(SCHEMA_TEMPLATES[template]["tasks"])
