"""Real einvoice processes for the scale and fault tests and the benches: ``einvoice serve`` and
``einvoice worker`` as subprocesses on one database, /healthz, posting, kill -9, and the check that
every item was processed exactly once.

- `env_for(url, data_dir, **extra)` / `db_env(db, **extra)`: the environment of a subprocess on that
  database (fast job polling; ``extra`` overrides, e.g. ``EINVOICE_JOB_LEASE_SECONDS``).
- `start(args, env, log, hang=None, marker=None, slow=None)`: ``python -m einvoice.cli ARGS``; with
  ``hang``/``slow`` the same command line runs under `HOOK_SCRIPT`, which first wraps a function:
  ``hang`` = "module:attr:before|after:N" makes the N-th call hang (after writing ``marker``: pid and
  the call's ``file_name``), so that a test can kill -9 the process exactly there; ``slow`` =
  "module:attr:seconds" delays every call.
- `start_server(env, log, **hooks)` → (port, process) once ``/healthz`` answers; `wait_http`, `post`.
- `kill9(process)`, `stop(processes)` (SIGTERM, then kill after a timeout).
- `prepare(url, data_dir)`: migrated database with the example master data, matching rules, workflows.
- `invoices(n, prefix)`: generated invoices (UBL and CII, four suppliers, unique numbers; `MIX`).
- `wait_settled(db, n)`: until n items exist and no process/route job is queued or running.
- `exactly_once(db)`: every item's trail, reports, parsed invoices, match results, cases and jobs, checked
  against each other; returns the problems found (empty: each item was processed exactly once).
  `worker_actors(db)`: how many validations each worker did.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MASTERDATA = ROOT / "rules" / "routing" / "example-masterdata"
PENDING_KINDS = ("process", "route")
# supplier → order / Leitweg-ID references: matched by order, by order, manual queue (a unit's
# Leitweg-ID without an order), matched by supplier
MIX = (("musterbau", {"order": "BEST-2026-0815"}), ("gruenpflege", {"order": "BEST-2026-0907"}),
       ("schreibwerk", {"order": None, "leitweg_id": "05315-FB40-27"}), ("nordlicht", {"order": None}))

HOOK_SCRIPT = r'''
import importlib, itertools, json, os, pathlib, sys, threading, time

def _target(spec):
    module_name, attr = spec.split(":")[:2]
    owner = importlib.import_module(module_name)
    *path, name = attr.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, name

def _wrap(owner, name, before=None, after=None):
    original = getattr(owner, name)
    def wrapper(*args, **kwargs):
        if before:
            before(args, kwargs)
        result = original(*args, **kwargs)
        if after:
            after(args, kwargs)
        return result
    setattr(owner, name, wrapper)

hang = os.environ.get("EINVOICE_TEST_HANG")
if hang:
    owner, name = _target(hang)
    when, nth = hang.split(":")[2:4]
    calls, lock = itertools.count(1), threading.Lock()
    marker = pathlib.Path(os.environ["EINVOICE_TEST_MARKER"])
    def maybe_hang(args, kwargs):
        with lock:
            if next(calls) != int(nth):
                return
        marker.write_text(json.dumps({"pid": os.getpid(), "file_name": str(kwargs.get("file_name"))}))
        time.sleep(600)
    _wrap(owner, name, **{when: maybe_hang})

slow = os.environ.get("EINVOICE_TEST_SLOW")
if slow:
    owner, name = _target(slow)
    seconds = float(slow.split(":")[2])
    _wrap(owner, name, before=lambda args, kwargs: time.sleep(seconds))

from einvoice.cli import main
sys.exit(main(sys.argv[1:]))
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def env_for(url: str, data_dir: Path | str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("EINVOICE_TEST_") or key in ("EINVOICE_TEST_POSTGRES_URL",)}
    env.update({"EINVOICE_DATABASE_URL": str(url), "EINVOICE_DATA_DIR": str(data_dir),
                "EINVOICE_WORKER_POLL_SECONDS": "0.05", "EINVOICE_JOB_RETRY_SECONDS": "0",
                "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def db_env(db, **extra: str) -> dict[str, str]:
    """`env_for` the database of a `Database` (e.g. the ``db`` fixture of tests/pg.py)."""
    return env_for(db.url.render_as_string(hide_password=False), db.settings.data_dir, **extra)


def start(args: list[str], env: dict, log: Path, *, hang: str | None = None, marker: Path | None = None,
          slow: str | None = None) -> subprocess.Popen:
    """``einvoice ARGS`` in a subprocess, output appended to ``log``; ``hang``/``slow``: see the module docstring."""
    if hang or slow:
        env = {**env, "EINVOICE_TEST_HANG": hang or "", "EINVOICE_TEST_SLOW": slow or "",
               "EINVOICE_TEST_MARKER": str(marker or "/nonexistent")}
        command = [sys.executable, "-c", HOOK_SCRIPT, *args]
    else:
        command = [sys.executable, "-m", "einvoice.cli", *args]
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def healthz(port: int, timeout: float = 5.0) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def wait_http(port: int, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    """Until ``/healthz`` answers 200 (the database is reachable)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the web server exited with {process.returncode} before answering")
        try:
            if healthz(port, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the web server did not answer on port {port} within {timeout} s")


def start_server(env: dict, log: Path, **hooks) -> tuple[int, subprocess.Popen]:
    port = free_port()
    process = start(["serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                    env, log, **hooks)
    try:
        wait_http(port, process=process)
    except RuntimeError as exc:
        kill9(process)
        raise RuntimeError(f"{exc}; the end of {log}:\n{log.read_text(errors='replace')[-3000:]}") from None
    return port, process


def post(port: int, name: str, data: bytes, timeout: float = 60.0) -> tuple[int, dict]:
    """POST the raw XML to /api/v1/invoices: (status, JSON body). Connection errors propagate (OSError)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/api/v1/invoices", body=data,
                     headers={"Content-Type": "application/xml", "X-Filename": name})
        response = conn.getresponse()
        body = response.read()
        try:
            return response.status, json.loads(body or b"{}")
        except ValueError:
            return response.status, {"raw": body.decode("utf-8", "replace")}
    finally:
        conn.close()


def kill9(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(30)


def stop(processes: list[subprocess.Popen], timeout: float = 20.0) -> list[int | None]:
    """SIGTERM all (they finish the job in hand), wait, kill -9 what is left; the exit codes."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            kill9(process)
    return [process.returncode for process in processes]


def prepare(url: str, data_dir: Path) -> None:
    """A migrated database with the example master data, the matching rules and the workflows."""
    from einvoice.config import load_settings
    from einvoice.routing.masterdata import import_folder
    from einvoice.routing.matching.rules import seed_rules
    from einvoice.routing.workflow.definitions import load_file, replace_workflows
    from einvoice.store.db import Database
    from einvoice.store.migrate import upgrade

    upgrade(url)
    db = Database(url, settings=replace(load_settings(), data_dir=Path(data_dir), database_url=url))
    try:
        with db.transaction() as session:
            import_folder(session, MASTERDATA, actor="system:test")
            seed_rules(session, actor="system:test")
            replace_workflows(session, load_file())
    finally:
        db.dispose()


def invoices(n: int, prefix: str = "RE-T") -> list[tuple[str, bytes]]:
    """n invoices (every third CII), the four suppliers in turn, unique numbers ``<prefix>-000000`` …; with
    the example master data three in four are matched and go into approval, one stays in the manual queue."""
    from einvoice.samples.generate import cii_invoice, ubl_invoice

    out = []
    for i in range(n):
        number = f"{prefix}-{i:06d}"
        make = cii_invoice if i % 3 == 2 else ubl_invoice
        supplier, references = MIX[i % len(MIX)]
        out.append((f"{number}.xml", make(1 + i % 5, number=number, supplier=supplier, **references,
                                          issue_date=date(2026, 11, 2) + timedelta(days=i % 20))))
    return out


def wait_settled(db, n: int, timeout: float = 120.0) -> dict[str, int]:
    """Wait until at least n items exist and no process/route job is queued or running; item counts per state."""
    from sqlalchemy import func, select

    from einvoice.store.models import IntakeItem, Job

    deadline = time.monotonic() + timeout
    while True:
        with db.read() as session:
            counts = dict(session.execute(select(IntakeItem.state, func.count()).group_by(IntakeItem.state)).all())
            pending = session.scalar(select(func.count()).select_from(Job).where(
                Job.kind.in_(PENDING_KINDS), Job.state.in_(("queued", "running"))))
        if sum(counts.values()) >= n and pending == 0:
            return counts
        if time.monotonic() > deadline:
            raise AssertionError(f"not settled after {timeout} s: {counts}, {pending} jobs pending")
        time.sleep(0.2)


def exactly_once(db, *, max_attempts: int = 1) -> list[str]:
    """Problems of every item (empty list: each processed exactly once). An item's audit trail must be one
    chain without a repeated transition; it has one validation report iff it was validated or rejected, one
    parsed invoice iff it was read (parsed, or a duplicate found when reading), one match result and one
    matching event iff it was routed, one approval case iff it went into approval; one done process job, one
    done route job iff parsed; no job dead, none tried more than ``max_attempts`` times."""
    from sqlalchemy import func, select

    from einvoice.store.models import AuditEvent, IntakeItem, Job, ParsedInvoice, ValidationReport
    from einvoice.store.routing_models import ApprovalCase, MatchResult

    def per_item(session, model):
        return Counter(dict(session.execute(select(model.item_id, func.count()).group_by(model.item_id)).all()))

    with db.read() as session:
        items = dict(session.execute(select(IntakeItem.id, IntakeItem.state)).all())
        trails = defaultdict(list)
        matching = Counter()
        events = select(AuditEvent.item_id, AuditEvent.event, AuditEvent.from_state, AuditEvent.to_state)
        for item_id, event, frm, to in session.execute(events.order_by(AuditEvent.id)):
            if event == "transition":
                trails[item_id].append((frm, to))
            elif event == "matching":
                matching[item_id] += 1
        reports, parsed = per_item(session, ValidationReport), per_item(session, ParsedInvoice)
        matches, cases = per_item(session, MatchResult), per_item(session, ApprovalCase)
        jobs = session.execute(select(Job.id, Job.kind, Job.item_id, Job.state, Job.attempts)).all()
    job_map = defaultdict(list)
    problems = [f"job {j} ({kind}, item {item}) is {state} after {attempts} attempts"
                for j, kind, item, state, attempts in jobs if state != "done" or attempts > max_attempts]
    for j, kind, item, state, attempts in jobs:
        job_map[(item, kind)].append(j)
    for item_id, state in items.items():
        trail = trails[item_id]
        reached = {to for _, to in trail}
        expected = {
            "trail is one chain": all(trail[i][0] == trail[i - 1][1] for i in range(1, len(trail)))
            and trail[:1] == [(None, "received")] and trail[-1][1] == state,
            "no transition twice": len(set(trail)) == len(trail),
            "validation reports": reports[item_id] == int(bool(reached & {"validated", "rejected"})),
            "parsed invoices": parsed[item_id] == int(("validated", "parsed") in trail
                                                      or ("validated", "duplicate") in trail),
            "match results": matches[item_id] == int("parsed" in reached) == matching[item_id],
            "approval cases": cases[item_id] == int("in_approval" in reached),
            "process job": len(job_map[(item_id, "process")]) == 1,
            "route job": len(job_map[(item_id, "route")]) == int("parsed" in reached),
        }
        problems += [f"item {item_id} ({state}): {what} wrong; trail {trail}, reports {reports[item_id]}, "
                     f"parsed {parsed[item_id]}, matches {matches[item_id]}/{matching[item_id]}, cases {cases[item_id]}"
                     for what, ok in expected.items() if not ok]
    return problems


def worker_actors(db) -> Counter:
    """Validation transitions per worker (``worker:<host>:<pid>:<id>``): who did the work."""
    from sqlalchemy import func, select

    from einvoice.store.models import AuditEvent

    with db.read() as session:
        return Counter(dict(session.execute(
            select(AuditEvent.actor, func.count()).where(AuditEvent.from_state == "received",
                                                         AuditEvent.to_state.in_(("validated", "rejected")))
            .group_by(AuditEvent.actor)).all()))
