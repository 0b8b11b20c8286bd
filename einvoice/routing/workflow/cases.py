"""Starting an approval case, moving it from step to step, and running a decision in its own transaction.

`start_case` (item ``matched`` with a matched `Assignment` → ``in_approval``):

1. the workflow that fits unit, cost centre and |BT-115| (`definitions.choose_workflow`) is copied
   into the case (``workflow_snapshot``: steps, rules and the arithmetic pre-check result), so later
   edits of the workflow do not change running cases;
2. one `ApprovalStep` per workflow step, except steps whose ``only_above`` the amount does not
   exceed; a ``rechnerisch`` step with ``auto = "arithmetic"`` is marked ``auto`` at once (reason
   recorded) when the arithmetic check of the stored model passes (`facts.arithmetic_precheck`) and
   |BT-115| <= ``person_above``; otherwise a person decides it;
3. payment data: payee BT-59 (else the seller BT-27), IBAN the first BT-84, gross BT-115 signed by
   the invoice's direction, payable = gross;
4. IBAN check (`check_iban`, rule ``iban_check``): ``iban_alert = "open"`` with the reason when the
   IBAN differs from `Supplier.iban` of the assigned supplier — and, with ``alert`` (the default),
   also when the supplier is unknown or has no IBAN on record: a bank account nobody confirmed is
   the same risk as a changed one, so a second person confirms it (`decisions.clear_iban_alert`);
5. the first step opens, the item goes ``matched → in_approval``, and an ``approval`` audit event
   records the start.

Every change of a case bumps ``ApprovalCase.version`` (SQLAlchemy's version counter, `touch`):
`run_decision` turns the ``StaleDataError`` of a concurrent writer into `Conflict`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from ...intake.states import audit, transition
from ...store.db import Database
from ...store.masterdata_models import OrgUnit, Supplier, User
from ...store.models import AuditEvent, IntakeItem, ItemState, ParsedInvoice
from ...store.routing_models import (
    ApprovalCase, ApprovalStep, Assignment, CaseStatus, MatchStatus, StepKind, StepState,
)
from ..clock import SYSTEM_CLOCK, Clock
from .definitions import DEFAULT_RULES, choose_workflow, step_applies
from .errors import Conflict, NotFound, WorkflowError
from .facts import arithmetic_precheck, euro, invoice_facts, normalize_iban

ACTIVE = (CaseStatus.OPEN.value, CaseStatus.PARKED.value)


def active_case(session: Session, item_id: int) -> ApprovalCase | None:
    """The item's open or parked case."""
    return session.scalars(select(ApprovalCase).where(ApprovalCase.item_id == item_id,
                                                      ApprovalCase.status.in_(ACTIVE))).first()


def latest_case(session: Session, item_id: int) -> ApprovalCase | None:
    return session.scalars(select(ApprovalCase).where(ApprovalCase.item_id == item_id)
                           .order_by(ApprovalCase.id.desc())).first()


def steps_of(session: Session, case: ApprovalCase) -> list[ApprovalStep]:
    return list(session.scalars(select(ApprovalStep).where(ApprovalStep.case_id == case.id)
                                .order_by(ApprovalStep.position)))


def current_step(steps: list[ApprovalStep]) -> ApprovalStep | None:
    return next((s for s in steps if s.state == StepState.OPEN), None)


def touch(case: ApprovalCase) -> None:
    """Make the flush UPDATE the case row, so that its version moves (also when only a step changed)."""
    flag_modified(case, "current_position")


def open_next(case: ApprovalCase, steps: list[ApprovalStep], after: int, now: datetime) -> ApprovalStep | None:
    """Open the first waiting (or returned) step after position ``after``; None when none is left."""
    for step in steps:
        if step.position > after and step.state in (StepState.WAITING, StepState.RETURNED):
            step.state, step.opened_at = StepState.OPEN.value, now
            step.decided_by_id = step.acting_for_id = step.decided_at = None
            step.decision = step.reason = None
            case.current_position = step.position
            return step
    return None


def auto_rechnerisch(spec: dict, precheck: dict, amount: Decimal) -> tuple[bool, str]:
    """May the system decide "rechnerisch richtig"? And the reason either way (German)."""
    if not precheck.get("ok"):
        failed = ", ".join(f"{c['rule']} {c.get('title') or ''}".strip() for c in precheck.get("failed") or [])
        return False, (f"Arithmetische Prüfung nicht bestanden ({failed or precheck.get('error')}): "
                       "Prüfung durch eine Person")
    limit = spec.get("person_above")
    if limit is not None and abs(amount) > Decimal(limit):
        return False, f"Betrag über {euro(Decimal(limit))}: Bestätigung durch eine Person erforderlich"
    return True, "Automatisch: die arithmetische Prüfung hat alle Beträge nachgerechnet (keine Abweichung)"


def check_iban(session: Session, case: ApprovalCase, supplier_id: int | None) -> str | None:
    """Set or clear the IBAN alert of ``case`` for its payee IBAN; returns the alert reason (None: no alert)."""
    mode = {**DEFAULT_RULES, **(case.workflow_snapshot.get("rules") or {})}["iban_check"]
    case.iban_alert = case.iban_alert_reason = case.iban_alert_cleared_by = None
    iban = normalize_iban(case.payee_iban)
    if mode == "off" or iban is None:
        return None
    supplier = session.get(Supplier, supplier_id) if supplier_id else None
    known = normalize_iban(supplier.iban) if supplier else None
    if known == iban:
        return None
    if known:
        reason = f"Die IBAN {iban} weicht von der IBAN {known} in den Stammdaten des Lieferanten {supplier.name} ab"
    elif mode == "differs":
        return None
    elif supplier is not None:
        reason = f"Für den Lieferanten {supplier.name} ist keine IBAN in den Stammdaten bestätigt (Rechnung: {iban})"
    else:
        reason = f"Lieferant unbekannt: die IBAN {iban} ist durch keine Stammdaten bestätigt"
    case.iban_alert, case.iban_alert_reason = "open", reason
    return reason


