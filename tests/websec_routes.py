"""The access rule of every route of the web app, with its probe (tests/websec_access.py: principals,
policies, `expected`; tests/websec_matrix.py runs them).

A probe is the request (path parameters, form or JSON) an allowed principal sends. Probes of changing
routes are chosen so that the request passes the access check and is then refused by the route's own
validation (a missing reason, a stale state, an existing key): the expected status ``ok`` shows the
check was passed while nothing changes, so the same request also shows that the refused principals
changed nothing. The few routes without such a refusal (reloading rules or workflows from their files)
are marked ``changes``.
"""

from __future__ import annotations

from websec_access import MAKERS, OFFICE, VIEWERS, Rule

# --- probes ---------------------------------------------------------------------------------------------

def _item(w, p, side):
    return {"item_id": w.items[side]}


def _decide_ui(w, p, side):
    case_id, version = w.case_version(w.items[side])
    return {"item_id": w.items[side], "action": "zurueckgeben",
            "data": {"expected_version": str(version), "case_id": str(case_id), "reason": "Rückfrage"}}


def _decide_api(w, p, side):
    case_id, version = w.case_version(w.items[side])
    return {"item_id": w.items[side], "action": "return", "json": {"expected_version": version, "reason": "Rückfrage"}}


def _form(**data):
    return lambda w, p, side: {"data": data}


def _queue(**extra):
    return lambda w, p, side: {"item_id": w.items["queue"], **extra}


def _batch(name: str, **extra):
    return lambda w, p, side: {"batch_id": w.batches[name], **extra}


def _run(name: str, **extra):
    return lambda w, p, side: {"run_id": w.runs[name], **extra}


RULES: dict[tuple[str, str], Rule] = {
    # public: upload form and receipt, status page, health, assets, API schema, API submit
    ("GET", "/"): Rule("public"), ("GET", "/upload"): Rule("public"),
    ("POST", "/upload"): Rule("public", 400, probe=_form(email="")),  # no file chosen: the form again
    ("GET", "/status/{item_id}/{token}"): Rule("status", probe=lambda w, p, side: {
        "item_id": w.items["A"], "token": w.status_token if p.status_link else "0" * 32}),
    ("GET", "/favicon.ico"): Rule("public", 204), ("GET", "/healthz"): Rule("public"),
    ("GET", "/static/ui.css"): Rule("public"), ("GET", "/api/v1/openapi.json"): Rule("public"),
    ("GET", "/livez"): Rule("public"), ("GET", "/readyz"): Rule("public"),
    ("GET", "/metrics"): Rule("public", 403),  # only from loopback or with its own token, never the API token
    ("POST", "/api/v1/invoices"): Rule("public", 400, probe=lambda w, p, side: {
        "content": b"", "headers": {"Content-Type": "application/xml"}}),  # empty: nothing kept
    # login
    ("GET", "/login"): Rule("login-form"),
    ("POST", "/login"): Rule("session-csrf", 401, probe=_form(username="niemand", password="falsch-falsch-1")),
    ("POST", "/logout"): Rule("session-csrf", 303, changes=True),  # counts the session epoch up
    ("GET", "/login/oidc"): Rule("off"), ("GET", "/login/oidc/callback"): Rule("off"),
    # staff UI
    ("GET", "/aufgaben"): Rule("ui"),
    ("GET", "/rechnungen/{item_id}"): Rule("ui", scoped=True, probe=_item),
    ("GET", "/rechnungen/{item_id}/original"): Rule("ui", scoped=True, probe=_item),
    ("GET", "/rechnungen/{item_id}/ansicht"): Rule("ui", scoped=True, probe=_item),
    ("POST", "/rechnungen/{item_id}/{action}"): Rule("ui", 409, scoped=True, decide=True, probe=_decide_ui),
    ("GET", "/rechnungen/{item_id}/audit.json"): Rule("ui", roles=("admin", "kaemmerei"), probe=_item),
    ("GET", "/eingang"): Rule("ui", roles=OFFICE),
    ("POST", "/eingang/{item_id}/zuordnen"): Rule("ui", 422, roles=OFFICE, probe=_queue(
        data={"kostenstelle": "", "reason": ""})),
    ("POST", "/eingang/{item_id}/ablehnen"): Rule("ui", 422, roles=OFFICE, probe=_queue(data={"reason": ""})),
    ("GET", "/eingang/{item_id}/mail"): Rule("ui", roles=OFFICE, probe=_queue()),
    ("GET", "/kaemmerei"): Rule("ui", roles=VIEWERS),
    ("POST", "/kaemmerei/archiv"): Rule("ui", 503, roles=MAKERS),  # no archive target configured
    ("POST", "/kaemmerei/buchungsstapel"): Rule("ui", 422, roles=MAKERS, probe=_form(format="exe")),
    ("POST", "/kaemmerei/buchungsstapel/{batch_id}/gebucht"): Rule("ui", 409, roles=MAKERS, probe=_batch("cancelled")),
    ("POST", "/kaemmerei/buchungsstapel/{batch_id}/stornieren"): Rule("ui", 422, roles=MAKERS, probe=_batch(
        "created", data={"reason": ""})),
    ("GET", "/kaemmerei/buchungsstapel/{batch_id}/datei"): Rule("ui", roles=VIEWERS, probe=_batch("created")),
    ("POST", "/kaemmerei/zahllaeufe"): Rule("ui", 422, roles=MAKERS, probe=_form(ausfuehrung="morgen")),
    ("GET", "/kaemmerei/zahllaeufe/{run_id}/datei"): Rule("ui", roles=VIEWERS, probe=_run("created")),
    ("GET", "/verwaltung"): Rule("ui", roles=("admin",)),
    ("GET", "/verwaltung/stammdaten"): Rule("ui", roles=("admin",)),
    ("GET", "/verwaltung/stammdaten/{kind}"): Rule("ui", roles=("admin",), probe=lambda w, p, side: {"kind": "units"}),
    ("POST", "/verwaltung/stammdaten/{kind}/import"): Rule("ui", 422, roles=("admin",), probe=lambda w, p, side: {
        "kind": "units", "data": {}}),  # no file
    ("GET", "/verwaltung/stammdaten/{kind}/export"): Rule("ui", roles=("admin",), probe=lambda w, p, side: {
        "kind": "units"}),
    ("POST", "/verwaltung/benutzer/{username:path}/passwort"): Rule("ui", 422, roles=("admin",), probe=lambda w, p, s: {
        "username": "m.mueller", "data": {"password": "kurz"}}),
    ("POST", "/verwaltung/benutzer/{username:path}/aktiv"): Rule("ui", 422, roles=("admin",), probe=lambda w, p, side: {
        "username": p.user or "admin-a", "data": {"active": "nein"}}),  # one's own account: refused
    ("GET", "/verwaltung/zuordnung"): Rule("ui", roles=("admin",)),
    ("POST", "/verwaltung/zuordnung/neu-laden"): Rule("ui", roles=("admin",), changes=True),
    ("POST", "/verwaltung/zuordnung/neu-berechnen"): Rule("ui", roles=("admin",), changes=True),
    ("GET", "/verwaltung/workflows"): Rule("ui", roles=("admin",)),
    ("POST", "/verwaltung/workflows/neu-laden"): Rule("ui", roles=("admin",), changes=True),
    ("GET", "/verwaltung/regelpakete"): Rule("ui", roles=("admin",)),
    ("GET", "/verwaltung/auftraege"): Rule("ui", roles=("admin",)),
    ("POST", "/verwaltung/auftraege/{job_id}/erneut"): Rule("ui", 409, roles=("admin",), probe=lambda w, p, side: {
        "job_id": 999999}),  # no such dead job
}


