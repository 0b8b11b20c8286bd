"""Local passwords (argon2id, `argon2-cffi` defaults) and the login check with lockout.

`authenticate` gives the user or None — never why (no user enumeration: unknown user, wrong password,
locked or deactivated account and an account without a password all look the same to the caller, and
an unknown user costs one argon2 verification too). After ``EINVOICE_LOGIN_MAX_FAILURES`` (5)
consecutive failures the account is locked for ``EINVOICE_LOGIN_LOCK_MINUTES`` (15): ``locked_until``
is set and the counter starts again; while locked even the right password is refused. A good login
resets the counter, records ``last_login_at`` and re-hashes a hash made with older parameters.
"""

from __future__ import annotations

from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select

from ...config import setting
from ...store.masterdata_models import User
from ...store.types import utcnow

MAX_FAILURES_ENV = "EINVOICE_LOGIN_MAX_FAILURES"
LOCK_MINUTES_ENV = "EINVOICE_LOGIN_LOCK_MINUTES"
MIN_LENGTH = 10

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("einvoice-no-such-user")


def _int_env(name: str, default: int) -> int:
    try:
        return max(1, int(setting(name, "") or default))
    except ValueError:
        return default


def max_failures() -> int:
    return _int_env(MAX_FAILURES_ENV, 5)


def lock_minutes() -> int:
    return _int_env(LOCK_MINUTES_ENV, 15)


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise ValueError(f"Das Passwort muss mindestens {MIN_LENGTH} Zeichen lang sein")
    return _hasher.hash(password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def authenticate(db, username: str, password: str) -> User | None:
    """The active user whose password this is (and who is not locked out); records the attempt."""
    username = (username or "").strip()
    with db.transaction() as session:
        user = session.scalars(select(User).where(User.username == username)).one_or_none() if username else None
        if user is None:
            _verify(None, password)  # the same work as for a real user
            return None
        now = utcnow()
        locked = user.locked_until is not None and user.locked_until > now
        ok = _verify(user.password_hash, password)
        if locked or not user.active:
            return None
        if not ok:
            user.failed_logins = (user.failed_logins or 0) + 1
            if user.failed_logins >= max_failures():
                user.locked_until, user.failed_logins = now + timedelta(minutes=lock_minutes()), 0
            return None
        user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        session.flush()
        session.expunge(user)
        return user


def set_password(db, username: str, password: str) -> None:
    """Set a user's password (and unlock the account); `LookupError` for an unknown user."""
    password_hash = hash_password(password)
    with db.transaction() as session:
        user = session.scalars(select(User).where(User.username == username)).one_or_none()
        if user is None:
            raise LookupError(username)
        user.password_hash, user.failed_logins, user.locked_until = password_hash, 0, None
