"""What the dashboard pages share: bootstrap settings, names of rounds and
splits, the payload and chart shapes, and small helpers."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from annotator.models import Annotation, Item
from annotator.schemas import TaskSpec

from .. import selectors as sel
from ..metrics import UndefinedMetric
from ..selectors import DashboardFilters

# 200 percentile-bootstrap resamples: the 2.5% and 97.5% quantiles then rest
# on 5 resamples each side, enough for a dashboard (the CI moves in the third
# decimal between seeds), and 200k items x 3 tasks stay well under a second.
N_BOOT = 200
CI_LEVEL = 0.95
BOOT_SEED = 0

ROUND_NAMES = {
    Annotation.Round.TEXT: "Text",
    Annotation.Round.IMAGE: "Image",
    Annotation.Round.MULTIMODAL: "Multimodal",
}
SPLIT_NAMES = dict(Item.Split.choices)


def clean(value: Any) -> Any:
    """JSON-ready copy: NumPy scalars and arrays to Python, NaN and inf to None."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return clean(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def figure_json(fig: Any) -> dict[str, Any]:
    return json.loads(fig.to_json())


def chart(
    chart_id: str,
    title: str,
    *,
    figure: Any = None,
    columns: Sequence[str] = (),
    rows: Sequence[Sequence[Any]] = (),
    caption: str = "",
    message: str | None = None,
    wide: bool = False,
) -> dict[str, Any]:
    return {
        "id": chart_id,
        "wide": wide,
        "title": title,
        "caption": caption,
        "figure": figure_json(figure) if figure is not None else None,
        "message": message,
        "table": {"columns": list(columns), "rows": clean([list(r) for r in rows])},
    }


def payload(
    page: str, *, data: dict, charts: list[dict], notes: Sequence[str] = (), empty: str | None = None
) -> dict[str, Any]:
    return {"page": page, "empty": empty, "notes": list(notes), "data": clean(data), "charts": charts}


def empty_page(page: str, message: str) -> dict[str, Any]:
    return payload(page, data={}, charts=[], empty=message)


def no_votes_message(filters: DashboardFilters, *, what: str = "votes") -> str:
    if filters == DashboardFilters():
        return (
            f"No {what} yet. Once annotators submit labels (or you import annotations), "
            "this page shows how well they agree."
        )
    return f"No {what} match these filters. Widen the split, round, annotator or date filters."


def attempt(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, str | None]:
    """(function(*args, **kwargs), None), or (None, reason) when the metric is undefined for the data."""
    try:
        return function(*args, **kwargs), None
    except UndefinedMetric as error:
        return None, str(error)


def user_names(user_ids: np.ndarray) -> list[str]:
    usernames = sel.get_usernames(user_ids)
    return [usernames.get(int(i), f"user {int(i)}") for i in user_ids]


def week_label(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def desire_none(tasks: Sequence[TaskSpec]) -> tuple[TaskSpec, int] | None:
    """MSED's desire task and the position of its "none" label, when the schema has them."""
    for task in tasks:
        if task.key == "desire" and "none" in task.label_keys:
            return task, task.label_keys.index("none")
    return None


def group_medians(groups: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of ``values`` per group index 0..n_groups-1 (NaN for an empty group), by one sort."""
    medians = np.full(n_groups, np.nan)
    if values.size == 0:
        return medians
    order = np.lexsort((values, groups))
    groups, values = groups[order], values[order]
    starts = np.searchsorted(groups, np.arange(n_groups), side="left")
    ends = np.searchsorted(groups, np.arange(n_groups), side="right")
    sizes = ends - starts
    has = sizes > 0
    low = starts[has] + (sizes[has] - 1) // 2
    high = starts[has] + sizes[has] // 2
    medians[has] = (values[low] + values[high]) / 2
    return medians