def _json(data):
    return lambda w, p, side: {"json": data}


def _row(w, kind: str) -> dict:
    """The first row of a master data kind as the API shows it (cached on the world)."""
    key = ("masterdata", kind)
    if key not in w.cache:
        from websec_data import AUTH

        answer = w.request("GET", f"/api/v1/masterdata/{kind}", params={"per_page": 1}, headers=AUTH)
        w.cache[key] = answer.json()["items"][0]
    return w.cache[key]


def _key(w, kind: str) -> str:
    from einvoice.routing.masterdata.service import key_text

    return key_text(kind, _row(w, kind))


def _masterdata_rules() -> dict[tuple[str, str], Rule]:
    from einvoice.routing.masterdata.kinds import KINDS

    rules = {}
    for kind in KINDS:
        base, first = f"/api/v1/masterdata/{kind.name}", kind.key[0]
        rules.update({
            ("GET", base): Rule("api-token"), ("GET", f"{base}.csv"): Rule("api-token"),
            ("GET", base + "/{key:path}"): Rule("api-token", probe=lambda w, p, side, k=kind.name: {"key": _key(w, k)}),
            # an invalid CSV: 422, nothing written
            ("POST", f"{base}/import"): Rule("api-user", 422, roles=("admin",), probe=lambda w, p, side: {
                "content": "gibt;es;nicht\n1;2;3\n".encode(), "headers": {"Content-Type": "text/csv"}}),
            # the existing first row again: 409
            ("POST", base): Rule("api-user", 409, roles=("admin",), probe=lambda w, p, side, k=kind.name: {
                "json": _row(w, k)}),
            # a key column cannot change: 422
            ("PUT", base + "/{key:path}"): Rule("api-user", 422, roles=("admin",), probe=lambda w, p, side, k=kind.name,
                                                 c=first: {"key": _key(w, k), "json": {c: f"{_row(w, k)[c]}-x"}}),
        })
    return rules


