"""What the invoice page shows, read in one transaction: the item (visible to the user, else 404), the
key facts of the stored invoice model, the validation report, the matching explanation, the deadlines,
the approval case (`case_view`) and which actions the user may take on the current step."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from ...routing.clock import today
from ...routing.matching.service import current_assignment, newest_parsed
from ...routing.workflow import WorkflowError, case_view
from ...routing.workflow.cases import current_step, latest_case, steps_of
from ...routing.workflow.checks import may_comment, may_decide, may_handle
from ...routing.workflow.eligibility import memo
from ...store.masterdata_models import CostCentre, OrgUnit, User
from ...store.models import ValidationReport
from ...store.routing_models import ApprovalCase, CaseStatus, InvoiceDeadline, MatchResult
from ..texts import explain_all
from .access import visible_item

ITEM_STATES = {"received": "eingegangen", "validated": "geprüft", "rejected": "abgelehnt", "parsed": "gelesen",
               "matched": "zugeordnet", "in_approval": "in Freigabe", "approved": "freigegeben",
               "exported": "an die Kasse übergeben", "archived": "archiviert", "duplicate": "Duplikat",
               "failed": "technischer Fehler"}
STEP_STATES = {"waiting": "wartet", "open": "offen", "done": "erledigt", "auto": "erledigt",
               "returned": "zurückgegeben", "cancelled": "abgebrochen"}
DECISIONS = {"approve": "freigegeben", "auto": "automatisch (Rechenprüfung)", "return": "zurückgegeben",
             "reject": "abgelehnt", "forward": "weitergeleitet", "reassign": "neu zugeordnet"}


def _amount(node: dict | None) -> Any:
    return (node or {}).get("value")


def summary(model: dict) -> dict:
    inv = model.get("invoice") or {}
    totals = inv.get("totals") or {}
    transfers = ((inv.get("payment_instructions") or {}).get("credit_transfers") or [])
    return {"number": inv.get("number"), "issue_date": inv.get("issue_date"), "due_date": inv.get("due_date"),
            "seller": (inv.get("seller") or {}).get("name"), "buyer": (inv.get("buyer") or {}).get("name"),
            "leitweg_id": inv.get("buyer_reference"), "order": inv.get("purchase_order_reference"),
            "currency": inv.get("currency"), "net": _amount(totals.get("tax_exclusive")),
            "tax": _amount(totals.get("tax_total")), "due": _amount(totals.get("amount_due")),
            "ibans": [t.get("account_id") for t in transfers if t.get("account_id")],
            "credit_note": bool((model.get("direction") or {}).get("is_credit_note"))}


def _actions(session: DbSession, case: ApprovalCase | None, user: User, on: date) -> dict:
    acts: dict[str, Any] = {"approve": False, "decide": False, "returnable": False, "park": False, "unpark": False,
                            "redirect": False,
                            "comment": False, "blocked": None, "acting_for": None, "warnings": []}
    if case is None:
        return acts
    steps = steps_of(session, case)
    step = current_step(steps)
    try:
        may_comment(session, case, steps, user, on)
        acts["comment"] = True
    except WorkflowError:
        pass
    if case.status == CaseStatus.PARKED:
        try:
            may_handle(session, case, step, user, on)
            acts["unpark"] = True
        except WorkflowError:
            pass
    if case.status != CaseStatus.OPEN or step is None:
        return acts
    try:
        permit = may_decide(session, case, steps, step, user, on, approving=True)
        acts.update(approve=True, acting_for=permit.acting_for.display_name if permit.acting_for else None,
                    warnings=permit.warnings)
    except WorkflowError as exc:
        acts["blocked"] = exc.message
    try:
        may_decide(session, case, steps, step, user, on, approving=False)
        acts["decide"] = True
        acts["returnable"] = step.position > 0
    except WorkflowError:
        pass
    try:
        may_handle(session, case, step, user, on)
        acts["park"] = True
        acts["redirect"] = True  # forward to another unit, change the cost centre
    except WorkflowError:
        pass
    return acts


def _targets(session: DbSession) -> dict:
    """Units and cost centres a step can be forwarded or re-assigned to (active ones, by code)."""
    units = session.execute(select(OrgUnit.code, OrgUnit.name).where(OrgUnit.active.is_(True))
                            .order_by(OrgUnit.code)).all()
    centres = session.execute(select(CostCentre.code, CostCentre.name).where(CostCentre.active.is_(True))
                              .order_by(CostCentre.code)).all()
    return {"units": [{"code": c, "name": n} for c, n in units],
            "cost_centres": [{"code": c, "name": n} for c, n in centres]}


def load_invoice(db, user: User, item_id: int) -> dict:
    on = today()
    with db.read() as session, memo(session):  # members and substitutions looked up once for all checks
        item = visible_item(session, user, item_id, on)
        parsed = newest_parsed(session, item_id)
        report_row = session.scalars(select(ValidationReport).where(ValidationReport.item_id == item_id)
                                     .order_by(ValidationReport.id.desc()).limit(1)).first()
        report = report_row.report if report_row else None
        match = session.scalars(select(MatchResult).where(MatchResult.item_id == item_id)
                                .order_by(MatchResult.id.desc()).limit(1)).first()
        assignment = current_assignment(session, item_id)
        unit = session.get(OrgUnit, assignment.unit_id) if assignment and assignment.unit_id else None
        centre = session.get(CostCentre, assignment.cost_centre_id) if assignment and assignment.cost_centre_id else None
        deadline = session.get(InvoiceDeadline, item_id)
        case = latest_case(session, item_id)
        findings = explain_all(list((report or {}).get("findings") or []))
        return {
            "item": {"id": item.id, "state": item.state, "state_label": ITEM_STATES.get(item.state, item.state),
                     "file_name": item.file_name, "received_at": item.received_at, "kind": item.kind,
                     "size": item.size, "channel": item.channel},
            "invoice": summary(parsed.model if parsed else {}),
            "validation": None if report_row is None else {
                "valid": report_row.valid, "triage": report_row.triage, "findings": findings,
                "errors": sum(1 for f in findings if f["severity"] == "Fehler"),
                "warnings": sum(1 for f in findings if f["severity"] == "Hinweis")},
            "match": None if match is None else {"explanation": match.explanation, "confidence": match.confidence,
                                                 "status": match.status, "at": match.created_at},
            "assignment": None if assignment is None else {
                "unit": f"{unit.code} {unit.name}" if unit else None,
                "cost_centre": f"{centre.code} {centre.name}" if centre else None, "account": assignment.account,
                "manual": assignment.manual, "reason": assignment.reason},
            "deadline": deadline,
            "case": case_view(session, case, on=on) if case else None,
            "actions": (actions := _actions(session, case, user, on)),
            "targets": _targets(session) if actions.get("redirect") else None,
            "step_states": STEP_STATES, "decisions": DECISIONS,
        }
