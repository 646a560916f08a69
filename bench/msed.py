#!/usr/bin/env python
"""Benchmark: a model recipe on the public MSED release, through the app (issue 13).

Run from the repository root:

    bench/msed.py                                     # no data: prints why it skipped, exits 0
    bench/msed.py --data /work/data/msed              # the default recipe on train + dev
    bench/msed.py --data /work/data/msed --recipe title --limit 600
    bench/msed.py --data /work/data/msed --option epochs=10 --option fusion=attention

What it does:

1. Copies the release's train and dev splits (optionally --limit items in
   all, sampled in the release's train:dev proportion with a fixed seed)
   into a working folder in the MSED layout (train/train.csv,
   train/images/<row>.jpg, ...; images hard-linked when possible). The
   test split is never copied: recipes are chosen on dev only, and nothing
   about test can be printed or stored here. The independent test-split
   measurement is `manage.py import_items` + `manage.py train` on the whole
   release.
2. (Re)creates the PostgreSQL database `affect_bench_msed` (or
   BENCH_DATABASE_URL), migrates it, creates an MSED project and imports
   the folder with annotator.services.imports.import_path, the service
   `manage.py import_items` uses.
3. Starts a training run with the recipe's options
   (inference.services.runs.start_training_run) and runs it with
   inference.services.execution.execute_training_run, as the worker and
   `manage.py train` do, with a worker's torch threads (TORCH_THREADS,
   default 1).
4. Prints dev macro-F1 per task, the fused head's margin over the best
   unimodal head on dev, and wall time per phase, and stores them in
   bench/results/msed.json under --name, or the recipe's name followed by
   its --option overrides (plus `_limit<N>`).

Features are cached in --model-dir (default: `msed-models` beside the data
folder), so the first run on the full release pays the encoding once
(about 20 minutes on 2 cores) and later runs and recipes read the cache.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bench.common import db_urls, format_table, recreate_database, write_results

RESULTS_FILE = "msed.json"
DB_NAME = "affect_bench_msed"
# Only these splits are ever read: choosing recipes looks at dev, never at test.
SPLITS = ("train", "dev")
SAMPLE_SEED = 0
# Named recipes: training options sent to the app. "default" and
# "accurate" are the app's own (inference.modeling.options.PRESETS: what the
# Train button and its one-click recipes do); the others are levers measured
# against them. --option adds or overrides single options.
RECIPES: dict[str, dict[str, Any]] = {
    "default": {},
    "accurate": {"preset": "accurate"},
    "single": {"ensemble": 1},
    "minilm": {"text_encoder": "all-MiniLM-L6-v2"},
    "title": {"text_fields": "title+caption"},
    "lite2": {"image_encoder": "efficientnet-lite2"},
    "finetune-text": {"recipe": "finetune-text", "epochs": 6},
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="The MSED release folder (train/, dev/, test/ as in MSEDdataset/MSED).")
    parser.add_argument("--recipe", default="default", help=f"A named recipe: {', '.join(RECIPES)} (default: default).")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="A training option on top of the recipe (value read as JSON when it parses, else as text); repeatable.",
    )
    parser.add_argument("--limit", type=int, help="Import at most this many items (train and dev together).")
    parser.add_argument(
        "--name",
        help="The key the result is stored under (default: the recipe, its --option overrides and _limit<N>).",
    )
    parser.add_argument(
        "--model-dir", help="Where features and models are kept (default: msed-models beside the data folder)."
    )
    return parser.parse_args(argv)


def skip_reason(data: str | None) -> str | None:
    """Why the benchmark cannot run on `data`, or None when it can."""
    if not data:
        return "bench/msed.py: skipped, no --data folder given (the MSED release: see bench/README.md)."
    folder = Path(data)
    missing = [f"{split}/{split}.csv" for split in SPLITS if not (folder / split / f"{split}.csv").is_file()]
    if not folder.is_dir() or missing:
        return f"bench/msed.py: skipped, {data} is not an MSED release folder (no {', '.join(missing) or 'folder'})."
    return None


def recipe_options(recipe: str, overrides: list[str]) -> dict[str, Any]:
    """The named recipe's options with KEY=VALUE overrides; ValueError on an unknown recipe or a bad override."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
    options = dict(RECIPES[recipe])
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--option takes KEY=VALUE, got {override!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        options[key.strip()] = value
    return options


def result_key(recipe: str, overrides: list[str], limit: int | None = None) -> str:
    """The key a run is stored under: the recipe, then each --option override
    (so runs of one recipe with other options do not overwrite each other),
    then `_limit<N>`. E.g. `title__fusion=attention_limit3000`."""
    key = recipe + "".join(f"__{override.strip()}" for override in overrides)
    return key + (f"_limit{limit}" if limit else "")


# ---------------------------------------------------------------- data


def copy_release(source: Path, target: Path, *, limit: int | None = None, seed: int = SAMPLE_SEED) -> dict[str, int]:
    """Copy the train and dev splits of an MSED release into `target` (same
    layout), keeping at most `limit` items in all, shared between the splits
    in the release's proportion and sampled with `seed`. Row n of a copied
    CSV gets image n again (the layout numbers images by row). Returns the
    items copied per split."""
    tables = {}
    for split in SPLITS:
        with open(source / split / f"{split}.csv", newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        tables[split] = (rows[0], rows[1:])
    total = sum(len(rows) for _, rows in tables.values())
    rng = random.Random(seed)
    counts = {}
    for split, (header, rows) in tables.items():
        numbers = list(range(1, len(rows) + 1))
        if limit is not None and limit < total:
            keep = max(1, round(limit * len(rows) / total))
            numbers = sorted(rng.sample(numbers, min(keep, len(numbers))))
        images = target / split / "images"
        images.mkdir(parents=True, exist_ok=True)
        with open(target / split / f"{split}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for new, old in enumerate(numbers, start=1):
                writer.writerow(rows[old - 1])
                _link_or_copy(source / split / "images" / f"{old}.jpg", images / f"{new}.jpg")
        counts[split] = len(numbers)
    return counts


def _link_or_copy(source: Path, target: Path) -> None:
    if not source.is_file():
        return  # the import reports the missing image against its row
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


# ---------------------------------------------------------------- the app


def measure(*, folder: Path, options: Mapping[str, Any], slug: str = "msed-bench") -> dict[str, Any]:
    """Import `folder` (MSED layout, train and dev only) into a new MSED
    project and train one run with `options`, through the app's services.
    Needs Django set up with a migrated database. Returns the dev-split
    numbers and timings (never anything about a test split)."""
    from annotator.models import Item
    from annotator.services.imports import import_path
    from annotator.services.projects import create_project
    from inference.models import RunStatus
    from inference.reports import PHASES
    from inference.selectors import get_project_schema
    from inference.services.execution import execute_training_run
    from inference.services.runs import start_training_run

    project = create_project(name="MSED benchmark", slug=slug, template="msed")
    started = time.perf_counter()
    report = import_path(project=project, path=folder)
    import_seconds = time.perf_counter() - started
    if not report.written:
        raise RuntimeError(f"the import wrote nothing: {report.message}")
    if Item.objects.filter(project=project, split=Item.Split.TEST).exists():
        raise RuntimeError("the working folder held test items; recipes are chosen on dev only")
    log(f"imported {report.counts.get('created', 0)} items in {import_seconds:.1f} s")
    run = start_training_run(project=project, options=options, enqueue=False)
    run = execute_training_run(run=run, report=log)
    if run.status != RunStatus.SUCCEEDED:
        raise RuntimeError(f"training run {run.pk} {run.status}: {run.error}")
    dev_branches = (run.branch_metrics or {}).get("dev") or {}
    # The run's JSON columns come back in PostgreSQL's key order: put tasks and phases in theirs.
    dev_metrics = run.dev_metrics or {}
    timings = run.timings or {}
    return {
        "config": run.config,
        "items": {split: Item.objects.filter(project=project, split=split).count() for split in SPLITS},
        "dev": {
            task: {key: metrics.get(key) for key in ("macro_f1", "weighted_f1", "accuracy")}
            for task in get_project_schema(project).keys
            if (metrics := dev_metrics.get(task))
        },
        "dev_branches": dev_branches,
        "best_epoch": run.best_epoch,
        "epochs_run": run.epoch,
        "seconds": {
            "import": round(import_seconds, 3),
            **{phase: timings[phase] for phase, _ in PHASES if phase in timings},
        },
    }


def summary_table(result: Mapping[str, Any]) -> str:
    from inference.reports import fused_margin

    rows = []
    for task, metrics in result["dev"].items():
        margin = fused_margin(result["dev_branches"], task)
        rows.append(
            [
                task,
                f"{100 * metrics['macro_f1']:.1f}",
                "-" if margin is None else f"{100 * margin[0]:+.1f} (vs {margin[1]})",
            ]
        )
    scores = format_table(rows, ["task", "dev macro-F1", "fused - best unimodal (dev)"])
    phases = format_table(
        [[phase, f"{seconds:.1f} s"] for phase, seconds in result["seconds"].items()], ["phase", "wall time"]
    )
    return f"{scores}\n\n{phases}"


# ---------------------------------------------------------------- main


def clear_stale_runs(model_dir: Path) -> None:
    """Remove the artefacts earlier benchmark runs left in `model_dir`/runs.
    The database was just recreated, so run ids start at 1 again and the old
    folders (named by run id, their runs gone with the old database) would
    stop the new run. The feature cache beside them is kept."""
    shutil.rmtree(model_dir / "runs", ignore_errors=True)


def setup_django(url: str, *, media: Path, model_dir: Path) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["TEST_MEDIA_ROOT"] = str(media)
    os.environ["TEST_MODEL_DIR"] = str(model_dir)
    import django

    django.setup()


def use_worker_threads() -> int:
    """Give torch the threads a worker process has (inference.tasks:
    TORCH_THREADS, default 1) and return the number. Torch's own default, a
    thread per core, makes a training step tens of times slower on a loaded
    2-core machine, so the phase times would not be what the app does."""
    import torch

    from inference.tasks import limit_torch_threads

    limit_torch_threads()
    return torch.get_num_threads()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    reason = skip_reason(args.data)
    if reason:
        print(reason)
        return 0
    try:
        options = recipe_options(args.recipe, args.option)
    except ValueError as exc:
        print(f"bench/msed.py: {exc}", file=sys.stderr)
        return 2
    data = Path(args.data).resolve()
    model_dir = Path(args.model_dir).resolve() if args.model_dir else data.parent / "msed-models"
    model_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-msed-") as scratch:
        scratch = Path(scratch)
        counts = copy_release(data, scratch / "release", limit=args.limit)
        log(f"working copy: {counts} (test split left out)")
        server, url = db_urls(DB_NAME)
        recreate_database(server, url.rsplit("/", 1)[1])
        clear_stale_runs(model_dir)
        setup_django(url, media=scratch / "media", model_dir=model_dir)
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
        threads = use_worker_threads()
        result = measure(folder=scratch / "release", options=options)
    part = args.name or result_key(args.recipe, args.option, args.limit)
    print(f"MSED dev split, recipe {part} ({result['items']['train']} train, {result['items']['dev']} dev items)")
    print(summary_table(result))
    path = write_results(
        RESULTS_FILE, part, {"recipe": args.recipe, "options": options, "torch_threads": threads, **result}
    )
    print(f"stored in {path.relative_to(Path(__file__).resolve().parents[1])} under {part!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
