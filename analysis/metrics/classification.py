"""Classification metrics of a model's predictions against gold."""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.label_matrix import UndefinedMetric


def as_label_vector(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.mod(array, 1) == 0):
            raise ValueError(f"{name} must hold integer category indices")
    return array.astype(np.int64, copy=False)


def _safe_divide(numerator: Any, denominator: Any) -> np.ndarray:
    """numerator / denominator with 0 where the denominator is 0 (scikit-learn's zero_division=0)."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.zeros(np.broadcast(numerator, denominator).shape)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def classification_metrics(y_true: Any, y_pred: Any, n_categories: int | None = None) -> dict:
    """Precision, recall, F1, accuracy and confusion matrix of a classifier.

    y_true, y_pred: int arrays of shape (n,) with class indices 0..k-1.
    n_categories: k; defaults to max(y_true, y_pred) + 1, so a class index
    that occurs in neither array but lies below the maximum still counts.

    Returns a dict:
      "precision", "recall": macro averages over the k classes;
      "macro_f1": unweighted mean of the per-class F1;
      "weighted_f1": per-class F1 weighted by support (true count);
      "accuracy": share of y_pred == y_true;
      "confusion": k x k list of lists of ints, rows = true, columns = predicted;
      "per_class": list of k dicts {"precision", "recall", "f1", "support"}.
    Per class, precision = tp / (tp + fp), recall = tp / (tp + fn),
    f1 = 2 tp / (2 tp + fp + fn); a 0/0 is 0, as scikit-learn's
    zero_division=0 with labels=range(k), so a class absent from both arrays
    adds 0 to the macro averages. Raises UndefinedMetric for empty input.
    """
    y_true = as_label_vector(y_true, "y_true")
    y_pred = as_label_vector(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has {y_pred.shape}")
    if y_true.size == 0:
        raise UndefinedMetric("no items: classification metrics need at least one prediction")
    if min(y_true.min(), y_pred.min()) < 0:
        raise ValueError("class indices must be >= 0")
    largest = int(max(y_true.max(), y_pred.max()))
    k = largest + 1 if n_categories is None else int(n_categories)
    if largest >= k:
        raise ValueError(f"class index {largest} is out of range for n_categories={k}")

    confusion = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)
    tp = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    precision = _safe_divide(tp, predicted)
    recall = _safe_divide(tp, support)
    f1 = _safe_divide(2 * tp, support + predicted)
    return {
        "precision": float(precision.mean()),
        "recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
        "weighted_f1": float((f1 * support).sum() / support.sum()),
        "accuracy": float(tp.sum() / y_true.size),
        "confusion": confusion.tolist(),
        "per_class": [
            {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for p, r, f, s in zip(precision, recall, f1, support)
        ],
    }
