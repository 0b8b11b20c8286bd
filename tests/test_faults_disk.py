"""Disk full on the blob store: the intake refuses "try again later" and keeps nothing half-written.

Two ways to fill the disk, honestly named:

- in process (both database backends), the blob store's file operations see a full disk at a chosen
  point (`FullDisk`): a write that stores part of the chunk and then fails with ``ENOSPC`` (what a
  full file system does), an ``fsync`` that fails with ``ENOSPC`` (delayed allocation, NFS), or no
  room for the temporary file at all. A tiny tmpfs would be the real thing, but needs root.
- a real ``einvoice serve`` process whose file size limit is lowered from outside with
  ``prlimit(RLIMIT_FSIZE)`` (Python ignores SIGXFSZ, so the kernel's write fails with ``EFBIG`` after
  the bytes that fit), and raised again — "space returns" without a restart.

Every channel answers a temporary failure: the API 503 JSON, the upload page 503 with the German text
(or, when only some files failed, the receipt of the kept ones and the refusal of the others), the SMTP
receiver ``452 4.3.1``. No item row without its blob, no partial blob or temporary file in the blob
folder, and once there is space the same upload succeeds.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import resource
import smtplib

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from einvoice.samples.generate import ubl_invoice
from einvoice.store import IntakeItem, Job
from einvoice.store import blobs as blobs_module
from einvoice.store.blobs import StorageFull
from einvoice.store.mail_models import MailMessage
from einvoice.store.models import Blob
from einvoice.web.app import create_app

pytest.register_assert_rewrite("mailservers", "procs")
from mailservers import INTAKE_DOMAIN, build_mail  # noqa: E402

pytest_plugins = ["pg", "mailservers"]
SHA = re.compile(r"^[0-9a-f]{64}$")


class FullDisk:
    """Stands in for ``os`` and ``tempfile`` in einvoice.store.blobs: after ``allow`` more blob files the
    disk is full, the way ``mode`` says (write: part of the data lands, then ENOSPC; fsync; create)."""

    def __init__(self, mode: str = "write", allow: int = 0):
        self.mode, self.allow, self.full, self.hits = mode, allow, True, 0

    def _hit(self) -> bool:
        if not self.full:
            return False
        if self.allow > 0:
            self.allow -= 1
            return False
        self.hits += 1
        return True

    def __getattr__(self, name):  # everything else: the real os / tempfile
        return getattr(os, name) if hasattr(os, name) else getattr(__import__("tempfile"), name)

    def mkstemp(self, *args, **kwargs):
        if self.mode == "create" and self._hit():
            raise OSError(errno.ENOSPC, "No space left on device")
        return __import__("tempfile").mkstemp(*args, **kwargs)

    def fdopen(self, fd, mode="r", *args, **kwargs):
        real = os.fdopen(fd, mode, *args, **kwargs)
        return _Filling(real, self) if "w" in mode and self.mode in ("write", "fsync") and self._hit() else real


class _Filling:
    """A blob file on a full disk: half of the first write lands, then ENOSPC (or fsync fails)."""

    def __init__(self, real, disk: FullDisk):
        self.real, self.disk = real, disk

    def write(self, data: bytes) -> int:
        if self.disk.mode == "fsync":
            return self.real.write(data)
        self.real.write(data[: len(data) // 2])
        self.real.flush()  # the half really is in the temporary file
        raise OSError(errno.ENOSPC, "No space left on device")

    def fileno(self):
        if self.disk.mode == "fsync":
            raise OSError(errno.ENOSPC, "No space left on device")  # os.fsync(out.fileno())
        return self.real.fileno()

    def __getattr__(self, name):
        return getattr(self.real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.real.close()


@pytest.fixture
def full_disk(monkeypatch):
    def fill(mode: str = "write", allow: int = 0) -> FullDisk:
        disk = FullDisk(mode, allow)
        monkeypatch.setattr(blobs_module, "os", disk)
        monkeypatch.setattr(blobs_module, "tempfile", disk)
        return disk

    return fill


def stray_files(root) -> list[str]:
    """Files in the blob folder that are not a complete blob under its own name (partial, temporary)."""
    found = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if not SHA.match(name) or blobs_module.sha256_hex(open(path, "rb").read()) != name:
                found.append(os.path.relpath(path, root))
    return found


def rows(db, model) -> list:
    with db.read() as session:
        return list(session.scalars(sa.select(model)))


def assert_consistent(db) -> None:
    """Every item's blob is there and intact; nothing stray in the blob folder."""
    for item in rows(db, IntakeItem):
        assert db.blobs.verify(item.sha256), item.id
    assert stray_files(db.blobs.root) == []


