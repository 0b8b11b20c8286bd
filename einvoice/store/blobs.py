"""Content-addressed store of every raw input, exactly as received.

Layout: ``<root>/ab/cd/<sha256>`` (first two and next two hex digits of the SHA-256 as folders).

Writing is crash-safe: the bytes go to a temporary file in the target folder, the file is fsynced,
renamed onto its final name (atomic on POSIX) and the folder is fsynced, so after `put` returns
the blob survives a crash or power loss, and a reader never sees a half-written blob. Storing the
same bytes twice is a no-op (a damaged copy is replaced by the good bytes). Blobs are made read-only. Reading verifies the hash: a blob whose
content no longer matches its name raises `BlobCorruptError` instead of handing out wrong bytes.

A full disk (``ENOSPC``, ``EDQUOT``, ``EFBIG``) raises `StorageFull` after the temporary file is removed:
nothing half-written stays; callers answer "try again later" (web intake 503, SMTP 452).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1024 * 1024


class BlobError(Exception):
    pass


class BlobNotFoundError(BlobError, FileNotFoundError):
    pass


class BlobCorruptError(BlobError):
    """The stored bytes do not match their SHA-256 (disk corruption or tampering)."""


class StorageFull(BlobError, OSError):
    """No space left for a blob: nothing of it was kept; the same bytes can be stored once there is space."""


FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def is_storage_full(exc: BaseException | None, depth: int = 0) -> bool:
    """``exc`` or an exception in its chain is a full disk or quota, or a full database (SQLITE_FULL, 53100)."""
    if exc is None or depth > 20:
        return False
    if isinstance(exc, StorageFull) or (isinstance(exc, OSError) and exc.errno in FULL_ERRNOS) \
            or getattr(exc, "sqlite_errorcode", None) == 13 or getattr(exc, "sqlstate", None) == "53100":
        return True
    return is_storage_full(exc.__cause__ or exc.__context__ or getattr(exc, "orig", None), depth + 1)


@contextmanager
def _full_is_storage_full(root: Path):
    try:
        yield
    except OSError as exc:
        if exc.errno in FULL_ERRNOS:
            raise StorageFull(exc.errno, f"no space left in the blob store {root}: {exc.strerror or exc}") from exc
        raise


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    def __init__(self, root: Path | str):
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        if not _SHA256.match(sha256 or ""):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def _make_dirs(self, folder: Path) -> None:
        """Create the folder and fsync each parent whose entries changed."""
        missing = []
        current = folder
        while not current.exists():
            missing.append(current)
            current = current.parent
        for path in reversed(missing):
            try:
                path.mkdir()
            except FileExistsError:
                continue
            _fsync_dir(path.parent)

    def put(self, data: bytes) -> str:
        """Store the bytes durably; return their SHA-256 (hex)."""
        return self._put_chunks([bytes(data)], sha256_hex(data))

    def put_stream(self, stream: BinaryIO) -> tuple[str, int]:
        """Store a (large) stream durably without holding it in memory; return (SHA-256, size)."""
        with _full_is_storage_full(self.root):
            return self._put_stream(stream)

    def _put_stream(self, stream: BinaryIO) -> tuple[str, int]:
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(prefix=".incoming-", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            target = self.path_for(sha)
            if target.is_file() and self.verify(sha):
                os.unlink(tmp_name)
                return sha, size
            self._make_dirs(target.parent)
            os.chmod(tmp_name, 0o444)
            os.replace(tmp_name, target)  # same file system: root and target share it
            _fsync_dir(target.parent)
            _fsync_dir(self.root)
            return sha, size
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise

    def _put_chunks(self, chunks: list[bytes], sha: str) -> str:
        with _full_is_storage_full(self.root):
            return self._write_chunks(chunks, sha)

    def _write_chunks(self, chunks: list[bytes], sha: str) -> str:
        target = self.path_for(sha)
        if target.is_file() and self.verify(sha):
            return sha  # already there and intact (a damaged copy is replaced below)
        folder = target.parent
        self._make_dirs(folder)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp_name, 0o444)
            os.replace(tmp_name, target)
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise
        _fsync_dir(folder)
        return sha

    def get(self, sha256: str) -> bytes:
        """The stored bytes, after checking that they still hash to their name."""
        path = self.path_for(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise BlobNotFoundError(f"blob {sha256} not found in {self.root}") from exc
        actual = sha256_hex(data)
        if actual != sha256:
            raise BlobCorruptError(f"blob {sha256} is corrupt: its content hashes to {actual} ({path})")
        return data

    def verify(self, sha256: str) -> bool:
        """True if the blob is present and intact (streamed; for audits of the whole store)."""
        path = self.path_for(sha256)
        digest = hashlib.sha256()
        try:
            with path.open("rb") as stream:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
        except FileNotFoundError:
            return False
        return digest.hexdigest() == sha256
