"""Benchmark: the labelling loop over HTTP (next item, then submit) under load.

One file on purpose (over 600 lines): a benchmark is run as a single script, with its server
set-up, load generator, database checks and report side by side so that a reader can audit
what each number measures.

Run from the repository root:

    /work/venv/bin/python bench/serve.py              # 100k items; every row (below), 30 s each, paced 60 s
    /work/venv/bin/python bench/serve.py --quick      # 5k items, 6 s each, paced 12 s: about two minutes
    /work/venv/bin/python bench/serve.py --items 100000 --annotators 1,5,20 --seconds 30
    /work/venv/bin/python bench/serve.py --rows orm,paced   # only these rows; the others stored stay

Rows (bench/README.md says what each shows):

    saturated  1, 5 and 20 annotators (--annotators) with no think time
    ceiling    the last count's clients sending two heartbeats per cycle
    orm        the same loop with LABELLING_LOOP_SQL=0: every statement
               through the ORM (annotator/loop_orm.py) instead of
               annotator/sql.py, at --orm-annotators (default: the last count)
    paced      --paced-annotators (200) people, each thinking an exponential
               time of mean --think (3 s) between items; open loop

What it does:

1. (Re)creates the PostgreSQL database `affect_bench_serve` (or the one named
   by BENCH_DATABASE_URL), migrates it and seeds one MSED project (3 tasks,
   5 votes per item, finish-items-first queue) with --items text items and
   one annotator account with an API token per simulated annotator
   (bulk_create: a few seconds for 100k items). With --order uncertain,
   every item gets an Item.uncertainty drawn from a seeded generator (what
   a pre-labeller's suggestions write), so the queue serves the model's
   least certain items first, as it does for a lead who picked that order.
2. Starts gunicorn on 127.0.0.1 (a free port), with the production settings
   (DEBUG off, persistent database connections, HTTPS redirect off for
   loopback), --workers x --threads gthread workers (default 2 x 2).
3. For each annotator count, runs that many simulated annotators (threads
   spread over 4 processes), each on its own keep-alive connection
   (a plain-socket HTTP/1.1 client, token auth):
   POST queue/next/, then POST items/<id>/submit/ with random labels, a
   random inference order and a fresh client key, for --seconds. A failed
   request is retried with the same key, as the page does.
   Before each phase it runs VACUUM (ANALYZE) on the tables the loop churns,
   as autovacuum would between phases (it is off on some test machines).
   The paced row sends, for each simulated person, a submit of the item on
   screen and the next request at arrival times drawn in advance
   (exponential gaps of mean --think): a slow answer delays no later
   arrival, as with real people (open loop). Latencies are measured from
   the request's send; "schedule lag" says how late the load generator
   sent them (it should stay near 0, or the row measures the generator).
   The ORM row restarts gunicorn with LABELLING_LOOP_SQL=0 and
   DB_PREPARED_STATEMENTS=0 and runs the saturated loop again.
4. Checks the database afterwards: every acknowledged annotation exists
   (lost), no annotation the client was not told about, no item above its
   votes per item, and vote counters equal to the annotations (duplicated).

Prints a table (p50 / p95 / p99 of next and submit, annotations per second,
lost and duplicated) and stores it under "serve" (or "serve_quick") in
bench/results/serve.json: "rows", "ceiling_heartbeat_loop", "orm_rows" and
"paced". With --rows, only those keys are replaced; the rest stay as stored.
Not a timed test: the machine is shared.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import RESULTS_DIR, db_urls, format_table, machine_info, recreate_database, write_results  # noqa: E402

DB_NAME = "affect_bench_serve"
SLUG = "bench-serve"
TARGET_P95_MS = 50.0
TARGET_RATE = 200.0
ROWS = ("saturated", "ceiling", "orm", "paced")
# The same loop against Label Studio 1.23 on PostgreSQL, same kind of machine (from the brief).
REFERENCE = {
    "system": "Label Studio 1.23 (PostgreSQL)",
    "annotations_per_s": {"1": "3-4", "20": "5-6"},
    "p95_s_at_20": "2.3-2.8",
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- database


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    import django

    django.setup()


def seed(n_items: int, n_annotators: int, queue_order: str) -> dict:
    """The project, its items and the annotators' tokens: {slug, tokens: [(user id, key)]}."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotator.models import Item, Membership
    from annotator.services.projects import create_project
    from annotator.services.security import create_api_token

    User = get_user_model()
    lead = User.objects.create_user(username="bench-lead", password=secrets.token_urlsafe(12))
    project = create_project(name="Bench serve", slug=SLUG, created_by=lead, votes_per_item=5, queue_order=queue_order)
    users = User.objects.bulk_create(
        [User(username=f"bench-annotator-{i:03d}", password="!") for i in range(n_annotators)]
    )
    Membership.objects.bulk_create(
        [
            Membership(project=project, user=u, role=Membership.Role.ANNOTATOR, pseudonym=f"annotator-{i:03d}")
            for i, u in enumerate(users)
        ]
    )
    # Hashed tokens: the key exists only here, as the service returns it.
    tokens = [(u.pk, create_api_token(user=u, name="bench")[1]) for u in users]
    words = [
        "family",
        "walk",
        "river",
        "friends",
        "finally",
        "home",
        "rain",
        "coffee",
        "concert",
        "sad",
        "angry",
        "love",
    ]
    rng = random.Random(7)
    # The entropy a pre-labeller's suggestions would give each item (0 to ln 7 + ln 3 + ln 6 nats
    # over MSED's three tasks); only the uncertain order reads it.
    scored = queue_order == "uncertain"
    batch = 10_000
    for start in range(0, n_items, batch):
        Item.objects.bulk_create(
            [
                Item(
                    project=project,
                    external_id=f"post-{i:07d}",
                    text=" ".join(rng.choices(words, k=12)),
                    uncertainty=rng.uniform(0.0, 4.9) if scored else None,
                )
                for i in range(start, min(n_items, start + batch))
            ],
            batch_size=batch,
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"slug": SLUG, "project_id": project.pk, "tokens": tokens}


