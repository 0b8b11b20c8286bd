"""Reminder, escalation and digest mails that are due today, each sent at most once.

What is due (`due_notices`, for today's Berlin date; open steps of open or parked cases):

1. **Skonto reminder** to the current approvers of the open step (`eligible_actors`: members with
   the role, substitutes of absent members) when the best reachable Skonto deadline is at most
   ``EINVOICE_SKONTO_REMINDER_DAYS`` working days away (default 3). Key
   ``skonto-reminder:item:<id>:<deadline>:user:<id>``: once per deadline and person (a staggered
   term moving on gives a new deadline, so one more reminder).
2. **Escalation** to the unit lead (`OrgUnit.lead_user_id`; without one the unit's mail address)
   when the step has been open more than ``EINVOICE_ESCALATION_DAYS`` working days (default 5; key
   ``escalation:item:<id>:step:<id>:user:<id>``) or the Skonto deadline is at most 1 working day
   away (key ``escalation:item:<id>:skonto:<deadline>:user:<id>``). Not for parked cases: parking
   pauses escalations (Skonto reminders to the approvers go on).
3. **Daily digest** per person with their open tasks, most money at risk first, then by pay-by
   date. Key ``digest:<date>:user:<id>``.

Working days are those of the step's unit's Land. People without a mail address are skipped.

**At most once** (as `einvoice.handoff.mail`): the `Reminder` row is committed as ``sending``
before the SMTP transaction and ``sent`` after it. A row found ``sending`` (a crash in between)
becomes ``unknown`` and is not sent again; a relay that refused or was unreachable leaves
``failed``, which the next run retries. Two schedulers racing for one key: the unique key lets one win.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...handoff.mail import NotSent, OutcomeUnknown, RelayNotConfigured, RelaySettings, send_mail
from ...store.db import Database
from ...store.masterdata_models import OrgUnit, User
from ...store.models import IntakeItem
from ...store.routing_models import (ApprovalCase, ApprovalStep, CaseStatus, InvoiceDeadline, Reminder, SkontoStatus,
                                     StepState)
from ...store.types import utcnow
from ..clock import BERLIN, SYSTEM_CLOCK, Clock, today
from ..workflow.eligibility import eligible_actors
from . import messages
from .calendar import working_days_between
from .compute import Term, best_term
from .service import item_land

log = logging.getLogger("einvoice.routing.deadlines.reminders")


@dataclass(frozen=True)
class Notice:
    key: str
    kind: str  # skonto-reminder, escalation, digest
    item_id: int | None
    user_id: int | None
    recipient: str
    subject: str
    body: str


def _task(item: IntakeItem, case: ApprovalCase, step: ApprovalStep, row: InvoiceDeadline | None,
          term: Term | None) -> messages.Task:
    return messages.Task(
        item_id=item.id, invoice_number=item.invoice_number, seller=item.seller_name,
        payable=row.payable if row else case.payable_amount, currency=row.currency if row else None,
        step_kind=step.kind, pay_by=row.pay_by if row else None, skonto_deadline=term.deadline if term else None,
        skonto_amount=term.discount if term else None, latest_approval=term.latest_approval if term else None,
        money_at_risk_cents=row.money_at_risk_cents if row else 0)


def _open_steps(session: Session):
    return session.execute(select(ApprovalStep, ApprovalCase)
                           .join(ApprovalCase, ApprovalStep.case_id == ApprovalCase.id)
                           .where(ApprovalStep.state == StepState.OPEN.value,
                                  ApprovalCase.status.in_([CaseStatus.OPEN.value, CaseStatus.PARKED.value]))
                           .order_by(ApprovalCase.item_id, ApprovalStep.position)).all()


def _lead(session: Session, unit_id: int | None) -> tuple[str | None, int | None, str]:
    """(address, user id, name) of the unit's lead, else the unit's own address."""
    unit = session.get(OrgUnit, unit_id) if unit_id is not None else None
    if unit is None:
        return None, None, ""
    lead = session.get(User, unit.lead_user_id) if unit.lead_user_id else None
    if lead is not None and lead.active and lead.email:
        return lead.email, lead.id, lead.display_name
    return unit.email, None, f"Leitung {unit.name}"


def due_notices(session: Session, *, clock: Clock = SYSTEM_CLOCK, settings: Any) -> list[Notice]:
    """Every reminder, escalation and digest that is due today (sent or not)."""
    on = today(clock)
    notices: list[Notice] = []
    digests: dict[int, tuple[User, list[messages.Task]]] = {}
    for step, case in _open_steps(session):
        item = session.get(IntakeItem, case.item_id)
        row = session.get(InvoiceDeadline, case.item_id)
        unit_id = step.unit_id if step.unit_id is not None else (row.unit_id if row else None)
        land = item_land(session, unit_id, settings)
        terms = [Term.from_json(t) for t in (row.terms or [])] if row is not None else []
        term = best_term(terms, on) if row is not None and row.skonto_status == SkontoStatus.OPEN.value else None
        task = _task(item, case, step, row, term)
        actors = eligible_actors(session, step, on, case.payable_amount)
        for user, acting_for in actors:
            mine = replace(task, acting_for=acting_for.display_name if acting_for else None)
            digests.setdefault(user.id, (user, []))[1].append(mine)
        days_left = working_days_between(on, term.deadline, land) if term else None
        if term is not None and days_left <= settings.skonto_reminder_days:
            for user, acting_for in actors:
                if not user.email:
                    continue
                mine = replace(task, acting_for=acting_for.display_name if acting_for else None)
                subject, body = messages.skonto_reminder(mine, user.display_name, days_left)
                notices.append(Notice(f"skonto-reminder:item:{item.id}:{term.deadline}:user:{user.id}",
                                      "skonto-reminder", item.id, user.id, user.email, subject, body))
        if case.status == CaseStatus.PARKED.value:
            continue  # parking pauses escalations
        reasons = []
        opened = (step.opened_at or case.created_at).astimezone(BERLIN).date()
        open_days = working_days_between(opened, on, land)
        if open_days > settings.escalation_days:
            step_name = messages.STEP_NAMES.get(step.kind, step.kind)
            reasons.append((f"step:{step.id}", f"Der Arbeitsschritt „{step_name}“ "
                            f"ist seit {open_days} Arbeitstagen offen (seit {messages.day(opened)})."))
        if term is not None and days_left <= 1:
            reasons.append((f"skonto:{term.deadline}", f"Die Skontofrist ({messages.day(term.deadline)}, "
                            f"{messages.money(term.discount, task.currency)}) endet in "
                            f"{messages.working_days(days_left)}."))
        address, lead_id, lead_name = _lead(session, unit_id)
        if not reasons or not address:
            continue
        approvers = [u.display_name + (f" (für {f.display_name})" if f else "") for u, f in actors]
        who = f"user:{lead_id}" if lead_id is not None else f"unit:{unit_id}"
        for suffix, reason in reasons:
            subject, body = messages.escalation(task, lead_name, [reason], approvers)
            notices.append(Notice(f"escalation:item:{item.id}:{suffix}:{who}", "escalation", item.id, lead_id,
                                  address, subject, body))
    for user, tasks in digests.values():
        if not user.email or not user.active:
            continue
        tasks.sort(key=lambda t: (-t.money_at_risk_cents, t.pay_by or date.max, t.item_id))
        subject, body = messages.digest(tasks, user.display_name, on)
        notices.append(Notice(f"digest:{on}:user:{user.id}", "digest", None, user.id, user.email, subject, body))
    return notices


def deliver(db: Database, notice: Notice, relay: RelaySettings, send: Callable = send_mail) -> str:
    """Send one notice at most once: sent, sent-before, unknown, failed or taken (by another run)."""
    message = messages.build_message(relay.sender, notice.recipient, notice.subject, notice.body,
                                     kind=notice.kind, item_id=notice.item_id)
    try:
        with db.transaction() as session:
            row = session.scalars(select(Reminder).where(Reminder.key == notice.key).with_for_update()).first()
            if row is not None and row.state == "sent":
                return "sent-before"
            if row is not None and row.state == "unknown":
                return "unknown"
            if row is not None and row.state == "sending":
                row.state = "unknown"
                row.error = "an earlier attempt stopped while sending: not sent again (at most once)"
                log.error("reminder %s: an earlier attempt stopped while sending; not sent again", notice.key)
                return "unknown"
            if row is None:
                row = Reminder(key=notice.key, kind=notice.kind, item_id=notice.item_id, user_id=notice.user_id,
                               recipient=notice.recipient, created_at=utcnow())
                session.add(row)
            row.state, row.recipient, row.error = "sending", notice.recipient, None
            session.flush()
            row_id = row.id
    except IntegrityError:
        return "taken"  # another scheduler inserted the same key first
    try:
        send(relay, message, [notice.recipient])
    except NotSent as exc:
        _finish(db, row_id, "failed", str(exc))
        return "failed"
    except OutcomeUnknown as exc:
        _finish(db, row_id, "unknown", str(exc))
        log.error("reminder %s: %s; not sent again (at most once)", notice.key, exc)
        return "unknown"
    _finish(db, row_id, "sent", None)
    return "sent"


def _finish(db: Database, row_id: int, state: str, error: str | None) -> None:
    with db.transaction() as session:
        row = session.get(Reminder, row_id, with_for_update=True)
        row.state, row.error = state, (error or None) and error[:4000]
        if state == "sent":
            row.sent_at = utcnow()


def send_due(db: Database, *, clock: Clock = SYSTEM_CLOCK, settings: Any = None, relay: RelaySettings | None = None,
             send: Callable = send_mail) -> dict[str, int]:
    """Find what is due today and send what has not been sent; counts per outcome."""
    settings = settings or db.settings
    with db.read() as session:
        notices = due_notices(session, clock=clock, settings=settings)
        done: set[str] = set()
        keys = [n.key for n in notices]
        for start in range(0, len(keys), 500):
            done.update(session.scalars(select(Reminder.key).where(Reminder.key.in_(keys[start:start + 500]),
                                                                   Reminder.state.in_(("sent", "unknown")))))
    counts: dict[str, int] = {"due": len(notices), "sent-before": len(done & set(keys))}
    pending = [n for n in notices if n.key not in done]
    if not pending:
        return counts
    if relay is None:
        try:
            relay = RelaySettings.from_env()
        except RelayNotConfigured as exc:
            log.warning("%d reminder mails not sent: %s", len(pending), exc)
            counts["no-relay"] = len(pending)
            return counts
    for notice in pending:
        outcome = deliver(db, notice, relay, send)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
