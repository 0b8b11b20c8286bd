"""``einvoice serve`` (einvoice.web.cli) as a real process: with nothing configured but the data folder
it migrates the SQLite file there, serves on 127.0.0.1, processes with its in-process worker, and stops
cleanly on Ctrl-C; ``--no-worker`` leaves the processing to ``einvoice worker``.
"""

from __future__ import annotations

import json
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

TOKEN = "serve-test-token-0123456789"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _post(url: str, data: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/xml", "X-Filename": "r.xml"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read())


@pytest.fixture
def serve(tmp_path):
    started: list[subprocess.Popen] = []

    def start(*args: str) -> tuple[str, subprocess.Popen]:
        port = _free_port()
        env = {key: value for key, value in os.environ.items()
               if key not in ("EINVOICE_DATABASE_URL", "EINVOICE_SECRET_KEY", "EINVOICE_BASE_URL")}
        env.update(EINVOICE_DATA_DIR=str(tmp_path / "data"), EINVOICE_API_TOKEN=TOKEN,
                   EINVOICE_WORKER_POLL_SECONDS="0.1")
        process = subprocess.Popen([sys.executable, "-m", "einvoice.web.cli", "serve", "--port", str(port), *args],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        started.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                if _get(f"{base}/healthz")[0] == 200:
                    return base, process
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, "einvoice serve did not come up"
            time.sleep(0.1)

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "Traceback" not in output, output
    return output


def test_serve_with_worker(serve, tmp_path):
    base, process = serve()
    assert (tmp_path / "data" / "einvoice.db").is_file()  # migrated SQLite file in the data folder
    assert _get(f"{base}/healthz")[1] == {"status": "ok", "database": "ok", "worker": "running"}
    status, body = _post(f"{base}/api/v1/invoices", ubl_invoice(number="SERVE-1"))
    assert status == 202
    deadline = time.monotonic() + 60
    while _get(body["api_url"], TOKEN)[1]["state"] != "parsed":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    with urllib.request.urlopen(body["status_url"], timeout=10) as response:
        page = response.read().decode()
        assert "Angenommen" in page and response.headers["X-Content-Type-Options"] == "nosniff"
        assert "server" not in {name.lower() for name in response.headers}
    output = _stop(process)
    assert "einvoice serving on http://127.0.0.1" in output


def test_serve_without_worker(serve):
    base, process = serve("--no-worker")
    assert _get(f"{base}/healthz")[1] == {"status": "ok", "database": "ok"}
    status, body = _post(f"{base}/api/v1/invoices", ubl_invoice(number="SERVE-2"))
    assert status == 202
    time.sleep(1.0)
    assert _get(body["api_url"], TOKEN)[1]["state"] == "received"  # nobody processes it here
    _stop(process)