HOT_TABLES = ["annotator_item", "annotator_claim", "annotator_annotation", "annotator_vote", "annotator_gold"]


def vacuum() -> str:
    """VACUUM (ANALYZE) the tables the loop churns, before each phase: what
    autovacuum does between phases on a production server. Returns the
    server's autovacuum setting (off on some test machines, where nothing
    else would clean the dead rows a phase leaves behind)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(HOT_TABLES)}")
        cursor.execute("SHOW autovacuum")
        return cursor.fetchone()[0]


def schema() -> list[dict]:
    from annotator.models import Project
    from annotator.selectors import get_project_schema

    return get_project_schema(Project.objects.get(slug=SLUG)).as_dicts()


def check(user_ids: list[int], acked: set[int], votes_per_item: int) -> dict:
    """Lost: acknowledged annotations missing. Duplicated: annotations nobody
    was told about, items above their votes, counters that disagree with rows."""
    from django.db.models import Count

    from annotator.models import Annotation, Claim, Item, Vote

    found = set(Annotation.objects.filter(annotator_id__in=user_ids).values_list("id", flat=True))
    touched = set(Annotation.objects.filter(id__in=found).values_list("item_id", flat=True))
    actual = dict(
        Annotation.objects.filter(item_id__in=touched, round="multimodal")
        .values_list("item_id")
        .annotate(n=Count("id"))
        .values_list("item_id", "n")
    )
    counters = dict(Item.objects.filter(id__in=touched).values_list("id", "vote_count"))
    claims = dict(
        Claim.objects.filter(item_id__in=touched)
        .values_list("item_id")
        .annotate(n=Count("id"))
        .values_list("item_id", "n")
    )
    claim_counters = dict(Item.objects.filter(id__in=touched).values_list("id", "claim_count"))
    votes = Vote.objects.filter(annotation_id__in=found).count()
    return {
        "lost": len(acked - found),
        "duplicated": len(found - acked)
        + sum(1 for n in actual.values() if n > votes_per_item)
        + sum(1 for i in touched if counters.get(i) != actual.get(i, 0)),
        "claim_counter_drift": sum(1 for i in touched if claim_counters.get(i, 0) != claims.get(i, 0)),
        "votes_per_annotation": round(votes / len(found), 3) if found else None,
    }


# ---------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(
    url: str, port: int, workers: int, threads: int, worker_class: str = "gthread", extra_env: dict | None = None
) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Required by the production settings; the endpoints measured enqueue nothing.
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"),
        "SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback
        "DB_CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        worker_class,
        "--keep-alive",
        "60",
        "--log-level",
        "warning",
    ] + (["--config", os.environ["BENCH_GUNICORN_CONFIG"]] if os.environ.get("BENCH_GUNICORN_CONFIG") else [])
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=sys.stderr)


def wait_until_up(port: int, token: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/projects/", headers={"Authorization": f"Token {token}"})
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not answer within a minute")


# ---------------------------------------------------------------- load


@dataclass
class Annotator:
    user_id: int
    token: str
    next_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    acked: set[int] = field(default_factory=set)
    errors: int = 0
    retries: int = 0
    exhausted: bool = False
    lag_ms: list[float] = field(default_factory=list)  # paced: how late each arrival was sent


class Client:
    """One keep-alive HTTP/1.1 connection on a plain socket; reconnects after
    a dropped or closed connection.

    It shares the two cores with the server: http.client cost about 1 ms of CPU
    per annotation, this about half of that.
    It reads what the app sends: a status line, headers with Content-Length,
    a body."""

    def __init__(self, port: int, token: str):
        self.port = port
        self.head = (
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token "
            + token
            + "\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: {length}\r\n\r\n"
        )
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        return sock

    def _close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def post(self, path: str, body: dict) -> tuple[int, dict, float]:
        data = json.dumps(body).encode()
        request = self.head.format(path=path, length=len(data)).encode() + data
        start = time.perf_counter()
        try:
            if self.sock is None:
                self.sock = self._connect()
            self.sock.sendall(request)
            status, headers, payload = self._read_response()
        except (OSError, ValueError) as exc:
            self._close()
            raise OSError("connection failed") from exc
        elapsed = (time.perf_counter() - start) * 1000
        if headers.get(b"connection", b"").lower() == b"close":
            self._close()
        return status, (json.loads(payload) if payload else {}), elapsed

    def _read_response(self) -> tuple[int, dict[bytes, bytes], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._receive()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get(b"content-length", b"0"))
        while len(self.buffer) < length:
            self._receive()
        payload, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, headers, payload

    def _receive(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise OSError("connection closed by the server")
        self.buffer += chunk


def annotate(a: Annotator, port: int, tasks: list[dict], deadline: float, rng: random.Random) -> None:
    """The saturated loop: next, then submit at once, until the deadline."""
    client = Client(port, a.token)
    while time.perf_counter() < deadline:
        work = _next_item(client, a)
        if work is False:
            continue
        if work is None:
            a.exhausted = True
            return
        _submit(client, a, work, tasks, rng)


def paced(a: Annotator, port: int, tasks: list[dict], deadline: float, rng: random.Random, *, think_s: float) -> None:
    """A person at human pace: at arrival times drawn in advance (gaps
    exponential with mean think_s), submit the item on screen, then ask for
    the next. Open loop: a slow answer delays no later arrival; when the
    generator falls behind, the lag is recorded rather than hidden. One
    person sends one request at a time, so an overloaded server makes them
    late; the phase still ends at the deadline."""
    client = Client(port, a.token)
    at = time.perf_counter() + rng.expovariate(1 / think_s)
    work = None
    while at < deadline and time.perf_counter() < deadline:
        delay = at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        a.lag_ms.append(max(0.0, -delay) * 1000)
        if work:
            _submit(client, a, work, tasks, rng)
        work = _next_item(client, a)
        if work is None:
            a.exhausted = True
            return
        at += rng.expovariate(1 / think_s)


def _next_item(client: Client, a: Annotator) -> dict | None | bool:
    """POST queue/next/: the work, None when the queue is empty, False on an error."""
    try:
        status, body, ms = client.post(f"/api/projects/{SLUG}/queue/next/", {})
    except OSError:
        a.errors += 1
        return False
    if status != 200:
        a.errors += 1
        return False
    a.next_ms.append(ms)
    return body["work"]


def _submit(client: Client, a: Annotator, work: dict, tasks: list[dict], rng: random.Random) -> None:
    """POST items/<id>/submit/ with random labels; a failed request is retried with the same key."""
    keys = [t["key"] for t in tasks]
    order = keys[:]
    rng.shuffle(order)
    submit = {
        "round": work["round"],
        "labels": {t["key"]: rng.choice(t["labels"])["key"] for t in tasks},
        "inference_order": order,
        "duration_ms": rng.randint(2000, 20000),
        "client_key": str(uuid.uuid4()),
    }
    path = f"/api/projects/{SLUG}/items/{work['item']['id']}/submit/"
    for _ in range(5):
        try:
            status, body, ms = client.post(path, submit)
        except OSError:
            a.retries += 1
            continue  # retried with the same client key
        if status in (200, 201):
            a.submit_ms.append(ms)
            a.acked.add(body["annotation"])
        else:
            a.errors += 1
        break


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc (Linux)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command name) of every process."""
    rows = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    head, tail = f.read().rsplit(")", 1)
                rows.append((int(entry), int(tail.split()[1]), head.split("(", 1)[1]))
            except (OSError, IndexError, ValueError):
                continue
    return rows


