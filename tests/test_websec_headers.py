"""Security headers on every kind of response: UI pages, the readable view, downloads, the login page,
redirects, the public upload and status pages, API JSON, every error (400, 401, 403, 404, 405, 413, 415,
422, 500) in both the HTML and the JSON flavour, health, the stylesheet. Each carries a Content-Security-
Policy without script or inline allowances and with ``frame-ancestors 'none'``, ``nosniff``,
``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer`` and no ``Server``/``X-Powered-By``; all but
the stylesheet and the favicon ``Cache-Control: no-store``. A real ``einvoice serve`` sends no Server
header either (uvicorn would name itself)."""

from __future__ import annotations

from dataclasses import replace

import pytest

pytest.register_assert_rewrite("websec_data")
from websec_data import AUTH  # noqa: E402

pytest_plugins = ["pg", "websec_data"]
CACHEABLE = ("/static/ui.css", "/favicon.ico")


def check_headers(answer, path: str) -> None:
    headers = answer.headers
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("x-frame-options") == "DENY" and headers.get("referrer-policy") == "no-referrer"
    csp = {part.strip().split(" ")[0]: part.strip() for part in headers["content-security-policy"].split(";")}
    assert csp["default-src"] == "default-src 'none'"
    assert csp["frame-ancestors"] == "frame-ancestors 'none'" and csp["base-uri"] == "base-uri 'none'"
    assert "form-action" in csp
    policy = headers["content-security-policy"]
    assert "unsafe-" not in policy and "*" not in policy and "http:" not in policy
    assert "script-src" not in csp or csp["script-src"] == "script-src 'none'"
    assert "server" not in headers and "x-powered-by" not in headers
    if path not in CACHEABLE:
        assert "no-store" in headers.get("cache-control", ""), headers.get("cache-control")
    if headers.get("content-type", "").startswith("text/html"):
        assert "charset=utf-8" in headers["content-type"]


def _kinds(w) -> list[tuple[str, str, str, dict, int]]:
    """(user, method, path, request kwargs, expected status) of each kind of response."""
    item, foreign = w.items["A"], w.items["B"]
    token = w.csrf["approver-a"]
    return [
        ("approver-a", "GET", "/aufgaben", {}, 200), ("approver-a", "GET", f"/rechnungen/{item}", {}, 200),
        ("approver-a", "GET", f"/rechnungen/{item}/ansicht", {}, 200),
        ("approver-a", "GET", f"/rechnungen/{item}/original", {}, 200),
        ("kaemmerei-a", "GET", f"/kaemmerei/buchungsstapel/{w.batches['created']}/datei", {}, 200),
        ("rechnungseingang-a", "GET", f"/eingang/{w.items['queue']}/mail", {}, 200),
        (None, "GET", "/login", {}, 200), (None, "GET", "/aufgaben", {}, 303),
        ("approver-a", "POST", "/logout", {"data": {"csrf": token}}, 303),
        ("approver-a", "POST", f"/rechnungen/{item}/kommentieren", {"data": {"reason": "x"}}, 403),  # no CSRF token
        ("kasse-a", "GET", "/verwaltung", {}, 403), ("approver-b", "GET", f"/rechnungen/{item}", {}, 404),
        ("approver-a", "GET", f"/rechnungen/{foreign}/original", {}, 404), (None, "GET", "/gibt-es-nicht", {}, 404),
        ("approver-a", "DELETE", "/aufgaben", {}, 405), ("approver-a", "GET", "/rechnungen/abc", {}, 400),
        (None, "GET", "/", {}, 200), (None, "GET", "/upload", {}, 200),
        (None, "POST", "/upload", {"data": {"email": "keine-adresse"}}, 400),
        (None, "GET", f"/status/{item}/{w.status_token}", {}, 200),
        (None, "GET", f"/status/{item}/{w.status_token}", {"headers": {"Accept": "application/json"}}, 200),
        (None, "GET", f"/status/{item}/{'0' * 32}", {}, 404), (None, "GET", "/healthz", {}, 200),
        (None, "GET", "/static/ui.css", {}, 200), (None, "GET", "/favicon.ico", {}, 204),
        (None, "GET", "/api/v1/openapi.json", {}, 200),
        (None, "GET", "/api/v1/invoices", {"headers": AUTH}, 200), (None, "GET", f"/api/v1/invoices/{item}", {}, 401),
        (None, "GET", "/api/v1/exports/bookings", {"headers": {**AUTH, "X-Einvoice-User": "approver-a"}}, 403),
        (None, "GET", "/api/v1/invoices/999999", {"headers": AUTH}, 404),
        (None, "DELETE", "/api/v1/invoices", {"headers": AUTH}, 405),
        (None, "GET", "/api/v1/invoices?page=0", {"headers": AUTH}, 422),
        (None, "POST", "/api/v1/invoices", {"content": b"x", "headers": {"Content-Type": "text/plain"}}, 415),
        (None, "POST", "/api/v1/invoices", {"content": b"", "headers": {"Content-Type": "application/xml"}}, 400),
        (None, "GET", f"/api/v1/exports/bookings/{w.batches['created']}/file",
         {"headers": {**AUTH, "X-Einvoice-User": "kaemmerei-a"}}, 200),
    ]