def _unit_ids(session: Session, steps: list[dict]) -> dict[str, int]:
    codes = {s["unit"] for s in steps if s.get("unit")}
    found = dict(session.execute(select(OrgUnit.code, OrgUnit.id).where(OrgUnit.code.in_(codes))).all()) \
        if codes else {}
    if codes - set(found):
        missing = ", ".join(sorted(codes - set(found)))
        raise WorkflowError(f"Workflow nennt unbekannte Organisationseinheiten: {missing}")
    return found


def start_case(session: Session, item: IntakeItem, *, actor: str, clock: Clock = SYSTEM_CLOCK) -> ApprovalCase:
    """Start the approval of a ``matched`` item (see the module docstring); raises `NoWorkflow` when no
    workflow fits, `Conflict` when the item is not ready or a case runs already."""
    if item.state != ItemState.MATCHED:
        raise Conflict(f"Rechnung #{item.id} ist im Status {item.state}, nicht „matched“: keine Freigabe möglich")
    assignment = session.get(Assignment, item.id)
    if assignment is None or assignment.status != MatchStatus.MATCHED or assignment.unit_id is None:
        raise Conflict(f"Rechnung #{item.id} hat keine Zuordnung zu einer Organisationseinheit")
    if active_case(session, item.id) is not None:
        raise Conflict(f"Für Rechnung #{item.id} läuft bereits eine Freigabe")
    parsed = session.scalars(select(ParsedInvoice).where(ParsedInvoice.item_id == item.id)
                             .order_by(ParsedInvoice.id.desc())).first()
    if parsed is None:
        raise Conflict(f"Rechnung #{item.id} hat keine gelesenen Rechnungsdaten")
    facts = invoice_facts(parsed.model)
    workflow = choose_workflow(session, assignment, facts.gross)
    specs = [spec for spec in workflow.steps if step_applies(spec, facts.gross)]
    units = _unit_ids(session, specs)
    precheck = arithmetic_precheck(parsed.model)
    now = clock.now()
    case = ApprovalCase(item_id=item.id, workflow_id=workflow.id, status=CaseStatus.OPEN.value, current_position=0,
                        workflow_snapshot={"workflow_id": workflow.id, "name": workflow.name, "steps": workflow.steps,
                                           "rules": {**DEFAULT_RULES, **(workflow.rules or {})}, "precheck": precheck},
                        gross_amount=facts.gross, payable_amount=facts.gross, payee_name=facts.payee_name,
                        payee_iban=facts.iban, created_at=now)
    steps, notes = [], []
    for position, spec in enumerate(specs):
        step = ApprovalStep(position=position, kind=spec["kind"], state=StepState.WAITING.value,
                            unit_id=units[spec["unit"]] if spec.get("unit") else assignment.unit_id,
                            role=spec.get("role") or "approver", needs_limit=bool(spec.get("needs_limit")))
        if spec["kind"] == StepKind.RECHNERISCH and spec.get("auto") == "arithmetic":
            allowed, why = auto_rechnerisch(spec, precheck, facts.gross)
            notes.append(why)
            if allowed:
                step.state, step.decision, step.reason, step.decided_at = StepState.AUTO.value, "auto", why, now
        steps.append(step)
    open_next(case, steps, -1, now)
    alert = check_iban(session, case, assignment.supplier_id)
    session.add(case)
    session.flush()  # the case row in its final first version, then its steps
    for step in steps:
        step.case_id = case.id
    session.add_all(steps)
    session.flush()
    transition(item, ItemState.IN_APPROVAL, actor, f"Freigabe gestartet: Workflow „{workflow.name}“",
               details={"case_id": case.id}, at=now)
    audit(item, actor=actor, event="approval", reason=f"Freigabe gestartet: Workflow „{workflow.name}“", at=now,
          details={"case_id": case.id, "decision": "start", "workflow": workflow.name, "version": case.version,
                   "steps": [f"{s.kind}:{s.state}" for s in steps], "gross": str(facts.gross),
                   "precheck_ok": precheck["ok"], "notes": notes, "iban_alert": alert})
    return case


def last_editor(session: Session, item_id: int) -> str | None:
    """Display name of whoever last decided on the item's approval (for the conflict message)."""
    actor = session.scalars(select(AuditEvent.actor).where(AuditEvent.item_id == item_id,
                                                           AuditEvent.event == "approval")
                            .order_by(AuditEvent.id.desc())).first()
    if actor and actor.startswith("user:"):
        user = session.scalars(select(User).where(User.username == actor[5:])).first()
        return user.display_name if user else actor[5:]
    return actor


def run_decision(db: Database, fn: Callable[..., Any], case_id: int, **kwargs: Any) -> Any:
    """Run a decision (``fn(session, case_id, **kwargs)``) in a transaction of its own; a concurrent
    decision that committed first (stale version at flush/commit) becomes `Conflict`."""
    try:
        with db.transaction() as session:
            return fn(session, case_id, **kwargs)
    except StaleDataError:
        with db.read() as session:
            case = session.get(ApprovalCase, case_id)
            if case is None:
                raise NotFound(f"Freigabe #{case_id} nicht gefunden") from None
            raise Conflict.stale(last_editor(session, case.item_id)) from None
