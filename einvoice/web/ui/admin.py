"""``/verwaltung``: the administrators' pages (role ``admin`` only; everybody else gets 403, GET and POST).

- ``GET /verwaltung``: overview with links to the sections.
- ``GET /verwaltung/stammdaten``: the master data kinds (`routing.masterdata.kinds.KINDS`) with their row
  counts. ``GET /verwaltung/stammdaten/{kind}``: the first 200 rows (`masterdata.service.list_rows`), an
  upload form ``POST /verwaltung/stammdaten/{kind}/import`` (CSRF, multipart field ``datei`` →
  `masterdata.importer.import_csv`: all rows or none; the page shows created/updated/unchanged or the
  line-numbered errors) and the export ``GET /verwaltung/stammdaten/{kind}/export`` (the CSV download of
  `export_csv`, UTF-8 with BOM for spreadsheet programs). For users: ``POST
  /verwaltung/benutzer/{username}/passwort`` (field ``password``, `passwords.set_password`: unlocks the
  account and ends the user's sessions) and ``POST /verwaltung/benutzer/{username}/aktiv`` (field
  ``active`` ja|nein; an admin cannot deactivate themselves).
- ``GET /verwaltung/zuordnung``: the matching rules in their order; ``POST …/neu-laden`` replaces them by
  ``rules/routing/matching.toml`` (`matching.rules.seed_rules`), ``POST …/neu-berechnen`` re-runs matching
  for every open item (`matching.service.rerun`) and queues the route jobs (`route.continue_routing`);
  both show their counts.
- ``GET /verwaltung/workflows``: the workflows with steps and thresholds; ``POST …/neu-laden`` replaces
  them by ``rules/routing/workflows.toml`` (`workflow.definitions.load_file` + `replace_workflows`).
- ``GET /verwaltung/regelpakete``: the validation rule packs (`validation.packs.PackRegistry`) in routing
  order with version, origin, validity window and scenario count.
- ``GET /verwaltung/auftraege``: dead jobs (`jobs.queue.dead_jobs`) with the last error, and the mail
  notices needing attention (`handoff.mail.notices_needing_attention`, read-only). ``POST
  /verwaltung/auftraege/{id}/erneut`` (CSRF, field ``reason``): an item in ``failed`` goes through
  processing again (`intake.process.reprocess`: failed → received, a new process job); any other dead
  job is put back in the queue (`jobs.queue.retry`). A dead job already replaced by a newer job of the
  same kind and item offers no button.

Every change is done as ``user:<username>``; results are shown on the page answering the POST.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ...handoff.mail import notices_needing_attention
from ...intake.process import reprocess
from ...intake.states import IllegalTransition
from ...jobs import queue
from ...routing.clock import today
from ...routing.masterdata import service as md
from ...routing.masterdata.csv_io import encode
from ...routing.masterdata.exporter import export_csv
from ...routing.masterdata.importer import import_csv
from ...routing.masterdata.kinds import KIND_MAP, KINDS
from ...routing.matching import rules as matching_rules
from ...routing.matching import service as matching
from ...routing.route import continue_routing
from ...routing.workflow.definitions import load_file, replace_workflows, workflow_dict
from ...routing.workflow.errors import WorkflowError
from ...store.masterdata_models import User
from ...store.models import IntakeItem, ItemState, Job, JobState
from ...store.routing_models import Workflow
from ..context import get_ctx
from .access import page_user, require_role
from .csrf import checked_form
from .errors import UiError
from .invoice import content_disposition
from .invoice_data import ITEM_STATES
from .passwords import MIN_LENGTH, set_password
from .render import page

router = APIRouter(include_in_schema=False)
ROLE = "admin"
ROWS_SHOWN = 200
MAX_CSV_BYTES = 32 * 1024 * 1024
SECTIONS = [  # path, title, description
    ("/verwaltung/stammdaten", "Stammdaten",
     "Organisationseinheiten, Kostenstellen, Benutzer, Lieferanten, Bestellungen … ansehen, als CSV importieren "
     "und exportieren; Passwörter setzen, Benutzer aktivieren und deaktivieren."),
    ("/verwaltung/zuordnung", "Zuordnungsregeln",
     "Die Regeln der automatischen Zuordnung zu Kostenstellen; neu laden und Zuordnung neu berechnen."),
    ("/verwaltung/workflows", "Freigabe-Workflows", "Workflows mit ihren Schritten und Betragsgrenzen; neu laden."),
    ("/verwaltung/regelpakete", "Regelpakete", "Installierte Prüfregeln (Validierung) mit Versionen und Gültigkeit."),
    ("/verwaltung/auftraege", "Fehlgeschlagene Aufträge",
     "Endgültig fehlgeschlagene Hintergrundaufträge erneut versuchen; Benachrichtigungen, die Aufmerksamkeit "
     "brauchen."),
]
JOB_KINDS = {"process": "Verarbeitung", "route": "Zuordnung/Freigabe", "notice": "Benachrichtigung"}


def _actor(user: User) -> str:
    return f"user:{user.username}"


def _render(request: Request, user: User, name: str, *, status_code: int = 200, **values) -> HTMLResponse:
    values.setdefault("done", None)
    values.setdefault("error", None)
    values.setdefault("details", [])
    return page(request, name, user=user, status_code=status_code, sections=SECTIONS, **values)


def _admin(user: User) -> None:
    require_role(user, ROLE)


# --- overview ---------------------------------------------------------------------------------------

@router.get("/verwaltung")
async def overview(request: Request, user: User = Depends(page_user)):
    _admin(user)
    return _render(request, user, "admin.html")


# --- master data ------------------------------------------------------------------------------------

def _kind(name: str):
    spec = KIND_MAP.get(name)
    if spec is None:
        raise UiError(404, "Nicht gefunden", "Diese Art von Stammdaten gibt es nicht.")
    return spec


def _counts(db) -> list[dict]:
    with db.read() as session:
        return [{"name": k.name, "title": k.title,
                 "count": session.scalar(select(func.count()).select_from(k.model))} for k in KINDS]


@router.get("/verwaltung/stammdaten")
async def masterdata_overview(request: Request, user: User = Depends(page_user)):
    _admin(user)
    kinds = await run_in_threadpool(_counts, get_ctx(request).db)
    return _render(request, user, "admin_masterdata.html", kinds=kinds)


def _cell(value) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "ja" if value else "nein"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "–"
    return str(value)


def _kind_data(db, name: str) -> dict:
    spec = _kind(name)
    with db.read() as session:
        total, rows = md.list_rows(session, name, page=1, per_page=ROWS_SHOWN)
        users = {}
        if name == "users":
            for u in session.scalars(select(User)):
                users[u.username] = {"has_password": bool(u.password_hash), "locked_until": u.locked_until,
                                     "last_login_at": u.last_login_at}
    columns = [c.name for c in spec.columns]
    return {"kind": {"name": spec.name, "title": spec.title, "key": list(spec.key)}, "columns": columns,
            "total": total, "rows": [{"values": r, "cells": [_cell(r.get(c)) for c in columns]} for r in rows],
            "accounts": users, "min_length": MIN_LENGTH}


async def _kind_page(request: Request, user: User, name: str, *, status_code: int = 200, **values) -> HTMLResponse:
    data = await run_in_threadpool(_kind_data, get_ctx(request).db, name)
    values.setdefault("result", None)
    return _render(request, user, "admin_kind.html", status_code=status_code, **data, **values)


@router.get("/verwaltung/stammdaten/{kind}")
async def kind_page(kind: str, request: Request, user: User = Depends(page_user)):
    _admin(user)
    _kind(kind)
    return await _kind_page(request, user, kind)


def _import(db, user: User, kind: str, data: bytes):
    with db.transaction() as session:
        return import_csv(session, kind, data, actor=_actor(user))


@router.post("/verwaltung/stammdaten/{kind}/import")
async def kind_import(kind: str, request: Request, user: User = Depends(page_user)):
    _admin(user)
    form = await checked_form(request, max_files=1)
    _kind(kind)
    upload = form.get("datei")
    data = await upload.read(MAX_CSV_BYTES + 1) if isinstance(upload, UploadFile) else b""
    if not data:
        return await _kind_page(request, user, kind, status_code=422,
                                error="Bitte wählen Sie eine CSV-Datei (nicht leer) aus.")
    if len(data) > MAX_CSV_BYTES:
        return await _kind_page(request, user, kind, status_code=413,
                                error="Die Datei ist zu groß (höchstens 32 MB).")
    result = await run_in_threadpool(_import, get_ctx(request).db, user, kind, data)
    if not result.ok:
        return await _kind_page(request, user, kind, status_code=422,
                                error=f"Import abgelehnt: {len(result.errors)} Fehler, nichts gespeichert.",
                                details=[str(e) for e in result.errors[:200]])
    return await _kind_page(request, user, kind, result=result,
                            done=f"Import gespeichert: {result.created} neu, {result.updated} geändert, "
                                 f"{result.unchanged} unverändert.")


def _export(db, kind: str) -> str:
    with db.read() as session:
        return export_csv(session, kind)


@router.get("/verwaltung/stammdaten/{kind}/export")
async def kind_export(kind: str, request: Request, user: User = Depends(page_user)):
    _admin(user)
    _kind(kind)
    text = await run_in_threadpool(_export, get_ctx(request).db, kind)
    return Response(encode(text, bom=True), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": content_disposition(f"{kind}.csv"), "Cache-Control": "no-store"})


def _known_user(db, username: str) -> None:
    with db.read() as session:
        if session.scalars(select(User.id).where(User.username == username)).first() is None:
            raise UiError(404, "Nicht gefunden", "Diesen Benutzer gibt es nicht.")


@router.post("/verwaltung/benutzer/{username:path}/passwort")
async def user_password(username: str, request: Request, user: User = Depends(page_user)):
    _admin(user)
    form = await checked_form(request)
    password = str(form.get("password") or "")
    db = get_ctx(request).db
    await run_in_threadpool(_known_user, db, username)
    try:
        await run_in_threadpool(set_password, db, username, password)
    except ValueError as exc:
        return await _kind_page(request, user, "users", status_code=422, error=f"{username}: {exc}.")
    if username == user.username:  # the own session ended with the old password: log in again
        return await _kind_page(request, user, "users", done="Ihr Passwort wurde geändert; bitte melden Sie sich "
                                                              "neu an.")
    return await _kind_page(request, user, "users", done=f"Neues Passwort für {username} gesetzt; die Sperre nach "
                                                          "Fehlversuchen ist aufgehoben, bestehende Anmeldungen enden.")


def _set_active(db, user: User, username: str, active: bool) -> None:
    with db.transaction() as session:
        md.update_row(session, "users", username, {"active": active}, actor=_actor(user))


@router.post("/verwaltung/benutzer/{username:path}/aktiv")
async def user_active(username: str, request: Request, user: User = Depends(page_user)):
    _admin(user)
    form = await checked_form(request)
    active = str(form.get("active") or "") == "ja"
    db = get_ctx(request).db
    await run_in_threadpool(_known_user, db, username)
    if not active and username == user.username:
        return await _kind_page(request, user, "users", status_code=422,
                                error="Sie können Ihr eigenes Konto nicht deaktivieren.")
    try:
        await run_in_threadpool(_set_active, db, user, username, active)
    except md.InvalidRow as exc:
        return await _kind_page(request, user, "users", status_code=422, error=f"{username}: nicht gespeichert.",
                                details=[str(e) for e in exc.errors])
    state = "aktiv" if active else "deaktiviert (Anmeldung nicht mehr möglich)"
    return await _kind_page(request, user, "users", done=f"{username} ist {state}.")


# --- matching rules ---------------------------------------------------------------------------------

def _rules(db) -> list[dict]:
    with db.read() as session:
        return matching_rules.rule_dicts(session)


async def _rules_page(request: Request, user: User, *, status_code: int = 200, **values) -> HTMLResponse:
    rules = await run_in_threadpool(_rules, get_ctx(request).db)
    values.setdefault("counts", None)
    return _render(request, user, "admin_rules.html", status_code=status_code, rules=rules,
                   rules_file=str(matching_rules.default_rules_file()), **values)


@router.get("/verwaltung/zuordnung")
async def rules_page(request: Request, user: User = Depends(page_user)):
    _admin(user)
    return await _rules_page(request, user)


def _seed(db, user: User) -> dict:
    with db.transaction() as session:
        return matching_rules.seed_rules(session, actor=_actor(user))


@router.post("/verwaltung/zuordnung/neu-laden")
async def rules_seed(request: Request, user: User = Depends(page_user)):
    _admin(user)
    await checked_form(request)
    try:
        summary = await run_in_threadpool(_seed, get_ctx(request).db, user)
    except matching_rules.RuleError as exc:
        return await _rules_page(request, user, status_code=422, error="Die Regeln wurden nicht geladen.",
                                 details=[str(exc)])
    return await _rules_page(request, user, done=f"{summary['count']} Regeln aus {summary['file']} geladen "
                                                 f"({summary['replaced']} ersetzt).")


def _rerun(db, user: User) -> dict:
    with db.transaction() as session:
        counts = matching.rerun(session, actor=_actor(user))
        counts["route_jobs_queued"] = continue_routing(session)
        return counts


RERUN_LABELS = {"total": "geprüft", "changed": "geändert", "unchanged": "unverändert",
                "to_matched": "neu zugeordnet", "to_manual": "jetzt manuell zuzuordnen",
                "kept_manual": "manuelle Zuordnung beibehalten",
                "in_approval_differs": "in Freigabe, Ergebnis abweichend",
                "skipped": "übersprungen", "route_jobs_queued": "Freigaben gestartet (Aufträge)"}


@router.post("/verwaltung/zuordnung/neu-berechnen")
async def rules_rerun(request: Request, user: User = Depends(page_user)):
    _admin(user)
    await checked_form(request)
    counts = await run_in_threadpool(_rerun, get_ctx(request).db, user)
    return await _rules_page(request, user, done="Zuordnung neu berechnet.",
                             counts=[(RERUN_LABELS.get(k, k), v) for k, v in counts.items()])


# --- workflows --------------------------------------------------------------------------------------

def _workflows(db) -> list[dict]:
    with db.read() as session:
        rows = session.scalars(select(Workflow).order_by(Workflow.position, Workflow.id))
        return [workflow_dict(session, row) for row in rows]


async def _workflows_page(request: Request, user: User, *, status_code: int = 200, **values) -> HTMLResponse:
    workflows = await run_in_threadpool(_workflows, get_ctx(request).db)
    return _render(request, user, "admin_workflows.html", status_code=status_code, workflows=workflows, **values)


@router.get("/verwaltung/workflows")
async def workflows_page(request: Request, user: User = Depends(page_user)):
    _admin(user)
    return await _workflows_page(request, user)


def _reload_workflows(db) -> dict:
    definitions = load_file()
    with db.transaction() as session:
        return replace_workflows(session, definitions)


@router.post("/verwaltung/workflows/neu-laden")
async def workflows_reload(request: Request, user: User = Depends(page_user)):
    _admin(user)
    await checked_form(request)
    try:
        counts = await run_in_threadpool(_reload_workflows, get_ctx(request).db)
    except WorkflowError as exc:
        return await _workflows_page(request, user, status_code=exc.status, error="Die Workflows wurden nicht geladen.",
                                     details=getattr(exc, "problems", None) or [exc.message])
    return await _workflows_page(request, user, done=f"Workflows geladen: {counts['created']} neu, {counts['updated']} "
                                                     f"aktualisiert, {counts['deactivated']} deaktiviert.")


# --- rule packs -------------------------------------------------------------------------------------

def _packs(settings) -> dict:
    from ...validation.packs import PackRegistry

    registry = PackRegistry(settings)
    active, on = registry.active_name(), today()
    packs = [{"name": p.name, "version": p.version or "–", "description": p.description,
              "origin": "eingebaut" if p.origin == "builtin" else p.origin, "active": p.name == active,
              "valid_from": p.valid_from, "valid_until": p.valid_until, "valid_today": p.active_on(on),
              "scenarios": [s.name for s in p.scenarios if not s.triage_only],
              "triage": sum(1 for s in p.scenarios if s.triage_only)} for p in registry.packs]
    return {"packs": packs, "problems": registry.problems, "active_name": active}


@router.get("/verwaltung/regelpakete")
async def packs_page(request: Request, user: User = Depends(page_user)):
    _admin(user)
    data = await run_in_threadpool(_packs, get_ctx(request).settings)
    return _render(request, user, "admin_packs.html", **data)


# --- failed jobs ------------------------------------------------------------------------------------

def _jobs(db) -> dict:
    with db.read() as session:
        dead = queue.dead_jobs(session, limit=200)
        item_ids = {j.item_id for j in dead if j.item_id is not None}
        items = {i.id: i for i in session.scalars(select(IntakeItem).where(IntakeItem.id.in_(item_ids)))} \
            if item_ids else {}
        newer: dict[tuple[str, int], int] = {}
        if item_ids:
            for job_id, kind, item_id in session.execute(
                    select(Job.id, Job.kind, Job.item_id).where(Job.item_id.in_(item_ids))):
                newer[(kind, item_id)] = max(job_id, newer.get((kind, item_id), 0))
        jobs = []
        for job in dead:
            item = items.get(job.item_id) if job.item_id is not None else None
            replaced = newer.get((job.kind, job.item_id)) if job.item_id is not None else None
            jobs.append({"id": job.id, "kind": job.kind, "kind_label": JOB_KINDS.get(job.kind, job.kind),
                         "item_id": job.item_id,
                         "item_state": ITEM_STATES.get(item.state, item.state) if item else None,
                         "number": item.invoice_number if item else None, "attempts": job.attempts,
                         "max_attempts": job.max_attempts, "finished_at": job.finished_at,
                         "last_error": job.last_error or "",
                         "replaced_by": replaced if replaced and replaced > job.id else None,
                         "reprocess": item is not None and item.state == ItemState.FAILED.value})
        notices = [{"id": n.id, "kind": n.kind, "item_id": n.item_id, "recipient": n.recipient, "state": n.state,
                    "attempts": n.attempts, "updated_at": n.updated_at, "error": n.error or ""}
                   for n in notices_needing_attention(session, limit=200)]
    return {"jobs": jobs, "notices": notices}


async def _jobs_page(request: Request, user: User, *, status_code: int = 200, **values) -> HTMLResponse:
    data = await run_in_threadpool(_jobs, get_ctx(request).db)
    return _render(request, user, "admin_jobs.html", status_code=status_code, **data, **values)


@router.get("/verwaltung/auftraege")
async def jobs_page(request: Request, user: User = Depends(page_user)):
    _admin(user)
    return await _jobs_page(request, user)


class _Refused(Exception):
    pass


def _retry(db, user: User, job_id: int, reason: str) -> str:
    with db.read() as session:
        job = session.get(Job, job_id)
        if job is None or job.state != JobState.DEAD.value:
            raise _Refused(f"Auftrag {job_id} ist nicht (mehr) endgültig fehlgeschlagen – bitte neu laden.")
        if job.item_id is not None and session.scalar(select(func.max(Job.id)).where(
                Job.kind == job.kind, Job.item_id == job.item_id)) != job.id:
            raise _Refused(f"Auftrag {job_id} wurde schon durch einen neueren Auftrag ersetzt.")
        item = session.get(IntakeItem, job.item_id) if job.item_id is not None else None
        failed_item = item.id if item is not None and item.state == ItemState.FAILED.value else None
    if failed_item is not None:  # a person sends the item through processing again (a new job)
        try:
            new = reprocess(db, failed_item, actor=_actor(user), reason=reason)
        except IllegalTransition:  # it moved on meanwhile
            raise _Refused(f"Eingang {failed_item} ist nicht mehr fehlgeschlagen – bitte neu laden.") from None
        return f"Eingang {failed_item} wird erneut verarbeitet (neuer Auftrag {new.id})."
    with db.transaction() as session:
        try:
            queue.retry(session, job_id)
        except (LookupError, ValueError):
            raise _Refused(f"Auftrag {job_id} ist nicht (mehr) endgültig fehlgeschlagen – bitte neu "
                           "laden.") from None
    return f"Auftrag {job_id} ist wieder in der Warteschlange."


@router.post("/verwaltung/auftraege/{job_id}/erneut")
async def job_retry(job_id: int, request: Request, user: User = Depends(page_user)):
    _admin(user)
    form = await checked_form(request)
    reason = str(form.get("reason") or "").strip()[:4000] or "Erneut versucht (Verwaltung)"
    try:
        text = await run_in_threadpool(_retry, get_ctx(request).db, user, job_id, reason)
    except _Refused as exc:
        return await _jobs_page(request, user, status_code=409, error=str(exc))
    return await _jobs_page(request, user, done=text)
