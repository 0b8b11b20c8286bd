"""The exceptions UI routes raise; `install` turns them into pages (never a stack trace)."""

from __future__ import annotations


class UiError(Exception):
    """A German error page with ``status``."""

    def __init__(self, status: int, title: str, text: str):
        super().__init__(text)
        self.status, self.title, self.text = status, title, text


class LoginRequired(Exception):
    """No (valid) session: pages redirect to ``/login?next=<path>``."""

    def __init__(self, next_path: str):
        super().__init__(next_path)
        self.next_path = next_path


NOT_FOUND = ("Nicht gefunden", "Diese Rechnung gibt es nicht, oder sie gehört nicht zu Ihren Organisationseinheiten.")
FORBIDDEN = ("Kein Zugriff", "Für diese Seite fehlt Ihnen die nötige Rolle.")
