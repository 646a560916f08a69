"""What every background job shares: who runs it, a heartbeat, riding out
database blips, enqueueing that survives a broker outage, and the sweep.

A job is a row (ImportJob, TrainingRun, PredictionRun) that a Celery task
claims (queued -> running), works on and ends. The world blinks while it
runs: PostgreSQL restarts, the broker goes away, the kernel kills a worker.
The rules here keep every job finished, failed with a message a person can
act on, or waiting to resume; never stuck:

* writes of a long job go through `retry_db`, so a database restart of a
  few seconds costs a pause, not the job;
* a running job's `Heartbeat` thread stamps its row every HEARTBEAT_S, so the
  sweep can tell a dead job from a slow one on any machine (and on this
  machine, a dead pid tells it at once);
* `enqueue_on_commit` records `sent_at` only when the broker took the
  message; a job that stayed queued without it is re-sent by the sweep
  once the broker is back;
* `sweep` runs every registered sweeper (Celery beat, every SWEEP_EVERY_S,
  and `manage.py sweep_jobs`). This app registers the imports' sweeper;
  higher apps register theirs in their AppConfig.ready(), so this module
  never imports them.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from django.db import InterfaceError, OperationalError, close_old_connections, connection, transaction
from django.utils import timezone

log = logging.getLogger(__name__)
T = TypeVar("T")

# A running job stamps its row this often ...
HEARTBEAT_S = 15
# ... and one on another machine that has not for this long is gone. The
# sweep runs every SWEEP_EVERY_S, so a dead job is failed within two minutes.
STALE_AFTER = timedelta(seconds=90)
SWEEP_EVERY_S = 30
# A job queued this long without its message reaching the broker is re-sent.
RESEND_AFTER = timedelta(seconds=30)
# Waits between attempts of a write during a database blip (about 30 s in all:
# a PostgreSQL restart takes a few seconds).
RETRY_WAITS_S = (0.5, 1, 2, 4, 8, 8, 8)
DISCONNECTS = (OperationalError, InterfaceError)


# ---------------------------------------------------------------- database blips


def retry_db(fn: Callable[..., T], *args: Any, what: str = "a job's write", **kwargs: Any) -> T:
    """fn(*args, **kwargs), again on a fresh connection while the database
    connection drops (OperationalError / InterfaceError), with backoff.

    Only for work that is safe to repeat and runs outside any transaction of
    the caller's (inside one, the transaction is lost with the connection and
    the error is raised at once)."""
    for wait in (*RETRY_WAITS_S, None):
        try:
            return fn(*args, **kwargs)
        except DISCONNECTS:
            if wait is None or connection.in_atomic_block:
                raise
            log.warning("database unreachable during %s; retrying in %s s", what, wait, exc_info=True)
            # Drop the broken connection; the next query opens a new one.
            connection.close()
            time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def fresh_connection() -> None:
    """Between a long job's phases: drop a connection the server has closed."""
    if not connection.in_atomic_block:
        close_old_connections()
        if connection.connection is not None and not connection.is_usable():
            connection.close()


# ---------------------------------------------------------------- who runs a job


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # A killed child not yet reaped by its parent is a zombie: gone.
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def is_abandoned(worker: str, heartbeat: datetime | None, now: datetime, stale_after: timedelta = STALE_AFTER) -> bool:
    """Is the process `worker` ("host:pid") that runs a job gone?"""
    host, _, pid = worker.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        # This machine: the process either exists or not. Our own pid is
        # alive by definition (a threaded dev server may run two jobs).
        return int(pid) != os.getpid() and not pid_alive(int(pid))
    return heartbeat is None or now - heartbeat > stale_after


class Heartbeat:
    """While the block runs, stamp `model`'s row `pk` (heartbeat_at) every
    HEARTBEAT_S from a thread, so long phases that report nothing (loading
    an encoder, computing a map) still show the job is alive.

        with Heartbeat(TrainingRun, run.pk):
            ...
    """

    def __init__(self, model, pk: int, every_s: float = HEARTBEAT_S):
        self.model, self.pk, self.every_s = model, pk, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{model.__name__}-{pk}", daemon=True)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.every_s):
                try:
                    self.model.objects.filter(pk=self.pk).update(heartbeat_at=timezone.now())
                except DISCONNECTS:
                    connection.close()  # this thread's own connection; the next beat reconnects
                except Exception:  # a missed beat must never end the job
                    log.warning("heartbeat of %s %s failed", self.model.__name__, self.pk, exc_info=True)
        finally:
            connection.close()

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every_s + 5)


