"""Helpers shared by the benchmark scripts: timing, a plain-text table and a JSON results file.

No Django and no third-party imports beyond NumPy, so any benchmark part can use them.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"


def best_time(function: Callable[[], Any], *, repeat: int = 3) -> tuple[float, Any]:
    """Run ``function`` ``repeat`` times; return (the fastest wall time in seconds, its last result).

    The minimum, not the mean, because the benchmark machines are shared and
    other processes only ever add time.
    """
    best, result = float("inf"), None
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def format_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A Markdown-compatible table of already formatted cells (str() is applied)."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max([len(header)] + [len(row[i]) for row in cells]) for i, header in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(value.ljust(width) for value, width in zip(values, widths)) + " |"

    return "\n".join([line(headers), "|" + "|".join("-" * (width + 2) for width in widths) + "|", *map(line, cells)])


def machine_info() -> dict[str, Any]:
    import numpy

    return {
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def write_results(filename: str, part: str, payload: dict[str, Any]) -> Path:
    """Store ``payload`` under key ``part`` of bench/results/<filename>, keeping the other parts.

    Several parts of one benchmark (e.g. in-memory metrics and a database run)
    can then be run separately and still land in one file.
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / filename
    existing: dict[str, Any] = {}
    if path.exists():
        try:
            existing = json.loads(path.read_text())
        except json.JSONDecodeError:
            existing = {}
    existing[part] = {"machine": machine_info(), **payload}
    path.write_text(json.dumps(existing, indent=2, sort_keys=False) + "\n")
    return path


def db_urls(default_name: str) -> tuple[str, str]:
    """(the server's maintenance database URL, the benchmark's database URL):
    BENCH_DATABASE_URL, or a database named `default_name` on the local server."""
    url = os.environ.get("BENCH_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{default_name}")
    return url.rsplit("/", 1)[0] + "/postgres", url


def recreate_database(server: str, name: str) -> None:
    """Drop (closing its connections) and create the benchmark's scratch database."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(server.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
