"""The inbox: the open steps of open cases that a user may decide today, own or as substitute.

`tasks_for(session, user, on)` looks at the open steps of the units the user belongs to and of the
units of the people they stand in for today, and keeps those the user may decide now
(`checks.may_decide`: role, unit, amount limit, substitution, supplier conflict, four-eyes ``hard``;
an Anordnung waiting for its IBAN alert is listed with ``iban_alert = "open"``). Parked cases are
not listed. Priority comes from `InvoiceDeadline` (outer join: an item without a deadline row is
listed too, last): money at risk (cents) descending, pay-by date ascending, then the oldest step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from ...store.masterdata_models import OrgUnit, Substitution, User, UserUnit
from ...store.models import IntakeItem
from ...store.routing_models import ApprovalCase, ApprovalStep, Assignment, CaseStatus, InvoiceDeadline, StepState
from .checks import may_decide
from .eligibility import memo
from .errors import WorkflowError


@dataclass
class Task:
    item_id: int
    case_id: int
    step_id: int
    step: str  # sachlich | rechnerisch | anordnung
    unit: str | None
    acting_for: str | None  # username of the absent person the user stands in for
    version: int  # send back as expected_version
    invoice_number: str | None
    seller_name: str | None
    gross_amount: Decimal
    payable_amount: Decimal
    opened_at: datetime | None
    pay_by: date | None
    skonto_deadline: date | None
    money_at_risk_cents: int
    iban_alert: str | None
    warnings: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


def _units(session: Session, user: User, on: date) -> set[int]:
    """The user's units and those of the people they stand in for on ``on``."""
    units = set(session.scalars(select(UserUnit.unit_id).where(UserUnit.user_id == user.id)))
    for sub in session.scalars(select(Substitution).where(Substitution.substitute_user_id == user.id,
                                                          Substitution.starts_on <= on, Substitution.ends_on >= on)):
        if sub.unit_id is not None:
            units.add(sub.unit_id)
        else:
            units.update(session.scalars(select(UserUnit.unit_id).where(UserUnit.user_id == sub.absent_user_id)))
    return units


def tasks_for(session: Session, user: User, on: date) -> list[Task]:
    with memo(session):  # the same units, members, substitutions and links for every row
        return _tasks_for(session, user, on)


def _tasks_for(session: Session, user: User, on: date) -> list[Task]:
    user = session.get(User, user.id)
    if user is None or not user.active:
        return []
    units = _units(session, user, on)
    if not units:
        return []
    rows = session.execute(
        select(ApprovalStep, ApprovalCase, IntakeItem, InvoiceDeadline)
        .join(ApprovalCase, ApprovalCase.id == ApprovalStep.case_id)
        .join(IntakeItem, IntakeItem.id == ApprovalCase.item_id)
        .outerjoin(InvoiceDeadline, InvoiceDeadline.item_id == ApprovalCase.item_id)
        .where(ApprovalStep.state == StepState.OPEN.value, ApprovalCase.status == CaseStatus.OPEN.value,
               ApprovalStep.unit_id.in_(units))
        .order_by(InvoiceDeadline.money_at_risk_cents.desc().nulls_last(), InvoiceDeadline.pay_by.asc().nulls_last(),
                  ApprovalStep.opened_at, ApprovalStep.id)
        .options(defer(IntakeItem.extra), defer(IntakeItem.error), defer(InvoiceDeadline.terms),
                 defer(InvoiceDeadline.notes))).all()
    if not rows:
        return []
    all_steps: dict[int, list[ApprovalStep]] = {}
    for step in session.scalars(select(ApprovalStep).where(ApprovalStep.case_id.in_({r[1].id for r in rows}))
                                .order_by(ApprovalStep.position)):
        all_steps.setdefault(step.case_id, []).append(step)
    codes = dict(session.execute(select(OrgUnit.id, OrgUnit.code).where(OrgUnit.id.in_(units))).all())
    item_ids = sorted({item.id for _, _, item, _ in rows})
    assignments = []  # held here, so the identity map keeps them: the supplier check reads them by id
    for start in range(0, len(item_ids), 5000):
        assignments += session.scalars(select(Assignment).where(Assignment.item_id.in_(item_ids[start:start + 5000])))
    tasks = []
    for step, case, item, deadline in rows:
        try:
            permit = may_decide(session, case, all_steps[case.id], step, user, on, approving=True,
                                ignore_open_iban_alert=True)
        except WorkflowError:
            continue
        tasks.append(Task(
            item_id=item.id, case_id=case.id, step_id=step.id, step=step.kind, unit=codes.get(step.unit_id),
            acting_for=permit.acting_for.username if permit.acting_for else None, version=case.version,
            invoice_number=item.invoice_number, seller_name=item.seller_name, gross_amount=case.gross_amount,
            payable_amount=case.payable_amount, opened_at=step.opened_at,
            pay_by=deadline.pay_by if deadline else None,
            skonto_deadline=deadline.skonto_deadline if deadline else None,
            money_at_risk_cents=deadline.money_at_risk_cents if deadline else 0, iban_alert=case.iban_alert,
            warnings=permit.warnings))
    return tasks