class WorkerPresenceBeat:
    """In a Celery worker's main process: say every HEARTBEAT_S that worker
    `name` listens on `queues` (a WorkerPresence row), and forget it when
    the worker stops. Started and stopped by the signal handlers in
    annotator/tasks.py."""

    def __init__(self, name: str, queues: list[str]):
        self.name, self.queues = name, sorted(queues)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-presence", daemon=True)

    def _beat(self) -> None:
        from .models import WorkerPresence

        WorkerPresence.objects.update_or_create(
            name=self.name, defaults={"queues": self.queues, "seen_at": timezone.now()}
        )

    def _run(self) -> None:
        try:
            while True:
                try:
                    self._beat()
                except Exception:  # the database blinked: the next beat says it again
                    connection.close()
                    log.warning("worker presence of %s not recorded", self.name, exc_info=True)
                if self._stop.wait(HEARTBEAT_S):
                    return
        finally:
            connection.close()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        from .models import WorkerPresence

        self._stop.set()
        self._thread.join(timeout=5)
        try:
            WorkerPresence.objects.filter(name=self.name).delete()
        except Exception:
            log.warning("worker presence of %s not removed", self.name, exc_info=True)
        finally:
            connection.close()


# ---------------------------------------------------------------- enqueueing


def enqueue_on_commit(task, *args: Any, model, pk: int) -> None:
    """Send `task(*args)` when the current transaction commits, and record
    on `model`'s row `pk` that the broker took it (sent_at).

    With the broker unreachable nothing is raised: the job stays queued
    without sent_at (its page says it waits for the job queue) and the sweep
    sends it when the broker is back. The send retries briefly so a request
    never hangs on a dead broker."""

    def send() -> None:
        try:
            task.apply_async(
                args, retry=True, retry_policy={"max_retries": 1, "interval_start": 0.2, "interval_step": 0.5}
            )
        except Exception:
            log.warning(
                "broker unreachable: %s for %s %s waits for the sweep to send it",
                task.name,
                model.__name__,
                pk,
                exc_info=True,
            )
            return
        model.objects.filter(pk=pk, sent_at__isnull=True).update(sent_at=timezone.now())

    transaction.on_commit(send)


# ---------------------------------------------------------------- the sweep


@dataclass
class SweepReport:
    """What a sweep did (or, dry, would do): one line a person can read per action."""

    dry_run: bool = False
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)
        if not self.dry_run:
            log.warning("sweep: %s", line)


def send_unsent(
    report: SweepReport, now: datetime, *, model, queued_status: str, kind: str, send: Callable[[Any], None]
) -> None:
    """Send the `model` jobs that stayed queued for RESEND_AFTER without the
    broker taking their message (see enqueue_on_commit); send(job) publishes
    one. Stops at the first refusal: the broker is still down."""
    waiting = model.objects.filter(status=queued_status, sent_at__isnull=True, created_at__lt=now - RESEND_AFTER)
    for job in waiting.order_by("pk"):
        if report.dry_run:
            report.add(f"would send {kind} {job.pk} to the job queue")
            continue
        try:
            send(job)
        except Exception:
            report.add(f"{kind} {job.pk} still waits: the job queue is unreachable")
            return
        model.objects.filter(pk=job.pk, sent_at__isnull=True).update(sent_at=now)
        report.add(f"sent {kind} {job.pk} to the job queue")


Sweeper = Callable[[SweepReport, datetime], None]
_SWEEPERS: dict[str, Sweeper] = {}


def register_sweeper(name: str, sweeper: Sweeper) -> None:
    """Add (or replace) a job kind's sweeper: sweeper(report, now) fails the
    dead jobs, re-sends the unsent ones and removes files past retention,
    each only when not report.dry_run, and says what it did in report."""
    _SWEEPERS[name] = sweeper


def sweep(*, dry_run: bool = False) -> SweepReport:
    """Run every registered sweeper; one failing does not stop the others."""
    report = SweepReport(dry_run=dry_run)
    now = timezone.now()
    for name, sweeper in sorted(_SWEEPERS.items()):
        try:
            retry_db(sweeper, report, now, what=f"the {name} sweep")
        except Exception:
            log.exception("the %s sweep failed", name)
            report.lines.append(f"{name}: the sweep failed (see the log)")
    return report
