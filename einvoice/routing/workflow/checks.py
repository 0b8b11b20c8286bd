"""The rules every workflow action is checked against; each refusal raises a `WorkflowError` with a
German message.

- Eligibility (`eligibility.acting_as`): members of the step's unit with the step's role, or their
  substitutes today; for ``needs_limit`` steps the approval_limit (of the absent person and of the
  substitute) must cover |BT-115|. Kasse staff never give an Anordnung (approval-practice.md §3).
- Four-eyes (Anordnung steps): whoever decided another step of the case as a person (sachlich,
  rechnerisch, an earlier Anordnung) may not give this Anordnung. Workflow rule ``four_eyes``:
  ``hard`` refuses (`FourEyesViolation`), ``warn`` allows it and the warning is recorded in the step
  and the audit event. The rule applies to the person who acts, also as a substitute.
- Supplier conflict (rule ``supplier_conflict: block``): a user linked to the invoice's supplier
  (`UserSupplierLink`) may not approve, return, reject, change the payable amount or clear the IBAN alert.
- IBAN alert: no Anordnung while it is open. Clearing it needs a second person: role ``approver``
  as a member of the invoice's unit, or the central roles ``kaemmerei`` / ``admin`` (any unit); the
  person who cleared it may not give the Anordnung of that case (always hard, whatever ``four_eyes``
  says: this is the fraud control), and nobody who already gave an Anordnung in the case may clear it.
- A parked case takes no decisions except unpark and comments; closed cases take none at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...store.masterdata_models import OrgUnit, User, UserSupplierLink, UserUnit
from ...store.routing_models import ApprovalCase, ApprovalStep, Assignment, CaseStatus, StepKind, StepState
from .definitions import DEFAULT_RULES
from .eligibility import acting_as, memoized
from .errors import Conflict, FourEyesViolation, NotAllowed, ReasonRequired
from .facts import euro

CENTRAL_ROLES = ("kaemmerei", "admin")
STEP_NAMES = {"sachlich": "sachlich richtig", "rechnerisch": "rechnerisch richtig", "anordnung": "Anordnung"}


@dataclass
class Permit:
    """The user may act: in their own right (``acting_for`` None) or as substitute for ``acting_for``."""

    acting_for: User | None = None
    warnings: list[str] = field(default_factory=list)


def actor_of(user: User) -> str:
    return f"user:{user.username}"


def rules_of(case: ApprovalCase) -> dict:
    return {**DEFAULT_RULES, **((case.workflow_snapshot or {}).get("rules") or {})}


def require_reason(reason: str | None, action: str) -> str:
    if reason is None or not str(reason).strip():
        raise ReasonRequired(action)
    return str(reason).strip()


def require_open(case: ApprovalCase, *, parked_ok: bool = False) -> None:
    if case.status == CaseStatus.PARKED and not parked_ok:
        raise NotAllowed(f"Die Rechnung ist geparkt ({case.parked_reason}): erst fortsetzen, dann entscheiden")
    if case.status not in (CaseStatus.OPEN, CaseStatus.PARKED):
        raise Conflict(f"Die Freigabe dieser Rechnung ist abgeschlossen (Status: {case.status})")


def _unit_code(session: Session, unit_id: int | None) -> str:
    unit = session.get(OrgUnit, unit_id) if unit_id else None
    return unit.code if unit else "–"


def eligible(session: Session, case: ApprovalCase, step: ApprovalStep, user: User, on: date, *,
             with_limit: bool = True) -> Permit:
    """Whether ``user`` may act on ``step`` today (role and unit, substitution, and the amount limit)."""
    ok, acting_for = acting_as(session, step, user, on, case.gross_amount if with_limit else None)
    if ok:
        return Permit(acting_for)
    if with_limit and step.needs_limit and acting_as(session, step, user, on, None)[0]:
        own = euro(user.approval_limit) if user.approval_limit is not None else "keines"
        raise NotAllowed(f"Der Betrag {euro(case.gross_amount)} übersteigt das Anordnungslimit (Ihres: {own})")
    raise NotAllowed(f"Sie sind für den Schritt „{STEP_NAMES.get(step.kind, step.kind)}“ dieser Rechnung nicht "
                     f"zuständig (Rolle {step.role} in {_unit_code(session, step.unit_id)}, oder Vertretung)")


def supplier_conflict(session: Session, case: ApprovalCase, user: User) -> None:
    if rules_of(case)["supplier_conflict"] != "block":
        return
    assignment = session.get(Assignment, case.item_id)
    if assignment is None or assignment.supplier_id is None:
        return
    linked = memoized(session, ("links", user.id), lambda: set(session.scalars(
        select(UserSupplierLink.supplier_id).where(UserSupplierLink.user_id == user.id))))
    if assignment.supplier_id in linked:
        raise NotAllowed("Sie sind mit dem Lieferanten dieser Rechnung verbunden (Interessenkonflikt) und dürfen "
                         "hier nicht entscheiden")


def four_eyes(case: ApprovalCase, steps: list[ApprovalStep], step: ApprovalStep, user: User) -> list[str]:
    """Refuse (``hard``) or return the warning (``warn``) when ``user`` decided another step as a person."""
    if step.kind != StepKind.ANORDNUNG:
        return []
    certified = [s for s in steps if s.id != step.id and s.state == StepState.DONE and s.decided_by_id == user.id]
    if not certified:
        return []
    names = ", ".join(f"„{STEP_NAMES.get(s.kind, s.kind)}“" for s in certified)
    text = f"Vier-Augen-Prinzip: Sie haben bei dieser Rechnung bereits {names} entschieden"
    if rules_of(case)["four_eyes"] == "hard":
        raise FourEyesViolation(text + " und dürfen die Anordnung nicht erteilen")
    return [text + " (Warnung, nach Workflow-Regel erlaubt)"]


def iban_gate(case: ApprovalCase, step: ApprovalStep, user: User, *, ignore_open: bool = False) -> None:
    if step.kind != StepKind.ANORDNUNG:
        return
    if case.iban_alert == "open" and not ignore_open:
        raise NotAllowed(f"IBAN-Warnung offen ({case.iban_alert_reason}): die Anordnung ist erst möglich, wenn "
                         "eine zweite Person die Bankverbindung bestätigt hat")
    if case.iban_alert == "cleared" and case.iban_alert_cleared_by == actor_of(user):
        raise FourEyesViolation("Sie haben die IBAN-Warnung dieser Rechnung freigegeben und dürfen deshalb die "
                                "Anordnung nicht selbst erteilen")


def may_decide(session: Session, case: ApprovalCase, steps: list[ApprovalStep], step: ApprovalStep, user: User,
               on: date, *, approving: bool, ignore_open_iban_alert: bool = False) -> Permit:
    """Approve (``approving``), return or reject ``step``: every rule above (the inbox lists Anordnungen
    waiting for the IBAN alert too: ``ignore_open_iban_alert``)."""
    require_open(case)
    permit = eligible(session, case, step, user, on)
    if step.kind == StepKind.ANORDNUNG and approving and user.has_role("kasse"):
        raise NotAllowed("Beschäftigte der Kasse dürfen keine Anordnung erteilen")
    supplier_conflict(session, case, user)
    if approving:
        iban_gate(case, step, user, ignore_open=ignore_open_iban_alert)
        permit.warnings = four_eyes(case, steps, step, user)
    return permit


def may_handle(session: Session, case: ApprovalCase, step: ApprovalStep | None, user: User, on: date, *,
               roles: tuple[str, ...] = ("rechnungseingang", "admin")) -> Permit:
    """Park, unpark, forward, reassign: whoever may work on the open step (the amount limit aside), or ``roles``."""
    if step is not None:
        try:
            return eligible(session, case, step, user, on, with_limit=False)
        except NotAllowed:
            if not any(user.has_role(role) for role in roles):
                raise
    elif not any(user.has_role(role) for role in roles):
        raise NotAllowed(f"Dafür ist eine der Rollen {', '.join(roles)} erforderlich")
    return Permit()


def may_comment(session: Session, case: ApprovalCase, steps: list[ApprovalStep], user: User, on: date) -> None:
    """Members of a unit of the case's steps, whoever may work on a step, the central roles and the
    Rechnungseingangsstelle."""
    if any(user.has_role(role) for role in ("rechnungseingang", *CENTRAL_ROLES)):
        return
    units = {s.unit_id for s in steps if s.unit_id is not None}
    if units and session.scalar(select(UserUnit.unit_id).where(UserUnit.user_id == user.id,
                                                               UserUnit.unit_id.in_(units)).limit(1)) is not None:
        return
    for step in steps:
        if acting_as(session, step, user, on, None)[0]:
            return
    raise NotAllowed("Sie sind an der Freigabe dieser Rechnung nicht beteiligt")


def may_clear_iban_alert(session: Session, case: ApprovalCase, steps: list[ApprovalStep], user: User) -> None:
    require_open(case)
    if case.iban_alert != "open":
        raise Conflict("Diese Rechnung hat keine offene IBAN-Warnung")
    if not any(user.has_role(role) for role in CENTRAL_ROLES):
        assignment = session.get(Assignment, case.item_id)
        unit_id = assignment.unit_id if assignment else None
        member = unit_id is not None and session.get(UserUnit, (user.id, unit_id)) is not None
        if not (user.has_role("approver") and member):
            raise NotAllowed("Die IBAN-Warnung darf nur eine Person mit der Rolle approver der zuständigen "
                             "Organisationseinheit, kaemmerei oder admin freigeben")
    if any(s.kind == StepKind.ANORDNUNG and s.state == StepState.DONE and s.decided_by_id == user.id for s in steps):
        raise FourEyesViolation("Sie haben bei dieser Rechnung bereits angeordnet und dürfen die IBAN-Warnung nicht "
                                "selbst freigeben")
    supplier_conflict(session, case, user)