RULES.update({
    ("GET", "/api/v1/invoices"): Rule("api-token"),
    ("GET", "/api/v1/invoices/{item_id}"): Rule("api-token", probe=_item),
    ("GET", "/api/v1/invoices/{item_id}/audit"): Rule("api-user", roles=("admin", "kaemmerei"), probe=_item),
    ("GET", "/api/v1/masterdata"): Rule("api-token"),
    **_masterdata_rules(),
    ("GET", "/api/v1/matching/rules"): Rule("api-token"),
    ("PUT", "/api/v1/matching/rules"): Rule("api-user", 422, roles=("admin",), probe=_json(
        {"rules": [{"name": "x", "key": "buyer_reference", "pattern": "X*", "unit": "gibt-es-nicht"}]})),
    ("POST", "/api/v1/matching/rules/seed"): Rule("api-user", roles=("admin",), changes=True),
    ("GET", "/api/v1/matching/queue"): Rule("api-token"),
    ("GET", "/api/v1/invoices/{item_id}/matching"): Rule("api-token", probe=_item),
    ("POST", "/api/v1/invoices/{item_id}/match"): Rule("api-user", 409, roles=OFFICE, probe=_item),  # in approval
    ("POST", "/api/v1/matching/rerun"): Rule("api-user", roles=("admin",), changes=True,
                                             probe=_json({"item_ids": [0]})),
    ("POST", "/api/v1/invoices/{item_id}/assignment"): Rule("api-user", 422, roles=OFFICE, probe=lambda w, p, side: {
        "item_id": w.items["queue"], "json": {"cost_centre": "gibt-es-nicht", "reason": "Test"}}),
    ("GET", "/api/v1/workflows"): Rule("api-token"),
    ("PUT", "/api/v1/workflows"): Rule("api-user", 422, roles=("admin",), probe=_json(
        {"workflows": [{"name": "x", "steps": [{"kind": "gibt-es-nicht"}]}]})),
    ("POST", "/api/v1/workflows/seed"): Rule("api-user", roles=("admin",), changes=True),
    ("GET", "/api/v1/tasks"): Rule("api-user"),
    ("GET", "/api/v1/invoices/{item_id}/approval"): Rule("api-token", probe=_item),
    ("POST", "/api/v1/invoices/{item_id}/approval/start"): Rule("api-user", 409, roles=OFFICE, probe=_item),  # running
    ("POST", "/api/v1/invoices/{item_id}/approval/{action}"): Rule("api-user", 409, decide=True, probe=_decide_api),
    ("GET", "/api/v1/deadlines"): Rule("api-token"),
    ("GET", "/api/v1/invoices/{item_id}/deadlines"): Rule("api-token", probe=_item),
    ("GET", "/api/v1/metrics/skonto"): Rule("api-token"),
    ("POST", "/api/v1/exports/bookings"): Rule("api-user", 422, roles=MAKERS,
                                               probe=_json({"mapping": "gibt-es-nicht"})),
    ("GET", "/api/v1/exports/bookings"): Rule("api-user", roles=VIEWERS),
    ("GET", "/api/v1/exports/bookings/{batch_id}"): Rule("api-user", roles=VIEWERS, probe=_batch("created")),
    ("GET", "/api/v1/exports/bookings/{batch_id}/file"): Rule("api-user", roles=VIEWERS, probe=_batch("created")),
    ("POST", "/api/v1/exports/bookings/{batch_id}/booked"): Rule("api-user", 409, roles=MAKERS,
                                                                 probe=_batch("cancelled")),
    ("POST", "/api/v1/exports/bookings/{batch_id}/cancel"): Rule("api-user", 422, roles=MAKERS,
                                                                 probe=_batch("created", json={})),  # no reason
    ("POST", "/api/v1/exports/payments"): Rule("api-user", 422, roles=MAKERS,
                                               probe=_json({"execution_date": "2000-01-03"})),  # in the past
    ("GET", "/api/v1/exports/payments"): Rule("api-user", roles=VIEWERS),
    ("GET", "/api/v1/exports/payments/{run_id}"): Rule("api-user", roles=VIEWERS, probe=_run("created")),
    ("GET", "/api/v1/exports/payments/{run_id}/file"): Rule("api-user", roles=VIEWERS, probe=_run("created")),
    ("POST", "/api/v1/exports/payments/{run_id}/cancel"): Rule("api-user", 409, roles=MAKERS,
                                                               probe=_run("cancelled", json={"reason": "Test"})),
    ("POST", "/api/v1/archive"): Rule("api-user", 503, roles=MAKERS),  # no archive target configured
    ("GET", "/api/v1/archive"): Rule("api-token"),
    ("POST", "/api/v1/archive/verify"): Rule("api-user", 503, roles=MAKERS),
    ("GET", "/api/v1/invoices/{item_id}/archive"): Rule("api-token", probe=_item),
})