def cpu_snapshot(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the app server (gunicorn and its workers),
    PostgreSQL (every backend) and this load generator."""
    procs = _processes()
    children: dict[int, list[int]] = {}
    for pid, ppid, _ in procs:
        children.setdefault(ppid, []).append(pid)
    tree, todo = [], [server_pid]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    usage = os.times()  # this process and its finished load processes
    return {
        "server": sum(_process_cpu(pid) for pid in tree),
        "postgres": sum(_process_cpu(pid) for pid, _, name in procs if name.startswith("postgres")),
        "load_generator": usage.user + usage.system + usage.children_user + usage.children_system,
    }


def heartbeats(a: Annotator, port: int, tasks: list[dict], deadline: float, rng: random.Random) -> None:
    """The ceiling loop: two heartbeats per cycle instead of next and submit.
    Each is a full API request (token, project membership, one UPDATE), so
    the cycles per second bound what any next + submit could reach here."""
    client = Client(port, a.token)
    path = f"/api/projects/{SLUG}/queue/heartbeat/"
    cycle = 0
    while time.perf_counter() < deadline:
        try:
            first, _, first_ms = client.post(path, {})
            second, _, second_ms = client.post(path, {})
        except OSError:
            a.errors += 1
            continue
        if first != 200 or second != 200:
            a.errors += 1
            continue
        a.next_ms.append(first_ms)
        a.submit_ms.append(second_ms)
        cycle += 1
        a.acked.add(a.user_id * 10_000_000 + cycle)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run_phase(
    n: int, annotators: list[Annotator], port: int, tasks: list[dict], seconds: float, server_pid: int, loop=annotate
) -> tuple[dict, set[int]]:
    cpu_before = cpu_snapshot(server_pid)
    start = time.perf_counter()
    deadline = time.time() + seconds
    # Up to LOAD_PROCESSES processes, each driving its share of annotators
    # from threads: twenty threads in one process would measure their own
    # queueing for the interpreter lock as server latency.
    groups = [list(range(i, len(annotators), LOAD_PROCESSES)) for i in range(min(LOAD_PROCESSES, len(annotators)))]
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [
        context.Process(
            target=_drive,
            args=([annotators[i] for i in group], group, port, tasks, deadline, results, loop),
            daemon=True,
        )
        for group in groups
    ]
    for w in workers:
        w.start()
    for _ in workers:
        for index, measured in results.get():
            annotators[index].__dict__.update(measured)
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    cpu_after = cpu_snapshot(server_pid)
    next_ms = [x for a in annotators for x in a.next_ms]
    submit_ms = [x for a in annotators for x in a.submit_ms]
    acked = set().union(*(a.acked for a in annotators))
    row = {
        "annotators": n,
        "seconds": round(elapsed, 2),
        "annotations": len(acked),
        "annotations_per_s": round(len(acked) / elapsed, 1),
        "next_ms": {f"p{q}": _round(percentile(next_ms, q)) for q in (50, 95, 99)},
        "submit_ms": {f"p{q}": _round(percentile(submit_ms, q)) for q in (50, 95, 99)},
        "errors": sum(a.errors for a in annotators),
        "retries": sum(a.retries for a in annotators),
        "queue_exhausted": any(a.exhausted for a in annotators),
        # Where the machine's CPU went: milliseconds per annotation.
        "cpu_ms_per_annotation": {
            k: round((cpu_after[k] - cpu_before[k]) * 1000 / max(len(acked), 1), 2) for k in cpu_before
        },
        "cpu_busy": round(sum(cpu_after[k] - cpu_before[k] for k in cpu_before) / elapsed / (os.cpu_count() or 1), 3),
    }
    lag = [x for a in annotators for x in a.lag_ms]
    if lag:
        row["schedule_lag_ms"] = {
            "p50": _round(percentile(lag, 50)),
            "p99": _round(percentile(lag, 99)),
            "max": _round(max(lag)),
        }
    return row, acked


LOAD_PROCESSES = 4


def _drive(
    group: list[Annotator], indexes: list[int], port: int, tasks: list[dict], deadline: float, results, loop
) -> None:
    """One load process: its annotators as threads, until the wall-clock deadline."""
    local_deadline = time.perf_counter() + (deadline - time.time())
    threads = [
        threading.Thread(target=loop, args=(a, port, tasks, local_deadline, random.Random(i)), daemon=True)
        for a, i in zip(group, indexes)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put([(i, a.__dict__) for a, i in zip(group, indexes)])


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--annotators", default="1,5,20", help="comma-separated annotator counts, one phase each")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each saturated, ceiling and ORM phase")
    # One worker per core, two threads each: on 2 cores this gave more
    # annotations per second than 4 x 2, 3 x 2, 2 x 3, 2 x 4, 2 x 1 or 1 x 4
    # (fewer runnable threads, less CPU lost to switching between them).
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--order", default="finish_first", choices=["finish_first", "random", "sequential", "uncertain"]
    )
    parser.add_argument("--rows", default=",".join(ROWS), help=f"which rows to run, of {', '.join(ROWS)}")
    parser.add_argument(
        "--orm-annotators", default="", help="annotator counts of the ORM rows (default: the last count)"
    )
    parser.add_argument("--paced-annotators", type=int, default=200)
    parser.add_argument("--think", type=float, default=3.0, help="mean think time of a paced annotator, seconds")
    parser.add_argument("--paced-seconds", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true", help="5k items, 6 s per phase, paced 12 s: about two minutes")
    parser.add_argument(
        "--no-ceiling", action="store_true", help="skip the ceiling row (same as leaving it out of --rows)"
    )
    args = parser.parse_args()
    if args.quick:
        args.items, args.seconds = min(args.items, 5_000), min(args.seconds, 6.0)
        args.paced_seconds = min(args.paced_seconds, 12.0)
    wanted = {r.strip() for r in args.rows.split(",") if r.strip()}
    if wanted - set(ROWS):
        parser.error(f"unknown rows {', '.join(sorted(wanted - set(ROWS)))}; choose from {', '.join(ROWS)}")
    if args.no_ceiling:
        wanted.discard("ceiling")
    counts = [int(x) for x in args.annotators.split(",") if x.strip()]
    orm_counts = [int(x) for x in args.orm_annotators.split(",") if x.strip()] or counts[-1:]
    saturated = counts if "saturated" in wanted else []
    orm_counts = orm_counts if "orm" in wanted else []
    ceiling_n = counts[-1] if counts and "ceiling" in wanted else 0
    paced_n = args.paced_annotators if "paced" in wanted else 0

    server, url = db_urls(DB_NAME)
    name = url.rsplit("/", 1)[1]
    t0 = time.perf_counter()
    log(f"creating database {name}")
    recreate_database(server, name)
    setup_django(url)
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    warmup_users = 4
    n_users = 2 * warmup_users + sum(saturated) + ceiling_n + sum(orm_counts) + paced_n
    log(f"seeding {args.items:,} items and {n_users} annotators")
    seeded = seed(args.items, n_users, args.order)
    tasks = schema()
    log(f"database ready in {time.perf_counter() - t0:.1f} s")
    tokens = iter(seeded["tokens"])

    def people(n: int) -> list[Annotator]:
        return [Annotator(*next(tokens)) for _ in range(n)]

    rows, orm_rows, ceiling, paced_row, autovacuum = [], [], None, None, None
    if saturated or ceiling_n or paced_n:
        with gunicorn(url, args) as (port, pid):
            run_phase(warmup_users, people(warmup_users), port, tasks, 3.0, pid)  # warm every worker; not measured
            for n in saturated:
                phase = people(n)
                autovacuum = vacuum()
                log(f"{n} annotator(s) for {args.seconds:.0f} s")
                row, acked = run_phase(n, phase, port, tasks, args.seconds, pid)
                row.update(check([a.user_id for a in phase], acked, votes_per_item=5))
                rows.append(row)
            if ceiling_n:
                log(f"ceiling: {ceiling_n} clients sending two heartbeats per cycle for {args.seconds:.0f} s")
                ceiling, _ = run_phase(ceiling_n, people(ceiling_n), port, tasks, args.seconds, pid, heartbeats)
            if paced_n:
                phase = people(paced_n)
                autovacuum = vacuum()
                log(f"paced: {paced_n} annotators thinking {args.think:g} s on average, for {args.paced_seconds:.0f} s")
                paced_row, acked = run_phase(
                    paced_n, phase, port, tasks, args.paced_seconds, pid, partial(paced, think_s=args.think)
                )
                paced_row.update(check([a.user_id for a in phase], acked, votes_per_item=5))
                paced_row.update({"think_s": args.think, "machine": machine_info(), "items": args.items})
    if orm_counts:
        # Every labelling-loop statement through the ORM (annotator/loop_orm.py), unprepared.
        orm_env = {"LABELLING_LOOP_SQL": "0", "DB_PREPARED_STATEMENTS": "0"}
        with gunicorn(url, args, orm_env) as (port, pid):
            run_phase(warmup_users, people(warmup_users), port, tasks, 3.0, pid)
            for n in orm_counts:
                phase = people(n)
                autovacuum = vacuum()
                log(f"ORM: {n} annotator(s) for {args.seconds:.0f} s")
                row, acked = run_phase(n, phase, port, tasks, args.seconds, pid)
                row.update(check([a.user_id for a in phase], acked, votes_per_item=5))
                row.update({"loop": "orm", "machine": machine_info(), "items": args.items})
                orm_rows.append(row)

    part = ("serve_quick" if args.quick else "serve") + ("" if args.order == "finish_first" else f"_{args.order}")
    payload = _stored(part) if wanted != set(ROWS) else {}
    if saturated:
        payload.update(
            {
                "items": args.items,
                "seconds_per_phase": args.seconds,
                "queue_order": args.order,
                "server": {
                    "workers": args.workers,
                    "threads": args.threads,
                    "worker_class": "gthread",
                    "settings": "config.settings.production",
                },
                "targets": {"p95_ms": TARGET_P95_MS, "annotations_per_s": TARGET_RATE},
                "postgres_autovacuum": autovacuum,
                "vacuum_before_each_phase": HOT_TABLES,
                "rows": rows,
            }
        )
    if ceiling_n:
        payload["ceiling_heartbeat_loop"] = ceiling
    if orm_counts:
        payload["orm_rows"] = orm_rows
    if paced_n:
        payload["paced"] = paced_row
    payload["reference"] = REFERENCE
    payload["table"] = table = _table(payload)
    print(
        f"\nThe labelling loop over HTTP: {args.items:,} items ({args.order} queue), gunicorn {args.workers} workers x {args.threads} threads\n"
    )
    print(table)
    _summary(payload)
    path = write_results("serve.json", part, payload)
    print(
        f"\nwritten to {path.relative_to(ROOT)} under {part!r}"
        + ("" if wanted == set(ROWS) else f" (rows {', '.join(sorted(wanted))}; the others kept)")
    )


class gunicorn:
    """A gunicorn of the app for the `with` block: (port, pid)."""

    def __init__(self, url: str, args, extra_env: dict | None = None):
        self.url, self.args, self.extra_env = url, args, extra_env

    def __enter__(self) -> tuple[int, int]:
        port = free_port()
        self.process = start_gunicorn(self.url, port, self.args.workers, self.args.threads, extra_env=self.extra_env)
        try:
            wait_until_up(port, _any_token())
        except BaseException:
            self.__exit__()
            raise
        return port, self.process.pid

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _any_token() -> str:
    """A key that answers 200 on /api/projects/: a fresh token of the lead."""
    from django.contrib.auth import get_user_model

    from annotator.services.security import create_api_token

    return create_api_token(user=get_user_model().objects.get(username="bench-lead"), name="bench-up")[1]


def _stored(part: str) -> dict:
    """What bench/results/serve.json holds under `part` (its machine line too:
    the rows kept were measured there; the new rows carry their own)."""
    path = RESULTS_DIR / "serve.json"
    try:
        stored = json.loads(path.read_text()).get(part, {})
    except (OSError, json.JSONDecodeError):
        stored = {}
    return stored


def _table(payload: dict) -> str:
    """Saturated rows, the ceiling, the ORM rows, then the paced row."""
    fmt = lambda d: "/".join("-" if d[k] is None else f"{d[k]:.1f}" for k in ("p50", "p95", "p99"))  # noqa: E731

    def line(r: dict, label, checked: bool = True) -> list:
        return [
            label,
            r["annotations_per_s"],
            fmt(r["next_ms"]),
            fmt(r["submit_ms"]),
            r["annotations"],
            r["errors"],
            r["lost"] if checked else "-",
            r["duplicated"] if checked else "-",
            "/".join(f"{r['cpu_ms_per_annotation'][k]:.1f}" for k in ("server", "postgres", "load_generator")),
            f"{r['cpu_busy']:.0%}",
        ]

    lines = [line(r, r["annotators"]) for r in payload.get("rows", [])]
    if payload.get("ceiling_heartbeat_loop"):
        lines.append(
            line(
                payload["ceiling_heartbeat_loop"], f"{payload['ceiling_heartbeat_loop']['annotators']}, ceiling*", False
            )
        )
    lines += [line(r, f"{r['annotators']}, ORM") for r in payload.get("orm_rows", [])]
    if payload.get("paced"):
        lines.append(
            line(payload["paced"], f"{payload['paced']['annotators']}, paced {payload['paced']['think_s']:g} s")
        )
    headers = [
        "annotators",
        "annotations/s",
        "next p50/p95/p99 ms",
        "submit p50/p95/p99 ms",
        "annotations",
        "errors",
        "lost",
        "duplicated",
        "CPU ms/annotation app/db/load",
        "CPU busy",
    ]
    return format_table(lines, headers)


def _summary(payload: dict) -> None:
    if payload.get("ceiling_heartbeat_loop"):
        print(
            "\n* ceiling: the same clients sending two heartbeats per cycle instead of next and submit (each a full API"
            " request: token, project membership, one UPDATE); its cycles/s bound what next + submit can reach on this machine."
        )
    if payload.get("orm_rows"):
        print("ORM: the same loop with LABELLING_LOOP_SQL=0, every statement built by the ORM (annotator/loop_orm.py).")
    met = lambda r: (r["next_ms"]["p95"] or 0) <= TARGET_P95_MS and (r["submit_ms"]["p95"] or 0) <= TARGET_P95_MS  # noqa: E731
    if payload.get("rows"):
        last = payload["rows"][-1]
        print(
            f"\nAt {last['annotators']} annotators: p95 next {last['next_ms']['p95']} ms, submit {last['submit_ms']['p95']} ms "
            f"(target < {TARGET_P95_MS:.0f} ms: {'met' if met(last) else 'missed'}); {last['annotations_per_s']} annotations/s "
            f"(target >= {TARGET_RATE:.0f}: {'met' if last['annotations_per_s'] >= TARGET_RATE else 'missed'})."
        )
    if payload.get("paced"):
        r = payload["paced"]
        lag = r.get("schedule_lag_ms") or {}
        print(
            f"Paced, {r['annotators']} people thinking {r['think_s']:g} s on average (open loop): p95 next {r['next_ms']['p95']} ms, "
            f"submit {r['submit_ms']['p95']} ms (target <= {TARGET_P95_MS:.0f} ms: {'met' if met(r) else 'missed'}); "
            f"load generator lag p99 {lag.get('p99')} ms."
        )
    print(
        f"Reference, same loop: {REFERENCE['system']} did {REFERENCE['annotations_per_s']['1']} annotations/s for one annotator, "
        f"{REFERENCE['annotations_per_s']['20']} at 20, p95 {REFERENCE['p95_s_at_20']} s."
    )


if __name__ == "__main__":
    main()
