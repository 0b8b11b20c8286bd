"""Scale-out: throughput with 1, 2 and 3 ``einvoice worker`` processes on one PostgreSQL.

    /work/.venv/bin/python bench/scale.py                 # 300 invoices, 1/2/3 workers (5–6 min, busy 2 cores)
    /work/.venv/bin/python bench/scale.py --n 1000 --workers 1 2

Per worker count M, two measurements, each on a fresh database of one throwaway PostgreSQL cluster (or
``EINVOICE_BENCH_POSTGRES_URL``, an admin URL) with the example master data, rules and workflows, the
invoice mix of bench/intake.py:

1. **end to end**: ``einvoice serve --no-worker`` and M workers; C client threads post N invoices to
   ``POST /api/v1/invoices`` (the web server validates each once for its answer); throughput = N / (first
   received → last routed), routed = the item's matching event (matched or manual queue), both times from
   the audit trail.
2. **worker phase alone**: N items received directly into the database with their process jobs held back
   (``run_after`` far ahead), M workers started; then the held jobs are released at once; throughput =
   N / (release → last routed). No web server, no posting: the ratio is not hidden by the posting phase.

Before either clock starts the workers are warm: extra items are processed until every worker has
validated one (imports, validation engine, XSLT compilation). Printed per M: invoices/s and the ratio to
one worker; the CPU the einvoice processes used during the phase (server and workers, /proc/<pid>/stat;
not PostgreSQL, not the clients); for the worker phase, invoices per worker CPU second (flat from 1 to 3
workers: they do not get in each other's way, and the ratio is bounded by the cores they got); how busy
the whole machine was (/proc/stat: everything, including other people's work on a shared machine). The
header names cores, CPU, commit and load.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # tests/pg.py (PostgreSQL cluster), tests/procs.py (processes)
sys.path.insert(0, str(ROOT / "bench"))

import procs  # noqa: E402
from intake import invoices, post_all  # noqa: E402  (bench/intake.py: the invoice mix, the posting clients)
from workflow import commit  # noqa: E402

from sqlalchemy import func, select, update  # noqa: E402

HELD = datetime(2100, 1, 1, tzinfo=timezone.utc)  # run_after of the held-back jobs of the worker phase
WARM_UP = "bench-warm-up"  # sender of the warm-up items (not counted)


def cpu_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot."""
    fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


def process_cpu(processes) -> float:
    """CPU seconds (user + system) the live processes used so far (/proc/<pid>/stat)."""
    total = 0.0
    for process in processes:
        try:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def busy_cores(before: tuple[float, float], after: tuple[float, float]) -> float:
    return (after[0] - before[0]) / max(after[1] - before[1], 1.0) * (os.cpu_count() or 1)


def open_db(url: str, data_dir: Path):
    from einvoice.config import load_settings
    from einvoice.store.db import Database

    return Database(url, settings=replace(load_settings(), data_dir=data_dir, database_url=url))


def wait_idle(db, timeout: float = 180.0) -> None:
    """Until no process/route job is due or running (the held-back ones do not count)."""
    from einvoice.store.models import Job

    deadline = time.monotonic() + timeout
    while True:
        with db.read() as session:
            pending = session.scalar(select(func.count()).select_from(Job).where(
                Job.kind.in_(procs.PENDING_KINDS), Job.state.in_(("queued", "running")), Job.run_after < HELD))
        if pending == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{pending} jobs still pending after {timeout} s")
        time.sleep(0.1)


def warm_up(db, workers: int, start_n: int) -> int:
    """Receive extra items (two per worker, then one at a time) until each worker has validated one and
    all are done; returns how many were received."""
    from einvoice.intake.receive import receive

    extra = invoices(start_n + 12 * workers)[start_n:]
    sent = 0
    while True:
        if sent >= 2 * workers:
            wait_idle(db)
            if len(procs.worker_actors(db)) >= workers:
                return sent
        if sent == len(extra):
            raise RuntimeError(f"not every worker got work: {procs.worker_actors(db)}")
        name, data = extra[sent]
        receive(db, data, channel="api", sender=WARM_UP, file_name=name)
        sent += 1


def routed_times(db) -> list[datetime]:
    """When each measured item (not a warm-up one) was routed: its matching event."""
    from einvoice.store.models import AuditEvent, IntakeItem

    query = select(AuditEvent.at).join(IntakeItem, IntakeItem.id == AuditEvent.item_id).where(
        AuditEvent.event == "matching", IntakeItem.sender.is_distinct_from(WARM_UP))
    with db.read() as session:
        return sorted(session.scalars(query))


def first_received(db) -> datetime:
    from einvoice.store.models import IntakeItem

    with db.read() as session:
        return session.scalar(select(func.min(IntakeItem.received_at)).where(
            IntakeItem.sender.is_distinct_from(WARM_UP)))


