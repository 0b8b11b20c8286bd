"""kill -9 of worker processes again and again while 100 invoices are processed (SQLite and PostgreSQL).

Two ``einvoice worker`` processes on PostgreSQL (one on SQLite, whose single-writer lock allows no more),
slowed down a little so that a kill lands inside a job; three times a worker that has done some work
and holds a running job is killed -9 and a new one started. The killed jobs are taken over when their
short lease runs out; afterwards every invoice is processed exactly once and every interrupted job
was finished by a later attempt (tests/test_jobs_worker.py kills one worker at fixed points of one job).
"""

from __future__ import annotations

import time

import sqlalchemy as sa

import procs
from einvoice.intake.receive import receive
from einvoice.store.models import Job

pytest_plugins = ["pg"]  # tests/pg.py: the db fixture over SQLite and PostgreSQL

N, KILLS, LEASE = 100, 3, "2"
SLOW = "einvoice.intake.process:validate_bytes:0.05"  # every validation 50 ms slower: jobs overlap kills


def _running(db) -> list[tuple[int, str, int]]:
    """(job id, locked_by, attempts) of the jobs running now."""
    with db.read() as session:
        return session.execute(sa.select(Job.id, Job.locked_by, Job.attempts)
                               .where(Job.state == "running").order_by(Job.id)).all()


def test_workers_killed_9_repeatedly_while_100_invoices_process_each_exactly_once(db, tmp_path):
    procs.prepare(db.url.render_as_string(hide_password=False), db.settings.data_dir)
    for name, data in procs.invoices(N, "RE-WKILL"):
        receive(db, data, channel="api", sender="fault-test", file_name=name)
    env, log = procs.db_env(db, EINVOICE_JOB_LEASE_SECONDS=LEASE), tmp_path / "workers.log"
    workers = [procs.start(["worker"], env, log, slow=SLOW) for _ in range(2 if db.dialect == "postgresql" else 1)]
    killed_jobs: dict[int, str] = {}  # job id → the worker that held it when it was killed
    kills = 0
    try:
        while len(killed_jobs) < KILLS and kills < 3 * KILLS:
            alive = {w.pid: w for w in workers if w.poll() is None}
            deadline = time.monotonic() + 60
            while True:  # a fresh job (first attempt) in the hands of a live worker that has done work already
                warm = {int(actor.split(":")[2]) for actor in procs.worker_actors(db)} & set(alive)
                held = [by for _, by, attempts in _running(db) if attempts == 1 and int(by.split(":")[1]) in warm]
                if held:
                    break
                assert time.monotonic() < deadline, f"no job running: {log.read_text(errors='replace')[-3000:]}"
                time.sleep(0.02)
            procs.kill9(alive[int(held[0].split(":")[1])])
            kills += 1
            # what the dead worker held (it may have finished the job we saw just before it died)
            killed_jobs.update((job_id, by) for job_id, by, _ in _running(db) if by == held[0])
            workers.append(procs.start(["worker"], env, log, slow=SLOW))
        counts = procs.wait_settled(db, N, timeout=150)
    finally:
        codes = procs.stop(workers)
    assert sorted(codes) == [-9] * kills + [0] * (len(workers) - kills), codes  # the rest stopped cleanly

    assert counts == {"in_approval": 75, "parsed": 25}
    # each item exactly once: no trail step twice, one report / parsed invoice / match / case, every job done
    assert procs.exactly_once(db, max_attempts=3) == []
    with db.read() as session:
        jobs = dict(session.execute(sa.select(Job.id, Job.attempts)).all())
    assert len(killed_jobs) >= KILLS
    assert all(jobs[job_id] >= 2 for job_id in killed_jobs), {j: jobs[j] for j in killed_jobs}
    if db.dialect == "sqlite":  # one worker at a time: only the interrupted jobs were tried again
        assert {job_id for job_id, attempts in jobs.items() if attempts > 1} == set(killed_jobs)
    assert "lease of worker" in log.read_text(errors="replace")  # the take-overs were logged
