"""Benchmark: analysis.metrics against statsmodels, krippendorff, NLTK, scikit-learn and crowd-kit.

One file on purpose (over 600 lines): each row sets our kernel beside its peer on the same
data, and a reader checks a ratio by reading the two calls next to each other.

Run from the repository root:

    /work/venv/bin/python bench/agreement.py            # 200k items x 5 raters x 7 categories
    /work/venv/bin/python bench/agreement.py --quick    # 20k items, well under a minute

Each metric is timed on the same label matrix for us and for every peer,
each starting from the (items, raters) labels, so the peer's own conversion
(statsmodels' ``aggregate_raters``, NLTK's triples) counts; rows marked
"(counts)" start from the (items, categories) count table instead. Times are
the best of a few runs. NLTK's ``AnnotationTask`` is pure Python: it runs on
a subsample and its time is extrapolated linearly to the full size (its
sorts make it slightly worse than linear, so the estimate flatters NLTK);
its values are compared with ours on the same subsample. The annotator
models (Dawid-Skene, MACE) run the same number of EM iterations as
crowd-kit's, whose time includes building its (task, worker, label) frame;
their "max |diff|" is over the items x classes posteriors. Ours run once per
distinct row of votes (see analysis.reliability._Votes); the "30 raters, no
rows merged" rows put the same votes in 30 rater columns, where no rows are
merged, to time the per-vote EM kernels themselves.

Results go to bench/results/agreement.json under "metrics" (or
"metrics_quick"): per metric our seconds, each peer's seconds, the ratio
peer / ours and the largest absolute difference of the values.

Parts: ``run_metrics`` (in-memory arrays, the default) and ``run_db``
(``--db``): the Agreement dashboard of a 200k items x 5 votes x 3 tasks
project (3M votes) in PostgreSQL, cold and cached, through the same service
the view calls and through one real request. ``--db --quick`` does 20k
items. Results go under "db" / "db_quick" of the same JSON file.

    /work/venv/bin/python bench/agreement.py --db [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from analysis import metrics
from bench.common import best_time, format_seconds, format_table, write_results

TARGET_RATIO = 5.0
RESULTS_FILE = "agreement.json"


def make_votes(
    n_items: int,
    *,
    n_raters: int = 5,
    n_categories: int = 7,
    accuracy: float = 0.7,
    missing: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(true labels (n_items,), votes (n_items, n_raters)) with -1 for a missing vote.

    Category 0 plays MSED's "none" (48% of items, as for desire); each rater
    gives the true label with probability ``accuracy`` and otherwise a label
    drawn from the same prevalence.
    """
    rng = np.random.default_rng(seed)
    prevalence = np.full(n_categories, 0.52 / (n_categories - 1))
    prevalence[0] = 0.48
    truth = rng.choice(n_categories, size=n_items, p=prevalence)
    noise = rng.choice(n_categories, size=(n_items, n_raters), p=prevalence)
    votes = np.where(rng.random((n_items, n_raters)) < accuracy, truth[:, None], noise)
    votes[rng.random(votes.shape) < missing] = -1
    return truth, votes


@dataclass
class Peer:
    name: str
    run: Callable[[], Any]
    reference: Callable[[], Any] | None = None  # our value on the peer's input when it differs (a subsample)
    subsample: int | None = None  # items actually run; time is scaled by n_items / subsample


@dataclass
class Case:
    metric: str
    ours: Callable[[], Any]
    peers: list[Peer] = field(default_factory=list)
    value: Callable[[Any], Any] = lambda result: result  # our result as numbers comparable with the peers'


def _max_abs_diff(a: Any, b: Any) -> float:
    a_array, b_array = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    both_nan = np.isnan(a_array) & np.isnan(b_array)
    return float(np.max(np.where(both_nan, 0.0, np.abs(a_array - b_array)), initial=0.0))


