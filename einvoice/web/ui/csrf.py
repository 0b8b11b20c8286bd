"""CSRF protection of every UI form: a per-session token (`session.Session.csrf`, random, new at each
login) in a hidden field ``csrf`` that every POST must send back; compared in constant time. A POST
without a session, without the field or with another value gets the 403 page and changes nothing.
GET requests never change anything. SameSite=Lax on the cookie is a second line of defence.
"""

from __future__ import annotations

import hmac

from starlette.datastructures import FormData
from starlette.requests import Request

from .errors import UiError
from .session import get_session

FIELD = "csrf"
MAX_FIELDS = 20


def refused() -> UiError:
    return UiError(403, "Anfrage abgelehnt",
                   "Das Formular war veraltet oder unvollständig (Sicherheitsprüfung fehlgeschlagen). Bitte laden "
                   "Sie die Seite neu und versuchen Sie es noch einmal.")


async def checked_form(request: Request, *, max_files: int = 0) -> FormData:
    """The POSTed form after the CSRF check (`UiError` 403 otherwise); ``max_files``: file fields allowed
    (the admin pages' CSV upload)."""
    session = get_session(request)
    try:
        form = await request.form(max_files=max_files, max_fields=MAX_FIELDS)
    except Exception:
        raise UiError(400, "Ungültige Anfrage", "Das Formular konnte nicht gelesen werden.") from None
    given = form.get(FIELD)
    if session is None or not isinstance(given, str) or not hmac.compare_digest(given.encode(), session.csrf.encode()):
        raise refused()
    return form
