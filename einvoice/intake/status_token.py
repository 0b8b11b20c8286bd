"""The token of a supplier's status link: ``<EINVOICE_BASE_URL>/status/{id}/{token}``.

``token = HMAC-SHA256(key, "einvoice-status:" + item uid)``, the first 32 hex digits (128 bits):
unguessable, nothing stored. The receipt mail (`einvoice.handoff.mail`) writes the link, the status
page checks it with `verify_status_token` (constant-time). The uid is random (uuid4); the id is the
short number suppliers quote. Knowing an id is not enough to see an item, and changing the key
invalidates every link sent so far.

The key is ``EINVOICE_SECRET_KEY``; without it a random key is generated once and kept in
``<data dir>/web-secret-key`` (mode 0600, created with O_EXCL so concurrent processes agree), so a
single server's links survive restarts. Several servers (PostgreSQL deployments, a worker on another
machine than the web server) must share one ``EINVOICE_SECRET_KEY``.

This is the same algorithm, prefix, length and key file as ``einvoice.web.auth.StatusTokens``
(which can delegate to `status_token`): a link in a receipt opens the status page.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from pathlib import Path

from ..config import setting

SECRET_KEY_ENV = "EINVOICE_SECRET_KEY"
BASE_URL_ENV = "EINVOICE_BASE_URL"
SECRET_KEY_FILE = "web-secret-key"
PREFIX = b"einvoice-status:"
TOKEN_HEX = 32
_TOKEN = re.compile(r"^[0-9a-f]{%d}$" % TOKEN_HEX)

log = logging.getLogger("einvoice.intake")


def _key_from_file(data_dir: Path) -> bytes:
    path = Path(data_dir) / SECRET_KEY_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        out.write(key + b"\n")
        out.flush()
        os.fsync(out.fileno())
    log.info("generated the status-link key %s (set %s to share one key between servers)", path, SECRET_KEY_ENV)
    return key


def secret_key(key: str | bytes | None = None, *, data_dir: Path | str | None = None) -> bytes:
    """The key: the argument, else ``EINVOICE_SECRET_KEY``, else the key file in the data folder."""
    if key is not None:
        value = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    else:
        configured = setting(SECRET_KEY_ENV, "").strip()
        if configured:
            value = configured.encode("utf-8")
        else:
            if data_dir is None:
                from ..config import load_settings

                data_dir = load_settings().data_dir
            value = _key_from_file(Path(data_dir))
    if not value:
        raise RuntimeError("empty status-link key")
    return value


def status_token(uid: str, key: str | bytes | None = None, *, data_dir: Path | str | None = None) -> str:
    """HMAC-SHA256 over the item uid, first 32 hex digits."""
    if not uid:
        raise ValueError("a status token needs the item uid")
    digest = hmac.new(secret_key(key, data_dir=data_dir), PREFIX + uid.encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:TOKEN_HEX]


def verify_status_token(uid: str, token: str, key: str | bytes | None = None, *,
                        data_dir: Path | str | None = None) -> bool:
    if not uid or not isinstance(token, str) or not _TOKEN.match(token):
        return False
    return hmac.compare_digest(status_token(uid, key, data_dir=data_dir).encode(), token.encode())


def base_url() -> str | None:
    value = setting(BASE_URL_ENV, "").strip().rstrip("/")
    return value or None


def status_url(item_id: int, uid: str, *, base: str | None = None, key: str | bytes | None = None,
               data_dir: Path | str | None = None) -> str | None:
    """``<base>/status/{id}/{token}`` (base: ``EINVOICE_BASE_URL``); None when no base URL is configured."""
    base = (base if base is not None else base_url() or "").strip().rstrip("/")
    if not base:
        return None
    return f"{base}/status/{int(item_id)}/{status_token(uid, key, data_dir=data_dir)}"
