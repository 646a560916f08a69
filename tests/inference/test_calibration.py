"""inference.modeling.calibration: ECE, reliability bins and temperature
scaling on worked examples and synthetic logits (pure NumPy, no database)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inference.modeling import calibration
from inference.modeling.calibration import (
    calibrate_task,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_bins,
    scale_probabilities,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def rows(*pairs: tuple[list[float], int]) -> tuple[np.ndarray, np.ndarray]:
    """(probability row, label) pairs -> (probabilities, labels)."""
    return np.array([p for p, _ in pairs]), np.array([label for _, label in pairs])


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def synthetic(true_temperature: float, *, n: int = 20000, k: int = 5, seed: int = 0):
    """Logits z, and labels drawn from softmax(z / true_temperature): the
    model's probabilities softmax(z) are miscalibrated by exactly that T."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 3.0, size=(n, k))
    truth = softmax(logits / true_temperature)
    labels = (truth.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    return softmax(logits), labels


# ------------------------------------------------------------------ ECE ----


def test_perfectly_calibrated_predictions_have_zero_ece():
    # 5 items at confidence 0.8 with 4 right, 5 at 0.6 with 3 right, 2 at 1.0 both right.
    probabilities, labels = rows(
        *[([0.8, 0.2], 0)] * 4,
        ([0.8, 0.2], 1),
        *[([0.4, 0.6], 1)] * 3,
        *[([0.4, 0.6], 0)] * 2,
        *[([0.0, 1.0], 1)] * 2,
    )
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.0, abs=1e-12)


def test_ece_of_a_known_miscalibration_is_the_weighted_gap():
    # Half the items at confidence 0.9 with 60 % right (gap 0.3), half at
    # 0.6 with 60 % right (gap 0): ECE = 0.5 * 0.3 + 0.5 * 0 = 0.15.
    high = [([0.9, 0.05, 0.05], 0)] * 3 + [([0.9, 0.05, 0.05], 2)] * 2
    middle = [([0.2, 0.6, 0.2], 1)] * 3 + [([0.2, 0.6, 0.2], 0)] * 2
    probabilities, labels = rows(*high, *middle)
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.15, abs=1e-12)
    # Every prediction wrong at confidence 0.9: the gap is the whole confidence.
    probabilities, labels = rows(*[([0.9, 0.1], 1)] * 7)
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.9, abs=1e-12)


def test_ece_uses_fifteen_equal_width_bins_with_closed_upper_edges():
    # 0.70 and 0.72 share the bin (2/3, 11/15]: their mean confidence 0.71
    # against accuracy 0.5. 0.80 (exactly 12/15) closes the bin below 0.81.
    probabilities, labels = rows(([0.70, 0.30], 0), ([0.72, 0.28], 1), ([0.80, 0.20], 0), ([0.81, 0.19], 0))
    bins = reliability_bins(probabilities, labels)
    assert bins.n_bins == 15
    assert bins.counts.tolist() == [0] * 10 + [2, 1, 1, 0, 0]
    assert bins.confidence[10] == pytest.approx(0.71) and bins.accuracy[10] == pytest.approx(0.5)
    expected = (2 * abs(0.5 - 0.71) + abs(1 - 0.80) + abs(1 - 0.81)) / 4
    assert bins.ece == pytest.approx(expected, abs=1e-12)


def test_reliability_bin_counts_sum_to_the_number_of_items():
    rng = np.random.default_rng(3)
    probabilities = rng.dirichlet(np.full(6, 0.4), size=997)
    labels = rng.integers(0, 6, size=997)
    for n_bins in (1, 10, 15, 40):
        bins = reliability_bins(probabilities, labels, n_bins=n_bins)
        assert bins.counts.sum() == 997 and len(bins.counts) == n_bins
        empty = bins.counts == 0
        assert np.isnan(bins.accuracy[empty]).all() and np.isfinite(bins.accuracy[~empty]).all()
        assert 0.0 <= bins.ece <= 1.0
    as_json = reliability_bins(probabilities, labels).to_dict()
    assert sum(as_json["counts"]) == 997
    assert all(v is None for v, c in zip(as_json["accuracy"], as_json["counts"]) if c == 0)


def test_ece_of_no_items_is_undefined_and_bad_labels_are_refused():
    with pytest.raises(ValueError, match="undefined"):
        expected_calibration_error(np.zeros((0, 3)), np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match="class indices"):
        expected_calibration_error([[0.5, 0.5]], [2])
    with pytest.raises(ValueError, match="labels must be"):
        expected_calibration_error([[0.5, 0.5]], [0, 1])


# ---------------------------------------------------------- temperature ----