# --- the blob store itself ---------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["write", "fsync", "create"])
def test_blob_store_full_keeps_nothing_and_works_again(tmp_path, full_disk, mode):
    store = blobs_module.BlobStore(tmp_path / "blobs")
    store.put(b"schon da")  # the folder exists and holds one blob
    disk = full_disk(mode)
    data = b"<Invoice>" + os.urandom(200_000).hex().encode() + b"</Invoice>"
    with pytest.raises(StorageFull) as raised:
        store.put(data)
    assert raised.value.errno == errno.ENOSPC and isinstance(raised.value, OSError) and disk.hits == 1
    assert blobs_module.is_storage_full(raised.value)
    import io

    with pytest.raises(StorageFull):
        store.put_stream(io.BytesIO(data))
    assert stray_files(store.root) == [] and not store.exists(blobs_module.sha256_hex(data))
    disk.full = False  # space returns
    assert store.put(data) == blobs_module.sha256_hex(data) and store.get(blobs_module.sha256_hex(data)) == data
    assert stray_files(store.root) == []


# --- the channels ---------------------------------------------------------------------------------------

@pytest.fixture
def client(db, engine):
    app = create_app(settings=db.settings, db=db)
    app.state.web.engine = engine  # the session's validation engine (compiled already)
    with TestClient(app, follow_redirects=False) as client:
        yield client


@pytest.mark.parametrize("mode", ["write", "fsync", "create"])
def test_api_answers_503_and_the_same_upload_succeeds_later(db, client, full_disk, caplog, mode):
    data = ubl_invoice(number="RE-VOLL-1")
    disk = full_disk(mode)
    with caplog.at_level(logging.ERROR, logger="einvoice.web"):
        answer = client.post("/api/v1/invoices", content=data, headers={"Content-Type": "application/xml"})
    assert answer.status_code == 503 and answer.headers["retry-after"]
    body = answer.json()
    assert body["error"] == "storage full" and "später noch einmal" in body["message_de"]
    assert "No space" not in answer.text and "Traceback" not in answer.text  # no internals to the client
    assert body["reference"] in caplog.text and "storage full" in caplog.text
    assert rows(db, IntakeItem) == [] and rows(db, Blob) == [] and rows(db, Job) == []
    assert_consistent(db)
    disk.full = False
    again = client.post("/api/v1/invoices", content=data, headers={"Content-Type": "application/xml"})
    assert again.status_code == 202
    [item] = rows(db, IntakeItem)
    assert db.blobs.get(item.sha256) == data
    assert_consistent(db)


def _upload(client, *names: str):
    files = [("files", (f"{name}.xml", ubl_invoice(number=name), "application/xml")) for name in names]
    return client.post("/upload", files=files, data={"email": "buchhaltung@musterbau.example"})


def test_upload_page_503_in_german_when_nothing_could_be_kept(db, client, full_disk):
    disk = full_disk("write")
    page = _upload(client, "RE-VOLL-2")
    assert page.status_code == 503 and page.headers["retry-after"]
    assert "Speicher des Rechnungseingangs ist im Moment voll" in page.text and "nicht gespeichert" in page.text
    assert rows(db, IntakeItem) == []
    assert_consistent(db)
    disk.full = False
    assert _upload(client, "RE-VOLL-2").status_code == 200
    assert [item.file_name for item in rows(db, IntakeItem)] == ["RE-VOLL-2.xml"]


