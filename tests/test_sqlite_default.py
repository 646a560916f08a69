"""The zero-config default (SQLite, `make demo`) runs the labelling loop:
claims, fetch-ahead, submits with retries, skips and majority gold, through
the same hand-written SQL that PostgreSQL runs as prepared statements."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_labelling_loop_runs_on_the_sqlite_default(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "SECRET_", "DEBUG"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.dev",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        MEDIA_ROOT=str(tmp_path / "media"),
        MODEL_DIR=str(tmp_path / "models"),
        PYTHONPATH=str(ROOT),
    )
    script = ROOT / "tests" / "sqlite" / "labelling_loop.py"
    result = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("OK"), result.stderr[-3000:] + result.stdout[-1000:]
