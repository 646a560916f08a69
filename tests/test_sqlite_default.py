"""The zero-config default (SQLite, `make demo`) runs the labelling loop:
claims, fetch-ahead, submits with retries, skips and majority gold, through
the same hand-written SQL that PostgreSQL runs as prepared statements."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _sqlite_env(tmp_path):
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "SECRET_", "DEBUG"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.dev",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        MEDIA_ROOT=str(tmp_path / "media"),
        MODEL_DIR=str(tmp_path / "models"),
        BROKER_DIR=str(tmp_path / "broker"),
        CACHE_DIR=str(tmp_path / "cache"),
        PYTHONPATH=str(ROOT),
    )
    return env


def test_the_labelling_loop_runs_on_the_sqlite_default(tmp_path):
    env = _sqlite_env(tmp_path)
    script = ROOT / "tests" / "sqlite" / "labelling_loop.py"
    result = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("OK"), (
        result.stderr[-3000:] + result.stdout[-1000:]
    )


def test_two_processes_writing_at_once_never_see_database_is_locked(tmp_path):
    """The web server and the demo's worker share one SQLite file: WAL, a busy
    timeout and IMMEDIATE transactions make a writer wait its turn instead of
    failing with "database is locked" (a failure our peers are known for)."""
    env = _sqlite_env(tmp_path)
    script = ROOT / "tests" / "sqlite" / "concurrent_writers.py"
    setup = subprocess.run(
        [sys.executable, str(script), "setup"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert setup.returncode == 0, setup.stderr[-3000:]
    writers = [
        subprocess.Popen(
            [sys.executable, str(script), "write", "400", name],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("web", "worker")
    ]
    results = [(w.wait(timeout=300), *w.communicate()) for w in writers]
    for code, out, err in results:
        assert "database is locked" not in err
        assert code == 0 and out.strip() == "OK", err[-3000:]


def test_the_demo_anchoring_experiment_runs_on_the_sqlite_default(tmp_path):
    env = {**_sqlite_env(tmp_path), "DEMO_LOGINS_FILE": str(tmp_path / "logins.json")}
    script = ROOT / "tests" / "sqlite" / "anchoring_demo.py"
    result = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("OK"), (
        result.stderr[-3000:] + result.stdout[-1000:]
    )
