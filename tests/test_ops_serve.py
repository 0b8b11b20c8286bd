"""``einvoice serve --no-migrate`` as a real process (the way N instances start after one ``einvoice db
upgrade``): refuses an old schema with exit 2; on a current one serves /readyz and /metrics, and a
request that came through a proxy from outside (``X-Forwarded-For``) is not local for /metrics.
Scale-out: two web instances and two workers on one PostgreSQL process what one instance received,
and both instances' /metrics agree (the figures come from the database).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from einvoice.samples.generate import ubl_invoice
from einvoice.store.migrate import current_revision, upgrade

from test_web_serve import _get, _stop, serve  # noqa: F401  (the fixture that starts `einvoice serve`)

pytest_plugins = ["pg"]  # tests/pg.py: the db fixture (here PostgreSQL only, for the scale-out test)


def _text(url: str, **headers: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_no_migrate_refuses_a_database_that_is_not_current(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "EINVOICE_DATABASE_URL"}
    env["EINVOICE_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run([sys.executable, "-m", "einvoice.web.cli", "serve", "--no-migrate", "--port", "1"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "run `einvoice db upgrade` first" in done.stderr
    assert current_revision(f"sqlite:///{tmp_path / 'data' / 'einvoice.db'}") is None  # nothing was migrated


def test_no_migrate_serves_readiness_and_local_metrics(serve, tmp_path):  # noqa: F811
    upgrade(f"sqlite:///{tmp_path / 'data' / 'einvoice.db'}")  # `einvoice db upgrade`, once
    base, process = serve("--no-worker", "--no-migrate")
    assert _get(f"{base}/readyz") == (200, {"status": "ok", "checks": {"database": "ok", "schema": "ok",
                                                                         "blobs": "ok"}})
    status, text = _text(f"{base}/metrics")
    assert status == 200 and "einvoice_database_up 1.0" in text
    # nginx in front sets X-Forwarded-For: uvicorn trusts it from 127.0.0.1, so this is the outside client
    status, text = _text(f"{base}/metrics", **{"X-Forwarded-For": "203.0.113.9"})
    assert status == 403 and "einvoice_" not in text
    status, _ = _text(f"{base}/metrics", **{"X-Forwarded-For": "127.0.0.1"})
    assert status == 200
    _stop(process)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_web_instances_and_two_workers_on_one_postgresql_report_the_same(db, tmp_path):
    """N × `einvoice serve --no-worker --no-migrate` + M × `einvoice worker`: invoices posted to one
    instance are processed by the workers, and /metrics of every instance shows the same figures."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("EINVOICE_")}
    env.update(EINVOICE_DATABASE_URL=db.url.render_as_string(hide_password=False),
               EINVOICE_DATA_DIR=str(db.settings.data_dir), EINVOICE_WORKER_POLL_SECONDS="0.1")
    processes: list[subprocess.Popen] = []
    try:
        bases = []
        for _ in range(2):
            port = _free_port()
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "einvoice.web.cli", "serve", "--no-worker", "--no-migrate", "--port",
                 str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
            bases.append(f"http://127.0.0.1:{port}")
        for _ in range(2):
            processes.append(subprocess.Popen([sys.executable, "-m", "einvoice.jobs.cli", "worker"], env=env,
                                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        for base in bases:
            _wait(lambda: _text(f"{base}/readyz")[0] == 200, processes)
        for number in range(3):
            request = urllib.request.Request(f"{bases[0]}/api/v1/invoices", method="POST",
                                             data=ubl_invoice(number=f"SCALE-{number}"),
                                             headers={"Content-Type": "application/xml"})
            with urllib.request.urlopen(request, timeout=60) as response:
                assert response.status == 202

        def figures(base: str) -> tuple[str, ...]:
            text = _text(f"{base}/metrics")[1]
            return tuple(line for line in text.splitlines()
                         if line.startswith(("einvoice_intake_items{", "einvoice_jobs{", "einvoice_validations_total")))

        _wait(lambda: 'einvoice_intake_items{channel="api",state="parsed"} 3.0' in figures(bases[1]), processes)
        assert figures(bases[0]) == figures(bases[1])
        assert 'einvoice_jobs{kind="process",status="queued"} 0.0' in figures(bases[0])
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                output, _ = process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                output, _ = process.communicate()
            # uvicorn re-raises the SIGTERM it handled after a clean shutdown (systemd counts that as success)
            web = "einvoice.web.cli" in process.args
            assert process.returncode == 0 or (web and process.returncode == -signal.SIGTERM), output
            assert "Traceback" not in output and (not web or "Finished server process" in output), output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(condition, processes, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while True:
        for process in processes:
            assert process.poll() is None, process.stdout.read()
        try:
            if condition():
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
