"""Serve the app with a real Celery worker beside it: what `make demo` runs.

The worker listens on every job queue and runs the periodic tasks (beat), so
imports, training and predictions return at once and their progress shows
live in the page, as in production. One Ctrl-C stops both. With no broker
configured, web server and worker meet in a folder (settings: BROKER_DIR).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

# How long a stopping worker may finish its current task before it is killed.
STOP_GRACE_S = 10
# The demo's logins are printed once the server answers (at most this long
# after start), a moment after, so the worker's start-up lines come first.
LOGINS_WAIT_S = 60
LOGINS_SETTLE_S = 2.0


class Command(BaseCommand):
    help = "Run the web server and a Celery worker (with beat) together; Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000", help="Address and port of the web server.")
        parser.add_argument("--concurrency", type=int, default=2, help="Worker processes (default 2).")

    def handle(self, *args, addrport: str, concurrency: int, **options):
        self._print_logins_when_up(addrport)
        if settings.CELERY_TASK_ALWAYS_EAGER:
            self.stdout.write("CELERY_TASK_ALWAYS_EAGER is on: jobs run inside web requests, no worker started.")
            call_command("runserver", addrport, use_reloader=False)
            return
        schedule = settings.BROKER_DIR / "beat-schedule"
        schedule.parent.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--beat",
            "--schedule",
            str(schedule),
            "--queues",
            ",".join(settings.JOB_QUEUES),
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "INFO",
        ]
        # Its own session: the terminal's Ctrl-C reaches this process only,
        # which then stops the worker in order (warm, then killed).
        worker = subprocess.Popen(command, start_new_session=True)
        self.stdout.write(f"Celery worker started (pid {worker.pid}, queues {', '.join(settings.JOB_QUEUES)}).")
        try:
            call_command("runserver", addrport, use_reloader=False)
        except KeyboardInterrupt:
            pass
        finally:
            self.stdout.write("Stopping the worker...")
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            self.stdout.write("Stopped.")

    def _print_logins_when_up(self, addrport: str) -> None:
        """Once the server answers, print the demo's logins (seed_demo saved
        them) below the start-up lines, where a person looks for them."""
        from annotator.services.demo import current_logins, login_box

        if not settings.DEMO_LOGINS_FILE.exists():
            return
        host, _, port = addrport.rpartition(":")
        host = host or "127.0.0.1"

        def wait_then_print():
            deadline = time.monotonic() + LOGINS_WAIT_S
            while time.monotonic() < deadline:
                try:
                    with socket.create_connection((host, int(port)), timeout=1):
                        break
                except (OSError, ValueError):
                    time.sleep(0.3)
            else:
                return
            time.sleep(LOGINS_SETTLE_S)  # after the worker's start-up banner
            try:
                logins = current_logins(settings.DEMO_LOGINS_FILE)  # only those that still work
            finally:
                connection.close()  # this thread's own connection
            if logins:
                self.stdout.write("\n" + login_box(logins, f"http://{host}:{port}/") + "\n")
                self.stdout.flush()

        threading.Thread(target=wait_then_print, name="print-demo-logins", daemon=True).start()
