"""`make demo` runs a real worker beside the web server on the embedded
default (SQLite, a broker folder, a file cache): no Redis, jobs return at
once, and one Ctrl-C stops both."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_sqlite_default import ROOT, _sqlite_env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes_with(marker: str) -> list[int]:
    """Pids of live processes whose environment holds `marker` (our tmp folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes() and (entry / "stat").read_text().split()[2] != "Z":
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _manage(args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def _default_sigint() -> None:
    """In the child, before exec: SIGINT at its default, so Python turns it into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.worker
def test_make_demo_serves_with_a_live_worker_and_ctrl_c_stops_both(tmp_path):
    env = _sqlite_env(tmp_path)
    env.update(BROKER_DIR=str(tmp_path / "broker"), CACHE_DIR=str(tmp_path / "cache"), TORCH_THREADS="1")
    assert _manage(["migrate", "--noinput"], env).returncode == 0
    script = ROOT / "tests" / "sqlite" / "demo_jobs.py"
    setup = subprocess.run(
        [sys.executable, str(script), "setup"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert setup.returncode == 0, setup.stderr[-3000:]

    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", f"127.0.0.1:{port}", "--concurrency", "1"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # A terminal's foreground job takes Ctrl-C; a test run started in the
        # background (`cmd &` without job control) would pass SIGINT on ignored.
        preexec_fn=_default_sigint,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "the web server did not start"
                time.sleep(0.3)
        rows = tmp_path / "items.csv"
        rows.write_text("id,text\nw1,A walk by the river\nw2,Sunset over the bay\nw3,A quiet morning\n")
        jobs = subprocess.run(
            [sys.executable, str(script), "import", str(rows)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert jobs.returncode == 0 and jobs.stdout.strip().endswith("OK"), (
            jobs.stderr[-3000:] + (tmp_path / "serve.log").read_text()[-3000:]
        )
        assert len(_processes_with(str(tmp_path))) >= 2  # the server and its worker

        os.killpg(server.pid, signal.SIGINT)  # what the terminal's Ctrl-C does
        assert server.wait(timeout=60) == 0
        deadline = time.monotonic() + 30
        while _processes_with(str(tmp_path)) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert _processes_with(str(tmp_path)) == [], "a worker process outlived Ctrl-C"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        for pid in _processes_with(str(tmp_path)):
            os.kill(pid, signal.SIGKILL)
        log.close()
