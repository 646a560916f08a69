"""The label-matrix input shared by the pure metric modules, and their error type.

analysis.metrics (agreement statistics) and analysis.reliability (annotator
models) both take a (n_items, n_raters) label matrix and both raise
``UndefinedMetric``; they live here, below both, so neither module imports
the other's internals and there is no import cycle. No Django here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["UndefinedMetric", "as_labels"]


class UndefinedMetric(ValueError):
    """A metric has no value for this input; the message says why."""


def as_labels(labels: Any, n_categories: int | None = None) -> tuple[np.ndarray, int]:
    """Validate a (n_items, n_raters) label matrix; return it as int64 with -1 = missing, and k."""
    array = np.asarray(labels)
    if array.ndim != 2:
        raise ValueError(f"labels must be 2-D (n_items, n_raters), got shape {array.shape}")
    if array.dtype.kind == "f":
        missing = np.isnan(array)
        if np.any(np.mod(array[~missing], 1) != 0):
            raise ValueError("labels must hold integer category indices (or NaN / -1 for missing)")
        array = np.where(missing, -1, array)
    elif array.dtype.kind not in "iub":
        raise ValueError(f"labels must be numeric category indices, got dtype {array.dtype}")
    array = array.astype(np.int64, copy=False)
    if array.size and array.min() < -1:
        raise ValueError("labels must be category indices >= 0, or -1 for a missing vote")
    largest = int(array.max()) if array.size else -1
    k = largest + 1 if n_categories is None else int(n_categories)
    if largest >= k:
        raise ValueError(f"label {largest} is out of range for n_categories={k}")
    return array, k