def test_every_kind_of_response_carries_the_headers(sec_world):
    for user, method, path, kwargs, status in _kinds(sec_world):
        answer = sec_world.request(method, path, user=user, **kwargs)
        assert answer.status_code == status, (method, path, answer.status_code, answer.text[:200])
        check_headers(answer, path)


def test_413_in_both_flavours(sec_world):
    from fastapi.testclient import TestClient

    from einvoice.web.app import create_app

    small = replace(sec_world.app.state.web.settings, max_xml_bytes=1000, max_pdf_bytes=1000)
    client = TestClient(create_app(settings=small, db=sec_world.db), follow_redirects=False)
    big = b"<Invoice>" + b"x" * (2 * 1024 * 1024) + b"</Invoice>"
    cases = [("/api/v1/invoices", {"content": big, "headers": {"Content-Type": "application/xml"}}, "application/json"),
             ("/upload", {"files": {"files": ("gross.xml", big, "application/xml")}}, "text/html"),
             ("/logout", {"content": big, "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
              "text/html")]
    for path, kwargs, kind in cases:
        answer = client.post(path, **kwargs)
        assert answer.status_code == 413 and answer.headers["content-type"].startswith(kind), path
        check_headers(answer, path)


def test_500_in_both_flavours(sec_world, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("kaputt")

    monkeypatch.setattr("einvoice.web.ui.inbox._inbox", broken)
    monkeypatch.setattr("einvoice.web.api_workflow._tasks", broken)
    page = sec_world.client("approver-a", raise_server_exceptions=False).get("/aufgaben")
    api = sec_world.client(raise_server_exceptions=False).get(
        "/api/v1/tasks", headers={**AUTH, "X-Einvoice-User": "approver-a"})
    assert page.status_code == api.status_code == 500
    check_headers(page, "/aufgaben")
    check_headers(api, "/api/v1/tasks")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the server's headers do not depend on the backend
def test_a_real_server_names_no_software(db, tmp_path):
    import http.client

    from procs import db_env, start_server, stop

    port, process = start_server(db_env(db), tmp_path / "serve.log")
    try:
        for method, path in (("GET", "/"), ("GET", "/gibt-es-nicht"), ("GET", "/api/v1/invoices"),
                             ("DELETE", "/upload"), ("GET", "/static/ui.css")):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request(method, path)
            answer = conn.getresponse()
            answer.read()
            names = {name.lower() for name, _ in answer.getheaders()}
            conn.close()
            assert "server" not in names and "x-powered-by" not in names, (path, names)
            assert "content-security-policy" in names and "x-content-type-options" in names, path
    finally:
        stop([process])
