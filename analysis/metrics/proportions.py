"""Intervals for a proportion (successes out of trials)."""

from __future__ import annotations

import math


def wilson_interval(successes: int, trials: int, *, z: float = 1.959964) -> tuple[float, float] | None:
    """Wilson (1927) score interval of successes / trials, 95 % by default:
    (low, high) within [0, 1]; None without trials. Unlike the normal
    approximation it stays inside [0, 1] and is not of width zero at 0 or
    n successes, which matters for an annotator with a handful of control
    answers."""
    if trials <= 0:
        return None
    if not 0 <= successes <= trials:
        raise ValueError("successes must be between 0 and trials")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)
