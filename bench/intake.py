"""Intake end to end: N generated invoices posted through the API, received → matched, with M workers.

    /work/.venv/bin/python bench/intake.py                        # 1000 invoices, SQLite and PostgreSQL
    /work/.venv/bin/python bench/intake.py --n 200 --backend sqlite --concurrency 4

What runs (all real parts, on loopback): a migrated database with the example master data
(`rules/routing/example-masterdata`), the matching rules and workflows seeded from `rules/routing`;
``einvoice serve --no-worker`` (uvicorn) in its own process; M ``einvoice worker`` processes (SQLite:
always one, its single-writer lock allows no more); C client threads posting the invoices to
``POST /api/v1/invoices``. Invoices are generated with `einvoice.samples.generate` (UBL and CII,
all suppliers and buyers, unique numbers, 1–5 lines).

Numbers: posting rate; **end-to-end throughput** = N / (first post → last item matched); latency per
invoice from its ``received`` audit event to the transition into ``matched`` (both timestamps from
the database, no polling error): p50, p95, max. Target (issue #6): 1,000 invoices received → matched in
under 60 s on PostgreSQL with 2 workers on a 2-core machine. The header names cores and commit.
PostgreSQL comes from a throwaway cluster (Debian's binaries, as in the tests) unless
``EINVOICE_BENCH_POSTGRES_URL`` names an empty database.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # tests/pg.py (PostgreSQL cluster), tests/procs.py (processes)
sys.path.insert(0, str(ROOT / "bench"))  # bench/workflow.py: the invoice mix

from sqlalchemy import select  # noqa: E402

from einvoice.samples.generate import cii_invoice, ubl_invoice  # noqa: E402
from procs import free_port, prepare, start, wait_http  # noqa: E402,F401  (tests/procs.py: the processes)
from workflow import commit  # noqa: E402  (bench/workflow.py: git commit with a dirty-tree note)


def invoices(n: int) -> list[tuple[str, bytes]]:
    """The same mix of suppliers, orders and Leitweg-IDs as bench/workflow.py (deterministic)."""
    import random

    from workflow import LEITWEG, ORDERS  # bench/workflow.py: the same mix

    rnd = random.Random(11)
    out = []
    for i in range(n):
        number = f"BENCH-{i:06d}"
        supplier = rnd.choice(sorted(ORDERS))
        make = cii_invoice if i % 3 == 2 else ubl_invoice
        data = make(1 + i % 5, number=number, issue_date=date(2026, 11, 2) + timedelta(days=i % 20),
                    supplier=supplier, order=rnd.choice(ORDERS[supplier]), leitweg_id=rnd.choice(LEITWEG[supplier]))
        out.append((f"{number}.xml", data))
    return out


def post_all(port: int, files: list[tuple[str, bytes]], concurrency: int) -> tuple[float, list[int]]:
    local = threading.local()

    def post(item: tuple[str, bytes]) -> int:
        name, data = item
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        local.conn.request("POST", "/api/v1/invoices", body=data,
                           headers={"Content-Type": "application/xml", "X-Filename": name})
        response = local.conn.getresponse()
        response.read()
        return response.status

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        statuses = list(pool.map(post, files))
    return time.monotonic() - started, statuses


def wait_settled(url: str, n: int, timeout: float) -> dict[str, int]:
    """Wait until all N items are in and no process/route job is queued or running."""
    from sqlalchemy import func

    from einvoice.store.db import Database
    from einvoice.store.models import IntakeItem, Job

    db = Database(url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with db.read() as session:
                counts = dict(session.execute(select(IntakeItem.state, func.count()).group_by(IntakeItem.state)).all())
                pending = session.scalar(select(func.count()).select_from(Job).where(
                    Job.kind.in_(("process", "route")), Job.state.in_(("queued", "running"))))
            if (sum(counts.values()) >= n and pending == 0) or time.monotonic() > deadline:
                return counts
            time.sleep(0.2)
    finally:
        db.dispose()


def latencies(url: str) -> tuple[list[float], float, list[float], float]:
    """(received→matched seconds, their span, received→routed seconds, their span). Routed = the matching
    audit event, which every item gets whether it is matched or stays in the manual queue."""
    from einvoice.store.db import Database
    from einvoice.store.models import AuditEvent

    db = Database(url)
    try:
        with db.read() as session:
            rows = session.execute(select(AuditEvent.item_id, AuditEvent.event, AuditEvent.to_state, AuditEvent.at)
                                   .where((AuditEvent.to_state.in_(("received", "matched")))
                                          | (AuditEvent.event == "matching"))).all()
    finally:
        db.dispose()
    received, matched, routed = {}, {}, {}
    for item_id, event, to_state, at in rows:
        if event == "matching":
            routed.setdefault(item_id, at)
        elif to_state == "received":
            received.setdefault(item_id, at)
        else:
            matched.setdefault(item_id, at)

    def spans(done: dict) -> tuple[list[float], float]:
        values = [(done[i] - received[i]).total_seconds() for i in done if i in received]
        span = (max(done.values()) - min(received.values())).total_seconds() if done else float("nan")
        return values, span

    return (*spans(matched), *spans(routed))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def run_backend(backend: str, url: str, files: list[tuple[str, bytes]], workers: int, concurrency: int,
                work: Path) -> None:
    data_dir = work / backend
    data_dir.mkdir(parents=True, exist_ok=True)
    prepare(url, data_dir)
    env = {**os.environ, "EINVOICE_DATA_DIR": str(data_dir), "EINVOICE_DATABASE_URL": url,
           "EINVOICE_WORKER_POLL_SECONDS": "0.05", "PYTHONUNBUFFERED": "1"}
    if backend == "sqlite":
        workers = 1
    port = free_port()
    log = work / f"{backend}.log"
    procs = [start(["serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)], env, log)]
    try:
        wait_http(port)
        procs += [start(["worker"], env, log) for _ in range(workers)]
        time.sleep(1.0)  # workers import and connect before the clock starts
        post_seconds, statuses = post_all(port, files, concurrency)
        counts = wait_settled(url, len(files), timeout=600)
        values, span, routed, routed_span = latencies(url)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    accepted = sum(1 for s in statuses if s == 202)
    n = len(files)
    print(f"\n[{backend}] {n} invoices, {workers} worker(s), {concurrency} client threads")
    print(f"  posted            {accepted}/{n} accepted (202) in {post_seconds:.1f} s = {n / post_seconds:.0f} posts/s")
    print(f"  states            {', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}")
    print(f"  routed            {len(routed)}/{n} items (matched or in the manual queue) {routed_span:.1f} s after the "
          f"first was received = {len(routed) / routed_span:.1f} invoices/s"
          + (f"   target (PostgreSQL, 2 workers): 1000 in < 60 s: {'MET' if n >= 1000 and len(routed) == n and routed_span < 60 else 'NOT MET'}"
             if backend == "postgresql" and workers == 2 else ""))
    print(f"  manual queue      {counts.get('parsed', 0)} items stay parsed for the Rechnungseingangsstelle")
    print(f"  received→matched  {len(values)} items, the last {span:.1f} s after the first was received")
    for label, series in (("latency matched", values), ("latency routed", routed)):
        if series:
            print(f"  {label:<17} p50 {statistics.median(series):.2f} s, p95 {percentile(series, 95):.2f} s, "
                  f"max {max(series):.2f} s (jobs run in arrival order: a burst queues up)")
    tracebacks = log.read_text(errors="replace").count("Traceback")
    print(f"  tracebacks in the server/worker log: {tracebacks}" + (f" (see {log}, kept with --keep)" if tracebacks else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--keep", action="store_true", help="keep the data folders and logs")
    args = parser.parse_args()

    print("bench/intake.py — received → matched through the real API, worker processes and database")
    print(f"cores (os.cpu_count)      {os.cpu_count()}")
    print(f"cpu                       {platform.processor() or platform.machine()}")
    print(f"python                    {platform.python_version()}")
    print(f"commit                    {commit()}")
    print(f"load average              {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    files = invoices(args.n)
    work = Path(tempfile.mkdtemp(prefix="einvoice-bench-intake-"))
    try:
        if args.backend in ("sqlite", "both"):
            run_backend("sqlite", f"sqlite:///{work / 'sqlite' / 'einvoice.db'}", files, args.workers,
                        args.concurrency, work)
        if args.backend in ("postgresql", "both"):
            cluster = None
            url = os.environ.get("EINVOICE_BENCH_POSTGRES_URL")
            if not url:
                import pg  # tests/pg.py

                cluster = pg.start_cluster()
                url = cluster.create_database("bench_intake")
            try:
                run_backend("postgresql", url, files, args.workers, args.concurrency, work)
            finally:
                if cluster is not None:
                    cluster.stop()
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
