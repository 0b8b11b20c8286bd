"""Web UI response times: 20 logged-in clients on the inbox, invoice pages and the login page, with
10,000 invoices in the database.

    /work/.venv/bin/python bench/ui.py                      # 10,000 invoices, SQLite in a temp folder
    /work/.venv/bin/python bench/ui.py --n 2000 --clients 10 --seconds 10

Setup (not timed): the example organisation and N generated invoices stored as ``parsed``
(`bench/workflow.py`'s `setup`), each routed on its arrival day (matching, deadlines, approval start:
the real `route_in_session`), so they sit in the inboxes and the manual queue; passwords for the
approvers. Then ``einvoice serve --no-worker`` (uvicorn, its own process) and C client threads
(`http.client`, keep-alive), each logged in with its own session cookie as one of the approvers of
unit 66 (Tiefbau) and 67 (Grünflächen), loop for S seconds over ``GET /aufgaben``, ``GET
/rechnungen/{id}`` (an invoice of the client's unit) and ``GET /login``. Printed: requests, errors
and p50/p95/max per page, cores and commit. Target: p95 < 150 ms per page.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import datetime, time as dtime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

PASSWORD = "bench-passwort-2026"
USERS = {"m.mueller": "66", "e.schneider": "66", "n.wolf": "67", "l.schaefer": "67"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def route_all(db, arrivals) -> None:
    from einvoice.routing.clock import BERLIN, FixedClock
    from einvoice.routing.matching.service import load_context
    from einvoice.routing.route import route_in_session
    from einvoice.store.models import IntakeItem

    clock = FixedClock(min(arrivals))
    for day in sorted(arrivals):
        clock.set(datetime.combine(day, dtime(8, 0), BERLIN))
        with db.transaction() as session:
            context = load_context(session)
            for item_id in arrivals[day]:
                route_in_session(session, session.get(IntakeItem, item_id), actor="system:route", clock=clock,
                                 context=context)


def item_count(db) -> int:
    from sqlalchemy import func, select

    from einvoice.store.models import IntakeItem

    with db.read() as session:
        return session.scalar(select(func.count()).select_from(IntakeItem))


def invoices_by_unit(db) -> dict[str, list[int]]:
    from sqlalchemy import select

    from einvoice.store.masterdata_models import OrgUnit
    from einvoice.store.routing_models import Assignment

    with db.read() as session:
        rows = session.execute(select(OrgUnit.code, Assignment.item_id).join(OrgUnit, OrgUnit.id == Assignment.unit_id))
        found: dict[str, list[int]] = {}
        for code, item_id in rows:
            found.setdefault(code, []).append(item_id)
    return found


class Client:
    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str, dict]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        cookie = response.getheader("set-cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, text, dict(response.getheaders())

    def login(self, username: str) -> None:
        _, page, _ = self.request("GET", "/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode({"csrf": csrf, "username": username, "password": PASSWORD, "next": "/aufgaben"})
        status, _, _ = self.request("POST", "/login", body)
        assert status == 303, f"login of {username} failed: {status}"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--think", type=float, default=0.0, help="seconds each client waits between requests")
    parser.add_argument("--server-workers", type=int, default=1,
                        help="uvicorn worker processes (1: `einvoice serve --no-worker`; more: uvicorn --workers)")
    parser.add_argument("--reuse", metavar="FOLDER", help="the data folder of an earlier run (skips the setup)")
    args = parser.parse_args()

    from workflow import commit, setup  # bench/workflow.py

    import platform

    print("bench/ui.py — web UI pages under concurrent logged-in clients")
    print(f"cores (os.cpu_count)      {os.cpu_count()}")
    print(f"cpu                       {platform.processor() or platform.machine()}")
    print(f"python                    {platform.python_version()}")
    print(f"commit                    {commit()}")
    folder = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix="einvoice-bench-ui-"))
    os.environ["EINVOICE_DATA_DIR"] = str(folder)
    url = f"sqlite:///{folder / 'einvoice.db'}"
    os.environ["EINVOICE_DATABASE_URL"] = url
    from einvoice.config import load_settings
    from einvoice.store.db import Database
    from einvoice.store.migrate import upgrade
    from einvoice.web.ui.passwords import set_password

    upgrade(url)
    db = Database(url, settings=load_settings())
    started = time.perf_counter()
    if not args.reuse:
        arrivals = setup(db, args.n, args.seed, args.jobs)
        route_all(db, arrivals)
        for username in USERS:
            set_password(db, username, PASSWORD)
    units = invoices_by_unit(db)
    print(f"setup                     {item_count(db)} invoices, {sum(map(len, units.values()))} with a unit "
          f"({'reused ' + str(folder) if args.reuse else f'generated, stored and routed in {time.perf_counter() - started:.1f} s'}); "
          "by unit: " + ", ".join(f"{code} {len(ids)}" for code, ids in sorted(units.items())))
    print(f"data folder               {folder} (--reuse it to skip the setup)")
    db.dispose()

    port = free_port()
    env = {**os.environ, "EINVOICE_DATA_DIR": str(folder), "EINVOICE_DATABASE_URL": url}
    if args.server_workers > 1:
        command = ["-m", "uvicorn", "einvoice.web.app:create_app", "--factory", "--workers", str(args.server_workers),
                   "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    else:
        command = ["-m", "einvoice.web.cli", "serve", "--no-worker", "--port", str(port), "--log-level", "warning"]
    print(f"server                    {'uvicorn --workers ' + str(args.server_workers) if args.server_workers > 1 else 'einvoice serve --no-worker (one process)'}")
    server = subprocess.Popen([sys.executable, *command], env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                Client(port).request("GET", "/healthz")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        results: dict[str, list[float]] = {"/aufgaben": [], "/rechnungen/{id}": [], "/login": []}
        errors: dict[str, int] = {key: 0 for key in results}
        statuses: dict[int, int] = {}
        lock = threading.Lock()
        names = list(USERS)
        clients = []
        for i in range(args.clients):
            client = Client(port)
            client.login(names[i % len(names)])
            clients.append((client, USERS[names[i % len(names)]]))
        for client, _unit in clients[:len(names)]:  # warm-up (not timed): each user's inbox once
            client.request("GET", "/aufgaben")
        stop_at = time.monotonic() + args.seconds

        def run(client: Client, unit: str, seed: int) -> None:
            rnd = random.Random(seed)
            ids = units.get(unit) or [1]
            while time.monotonic() < stop_at:
                kind = rnd.choice(("/aufgaben", "/rechnungen/{id}", "/rechnungen/{id}", "/login"))
                path = f"/rechnungen/{rnd.choice(ids)}" if kind == "/rechnungen/{id}" else kind
                began = time.perf_counter()
                try:
                    status, _, _ = client.request("GET", path)
                except (OSError, http.client.HTTPException):
                    status = 0
                    client.conn.close()
                elapsed = (time.perf_counter() - began) * 1000
                if args.think:
                    time.sleep(rnd.uniform(0.5, 1.5) * args.think)
                with lock:
                    results[kind].append(elapsed)
                    # /login of a logged-in user answers 303 to the inbox (the redirect is what is timed)
                    if status not in (200, 303):
                        errors[kind] += 1
                        statuses[status] = statuses.get(status, 0) + 1

        threads = [threading.Thread(target=run, args=(c, u, i)) for i, (c, u) in enumerate(clients)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
    finally:
        server.terminate()
        server.wait(30)
    total = sum(len(v) for v in results.values())
    print(f"load                      {args.clients} clients for {wall:.1f} s"
          + (f" (think time {args.think:g} s ± 50 %)" if args.think else " (no think time)")
          + f": {total} requests ({total / wall:.0f}/s)")
    print(f"{'page':<26}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    for kind, values in results.items():
        print(f"{kind:<26}{len(values):>9}{errors[kind]:>8}{percentile(values, 50):>9.1f}{percentile(values, 95):>9.1f}"
              f"{max(values or [float('nan')]):>9.1f}")
    if statuses:
        print(f"error statuses            {statuses} (0: connection error)")
    worst = max(percentile(v, 95) for v in results.values() if v)
    print(f"target p95 < 150 ms       {'met' if worst < 150 else 'NOT met'} (worst page p95 {worst:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
