"""No stack traces to clients. An exception inside a UI route, an API route, a POST after its CSRF check,
and inside the access checks themselves gives the German 500 page or ``{"error": "internal error",
"reference": …}`` — no traceback, file path, exception text or class — while the log has the reference
with the traceback. Malformed JSON, wrong types, huge numbers and query parameters, unknown methods and
odd bytes get 4xx answers of the same kind, never a 500."""

from __future__ import annotations

import logging
import re

import pytest

pytest.register_assert_rewrite("websec_data")
from websec_data import AUTH  # noqa: E402

pytest_plugins = ["pg", "websec_data"]
SECRET = "geheimes-detail /srv/einvoice/einvoice/intern.py line 42"
LEAKS = ("Traceback", 'File "', ".py", "/srv/", "site-packages", "geheimes-detail", "RuntimeError", "Exception",
         "sqlalchemy", "psycopg", "sqlite3", "OverflowError")
ADMIN = {**AUTH, "X-Einvoice-User": "admin-a"}


def no_leak(answer) -> None:
    for text in LEAKS:
        assert text not in answer.text, f"{text!r} in the answer: {answer.text[:500]}"


def _raise(*args, **kwargs):
    raise RuntimeError(SECRET)


@pytest.mark.parametrize(("target", "user", "method", "path", "kind"), [
    ("einvoice.web.ui.invoice.load_invoice", "approver-a", "GET", "/rechnungen/{A}", "html"),
    ("einvoice.web.ui.access._load", "approver-a", "GET", "/aufgaben", "html"),  # inside the login check
    ("einvoice.web.ui.kaemmerei._create_batch", "kaemmerei-a", "POST", "/kaemmerei/buchungsstapel", "html"),
    ("einvoice.web.api_workflow._read", None, "GET", "/api/v1/invoices/{A}/approval", "json"),
    ("einvoice.web.actor._load_user", None, "GET", "/api/v1/tasks", "json"),  # inside the acting-user check
    ("einvoice.web.api._load_page", None, "GET", "/api/v1/invoices", "json"),
], ids=lambda value: value if isinstance(value, str) and value.startswith("einvoice") else None)
def test_an_exception_becomes_a_500_with_a_reference(sec_world, monkeypatch, caplog, target, user, method, path, kind):
    monkeypatch.setattr(target, _raise)
    client = sec_world.client(user, raise_server_exceptions=False)
    data = {"csrf": sec_world.csrf[user], "format": "csv"} if method == "POST" else None
    before = sec_world.snapshot()
    with caplog.at_level(logging.ERROR, logger="einvoice.web"):
        answer = client.request(method, path.format(A=sec_world.items["A"]), data=data,
                                headers=ADMIN if kind == "json" else None)
    assert answer.status_code == 500
    no_leak(answer)
    if kind == "json":
        body = answer.json()
        assert set(body) == {"error", "reference"} and body["error"] == "internal error"
        reference = body["reference"]
    else:
        assert "Technischer Fehler" in answer.text and '<html lang="de">' in answer.text
        reference = re.search(r"\b[0-9a-f]{12}\b", answer.text).group(0)
        assert reference in answer.text
    record = next(r for r in caplog.records if reference in r.getMessage())
    assert record.exc_info and SECRET in str(record.exc_info[1])  # the log has the whole story
    assert sec_world.snapshot() == before


BAD_REQUESTS = [  # (user, method, path, kwargs, status, kind)
    (None, "PUT", "/api/v1/matching/rules", {"content": b'{"rules": [nicht json', "headers": {
        **ADMIN, "Content-Type": "application/json"}}, 422, "json"),
    (None, "PUT", "/api/v1/matching/rules", {"json": {"rules": "keine Liste"}, "headers": ADMIN}, 422, "json"),
    (None, "PUT", "/api/v1/workflows", {"content": b"\xff\xfe\x00", "headers": {
        **ADMIN, "Content-Type": "application/json"}}, 400, "json"),
    (None, "POST", "/api/v1/invoices/{A}/approval/approve", {"json": {"expected_version": "eins"}, "headers": ADMIN},
     422, "json"),
    (None, "POST", "/api/v1/exports/payments", {"json": {"execution_date": "31.12.2026"}, "headers": ADMIN}, 422,
     "json"),
    (None, "GET", "/api/v1/invoices/abc", {"headers": AUTH}, 422, "json"),
    (None, "GET", "/api/v1/invoices/99999999999999999999", {"headers": AUTH}, 404, "json"),
    (None, "GET", "/api/v1/exports/payments/99999999999999999999", {"headers": ADMIN}, 404, "json"),
    (None, "GET", "/api/v1/invoices?page=abc", {"headers": AUTH}, 422, "json"),
    (None, "GET", "/api/v1/invoices?sender=" + "x" * 20000, {"headers": AUTH}, 422, "json"),
    (None, "GET", "/api/v1/deadlines?before=2026-13-45", {"headers": AUTH}, 422, "json"),
    (None, "GET", "/api/v1/invoices?state=erfunden", {"headers": AUTH}, 422, "json"),
    (None, "POST", "/api/v1/invoices", {"content": b"--x\r\nkaputt", "headers": {
        "Content-Type": "multipart/form-data; boundary=x"}}, 400, "json"),
    (None, "FOO", "/api/v1/invoices", {"headers": AUTH}, 405, "json"),
    (None, "TRACE", "/api/v1/invoices", {"headers": AUTH}, 405, "json"),
    ("approver-a", "GET", "/rechnungen/abc", {}, 400, "html"),
    ("approver-a", "GET", "/rechnungen/99999999999999999999", {}, 404, "html"),
    ("approver-a", "GET", "/rechnungen/99999999999999999999/original", {}, 404, "html"),
    ("kaemmerei-a", "GET", "/kaemmerei/zahllaeufe/99999999999999999999/datei", {}, 404, "html"),
    ("approver-a", "GET", "/aufgaben?suche=" + "x" * 20000 + "&seite=99999999999999999999", {}, 200, "html"),
    ("approver-a", "GET", "/aufgaben?betrag_von=1e999999&einheit=%00%ff", {}, 200, "html"),
    ("approver-a", "TRACE", "/aufgaben", {}, 405, "html"),
    ("approver-a", "POST", "/logout", {"content": b"csrf=\xff\xfe%%%", "headers": {
        "Content-Type": "application/x-www-form-urlencoded"}}, 403, "html"),
    ("approver-a", "POST", "/logout", {"content": b"--x\r\nkaputt", "headers": {
        "Content-Type": "multipart/form-data; boundary=x"}}, 403, "html"),
    (None, "GET", "/status/1/" + "z" * 5000, {}, 404, "html"),
    (None, "GET", "/%2e%2e/%2e%2e/etc/passwd", {}, 404, "html"),
]


@pytest.mark.parametrize(("user", "method", "path", "kwargs", "status", "kind"), BAD_REQUESTS,
                         ids=[f"{case[1]} {case[2][:60]} {case[4]}" for case in BAD_REQUESTS])
def test_bad_requests_get_a_4xx_without_internals(sec_world, caplog, user, method, path, kwargs, status, kind):
    client = sec_world.client(user, raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR):
        answer = client.request(method, path.format(A=sec_world.items["A"]), **kwargs)
    assert answer.status_code == status, answer.text[:500]
    no_leak(answer)
    assert answer.headers["content-type"].startswith("application/json" if kind == "json" else "text/html")
    if kind == "json" and status == 422:
        problems = answer.json()["problems"]
        assert problems and all(set(problem) == {"location", "message"} for problem in problems)  # no echo of input
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "a bad request is no server error"