def _timed(function: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best of ``repeat`` runs, but a single run when one already takes over two seconds."""
    seconds, result = best_time(function, repeat=1)
    if seconds < 2 and repeat > 1:
        more, result = best_time(function, repeat=repeat - 1)
        seconds = min(seconds, more)
    return seconds, result


# --- peers written the way their documentation suggests --------------------------------


def _statsmodels_fleiss(labels: np.ndarray, k: int) -> float:
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    return fleiss_kappa(aggregate_raters(labels, n_cat=k)[0])


def _statsmodels_fleiss_counts(counts: np.ndarray) -> float:
    from statsmodels.stats.inter_rater import fleiss_kappa

    return fleiss_kappa(counts)


def _statsmodels_fleiss_per_category(labels: np.ndarray, k: int) -> np.ndarray:
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    table = aggregate_raters(labels, n_cat=k)[0]
    votes = table.sum(axis=1)
    return np.array([fleiss_kappa(np.column_stack([table[:, c], votes - table[:, c]])) for c in range(k)])


def _krippendorff_alpha(labels: np.ndarray, k: int) -> float:
    import krippendorff

    reliability = np.where(labels >= 0, labels, np.nan).T
    return krippendorff.alpha(reliability_data=reliability, level_of_measurement="nominal", value_domain=list(range(k)))


def _krippendorff_alpha_counts(counts: np.ndarray) -> float:
    import krippendorff

    return krippendorff.alpha(value_counts=counts, level_of_measurement="nominal")


def _nltk_task(labels: np.ndarray):
    from nltk.metrics.agreement import AnnotationTask

    return AnnotationTask(
        [(r, i, int(labels[i, r])) for i in range(labels.shape[0]) for r in range(labels.shape[1]) if labels[i, r] >= 0]
    )


def _sklearn_cohen(a: np.ndarray, b: np.ndarray) -> float:
    from sklearn.metrics import cohen_kappa_score

    return cohen_kappa_score(a, b)


def _sklearn_pairwise_cohen(labels: np.ndarray) -> np.ndarray:
    from sklearn.metrics import cohen_kappa_score

    n_raters = labels.shape[1]
    return np.array(
        [cohen_kappa_score(labels[:, r], labels[:, s]) for r in range(n_raters) for s in range(r + 1, n_raters)]
    )


def _sklearn_classification(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> list[float]:
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    classes = list(range(k))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    confusion = confusion_matrix(y_true, y_pred, labels=classes)
    weighted_f1 = float((f1 * support).sum() / support.sum())
    summary = [precision.mean(), recall.mean(), f1.mean(), weighted_f1, accuracy_score(y_true, y_pred)]
    return summary + confusion.ravel().tolist()


def _our_classification(result: dict) -> list[float]:
    keys = ("precision", "recall", "macro_f1", "weighted_f1", "accuracy")
    return [result[key] for key in keys] + np.ravel(result["confusion"]).tolist()


DS_ITERATIONS, MACE_ITERATIONS = 20, 50  # crowd-kit's MACE default n_iter is 50


def _crowdkit_frame(labels: np.ndarray):
    import pandas as pd

    item, rater = np.nonzero(labels >= 0)
    return pd.DataFrame({"task": item, "worker": rater, "label": labels[item, rater]})


def _crowdkit_posteriors(probas, n_items: int, k: int) -> np.ndarray:
    """crowd-kit's probas_ (rows and columns in order of first appearance) as (n_items, k) in index order."""
    return probas.reindex(index=range(n_items), columns=range(k)).to_numpy()


def _crowdkit_dawid_skene(labels: np.ndarray, k: int) -> np.ndarray:
    from crowdkit.aggregation import DawidSkene

    # tol=-inf: crowd-kit's tol=0 also stops when its bound dips (it adds the log prior once per
    # vote, so it is not EM's bound), so only this runs every iteration.
    model = DawidSkene(n_iter=DS_ITERATIONS, tol=float("-inf"))
    return _crowdkit_posteriors(model.fit_predict_proba(_crowdkit_frame(labels)), labels.shape[0], k)


def _crowdkit_mace(labels: np.ndarray, k: int) -> np.ndarray:
    from crowdkit.aggregation import MACE

    model = MACE(n_restarts=1, n_iter=MACE_ITERATIONS, random_state=0)
    return _crowdkit_posteriors(model.fit_predict_proba(_crowdkit_frame(labels)), labels.shape[0], k)


def _in_first_appearance_order(labels: np.ndarray, k: int) -> np.ndarray:
    """Rename categories and reorder raters by first appearance (row-major), the order crowd-kit's MACE needs.

    crowd-kit's MACE numbers workers and labels by first appearance but sums its
    strategy counts with a sorted groupby and assigns them by position, so its
    answer is only right when the two orders agree.
    """
    item, rater = np.nonzero(labels >= 0)
    given = labels[item, rater]
    values, first = np.unique(given, return_index=True)
    rank = np.arange(k)
    rank[values[np.argsort(first)]] = np.arange(values.size)
    raters, first_vote = np.unique(rater, return_index=True)
    columns = np.concatenate([raters[np.argsort(first_vote)], np.setdiff1d(np.arange(labels.shape[1]), raters)])
    return np.where(labels >= 0, rank[np.maximum(labels, 0)], -1)[:, columns]


def _spread_over_raters(labels: np.ndarray, n_raters: int, seed: int) -> np.ndarray:
    """The same votes, each item's put in random distinct columns of n_raters (the rest -1).

    With 30 raters no two items share a row pattern often, and 31 base-8 digits do not
    fit one int64 key, so the models run on every item (no identical rows merged).
    """
    rng = np.random.default_rng(seed)
    n_items, per_item = labels.shape
    columns = np.argsort(rng.random((n_items, n_raters)), axis=1)[:, :per_item]
    spread = np.full((n_items, n_raters), -1, dtype=labels.dtype)
    spread[np.arange(n_items)[:, None], columns] = labels
    return spread


def _upper(matrix: np.ndarray) -> np.ndarray:
    return matrix[np.triu_indices(matrix.shape[0], 1)]


# --- parts ------------------------------------------------------------------------------


def build_cases(n_items: int, nltk_items: int, seed: int = 0) -> tuple[list[Case], dict[str, Any]]:
    k, n_raters = 7, 5
    truth, labels = make_votes(n_items, n_raters=n_raters, n_categories=k, seed=seed)
    _, sparse = make_votes(n_items, n_raters=n_raters, n_categories=k, missing=0.2, seed=seed + 1)
    counts = metrics.counts_from_labels(labels, k)
    sub, sparse_sub = labels[:nltk_items], sparse[:nltk_items]
    ordered = _in_first_appearance_order(labels, k)
    crowd = _in_first_appearance_order(_spread_over_raters(labels, 30, seed), k)

    def nltk(name: str, data: np.ndarray, method: str, reference: Callable[[], Any]) -> Peer:
        return Peer(name, lambda: getattr(_nltk_task(data), method)(), reference=reference, subsample=nltk_items)

    cases = [
        Case(
            "percent_agreement",
            lambda: metrics.percent_agreement(labels, n_categories=k),
            [nltk("nltk avg_Ao", sub, "avg_Ao", lambda: metrics.percent_agreement(sub))],
        ),
        Case(
            "fleiss_kappa",
            lambda: metrics.fleiss_kappa(labels, n_categories=k),
            [
                Peer("statsmodels", lambda: _statsmodels_fleiss(labels, k)),
                nltk("nltk pi", sub, "pi", lambda: metrics.fleiss_kappa(sub)),
            ],
        ),
        Case(
            "fleiss_kappa (counts)",
            lambda: metrics.fleiss_kappa_from_counts(counts),
            [Peer("statsmodels", lambda: _statsmodels_fleiss_counts(counts))],
        ),
        Case(
            "fleiss_kappa_per_category",
            lambda: metrics.fleiss_kappa_per_category(labels, n_categories=k),
            [Peer("statsmodels x7 tables", lambda: _statsmodels_fleiss_per_category(labels, k))],
        ),
        Case(
            "cohen_kappa (1 pair)",
            lambda: metrics.cohen_kappa(labels[:, 0], labels[:, 1], n_categories=k),
            [Peer("sklearn", lambda: _sklearn_cohen(labels[:, 0], labels[:, 1]))],
        ),
        Case(
            "pairwise_cohen (10 pairs)",
            lambda: metrics.pairwise_cohen(labels, n_categories=k),
            [
                Peer("sklearn loop", lambda: _sklearn_pairwise_cohen(labels)),
                nltk("nltk kappa (mean)", sub, "kappa", lambda: _upper(metrics.pairwise_cohen(sub).kappa).mean()),
            ],
            value=lambda result: _upper(result.kappa),
        ),
        Case(
            "krippendorff_alpha",
            lambda: metrics.krippendorff_alpha(labels, n_categories=k),
            [
                Peer("krippendorff", lambda: _krippendorff_alpha(labels, k)),
                nltk("nltk alpha", sub, "alpha", lambda: metrics.krippendorff_alpha(sub)),
            ],
        ),
        Case(
            "krippendorff_alpha (20% missing)",
            lambda: metrics.krippendorff_alpha(sparse, n_categories=k),
            [
                Peer("krippendorff", lambda: _krippendorff_alpha(sparse, k)),
                nltk("nltk alpha", sparse_sub, "alpha", lambda: metrics.krippendorff_alpha(sparse_sub)),
            ],
        ),
        Case(
            "krippendorff_alpha (counts)",
            lambda: metrics.krippendorff_alpha_from_counts(counts),
            [Peer("krippendorff", lambda: _krippendorff_alpha_counts(counts))],
        ),
        Case("gwet_ac1", lambda: metrics.gwet_ac1(labels, n_categories=k)),
        Case(
            "classification_metrics",
            lambda: metrics.classification_metrics(truth, labels[:, 0], n_categories=k),
            [Peer("sklearn", lambda: _sklearn_classification(truth, labels[:, 0], k))],
            value=_our_classification,
        ),
        Case("majority_gold", lambda: metrics.majority_gold(labels, n_categories=k)),
        Case("leave_one_out_agreement", lambda: metrics.leave_one_out_agreement(labels, n_categories=k)),
        Case("label_confusion", lambda: metrics.label_confusion(labels, n_categories=k)),
        Case(
            "bootstrap_ci fleiss (1000)",
            lambda: metrics.bootstrap_ci(labels, "fleiss", n_categories=k, n_boot=1000, seed=0),
        ),
        Case(
            "bootstrap_ci alpha (1000, 20% missing)",
            lambda: metrics.bootstrap_ci(sparse, "alpha", n_categories=k, n_boot=1000, seed=0),
        ),
        Case(
            "agreement_summary (1000 boot)",
            lambda: metrics.agreement_summary(labels, k, n_boot=1000, seed=0),
        ),
        Case(
            f"dawid_skene ({DS_ITERATIONS} iterations)",
            lambda: metrics.dawid_skene(labels, n_categories=k, max_iter=DS_ITERATIONS, tol=0),
            [Peer("crowd-kit DawidSkene", lambda: _crowdkit_dawid_skene(labels, k))],
            value=lambda result: result.posteriors,
        ),
        Case(
            f"mace (1 restart, {MACE_ITERATIONS} iterations)",
            lambda: metrics.mace(ordered, n_categories=k, n_restarts=1, max_iter=MACE_ITERATIONS),
            [Peer("crowd-kit MACE", lambda: _crowdkit_mace(ordered, k))],
            value=lambda result: result.posteriors,
        ),
        Case(
            f"dawid_skene ({DS_ITERATIONS} iterations, 30 raters, no rows merged)",
            lambda: metrics.dawid_skene(crowd, n_categories=k, max_iter=DS_ITERATIONS, tol=0),
            [Peer("crowd-kit DawidSkene", lambda: _crowdkit_dawid_skene(crowd, k))],
            value=lambda result: result.posteriors,
        ),
        Case(
            f"mace (1 restart, {MACE_ITERATIONS} iterations, 30 raters, no rows merged)",
            lambda: metrics.mace(crowd, n_categories=k, n_restarts=1, max_iter=MACE_ITERATIONS),
            [Peer("crowd-kit MACE", lambda: _crowdkit_mace(crowd, k))],
            value=lambda result: result.posteriors,
        ),
    ]
    config = {
        "n_items": n_items,
        "n_raters": n_raters,
        "n_categories": k,
        "accuracy": 0.7,
        "seed": seed,
        "nltk_subsample_items": nltk_items,
        "missing_share_sparse": 0.2,
        "annotator_models": {
            "dawid_skene_iterations": DS_ITERATIONS,
            "mace_iterations": MACE_ITERATIONS,
            "mace_restarts": 1,
            "no_merge_rows_raters": 30,
        },
    }
    return cases, config


def run_metrics(quick: bool) -> None:
    # Import every peer first so no timing includes an import (NLTK's takes about a second).
    import warnings

    import crowdkit.aggregation  # noqa: F401
    import krippendorff  # noqa: F401
    import nltk.metrics.agreement  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import statsmodels.stats.inter_rater  # noqa: F401

    # crowd-kit 1.4 on pandas 3 warns on every call about its own inplace=... use.
    warnings.filterwarnings("ignore", module=r"crowdkit\.")

    n_items, nltk_items = (20_000, 1_000) if quick else (200_000, 5_000)
    cases, config = build_cases(n_items, nltk_items)
    config["peer_versions"] = {
        name: version(name) for name in ("statsmodels", "krippendorff", "nltk", "scikit-learn", "crowd-kit")
    }
    table, records = [], []
    for case in cases:
        ours_seconds, ours_result = _timed(case.ours, 7)
        record: dict[str, Any] = {"metric": case.metric, "ours_seconds": ours_seconds, "peers": {}}
        lines = []
        for peer in case.peers:
            raw_seconds, peer_value = _timed(peer.run, 3)
            seconds = raw_seconds * (n_items / peer.subsample if peer.subsample else 1)
            reference = peer.reference() if peer.reference else case.value(ours_result)
            diff = _max_abs_diff(reference, peer_value)
            record["peers"][peer.name] = {
                "seconds": seconds,
                "measured_seconds": raw_seconds,
                "extrapolated_from_items": peer.subsample,
                "ratio": seconds / ours_seconds,
                "max_abs_diff": diff,
            }
            lines.append((peer, seconds, diff))
        if record["peers"]:
            fastest = min(record["peers"], key=lambda name: record["peers"][name]["seconds"])
            record["fastest_peer"] = fastest
            record["ratio_vs_fastest"] = record["peers"][fastest]["ratio"]
            record["meets_target"] = record["ratio_vs_fastest"] >= TARGET_RATIO
        records.append(record)
        if not lines:
            table.append([case.metric, format_seconds(ours_seconds), "-", "-", "-", "-", "-"])
        for index, (peer, seconds, diff) in enumerate(lines):
            mark = f" (extrapolated from {peer.subsample:,} items)" if peer.subsample else ""
            verdict = ""
            if index == 0:
                verdict = f"{record['ratio_vs_fastest']:.1f}x {'ok' if record['meets_target'] else 'BELOW 5x'}"
            table.append(
                [
                    case.metric if index == 0 else "",
                    format_seconds(ours_seconds) if index == 0 else "",
                    peer.name + mark,
                    format_seconds(seconds),
                    f"{seconds / ours_seconds:.1f}x",
                    f"{diff:.1e}",
                    verdict,
                ]
            )
        print(f"  done: {case.metric}", file=sys.stderr, flush=True)
    # The machines are shared: the load when the run ended says how much the numbers were disturbed.
    config["load_average_1_5_15"] = list(os.getloadavg())
    headers = ["metric", "ours", "peer", "peer time", "peer/ours", "max |diff|", "vs fastest peer"]
    title = (
        f"{n_items:,} items x {config['n_raters']} raters x {config['n_categories']} categories "
        f"(raters right with p = 0.7){' --quick' if quick else ''}"
    )
    print(title)
    print(format_table(table, headers))
    path = write_results(
        RESULTS_FILE,
        "metrics_quick" if quick else "metrics",
        {"config": config, "target_ratio": TARGET_RATIO, "results": records},
    )
    print(f"\nwrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


# --- database part: the Agreement page of a 3M-vote project -----------------------------

DB_NAME = "affect_bench_agreement"
DB_SEEDED_MARK = "bench: seeded"


def _db_urls() -> tuple[str, str]:
    """(server URL of the maintenance database, URL of the bench database), from BENCH_DATABASE_URL."""
    import os

    base = os.environ.get("BENCH_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{DB_NAME}")
    server = base.rsplit("/", 1)[0] + "/postgres"
    return server, base


def _db_is_seeded(url: str, slug: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url.replace("postgres://", "postgresql://", 1), connect_timeout=5) as conn:
            row = conn.execute("SELECT description FROM annotator_project WHERE slug = %s", [slug]).fetchone()
    except psycopg.Error:
        return False
    return bool(row) and row[0] == DB_SEEDED_MARK


def _db_recreate(server: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _db_seed(slug: str, n_items: int, n_annotators: int, log: Callable[[str], None]) -> None:
    """Items from annotator.demo, votes from demo.simulate_votes, written by the bulk service (COPY).

    Annotation dates are spread over 12 weeks so the over-time chart has points. Gold is not
    written (the Agreement page reads votes only).
    """
    import time

    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotator import demo
    from annotator.models import Annotation, Item, Label, Membership
    from annotator.services.bulk import write_annotations
    from annotator.services.projects import add_member, create_project

    users = get_user_model()
    start = time.perf_counter()
    lead, _ = users.objects.get_or_create(username="bench-lead", defaults={"email": "lead@example.org"})
    project = create_project(name=f"Bench {n_items}", slug=slug, template="msed", created_by=lead)
    annotators = []
    for a in range(n_annotators):
        user, _ = users.objects.get_or_create(username=f"bench-annotator-{a}")
        add_member(project=project, user=user, role=Membership.Role.ANNOTATOR)
        annotators.append(user.pk)
    synthetic = demo.generate_items(n_items, seed=0, with_images=False, missing_text_rate=0, missing_image_rate=0)
    Item.objects.bulk_create(
        (Item(project=project, external_id=s.external_id, text=s.text or s.title, split=s.split) for s in synthetic),
        batch_size=5000,
    )
    item_ids = np.array(Item.objects.filter(project=project).order_by("id").values_list("id", flat=True))
    log(f"  {n_items:,} items in {time.perf_counter() - start:.1f} s")

    labels = demo.simulate_votes(demo.label_index_matrix(synthetic), n_annotators, seed=0)
    orders = demo.simulate_inference_orders(n_items, n_annotators, seed=0)
    durations = demo.simulate_durations(n_items, n_annotators, seed=0, inference_orders=orders).sum(axis=2)
    tasks = list(project.tasks.order_by("position", "id"))
    label_ids = [
        list(Label.objects.filter(task=t).order_by("position", "id").values_list("id", flat=True)) for t in tasks
    ]
    order_keys = [list(demo.inference_order_keys(o)) for o in demo.INFERENCE_ORDERS]
    order_index = {tuple(o): i for i, o in enumerate(demo.INFERENCE_ORDERS)}

    def rows():
        for i, item_id in enumerate(item_ids.tolist()):
            for a, annotator_id in enumerate(annotators):
                yield {
                    "item_id": item_id,
                    "annotator_id": annotator_id,
                    "labels": {tasks[t].pk: label_ids[t][labels[i, a, t]] for t in range(len(tasks))},
                    "inference_order": order_keys[order_index[tuple(orders[i, a].tolist())]],
                    "duration_ms": int(durations[i, a]),
                }

    start = time.perf_counter()
    written = write_annotations(project=project, rows=rows(), batch_size=20_000, update_items=False)
    log(f"  {written['annotations']:,} annotations, {written['votes']:,} votes in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    Item.objects.filter(project=project).update(vote_count=n_annotators)
    table = Annotation._meta.db_table
    with connection.cursor() as cursor:
        # 12 weeks of annotation history, so "agreement over time" has points.
        cursor.execute(
            f"UPDATE {table} SET created_at = created_at - make_interval(days => ((item_id * 7 + annotator_id) %% 84)::int), "
            f"updated_at = updated_at - make_interval(days => ((item_id * 7 + annotator_id) %% 84)::int) "
            f"WHERE item_id IN (SELECT id FROM annotator_item WHERE project_id = %s)",
            [project.pk],
        )
    project.description = DB_SEEDED_MARK
    project.save(update_fields=["description"])
    log(f"  dates and counters in {time.perf_counter() - start:.1f} s")


def _db_vacuum(url: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def run_db(quick: bool) -> None:
    """Time the Agreement page's data from PostgreSQL: 200k items x 5 votes x 3 tasks (3M votes).

    The database (affect_bench_agreement, or BENCH_DATABASE_URL) is created,
    migrated and seeded on the first run and reused afterwards (a project per
    size, marked as seeded when complete). Timed, with the same service the
    view calls (analysis.dashboards.get_dashboard): cold (cache cleared, 3
    runs, best and first), cached (best of 10), and one real request as the
    lead through the Django test client, cold and cached. A breakdown of the
    cold path (vote query, week query, metrics, figures) is printed too.
    """
    import os

    n_items, n_annotators = (20_000, 5) if quick else (200_000, 5)
    slug = f"bench-agreement-{n_items}"
    server, url = _db_urls()
    name = url.rsplit("/", 1)[1]

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    seeded = _db_is_seeded(url, slug)
    if not seeded and not _db_is_seeded(url, f"bench-agreement-{200_000 if quick else 20_000}"):
        log(f"creating database {name}")
        _db_recreate(server, name)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from analysis import dashboards, selectors
    from analysis.dashboards.agreement import item_weeks, task_agreement
    from analysis.dashboards.common import N_BOOT
    from analysis.metrics import counts_from_labels
    from annotator.models import Project, Vote
    from annotator.selectors import get_project_schema

    call_command("migrate", interactive=False, verbosity=0)
    if not seeded:
        if Project.objects.filter(slug=slug).exists():  # an interrupted seed: start that project again
            _db_recreate(server, name)
            from django.db import connection

            connection.close()
            call_command("migrate", interactive=False, verbosity=0)
        log(f"seeding {n_items:,} items x {n_annotators} votes x 3 tasks")
        _db_seed(slug, n_items, n_annotators, log)
        _db_vacuum(url)
    project = Project.objects.get(slug=slug)
    n_votes = Vote.objects.filter(task__project=project).count()
    filters = selectors.DashboardFilters()

    def page() -> dict:
        return dashboards.get_dashboard(project=project, page="agreement", filters=filters)

    def cold() -> dict:
        cache.clear()
        return page()

    first_cold, payload = best_time(cold, repeat=1)
    best_cold, payload = best_time(cold, repeat=3)
    best_cold = min(best_cold, first_cold)
    cached, _ = best_time(page, repeat=10)

    # The pieces of the cold path, timed separately.
    tasks = list(get_project_schema(project).tasks)
    version_seconds, _ = best_time(lambda: selectors.get_votes_version(project), repeat=5)
    votes_seconds, votes = best_time(lambda: selectors.get_vote_matrix(project, filters, tasks=tasks), repeat=3)
    weeks_seconds, weeks = best_time(lambda: item_weeks(project, filters, votes.item_ids), repeat=3)
    names = [str(a) for a in votes.annotator_ids]
    metrics_seconds, results = best_time(
        lambda: [task_agreement(t, votes.labels[t.key], weeks, names) for t in tasks], repeat=3
    )
    bootstrap_seconds, _ = best_time(
        lambda: [
            metrics.agreement_summary_from_counts(
                counts_from_labels(votes.labels[t.key], t.n_categories), n_boot=N_BOOT, seed=0
            )
            for t in tasks
        ],
        repeat=3,
    )

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client()
    client.force_login(project.created_by)
    page_url = reverse("analysis:agreement", args=[project.slug])

    def request():
        response = client.get(page_url)
        assert response.status_code == 200, response.status_code
        return response

    cache.clear()
    request_cold, response = best_time(request, repeat=1)
    request_cached, response = best_time(request, repeat=5)
    summary = payload["data"]["tasks"]
    config = {
        "n_items": n_items,
        "n_annotators": n_annotators,
        "n_tasks": len(tasks),
        "n_votes": n_votes,
        "n_boot": N_BOOT,
        "database": name,
        "cache_backend": settings.CACHES["default"]["BACKEND"],
        # The machines are shared: the load when the run ended says how much the numbers were disturbed.
        "load_average_1_5_15": list(os.getloadavg()),
    }
    record = {
        "config": config,
        "service_cold_first_seconds": first_cold,
        "service_cold_best_seconds": best_cold,
        "service_cached_seconds": cached,
        "request_cold_seconds": request_cold,
        "request_cached_seconds": request_cached,
        "page_bytes": len(response.content),
        "breakdown_seconds": {
            "votes_version": version_seconds,
            "vote_matrix_query": votes_seconds,
            "item_weeks_query": weeks_seconds,
            "metrics_all_tasks": metrics_seconds,
            "of_which_summary_with_bootstrap": bootstrap_seconds,
        },
        "fleiss_kappa": {t["key"]: t["summary"]["fleiss"]["value"] for t in summary},
        "targets": {"cold_seconds": 3.0, "cached_seconds": 0.2},
    }
    record["meets_targets"] = best_cold < 3.0 and cached < 0.2 and request_cached < 0.2
    rows = [
        ["service, cold cache, first run (DB pages maybe on disk)", format_seconds(first_cold), ""],
        ["service, cold cache (best of 4)", format_seconds(best_cold), "< 3 s"],
        ["service, cached", format_seconds(cached), "< 200 ms"],
        ["request as lead, cold", format_seconds(request_cold), ""],
        ["request as lead, cached", format_seconds(request_cached), "< 200 ms"],
        ["  votes version (cache key)", format_seconds(version_seconds), ""],
        ["  vote matrix query", format_seconds(votes_seconds), ""],
        ["  item weeks query", format_seconds(weeks_seconds), ""],
        ["  metrics, 3 tasks", format_seconds(metrics_seconds), ""],
        [f"  of which summaries ({N_BOOT} bootstrap)", format_seconds(bootstrap_seconds), ""],
    ]
    print(
        f"Agreement page from PostgreSQL: {n_items:,} items x {n_annotators} votes x {len(tasks)} tasks = {n_votes:,} votes{' --quick' if quick else ''}"
    )
    print(format_table(rows, ["what", "time", "target"]))
    print("Fleiss' kappa: " + ", ".join(f"{k} {v:.3f}" for k, v in record["fleiss_kappa"].items()))
    path = write_results(RESULTS_FILE, "db_quick" if quick else "db", record)
    print(f"\nwrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


PARTS: dict[str, Callable[[bool], None]] = {"metrics": run_metrics, "db": run_db}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller case (20k items), under a minute")
    parser.add_argument(
        "--db",
        action="store_true",
        help="run the database part (Agreement page from PostgreSQL) instead of the in-memory metrics",
    )
    args = parser.parse_args(argv)
    PARTS["db" if args.db else "metrics"](args.quick)


if __name__ == "__main__":
    main()