def test_upload_page_keeps_the_files_that_fit_and_names_the_others(db, client, full_disk):
    full_disk("write", allow=1)  # the first file fits, the second does not
    page = _upload(client, "RE-VOLL-3", "RE-VOLL-4")
    assert page.status_code == 200
    [item] = rows(db, IntakeItem)
    assert item.file_name == "RE-VOLL-3.xml" and f"/status/{item.id}/" in page.text  # its receipt and link
    assert "RE-VOLL-4.xml" in page.text and "Speicher des Rechnungseingangs ist im Moment voll" in page.text
    assert_consistent(db)


def test_smtp_intake_answers_452_and_the_retry_is_stored_once(db, intake_smtpd, full_disk):
    settings = intake_smtpd(db)
    raw = build_mail([("RE-VOLL-5.xml", ubl_invoice(number="RE-VOLL-5"))], message_id="<voll@musterbau.example>")
    disk = full_disk("write", allow=1)  # the .eml fits, the attachment does not
    with smtplib.SMTP(settings.host, settings.port, timeout=30) as smtp:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.sendmail("buchhaltung@musterbau.example", [f"rechnung@{INTAKE_DOMAIN}"], raw)
    assert refused.value.smtp_code == 452 and b"4.3.1" in refused.value.smtp_error  # temporary: the sender retries
    assert rows(db, MailMessage) == [] and rows(db, IntakeItem) == []
    assert_consistent(db)  # the .eml that fitted is a complete blob (reused by the retry), nothing partial
    disk.full = False
    with smtplib.SMTP(settings.host, settings.port, timeout=30) as smtp:
        assert smtp.sendmail("buchhaltung@musterbau.example", [f"rechnung@{INTAKE_DOMAIN}"], raw) == {}
    assert len(rows(db, MailMessage)) == 1 and [i.file_name for i in rows(db, IntakeItem)] == ["RE-VOLL-5.xml"]
    assert_consistent(db)


# --- a real server whose file size limit is lowered from outside -------------------------------------------

def test_real_server_with_a_file_size_limit(db, tmp_path):
    import http.client

    from procs import db_env, start_server, stop

    if not hasattr(resource, "prlimit"):
        pytest.skip("prlimit needs Linux")
    port, process = start_server(db_env(db, EINVOICE_API_TOKEN="x" * 32), tmp_path / "serve.log")
    limit = 4 * 1024 * 1024
    padding = b"<!--" + b"x" * (limit + 512 * 1024) + b"-->"  # a comment after the root: the file is larger
    data = ubl_invoice(number="RE-VOLL-6") + padding

    def post(body: bytes, content_type: str = "application/xml") -> tuple[int, bytes, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            conn.request("POST", "/api/v1/invoices", body=body, headers={"Content-Type": content_type})
            response = conn.getresponse()
            return response.status, response.read(), dict(response.getheaders())
        finally:
            conn.close()

    try:
        resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))  # EFBIG past 4 MB
        status, body, headers = post(data)
        assert status == 503, body[:500]
        assert b"storage full" in body and "retry-after" in {k.lower() for k in headers}
        assert rows(db, IntakeItem) == [] and stray_files(db.blobs.root) == []
        # the upload page: the multipart parser spools a file over 1 MB to a temporary file first, which
        # hits the limit before the blob store does: the same 503, in German
        boundary = "websec-grenze"
        form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"gross.xml\"\r\n"
                f"Content-Type: application/xml\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("POST", "/upload", body=form,
                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        page = conn.getresponse()
        text = page.read().decode("utf-8", "replace")
        conn.close()
        assert page.status == 503 and "Speicher des Rechnungseingangs ist im Moment voll" in text, text[:500]
        assert rows(db, IntakeItem) == [] and stray_files(db.blobs.root) == []
        assert process.poll() is None  # the server lives on (SIGXFSZ is ignored by Python)
        resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))  # space
        status, body, _ = post(data)
        assert status == 202, body[:500]
        [item] = rows(db, IntakeItem)
        assert item.size == len(data) and db.blobs.verify(item.sha256)
        assert_consistent(db)
    finally:
        stop([process])
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert "storage full" in log
