"""Helpers of the web UI tests: a TestClient on the `world` of tests/workflow_fixtures.py with passwords,
logging in through the form, and reading the CSRF token of a page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from einvoice.web.app import create_app
from einvoice.web.ui.passwords import set_password

PASSWORD = "richtig-geheim-2026"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_VERSION = re.compile(r'name="expected_version" value="(\d+)"')


def client_for(db, *, users=("a", "b", "c", "d", "s", "k", "r", "adm")) -> TestClient:
    for username in users:
        set_password(db, username, PASSWORD)
    return TestClient(create_app(settings=db.settings, db=db), follow_redirects=False)


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def version_of(html: str) -> str:
    match = _VERSION.search(html)
    assert match, "no expected_version on the page"
    return match.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD, next_path: str = "/aufgaben"):
    form = client.get("/login")
    assert form.status_code == 200, form.text
    return client.post("/login", data={"csrf": csrf_of(form.text), "username": username, "password": password,
                                       "next": next_path})
