"""A 2-D projection of item representations for the embedding map (pure NumPy)."""

from __future__ import annotations

from typing import Any

import numpy as np


def pca_2d(vectors: np.ndarray) -> dict[str, Any]:
    """First two principal components of the finite rows of (n, d) vectors.

    Returns {"xy": [[x, y] or None per row], "explained": [share of variance
    of PC1, PC2]}. Signs are fixed (largest loading positive) so reruns give
    the same picture. Pure NumPy (SVD of the centred matrix).
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    present = np.isfinite(vectors).all(axis=1)
    xy: list[list[float] | None] = [None] * len(vectors)
    rows = vectors[present]
    if len(rows) < 2:
        for i in np.flatnonzero(present):
            xy[i] = [0.0, 0.0]
        return {"xy": xy, "explained": [0.0, 0.0]}
    centred = rows - rows.mean(axis=0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    components = components[:2]
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    components = components * np.where(signs == 0, 1, signs)[:, None]
    projected = centred @ components.T
    if projected.shape[1] == 1:
        projected = np.hstack([projected, np.zeros((len(projected), 1))])
    variance = singular**2
    total = variance.sum()
    explained = (variance[:2] / total).tolist() if total > 0 else [0.0, 0.0]
    for i, point in zip(np.flatnonzero(present), projected):
        xy[i] = [round(float(point[0]), 5), round(float(point[1]), 5)]
    return {"xy": xy, "explained": [round(float(e), 4) for e in explained] + [0.0] * (2 - len(explained))}