@pytest.mark.parametrize("true_temperature", [0.5, 1.0, 2.5])
def test_temperature_fit_recovers_a_known_temperature(true_temperature):
    probabilities, labels = synthetic(true_temperature)
    fitted = fit_temperature(probabilities, labels)
    assert fitted == pytest.approx(true_temperature, rel=0.05)
    # And it is the minimum of the likelihood (scipy as an independent optimiser).
    from scipy.optimize import minimize_scalar

    reference = minimize_scalar(
        lambda log_t: negative_log_likelihood(probabilities, labels, math.exp(log_t)),
        bounds=(math.log(0.05), math.log(20.0)),
        method="bounded",
        options={"xatol": 1e-7},
    )
    assert math.log(fitted) == pytest.approx(reference.x, abs=1e-3)


def test_temperature_scaling_lowers_the_ece_of_an_overconfident_model():
    probabilities, labels = synthetic(2.5, seed=1)
    fitted = fit_temperature(probabilities[:10000], labels[:10000])
    before = expected_calibration_error(probabilities[10000:], labels[10000:])
    after = expected_calibration_error(scale_probabilities(probabilities[10000:], fitted), labels[10000:])
    assert before > 0.1 and after < 0.02


def test_a_dev_split_the_model_gets_all_right_stops_at_the_lower_bound():
    probabilities, labels = rows(*[([0.7, 0.2, 0.1], 0)] * 40)
    assert fit_temperature(probabilities, labels) == pytest.approx(calibration.TEMPERATURE_BOUNDS[0])


def test_scaling_never_changes_the_argmax_and_keeps_rows_summing_to_one():
    rng = np.random.default_rng(11)
    probabilities = rng.dirichlet(np.full(7, 0.3), size=2000).astype(np.float32)
    probabilities[:5] = [1, 0, 0, 0, 0, 0, 0]  # float32 softmax underflows to exact zeros
    for temperature in (0.05, 0.3, 1.0, 1.7, 20.0):
        scaled = scale_probabilities(probabilities, temperature)
        assert (scaled.argmax(axis=1) == probabilities.argmax(axis=1)).all()
        assert np.allclose(scaled.sum(axis=1), 1.0)
        assert np.isfinite(scaled).all()
    assert np.allclose(scale_probabilities(probabilities, 1.0), probabilities, atol=1e-6)
    single = scale_probabilities([0.6, 0.3, 0.1], 2.0)
    assert single.shape == (3,) and single.argmax() == 0 and single[0] < 0.6


def test_scaling_probabilities_equals_scaling_the_logits():
    logits = np.random.default_rng(5).normal(0, 4, size=(50, 4))
    for temperature in (0.5, 3.0):
        assert np.allclose(scale_probabilities(softmax(logits), temperature), softmax(logits / temperature))


@pytest.mark.parametrize("temperature", [0.0, -1.0, math.inf, math.nan])
def test_a_temperature_must_be_positive_and_finite(temperature):
    with pytest.raises(ValueError, match="positive"):
        scale_probabilities([[0.5, 0.5]], temperature)


# -------------------------------------------------------- calibrate_task ----


def test_calibrate_task_fits_on_dev_and_measures_test_before_and_after():
    probabilities, labels = synthetic(2.0, n=4000, seed=2)
    summary = calibrate_task(probabilities[:2000], labels[:2000], probabilities[2000:], labels[2000:])
    assert summary["fitted"] and summary["note"] == ""
    assert summary["temperature"] == pytest.approx(2.0, rel=0.1)
    assert summary["dev_items"] == summary["test_items"] == 2000 and summary["n_bins"] == 15
    assert summary["ece_after"] < summary["ece_before"]
    assert summary["nll_dev_after"] <= summary["nll_dev_before"]
    assert sum(summary["bins_before"]["counts"]) == sum(summary["bins_after"]["counts"]) == 2000
    assert summary["ece_before"] == pytest.approx(expected_calibration_error(probabilities[2000:], labels[2000:]))


def test_too_few_dev_items_keep_temperature_one_and_say_so():
    probabilities, labels = synthetic(2.0, n=200, seed=4)
    summary = calibrate_task(probabilities[:12], labels[:12], probabilities[100:], labels[100:])
    assert summary["temperature"] == 1.0 and not summary["fitted"]
    assert "Only 12 labelled dev items" in summary["note"] and "T = 1" in summary["note"]
    assert summary["ece_before"] == summary["ece_after"]
    none = calibrate_task(np.zeros((0, 5)), np.zeros(0, dtype=int), probabilities[100:], labels[100:])
    assert none["temperature"] == 1.0 and "No labelled dev items" in none["note"]
    assert none["nll_dev_before"] is None
    no_test = calibrate_task(probabilities[:50], labels[:50], np.zeros((0, 5)), np.zeros(0, dtype=int))
    assert no_test["fitted"] and no_test["ece_before"] is None and no_test["bins_before"] is None
    assert "not measured" in no_test["note"]


def test_calibration_module_imports_neither_torch_nor_django():
    code = (
        "import sys; import inference.modeling.calibration; "
        "assert 'torch' not in sys.modules and 'django' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)
