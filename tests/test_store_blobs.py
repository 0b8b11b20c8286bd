"""The content-addressed blob store: exact bytes back, crash-safe writes, corruption detected."""

from __future__ import annotations

import hashlib
import io
import os
import stat

import pytest

from einvoice.store.blobs import BlobCorruptError, BlobNotFoundError, BlobStore


def test_round_trip_keeps_the_exact_bytes(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    data = b"\xef\xbb\xbf<?xml version='1.0'?>\r\n<Invoice>\x00\xff</Invoice>\n"
    sha = store.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert store.path_for(sha) == tmp_path / "blobs" / sha[:2] / sha[2:4] / sha
    assert store.get(sha) == data
    assert store.exists(sha) and store.verify(sha)


def test_same_bytes_twice_is_one_blob_and_no_temp_files_stay(tmp_path):
    store = BlobStore(tmp_path)
    first = store.put(b"abc")
    second = store.put(b"abc")
    assert first == second
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [store.path_for(first)]


def test_blobs_are_read_only(tmp_path):
    store = BlobStore(tmp_path)
    sha = store.put(b"keep me")
    mode = stat.S_IMODE(os.stat(store.path_for(sha)).st_mode)
    assert mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) == 0


def test_empty_input_is_stored_too(tmp_path):
    store = BlobStore(tmp_path)
    sha = store.put(b"")
    assert store.get(sha) == b""


def test_corruption_is_detected_on_read(tmp_path):
    store = BlobStore(tmp_path)
    sha = store.put(b"<Invoice>100.00</Invoice>")
    path = store.path_for(sha)
    path.chmod(0o644)
    path.write_bytes(b"<Invoice>900.00</Invoice>")  # same length, different content
    with pytest.raises(BlobCorruptError, match=sha):
        store.get(sha)
    assert not store.verify(sha)
    assert store.put(b"<Invoice>100.00</Invoice>") == sha  # the same bytes again repair the blob
    assert store.get(sha) == b"<Invoice>100.00</Invoice>"


def test_truncated_blob_is_detected(tmp_path):
    store = BlobStore(tmp_path)
    sha = store.put(b"x" * 10_000)
    path = store.path_for(sha)
    path.chmod(0o644)
    with path.open("r+b") as handle:
        handle.truncate(5_000)
    with pytest.raises(BlobCorruptError):
        store.get(sha)


def test_missing_blob(tmp_path):
    store = BlobStore(tmp_path)
    with pytest.raises(BlobNotFoundError):
        store.get("0" * 64)
    assert not store.verify("0" * 64)


def test_bad_names_are_refused(tmp_path):
    store = BlobStore(tmp_path)
    for name in ("../../etc/passwd", "ABC", "g" * 64, ""):
        with pytest.raises(ValueError):
            store.path_for(name)


def test_put_stream_round_trip(tmp_path):
    store = BlobStore(tmp_path)
    data = os.urandom(3 * 1024 * 1024 + 17)
    sha, size = store.put_stream(io.BytesIO(data))
    assert (sha, size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert store.get(sha) == data
    assert store.put_stream(io.BytesIO(data)) == (sha, size)  # again: no-op
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [sha]


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    store = BlobStore(tmp_path)

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.put(b"half written")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
