"""The database model of routing: matching rules and results, approval workflow, deadlines, reminders.

Created by the Alembic revision ``0003_routing``; same ``Base`` as `einvoice.store.models`.

Matching (`einvoice.routing.matching`):
- `MatchingRule`: one ordered, admin-editable rule (which invoice key it looks at, how, and what
  it assigns); seeded from ``rules/routing/*.toml``.
- `MatchResult`: every matching run of an item (history: re-runs after master data changes add
  rows); `Assignment`: the item's current booking target (unit, cost centre, account, splits), set by
  matching or by a person in the Rechnungseingangsstelle. ``status`` ``manual`` puts the item into
  the manual queue.

Workflow (`einvoice.routing.workflow`):
- `Workflow`: a configurable approval chain (steps as JSON) chosen by unit, cost centre and amount.
- `ApprovalCase`: one run of a workflow for an item (``version`` is the optimistic lock: two people
  deciding at once yield one decision); payee/IBAN/amount are frozen by the Anordnung.
- `ApprovalStep`: one step of a case (sachlich richtig, rechnerisch richtig, Anordnung) and its
  decision: who decided, in substitution for whom, what, why.
- `Comment`: a remark on an item by a user.

Deadlines (`einvoice.routing.deadlines`):
- `InvoiceDeadline`: Skonto terms, net due date, legal payment deadline, pay-by date, money at
  risk (integer cents, the inbox priority) and the Skonto outcome (captured / lost).
- `Reminder`: each reminder, escalation and digest mail once (unique ``key``).
- `SchedulerRun`: the next run of each periodic task, so a restart neither skips nor repeats one.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, _in
from .types import Money, utcnow


class MatchKey(StrEnum):
    LEITWEG = "leitweg"  # BT-10 against LeitwegId (or the rule's pattern)
    ORDER = "order"  # BT-13 against PurchaseOrder
    CONTRACT = "contract"  # BT-12 against Contract
    BUYER_REFERENCE = "buyer_reference"  # BT-19 (document) against the rule's pattern / cost centre codes
    LINE_REFERENCE = "line_reference"  # BT-133 per line: line-level splits
    SUPPLIER_VAT = "supplier_vat"  # BT-31 against Supplier.vat_id
    SUPPLIER_IBAN = "supplier_iban"  # BT-84 against Supplier.iban
    SUPPLIER_NAME = "supplier_name"  # BT-27 against Supplier.name


class MatchStatus(StrEnum):
    MATCHED = "matched"
    MANUAL = "manual"  # no match, or conflicting matches: the Rechnungseingangsstelle decides


class CaseStatus(StrEnum):
    OPEN = "open"
    PARKED = "parked"
    APPROVED = "approved"
    REJECTED = "rejected"  # rejected to the supplier
    CANCELLED = "cancelled"  # superseded (sent back to matching, new assignment)


class StepKind(StrEnum):
    SACHLICH = "sachlich"  # Feststellung der sachlichen Richtigkeit
    RECHNERISCH = "rechnerisch"  # Feststellung der rechnerischen Richtigkeit
    ANORDNUNG = "anordnung"  # Zahlungsanordnung


class StepState(StrEnum):
    WAITING = "waiting"  # a later step, not yet reached
    OPEN = "open"  # the current step
    DONE = "done"  # decided by a person
    AUTO = "auto"  # done by the system (e.g. rechnerisch richtig by the arithmetic check)
    RETURNED = "returned"  # sent back to the previous step
    CANCELLED = "cancelled"  # the case was rejected or cancelled


class SkontoStatus(StrEnum):
    NONE = "none"  # no Skonto offered
    OPEN = "open"  # offered, deadline not passed, not yet paid/exported
    CAPTURED = "captured"  # approved (Anordnung) in time for the payment run
    LOST = "lost"  # the deadline passed before the Anordnung
    MANUAL = "manual"  # Skonto only in free text: a person must capture it


class MatchingRule(Base):
    __tablename__ = "matching_rules"
    __table_args__ = (CheckConstraint(_in("key", MatchKey), name="key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    position: Mapped[int] = mapped_column(Integer, index=True)  # evaluated in ascending order
    name: Mapped[str] = mapped_column(String(256))
    key: Mapped[str] = mapped_column(String(32))
    # None: look the key up in master data (Leitweg-IDs, orders, contracts, suppliers, cost centre
    # codes); otherwise a pattern (exact, or glob with * and ?) that the key must match
    pattern: Mapped[str | None] = mapped_column(String(256))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    cost_centre_id: Mapped[int | None] = mapped_column(ForeignKey("cost_centres.id"))
    account: Mapped[str | None] = mapped_column(ForeignKey("accounts.code"))
    confidence: Mapped[int] = mapped_column(Integer, default=90)  # 0..100
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(256))


class MatchResult(Base):
    __tablename__ = "match_results"
    __table_args__ = (CheckConstraint(_in("status", MatchStatus), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("intake_items.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    cost_centre_id: Mapped[int | None] = mapped_column(ForeignKey("cost_centres.id"))
    account: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[int] = mapped_column(Integer, default=0)
    explanation: Mapped[str] = mapped_column(Text)  # "matched by order 4711 → KSt 1100 (rule 3)"
    splits: Mapped[list[Any] | None]  # line-level splits: cost centre, account, amount, lines, why
    candidates: Mapped[list[Any] | None]  # every rule that fired, with its target and confidence


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (CheckConstraint(_in("status", MatchStatus), name="status"),
                      Index("ix_assignments_status_unit", "status", "unit_id"))

    item_id: Mapped[int] = mapped_column(ForeignKey("intake_items.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    cost_centre_id: Mapped[int | None] = mapped_column(ForeignKey("cost_centres.id"))
    account: Mapped[str | None] = mapped_column(String(32))
    budget_product: Mapped[str | None] = mapped_column(String(64))
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"), index=True)
    splits: Mapped[list[Any] | None]
    match_result_id: Mapped[int | None] = mapped_column(ForeignKey("match_results.id"))
    manual: Mapped[bool] = mapped_column(Boolean, default=False)  # set by a person, not by a rule
    assigned_by: Mapped[str] = mapped_column(String(256))
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class Workflow(Base):
    __tablename__ = "workflows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=100)  # first matching workflow wins
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))  # None: any unit
    cost_centre_id: Mapped[int | None] = mapped_column(ForeignKey("cost_centres.id"))  # None: any
    min_amount: Mapped[Decimal | None] = mapped_column(Money())  # applies from this gross amount on
    steps: Mapped[list[Any]]  # [{"kind": "sachlich", ...}, ...] see einvoice.routing.workflow
    rules: Mapped[dict[str, Any] | None]  # four_eyes, supplier_conflict, iban_check ...
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ApprovalCase(Base):
    __tablename__ = "approval_cases"
    __table_args__ = (CheckConstraint(_in("status", CaseStatus), name="status"),
                      Index("ix_approval_cases_item_status", "item_id", "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("intake_items.id"))
    workflow_id: Mapped[int | None] = mapped_column(ForeignKey("workflows.id"))
    workflow_snapshot: Mapped[dict[str, Any]]  # the steps and rules in force when the case started
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.OPEN)
    current_position: Mapped[int] = mapped_column(Integer, default=0)
    gross_amount: Mapped[Decimal] = mapped_column(Money())  # BT-115 of the invoice (signed)
    payable_amount: Mapped[Decimal] = mapped_column(Money())  # after partial acceptance
    payable_reason: Mapped[str | None] = mapped_column(Text)
    payee_name: Mapped[str | None] = mapped_column(String(512))
    payee_iban: Mapped[str | None] = mapped_column(String(34))
    frozen_at: Mapped[datetime | None]  # set by the Anordnung: payee, IBAN, amount fixed
    frozen_by: Mapped[str | None] = mapped_column(String(256))
    iban_alert: Mapped[str | None] = mapped_column(String(16))  # None, "open", "cleared"
    iban_alert_reason: Mapped[str | None] = mapped_column(Text)
    iban_alert_cleared_by: Mapped[str | None] = mapped_column(String(256))
    parked_reason: Mapped[str | None] = mapped_column(Text)
    parked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class ApprovalStep(Base):
    __tablename__ = "approval_steps"
    __table_args__ = (CheckConstraint(_in("kind", StepKind), name="kind"),
                      CheckConstraint(_in("state", StepState), name="state"),
                      Index("ix_approval_steps_state_unit", "state", "unit_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("approval_cases.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default=StepState.WAITING)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    role: Mapped[str] = mapped_column(String(32), default="approver")
    needs_limit: Mapped[bool] = mapped_column(Boolean, default=False)  # the actor's approval_limit must cover
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acting_for_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # substitution: in place of
    decision: Mapped[str | None] = mapped_column(String(16))  # approve / return / reject / auto
    reason: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]


class Comment(Base):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("intake_items.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author: Mapped[str] = mapped_column(String(256))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    text: Mapped[str] = mapped_column(Text)


class InvoiceDeadline(Base):
    __tablename__ = "invoice_deadlines"
    __table_args__ = (CheckConstraint(_in("skonto_status", SkontoStatus), name="skonto_status"),
                      Index("ix_invoice_deadlines_priority", "money_at_risk_cents"),
                      Index("ix_invoice_deadlines_skonto_deadline", "skonto_deadline"))

    item_id: Mapped[int] = mapped_column(ForeignKey("intake_items.id"), primary_key=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    receipt_date: Mapped[date] = mapped_column(Date)
    issue_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)  # BT-9, or the net period of a 0.00 % term
    legal_due_date: Mapped[date] = mapped_column(Date)  # receipt + 30 days (configurable)
    pay_by: Mapped[date] = mapped_column(Date)  # the earliest date that matters (Skonto or due)
    currency: Mapped[str | None] = mapped_column(String(3))
    payable: Mapped[Decimal] = mapped_column(Money())  # BT-115
    terms: Mapped[list[Any] | None]  # Skonto terms: days, percent, base, deadline, discount, pay
    skonto_deadline: Mapped[date | None] = mapped_column(Date)  # the best term still reachable
    skonto_amount: Mapped[Decimal | None] = mapped_column(Money())
    money_at_risk_cents: Mapped[int] = mapped_column(BigInteger, default=0)  # inbox priority
    skonto_status: Mapped[str] = mapped_column(String(16), default=SkontoStatus.NONE)
    offered_amount: Mapped[Decimal | None] = mapped_column(Money())  # the best discount offered
    outcome_amount: Mapped[Decimal | None] = mapped_column(Money())  # captured or lost
    outcome_at: Mapped[datetime | None]
    notes: Mapped[list[Any] | None]  # flags: deadline after BT-9, ambiguous terms, free-text Skonto
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Reminder(Base):
    __tablename__ = "reminders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(256), unique=True)  # kind:item:deadline:user — sent once
    kind: Mapped[str] = mapped_column(String(32))  # skonto-reminder, escalation, digest
    item_id: Mapped[int | None] = mapped_column(ForeignKey("intake_items.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recipient: Mapped[str] = mapped_column(String(320))
    state: Mapped[str] = mapped_column(String(16), default="sending")  # sending, sent, failed, unknown
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class SchedulerRun(Base):
    __tablename__ = "scheduler_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_run_at: Mapped[datetime]
    last_run_at: Mapped[datetime | None]
    last_result: Mapped[dict[str, Any] | None]
    locked_by: Mapped[str | None] = mapped_column(String(256))
    locked_until: Mapped[datetime | None]
