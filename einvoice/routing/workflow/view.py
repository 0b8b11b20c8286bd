"""A case as JSON-ready dict (API ``GET /invoices/{id}/approval``, ``einvoice workflow show``) and as text."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...store.masterdata_models import OrgUnit, User
from ...store.routing_models import ApprovalCase, CaseStatus, Comment, StepState
from .cases import current_step, steps_of
from .checks import STEP_NAMES
from .definitions import step_applies
from .eligibility import eligible_actors
from .facts import euro


def _username(session: Session, user_id: int | None) -> dict | None:
    user = session.get(User, user_id) if user_id else None
    return {"username": user.username, "name": user.display_name} if user else None


def case_view(session: Session, case: ApprovalCase, *, on: date | None = None) -> dict:
    """Everything a person needs to decide: steps with who/when/for whom/what/why, alerts, comments,
    the version to send back, and (given ``on``) who may decide the open step today."""
    steps = steps_of(session, case)
    snapshot = case.workflow_snapshot or {}
    specs = [s for s in snapshot.get("steps") or [] if step_applies(s, case.gross_amount)]
    units = {u.id: u.code for u in session.scalars(select(OrgUnit).where(
        OrgUnit.id.in_({s.unit_id for s in steps if s.unit_id})))}
    view = {
        "case_id": case.id, "item_id": case.item_id, "status": case.status, "version": case.version,
        "workflow": snapshot.get("name"), "rules": snapshot.get("rules"), "precheck": snapshot.get("precheck"),
        "gross_amount": case.gross_amount, "payable_amount": case.payable_amount,
        "payable_reason": case.payable_reason, "payee_name": case.payee_name, "payee_iban": case.payee_iban,
        "frozen_at": case.frozen_at, "frozen_by": case.frozen_by,
        "iban_alert": None if case.iban_alert is None else {
            "state": case.iban_alert, "reason": case.iban_alert_reason, "cleared_by": case.iban_alert_cleared_by},
        "parked": None if case.status != CaseStatus.PARKED else {"reason": case.parked_reason, "at": case.parked_at},
        "created_at": case.created_at, "closed_at": case.closed_at,
        "steps": [{
            "id": s.id, "position": s.position, "kind": s.kind,
            "name": specs[s.position]["name"] if s.position < len(specs) else STEP_NAMES.get(s.kind, s.kind),
            "state": s.state, "unit": units.get(s.unit_id), "role": s.role, "needs_limit": s.needs_limit,
            "decided_by": _username(session, s.decided_by_id), "acting_for": _username(session, s.acting_for_id),
            "decision": s.decision, "reason": s.reason, "opened_at": s.opened_at, "decided_at": s.decided_at,
        } for s in steps],
        "comments": [{"author": c.author, "at": c.at, "text": c.text} for c in session.scalars(
            select(Comment).where(Comment.item_id == case.item_id).order_by(Comment.at, Comment.id))],
    }
    step = current_step(steps)
    if on is not None and step is not None and case.status == CaseStatus.OPEN:
        view["eligible"] = [{"username": u.username, "acting_for": f.username if f else None}
                            for u, f in eligible_actors(session, step, on, case.gross_amount)]
    return view


def case_text(view: dict) -> str:
    """German plain text of `case_view` for the command line."""
    lines = [f"Freigabe #{view['case_id']} der Rechnung #{view['item_id']}: {view['status']} "
             f"(Workflow „{view['workflow']}“, Version {view['version']})",
             f"  Rechnungsbetrag {euro(view['gross_amount'])}, Zahlbetrag {euro(view['payable_amount'])}"
             + (f" ({view['payable_reason']})" if view["payable_reason"] else ""),
             f"  Zahlungsempfänger {view['payee_name'] or '–'}, IBAN {view['payee_iban'] or '–'}"]
    if view["frozen_at"]:
        lines.append(f"  festgeschrieben {view['frozen_at']:%d.%m.%Y %H:%M} UTC von {view['frozen_by']}")
    if view["iban_alert"]:
        alert = view["iban_alert"]
        lines.append(f"  IBAN-Warnung {alert['state']}: {alert['reason']}"
                     + (f" (freigegeben von {alert['cleared_by']})" if alert["cleared_by"] else ""))
    if view["parked"]:
        lines.append(f"  geparkt: {view['parked']['reason']}")
    for s in view["steps"]:
        who = s["decided_by"]["name"] if s["decided_by"] else ""
        if s["acting_for"]:
            who += f" i. V. für {s['acting_for']['name']}"
        mark = "▶" if s["state"] == StepState.OPEN else " "
        lines.append(f"  {mark} {s['position'] + 1}. {s['name']} [{s['unit'] or '–'}, {s['role']}]: {s['state']}"
                     + (f" – {s['decision']} {who}".rstrip() if s["decision"] not in (None, s["state"]) else "")
                     + (f" – {s['reason']}" if s["reason"] else ""))
    for c in view["comments"]:
        lines.append(f"  Kommentar {c['author']} ({c['at']:%d.%m.%Y %H:%M} UTC): {c['text']}")
    return "\n".join(lines)