def end_to_end(url: str, data_dir: Path, files, workers: int, concurrency: int, log: Path) -> dict:
    procs.prepare(url, data_dir)
    db = open_db(url, data_dir)
    env = procs.env_for(url, data_dir)
    running = []
    try:
        port, server = procs.start_server(env, log)
        running.append(server)
        running += [procs.start(["worker"], env, log) for _ in range(workers)]
        warm = warm_up(db, workers, len(files))
        cpu, own, started = cpu_busy(), process_cpu(running), time.monotonic()
        post_seconds, statuses = post_all(port, files, concurrency)
        procs.wait_settled(db, len(files) + warm, timeout=900)
        cpu, own = busy_cores(cpu, cpu_busy()), (process_cpu(running) - own) / (time.monotonic() - started)
        done = routed_times(db)
        span = (done[-1] - first_received(db)).total_seconds()
    finally:
        procs.stop(running)
        db.dispose()
    accepted = sum(1 for status in statuses if status == 202)
    return {"rate": len(done) / span, "span": span, "routed": len(done), "accepted": accepted,
            "post_rate": len(files) / post_seconds, "cpu": cpu, "own": own}


def worker_phase(url: str, data_dir: Path, files, workers: int, log: Path) -> dict:
    from einvoice.intake.receive import receive
    from einvoice.store.models import Job
    from einvoice.store.types import utcnow

    procs.prepare(url, data_dir)
    db = open_db(url, data_dir)
    env = procs.env_for(url, data_dir)
    running = []
    try:
        for name, data in files:
            receive(db, data, channel="api", sender="bench", file_name=name)
        with db.transaction() as session:
            session.execute(update(Job).where(Job.kind == "process", Job.state == "queued").values(run_after=HELD))
        running += [procs.start(["worker"], env, log) for _ in range(workers)]
        warm = warm_up(db, workers, len(files))
        cpu, own, started = cpu_busy(), process_cpu(running), time.monotonic()
        released = utcnow()
        with db.transaction() as session:
            session.execute(update(Job).where(Job.run_after == HELD).values(run_after=released))
        procs.wait_settled(db, len(files) + warm, timeout=900)
        cpu, own = busy_cores(cpu, cpu_busy()), (process_cpu(running) - own) / (time.monotonic() - started)
        done = routed_times(db)
        span = (done[-1] - released).total_seconds()
        with db.read() as session:
            attempts = session.scalar(select(func.max(Job.attempts)))
            dead = session.scalar(select(func.count()).select_from(Job).where(Job.state == "dead"))
    finally:
        procs.stop(running)
        db.dispose()
    return {"rate": len(done) / span, "span": span, "routed": len(done), "cpu": cpu, "own": own,
            "max_attempts": attempts,
            "dead": dead}


def report(m: int, e2e: dict, alone: dict, n: int, log: Path) -> None:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    tracebacks = log.read_text(errors="replace").count("Traceback")
    print(f"\n[{m} worker{'s' if m > 1 else ''}]  load average now {load}"
          + (f"   {tracebacks} tracebacks in {log}" if tracebacks else ""))
    print(f"  end to end    {e2e['rate']:6.1f} invoices/s  ({e2e['routed']} routed in {e2e['span']:.1f} s after the "
          f"first was received; posted {e2e['accepted']}/{n} at {e2e['post_rate']:.0f}/s; "
          f"server + workers {e2e['own']:.2f} cores, machine {e2e['cpu']:.2f} cores busy)")
    print(f"  workers alone {alone['rate']:6.1f} invoices/s  ({alone['routed']} routed in {alone['span']:.1f} s "
          f"after the release; max attempts {alone['max_attempts']}, dead jobs {alone['dead']}; workers "
          f"{alone['own']:.2f} cores = {alone['rate'] / alone['own']:.1f} invoices per worker CPU second, "
          f"machine {alone['cpu']:.2f} cores busy)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the data folders and logs")
    args = parser.parse_args()

    print("bench/scale.py — throughput with 1, 2, 3 worker processes on one PostgreSQL")
    print(f"cores (os.cpu_count)      {os.cpu_count()}")
    print(f"cpu                       {platform.processor() or platform.machine()}")
    print(f"python                    {platform.python_version()}")
    print(f"commit                    {commit()}")
    print(f"load average at start     {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"invoices                  {args.n} per measurement (bench/intake.py mix), "
          f"{args.concurrency} client threads")
    files = invoices(args.n)
    work = Path(tempfile.mkdtemp(prefix="einvoice-bench-scale-"))
    import pg  # tests/pg.py: the throwaway cluster

    admin = os.environ.get("EINVOICE_BENCH_POSTGRES_URL")
    cluster = pg.PgCluster(admin) if admin else pg.start_cluster()
    results: dict[int, tuple[dict, dict]] = {}
    try:
        for m in args.workers:
            urls = []
            for phase in ("e2e", "workers"):
                name = f"bench_scale_{m}_{phase}_{os.getpid()}"
                cluster.drop_database(name)
                urls.append((name, cluster.create_database(name), work / f"{m}-{phase}"))
            log = work / f"{m}.log"
            e2e = end_to_end(urls[0][1], urls[0][2], files, m, args.concurrency, log)
            alone = worker_phase(urls[1][1], urls[1][2], files, m, log)
            results[m] = (e2e, alone)
            for name, _, _ in urls:
                cluster.drop_database(name)
            report(m, e2e, alone, args.n, log)
    finally:
        if not admin:
            cluster.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if 1 in results:
        print("\nratio to 1 worker")
        for m, (e2e, alone) in results.items():
            if m != 1:
                print(f"  {m}w/1w          end to end {e2e['rate'] / results[1][0]['rate']:.2f}   "
                      f"workers alone {alone['rate'] / results[1][1]['rate']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
