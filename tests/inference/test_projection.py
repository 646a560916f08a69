"""inference.modeling.projection: the embedding map's PCA (pure NumPy, no database)."""

from __future__ import annotations

import numpy as np
import pytest

from inference.modeling.projection import pca_2d


def test_pca_2d_projects_finite_rows_and_leaves_missing_ones_empty():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(20, 5)) * np.array([5, 1, 0.1, 0.1, 0.1])
    vectors[3] = np.nan
    out = pca_2d(vectors)
    assert out["xy"][3] is None and all(p is not None for i, p in enumerate(out["xy"]) if i != 3)
    assert out["explained"][0] > out["explained"][1] > 0 and sum(out["explained"]) <= 1
    again = pca_2d(vectors)
    assert again == out


def test_pca_2d_finds_the_direction_of_largest_variance_with_a_fixed_sign():
    # Points on the line y = 2x in 3-D (plus a little noise on z): PC1 is that line.
    t = np.linspace(-1, 1, 11)
    vectors = np.stack([t, 2 * t, 0.001 * np.sin(7 * t)], axis=1)
    out = pca_2d(vectors)
    pc1 = np.array([p[0] for p in out["xy"]])
    # Largest loading positive: the point with the largest y lands on the positive side.
    assert pc1[-1] > 0 > pc1[0]
    assert np.allclose(pc1, t * np.sqrt(5), atol=1e-4)
    assert out["explained"][0] == pytest.approx(1.0, abs=1e-4)
    flipped = pca_2d(-vectors)
    assert [p[0] for p in flipped["xy"]] == pytest.approx(list(-pc1), abs=1e-4)  # same picture, mirrored data


def test_pca_2d_matches_an_independent_projection_up_to_sign():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(30, 4)) @ rng.normal(size=(4, 4))
    out = pca_2d(vectors)
    centred = vectors - vectors.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(centred, rowvar=False))
    top = eigenvectors[:, np.argsort(eigenvalues)[::-1][:2]]
    expected = centred @ top
    got = np.array(out["xy"])
    for k in range(2):
        assert np.allclose(np.abs(got[:, k]), np.abs(expected[:, k]), atol=1e-3)
    shares = np.sort(eigenvalues)[::-1][:2] / eigenvalues.sum()
    assert out["explained"] == pytest.approx(list(shares), abs=1e-4)


@pytest.mark.parametrize("rows", [0, 1])
def test_pca_2d_of_fewer_than_two_points_puts_them_at_the_origin(rows):
    out = pca_2d(np.ones((rows, 3)))
    assert out == {"xy": [[0.0, 0.0]] * rows, "explained": [0.0, 0.0]}


def test_pca_2d_of_one_dimensional_vectors_pads_the_second_axis():
    out = pca_2d(np.array([[1.0], [2.0], [4.0]]))
    assert [p[1] for p in out["xy"]] == [0.0, 0.0, 0.0]
    assert out["explained"] == [1.0, 0.0]


def test_pca_2d_of_identical_points_explains_nothing():
    out = pca_2d(np.ones((4, 3)))
    assert out["explained"] == [0.0, 0.0] and all(p == [0.0, 0.0] for p in out["xy"])
