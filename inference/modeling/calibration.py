"""Calibration of a classifier's probabilities: expected calibration error,
reliability bins and temperature scaling (pure NumPy: no torch, no Django).

Guo et al. (2017), "On Calibration of Modern Neural Networks":

* A prediction's *confidence* is its top probability. Confidences are put in
  `n_bins` equal-width bins ((0, 1/15], (1/15, 2/15], ... (14/15, 1]); in a
  calibrated model the accuracy in each bin equals its mean confidence.
* ECE = sum over bins of (items in bin / n) * |accuracy - mean confidence|
  (top-label ECE; 0 is perfect, at most 1).
* Temperature scaling divides the logits by one T > 0 fitted on held-out
  (dev) items by minimising the negative log-likelihood. It never changes
  the argmax, so accuracy and F1 stay as they are; T > 1 softens an
  overconfident model, T < 1 sharpens an underconfident one.

Everything here takes probabilities, not logits: log p = logits - logsumexp
(logits), and softmax is blind to a per-row constant, so softmax(log p / T)
is exactly softmax(logits / T). Suggestions store probabilities, so the same
function scales them after the fact.

    summary = calibrate_task(dev_probabilities, dev_labels, test_probabilities, test_labels)
    scaled = scale_probabilities(probabilities, summary["temperature"])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

N_BINS = 15
# Fewer labelled dev items than this and a fitted temperature is mostly
# noise: the run keeps T = 1 and says so.
MIN_DEV_ITEMS = 30
# The search interval of T. Fitted temperatures of real networks lie around
# 1-3; the bounds only stop a degenerate dev split (every item right, so the
# likelihood keeps rising as T -> 0) from driving T to 0 or infinity.
TEMPERATURE_BOUNDS = (0.05, 20.0)
# Probabilities come from float32 softmax: anything below float32's smallest
# normal number is an underflow, so log p is floored there (not -inf).
_LOG_FLOOR = math.log(float(np.finfo(np.float32).tiny))
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


@dataclass(frozen=True)
class Reliability:
    """Equal-width confidence bins of top-label predictions.

    counts (n_bins,) items per bin, summing to n; confidence and accuracy
    (n_bins,) the mean top probability and the share of correct argmaxes in
    each bin, NaN for an empty bin. Bin b holds confidences in
    (b / n_bins, (b + 1) / n_bins]; bin 0 also holds 0.
    """

    counts: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray

    @property
    def n_bins(self) -> int:
        return len(self.counts)

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def ece(self) -> float:
        """Expected calibration error: the count-weighted mean |accuracy - confidence|."""
        if self.n == 0:
            raise ValueError("the expected calibration error of no items is undefined")
        filled = self.counts > 0
        gaps = np.abs(self.accuracy[filled] - self.confidence[filled])
        return float((self.counts[filled] * gaps).sum() / self.n)

    def to_dict(self) -> dict[str, list]:
        """JSON-ready: {"counts": [int], "confidence": [float | None], "accuracy": [float | None]}."""

        def floats(values: np.ndarray) -> list[float | None]:
            return [None if not math.isfinite(v) else float(v) for v in values.tolist()]

        return {
            "counts": [int(c) for c in self.counts],
            "confidence": floats(self.confidence),
            "accuracy": floats(self.accuracy),
        }


def _check(probabilities: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities must be (n_items, n_classes), got shape {probabilities.shape}")
    if labels.shape != (len(probabilities),):
        raise ValueError(f"labels must be ({len(probabilities)},), got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= probabilities.shape[1]):
        raise ValueError(f"labels must be class indices in 0..{probabilities.shape[1] - 1}")
    return probabilities, labels.astype(np.int64)


def reliability_bins(probabilities: Any, labels: Any, *, n_bins: int = N_BINS) -> Reliability:
    """Top-label reliability bins of probabilities (n, K) against labels (n,) in 0..K-1."""
    probabilities, labels = _check(probabilities, labels)
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
    confidence = probabilities.max(axis=1) if len(probabilities) else np.zeros(0)
    correct = (probabilities.argmax(axis=1) == labels) if len(probabilities) else np.zeros(0, dtype=bool)
    # Inner edges as b / n_bins (correctly rounded, so 12/15 == 0.8, unlike
    # linspace's steps). side="left": a confidence equal to an edge belongs
    # to the lower bin, as (lo, hi] says; a confidence of 0 goes to bin 0.
    inner_edges = np.arange(1, n_bins) / n_bins
    index = np.searchsorted(inner_edges, confidence, side="left")
    counts = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(index, weights=confidence, minlength=n_bins) / counts
        accuracy = np.bincount(index, weights=correct.astype(np.float64), minlength=n_bins) / counts
    return Reliability(counts=counts, confidence=mean_confidence, accuracy=accuracy)


def expected_calibration_error(probabilities: Any, labels: Any, *, n_bins: int = N_BINS) -> float:
    """Top-label ECE of probabilities (n, K) against labels (n,), in [0, 1].
    Raises ValueError for no items (undefined)."""
    return reliability_bins(probabilities, labels, n_bins=n_bins).ece


def _log_probabilities(probabilities: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(probabilities), _LOG_FLOOR)


def _softmax_rows(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def scale_probabilities(probabilities: Any, temperature: float) -> np.ndarray:
    """softmax(log p / T) row by row: the probabilities the logits divided by
    T would give. The argmax (and the order of classes in each row) is
    unchanged; T = 1 returns the rows renormalised. Shape (n, K) or (K,)."""
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"the temperature must be a positive number, got {temperature!r}")
    probabilities = np.asarray(probabilities, dtype=np.float64)
    single = probabilities.ndim == 1
    rows = probabilities.reshape(1, -1) if single else probabilities
    if rows.shape[0] == 0:
        return rows.copy()
    scaled = _softmax_rows(_log_probabilities(rows) / temperature)
    return scaled[0] if single else scaled


def negative_log_likelihood(probabilities: Any, labels: Any, temperature: float = 1.0) -> float:
    """Mean -log p_T(label) in nats of the temperature-scaled probabilities."""
    probabilities, labels = _check(probabilities, labels)
    if len(labels) == 0:
        raise ValueError("the likelihood of no items is undefined")
    return _nll(_log_probabilities(probabilities), labels, temperature)


def _nll(log_p: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    scores = log_p / temperature
    top = scores.max(axis=1)
    log_normaliser = top + np.log(np.exp(scores - top[:, None]).sum(axis=1))
    return float((log_normaliser - scores[np.arange(len(labels)), labels]).mean())


def fit_temperature(
    probabilities: Any,
    labels: Any,
    *,
    bounds: tuple[float, float] = TEMPERATURE_BOUNDS,
    tol: float = 1e-5,
) -> float:
    """The T in `bounds` minimising the mean NLL of scale_probabilities(p, T).

    Golden-section search over log T. The NLL is convex in 1 / T (a sum of
    log-sum-exps of lines), hence unimodal in log T, so the search finds the
    global minimum without gradients or a starting point; tol is the width of
    the final interval in log T. A minimum at a bound means the dev items
    push T further (e.g. every item right: T -> 0).
    """
    probabilities, labels = _check(probabilities, labels)
    if len(labels) == 0:
        raise ValueError("a temperature cannot be fitted on no items")
    low, high = bounds
    if not 0 < low < high:
        raise ValueError(f"bounds must satisfy 0 < low < high, got {bounds!r}")
    log_p = _log_probabilities(probabilities)

    def loss(log_t: float) -> float:
        return _nll(log_p, labels, math.exp(log_t))

    a, b = math.log(low), math.log(high)
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    fc, fd = loss(c), loss(d)
    while b - a > tol:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - _GOLDEN * (b - a)
            fc = loss(c)
        else:
            a, c, fc = c, d, fd
            d = a + _GOLDEN * (b - a)
            fd = loss(d)
    best = (a + b) / 2
    # The ends themselves are never evaluated inside the loop: compare them
    # too, so a minimum at a bound is returned exactly.
    candidates = [(loss(best), best), (loss(math.log(low)), math.log(low)), (loss(math.log(high)), math.log(high))]
    return float(math.exp(min(candidates)[1]))


def calibrate_task(
    dev_probabilities: Any,
    dev_labels: Any,
    test_probabilities: Any,
    test_labels: Any,
    *,
    n_bins: int = N_BINS,
    min_dev_items: int | None = None,
) -> dict[str, Any]:
    """Fit one task's temperature on its labelled dev items and measure the
    test split's calibration before and after scaling.

    Arrays as in reliability_bins (dev or test may have no items).
    min_dev_items defaults to MIN_DEV_ITEMS; with fewer labelled dev items
    the temperature stays 1 and "note" says why. Returns a JSON-ready dict:
    {"temperature", "fitted" (bool), "note" (str, "" when nothing to say),
    "dev_items", "test_items", "n_bins", "ece_before", "ece_after" (None
    without test items), "nll_dev_before", "nll_dev_after" (None without dev
    items), "bins_before", "bins_after" (Reliability.to_dict() of the test
    split, None without test items)}.
    """
    minimum = MIN_DEV_ITEMS if min_dev_items is None else min_dev_items
    dev_probabilities, dev_labels = _check(dev_probabilities, dev_labels)
    test_probabilities, test_labels = _check(test_probabilities, test_labels)
    n_dev, n_test = len(dev_labels), len(test_labels)
    temperature, fitted, notes = 1.0, False, []
    if n_dev == 0:
        notes.append(
            "No labelled dev items, so no temperature was fitted: T = 1 (probabilities as the model gives them)."
        )
    elif n_dev < minimum:
        notes.append(
            f"Only {n_dev} labelled dev item{'s' if n_dev != 1 else ''} (a temperature needs at least {minimum}): "
            "T = 1 (probabilities as the model gives them)."
        )
    else:
        temperature, fitted = fit_temperature(dev_probabilities, dev_labels), True
        if any(math.isclose(temperature, bound, rel_tol=1e-6) for bound in TEMPERATURE_BOUNDS):
            notes.append(
                f"The fitted temperature stopped at the end of its range ({temperature:g}): the dev items ask for "
                "an even more extreme value, which usually means the dev split is too easy or too small."
            )
    if n_test == 0:
        notes.append("No labelled test items: the calibration error was not measured.")
    summary: dict[str, Any] = {
        "temperature": temperature,
        "fitted": fitted,
        "note": " ".join(notes),
        "dev_items": n_dev,
        "test_items": n_test,
        "n_bins": n_bins,
        "ece_before": None,
        "ece_after": None,
        "nll_dev_before": None,
        "nll_dev_after": None,
        "bins_before": None,
        "bins_after": None,
    }
    if n_dev:
        summary["nll_dev_before"] = negative_log_likelihood(dev_probabilities, dev_labels)
        summary["nll_dev_after"] = negative_log_likelihood(dev_probabilities, dev_labels, temperature)
    if n_test:
        before = reliability_bins(test_probabilities, test_labels, n_bins=n_bins)
        scaled = test_probabilities if temperature == 1.0 else scale_probabilities(test_probabilities, temperature)
        after = reliability_bins(scaled, test_labels, n_bins=n_bins)
        summary.update(
            ece_before=before.ece, ece_after=after.ece, bins_before=before.to_dict(), bins_after=after.to_dict()
        )
    return summary
