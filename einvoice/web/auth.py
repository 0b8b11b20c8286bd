"""Access to the read API (a bearer token) and the suppliers' status links (an HMAC per item).

**Read API** (``GET /api/v1/invoices…``): ``Authorization: Bearer <token>`` where the token is the
environment variable ``EINVOICE_API_TOKEN``, compared in constant time. Without the variable the
read endpoints answer **503 "API token not configured"**: they are never open. A missing or wrong
token gets 401 with ``WWW-Authenticate: Bearer``. The variable is read on every request, so a new
token takes effect without a restart. Use a long random value (``python -c "import secrets;
print(secrets.token_urlsafe(32))"``); a token shorter than 16 characters is logged as a warning.

**Status links** (``/status/<id>/<token>``): `einvoice.intake.status_token` (shared with the
receipt mails): HMAC-SHA256 over the item's ``uid`` (a random UUID) keyed with
``EINVOICE_SECRET_KEY``, first 32 hex digits (128 bits): unguessable, nothing stored. Without the
variable a random key is generated once and kept in ``<data dir>/web-secret-key`` (mode 0600), so
links survive restarts of a single server; several servers (PostgreSQL deployments) must share one
``EINVOICE_SECRET_KEY``. Changing the key invalidates every status link sent so far.
"""

from __future__ import annotations

import hmac
import logging
from pathlib import Path

from fastapi import Request

from ..config import setting
from ..intake.status_token import SECRET_KEY_ENV, status_token, verify_status_token

__all__ = ["API_TOKEN_ENV", "SECRET_KEY_ENV", "AuthError", "StatusTokens", "check_api_token", "configured_api_token"]

API_TOKEN_ENV = "EINVOICE_API_TOKEN"
MIN_TOKEN_LENGTH = 16

log = logging.getLogger("einvoice.web")


class AuthError(Exception):
    def __init__(self, status_code: int, message: str):
        super().__init__(message)
        self.status_code = status_code
        self.message = message


_warned_short = False


def configured_api_token() -> str | None:
    token = setting(API_TOKEN_ENV, "").strip()
    return token or None


def check_api_token(request: Request) -> None:
    """Raise `AuthError` (503 unconfigured, 401 missing/wrong) unless the request carries the API token."""
    global _warned_short
    expected = configured_api_token()
    if expected is None:
        raise AuthError(503, f"API token not configured: set {API_TOKEN_ENV} to enable the read API")
    if len(expected) < MIN_TOKEN_LENGTH and not _warned_short:
        _warned_short = True
        log.warning("%s is shorter than %d characters: use a long random token", API_TOKEN_ENV, MIN_TOKEN_LENGTH)
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise AuthError(401, "missing bearer token")
    if not hmac.compare_digest(given.strip().encode("utf-8"), expected.encode("utf-8")):
        raise AuthError(401, "wrong bearer token")


class StatusTokens:
    """Makes and checks the per-item tokens of the suppliers' status links (`einvoice.intake.status_token`:
    the same tokens the receipt mails carry)."""

    def __init__(self, data_dir: Path, key: str | bytes | None = None):
        self._data_dir = Path(data_dir)
        self._key = key

    def token(self, uid: str) -> str:
        return status_token(uid, self._key, data_dir=self._data_dir)

    def check(self, uid: str, token: str) -> bool:
        return verify_status_token(uid, token, self._key, data_dir=self._data_dir)
