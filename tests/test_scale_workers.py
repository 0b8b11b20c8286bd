"""Scale-out on one PostgreSQL: two ``einvoice serve --no-worker`` processes and three ``einvoice worker``
processes; 500 invoices (400 received directly into the database, 100 posted through both web servers
while the workers run) are each processed exactly once, and all three workers did part of the work."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import sqlalchemy as sa

import procs
from einvoice.intake.receive import receive
from einvoice.store.models import IntakeItem, Job

pytest_plugins = ["pg"]  # tests/pg.py: the db fixture over SQLite and PostgreSQL

DIRECT, POSTED, WORKERS, SERVERS = 400, 100, 3, 2


def _post_through(ports: list[int], files: list[tuple[str, bytes]], threads: int = 4) -> dict[str, tuple[int, dict]]:
    answers: dict[str, tuple[int, dict]] = {}
    lock = threading.Lock()

    def client(k: int) -> None:
        for i in range(k, len(files), threads):
            name, data = files[i]
            answer = procs.post(ports[i % len(ports)], name, data)
            with lock:
                answers[name] = answer

    pool = [threading.Thread(target=client, args=(k,)) for k in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(120)
    return answers


def test_three_workers_and_two_web_servers_process_500_invoices_exactly_once(db, tmp_path):
    if db.dialect != "postgresql":
        pytest.skip("scale-out needs PostgreSQL: SQLite's single-writer lock allows one worker per database")
    procs.prepare(db.url.render_as_string(hide_password=False), db.settings.data_dir)
    files = procs.invoices(DIRECT + POSTED, "RE-SCALE")
    for name, data in files[:DIRECT]:
        receive(db, data, channel="api", sender="scale-test", file_name=name)

    env, log = procs.db_env(db), tmp_path / "processes.log"
    workers = [procs.start(["worker"], env, log) for _ in range(WORKERS)]
    servers = []
    try:
        servers = [procs.start_server(env, log) for _ in range(SERVERS)]
        answers = _post_through([port for port, _ in servers], files[DIRECT:])
        counts = procs.wait_settled(db, DIRECT + POSTED, timeout=240)
        assert all(w.poll() is None for w in workers), log.read_text(errors="replace")[-3000:]
    finally:
        codes = procs.stop(workers + [process for _, process in servers])
    output = log.read_text(errors="replace")
    assert codes[:WORKERS] == [0] * WORKERS, output[-3000:]  # SIGTERM: a clean stop
    assert "Traceback" not in output, output[-3000:]

    # every post was acknowledged with its own item, and every invoice is one item
    assert len(answers) == POSTED and {status for status, _ in answers.values()} == {202}
    with db.read() as session:
        names = dict(session.execute(sa.select(IntakeItem.id, IntakeItem.file_name)).all())
        job_count = session.scalar(sa.select(sa.func.count()).select_from(Job))
    assert sorted(names.values()) == sorted(name for name, _ in files)
    assert {names[body["id"]] for _, body in answers.values()} == {name for name, _ in files[DIRECT:]}

    # each processed exactly once: one trail, report, parsed invoice, match result, case; every job done once
    assert counts == {"in_approval": 375, "parsed": 125}  # procs.MIX: one supplier in four to the manual queue
    assert procs.exactly_once(db, max_attempts=1) == []
    assert job_count == 2 * (DIRECT + POSTED)  # a process and a route job per item, nothing more

    # the work was shared: each of the three worker processes validated some of the invoices
    actors = procs.worker_actors(db)
    pids = Counter({int(actor.split(":")[2]): n for actor, n in actors.items()})
    assert set(pids) == {w.pid for w in workers}, actors
    assert sum(pids.values()) == DIRECT + POSTED and min(pids.values()) > 0, actors
