"""Accuracy of gold against the demo's simulated truth: majority vs Dawid-Skene vs MACE.

Simulated votes (annotator/demo/simulate.py: 80% of the items labelled by
five annotators with MSED's confusions) are compared with the truth they were
drawn from. The "demo" crowd has error rates 0.06 to 0.24 (DEFAULT_ERROR_RATES,
what `manage.py seed_demo` wrote before its annotator5 became careless).
Majority gold stores no label on a tie, so "majority" counts a tie as wrong;
"majority, ties broken" breaks them at random (what a lead adjudicating at
random would get). The careless rows replace the fifth annotator's error rate
by 0.75 (before the per-task multiplier; DEMO_ERROR_RATES, the crowd
`seed_demo` writes now, without its anchoring and control items): what the
models are for.

    /work/main/.venv/bin/python bench/gold.py          # 600 and 6000 items, both crowds

Results go to bench/results/gold.json under "accuracy".
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from analysis.reliability import dawid_skene, mace
from annotator import demo
from annotator.demo.simulate import DEFAULT_ERROR_RATES, DEMO_ERROR_RATES
from bench.common import format_table, write_results

CROWDS = {"demo": list(DEFAULT_ERROR_RATES), "careless": list(DEMO_ERROR_RATES)}


def majority(labels: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(label or -1 on a tie, label with ties broken at random) per item."""
    counts = np.stack([(labels == c).sum(axis=1) for c in range(k)], axis=1)
    top = counts == counts.max(axis=1, keepdims=True)
    strict = np.where(top.sum(axis=1) > 1, -1, counts.argmax(axis=1))
    return strict, (rng.random(counts.shape) * top).argmax(axis=1)


def run(n_items: int, crowd: str, seed: int = 0) -> list[dict]:
    synthetic = demo.generate_items(n_items, seed=seed, image_pool=8)
    labelled = int(round(0.8 * n_items))
    truth = demo.label_index_matrix(synthetic[:labelled])
    rates = CROWDS[crowd]
    votes = demo.simulate_votes(truth, n_annotators=len(rates), error_rates=rates, seed=seed)
    rng = np.random.default_rng(seed)
    rows = []
    for t, task in enumerate(demo.TASKS):
        k, y = demo.N_CATEGORIES[t], truth[:, t]
        labels = votes[:, :, t].astype(np.int64)
        strict, broken = majority(labels, k, rng)
        ds = dawid_skene(labels, n_categories=k, max_iter=100)
        fit = mace(labels, n_categories=k, n_restarts=10, max_iter=50, seed=0)
        rows.append(
            {
                "items": labelled,
                "crowd": crowd,
                "task": task,
                "majority": float(np.mean(strict == y)),
                "majority_ties_broken": float(np.mean(broken == y)),
                "ties": float(np.mean(strict < 0)),
                "dawid_skene": float(np.mean(ds.labels == y)),
                "mace": float(np.mean(fit.labels == y)),
                "mace_competence": [round(float(c), 3) for c in fit.competence],
            }
        )
    return rows


def main() -> None:
    rows = [row for n in (600, 6000) for crowd in CROWDS for row in run(n, crowd)]
    headers = ["items", "crowd", "task", "majority", "ties broken", "ties", "Dawid-Skene", "MACE", "MACE competence"]
    table = [
        [r["items"], r["crowd"], r["task"], f"{r['majority']:.4f}", f"{r['majority_ties_broken']:.4f}"]
        + [f"{r['ties']:.3f}", f"{r['dawid_skene']:.4f}", f"{r['mace']:.4f}", r["mace_competence"]]
        for r in rows
    ]
    print(format_table(table, headers))
    print(write_results("gold.json", "accuracy", {"rows": rows}))


if __name__ == "__main__":
    main()
