"""Matching of stored items: run the engine on an item, record the result, keep the assignment.

Every run writes a `MatchResult` (the history) and an audit event ``matching``; the `Assignment`
is the item's current booking target. State changes go through `einvoice.intake.states`:
parsed → matched when a run matches, matched → parsed (the Rechnungseingangsstelle's manual
queue) when a re-run no longer does. An assignment a person made (`assign_manually`, ``manual``)
is never overwritten by a run: the result is recorded and the audit event says it was kept.
Items in approval are only re-checked by `rerun`: a differing result is recorded, nothing changed.

Service functions take the caller's `Session` (the caller owns the transaction).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ...intake import states
from ...store.masterdata_models import Account, CostCentre, OrgUnit
from ...store.models import IntakeItem, ItemState, ParsedInvoice
from ...store.routing_models import Assignment, MatchResult, MatchStatus
from ...store.types import utcnow
from .context import MatchingContext, load_context
from .engine import Outcome, decide
from .keys import extract_keys

__all__ = ["InvalidAssignment", "WrongState", "assign_manually", "current_assignment", "load_context",
           "manual_queue", "match_item", "match_results", "preview", "rerun"]

log = logging.getLogger("einvoice.routing.matching")

OPEN_STATES = (ItemState.PARSED.value, ItemState.MATCHED.value)
CHUNK = 500


class WrongState(ValueError):
    """The item is not in a state this action allows (the API answers 409)."""


class InvalidAssignment(ValueError):
    """A manual assignment that names unknown or inconsistent master data, or has no reason (422)."""


def _require_open(item: IntakeItem, action: str) -> None:
    if item.state not in OPEN_STATES:
        raise WrongState(f"item #{item.id} is {item.state}: {action} needs parsed or matched")


def newest_parsed(session: Session, item_id: int) -> ParsedInvoice | None:
    return session.scalars(select(ParsedInvoice).where(ParsedInvoice.item_id == item_id)
                           .order_by(ParsedInvoice.created_at.desc(), ParsedInvoice.id.desc()).limit(1)).first()


def current_assignment(session: Session, item_id: int) -> Assignment | None:
    return session.get(Assignment, item_id)


def match_results(session: Session, item_id: int) -> list[MatchResult]:
    """The item's matching history, newest first."""
    return list(session.scalars(select(MatchResult).where(MatchResult.item_id == item_id)
                                .order_by(MatchResult.created_at.desc(), MatchResult.id.desc())))


def preview(session: Session, item: IntakeItem, *, context: MatchingContext | None = None) -> Outcome:
    """The outcome a run would have now, without writing anything."""
    parsed = newest_parsed(session, item.id)
    if parsed is None:
        raise WrongState(f"item #{item.id} has no parsed invoice")
    ctx = context or load_context(session)
    return decide(extract_keys(parsed.model), ctx.rules, ctx)


# --- one run ----------------------------------------------------------------------------------------

def _values(outcome: Outcome) -> dict[str, Any]:
    """What the Assignment holds for an outcome (a manual one keeps only the unit as suggestion)."""
    if outcome.matched:
        return {"status": outcome.status.value, "unit_id": outcome.unit_id, "cost_centre_id": outcome.cost_centre_id,
                "account": outcome.account, "budget_product": outcome.budget_product, "splits": outcome.splits}
    return {"status": outcome.status.value, "unit_id": outcome.unit_id, "cost_centre_id": None, "account": None,
            "budget_product": None, "splits": None}


def _differs(assignment: Assignment | None, values: dict[str, Any]) -> bool:
    if assignment is None:
        return True
    return any(getattr(assignment, name) != value for name, value in values.items())


def _result_values(outcome: Outcome) -> dict[str, Any]:
    return {"status": outcome.status.value, "unit_id": outcome.unit_id, "cost_centre_id": outcome.cost_centre_id,
            "account": outcome.account, "splits": outcome.splits}


def _result(item: IntakeItem, outcome: Outcome, actor: str) -> MatchResult:
    return MatchResult(item_id=item.id, created_at=utcnow(), actor=actor, status=outcome.status.value,
                       unit_id=outcome.unit_id, cost_centre_id=outcome.cost_centre_id, account=outcome.account,
                       confidence=outcome.confidence, explanation=outcome.explanation, splits=outcome.splits,
                       candidates=outcome.candidates)


def _details(outcome: Outcome, result: MatchResult, what: str) -> dict[str, Any]:
    return {"status": outcome.status.value, "cost_centre": outcome.cost_centre_code, "unit_id": outcome.unit_id,
            "confidence": outcome.confidence, "result_id": result.id, "outcome": what,
            "splits": len(outcome.splits or [])}


def _same_result(result: MatchResult | None, values: dict[str, Any]) -> bool:
    return result is not None and all(getattr(result, name) == values[name] for name in
                                      ("status", "unit_id", "cost_centre_id", "account", "splits"))


@dataclass
class _Run:
    """One item's run: decided first; the result rows of many runs are then inserted in one flush."""

    item: IntakeItem
    outcome: Outcome
    assignment: Assignment | None
    result: MatchResult | None  # None: nothing to record (in approval, nothing new)


def _plan(item: IntakeItem, model: dict[str, Any], ctx: MatchingContext, actor: str,
          assignment: Assignment | None, last: MatchResult | None = None) -> _Run:
    outcome = decide(extract_keys(model), ctx.rules, ctx)
    if item.state not in OPEN_STATES:  # in approval: only a result that differs, and is new, is recorded
        values = _values(outcome)
        if not _differs(assignment, values) or _same_result(last, {**values, **_result_values(outcome)}):
            return _Run(item, outcome, assignment, None)
    return _Run(item, outcome, assignment, _result(item, outcome, actor))


def _finish(session: Session, run: _Run, actor: str) -> str:
    """After the result has its id: assignment, transition, audit event. Returns what happened:
    to_matched, to_manual, changed, unchanged, kept_manual, in_approval_differs, in_approval_same."""
    item, outcome, assignment, result = run.item, run.outcome, run.assignment, run.result
    if result is None:
        return "in_approval_same"
    if item.state not in OPEN_STATES:
        states.audit(item, actor=actor, event="matching", details=_details(outcome, result, "in_approval_differs"),
                     reason=f"Neues Matching-Ergebnis weicht von der Zuordnung ab; die Rechnung ist in "
                            f"{item.state}, nichts wurde geändert: {outcome.explanation}")
        return "in_approval_differs"
    if assignment is not None and assignment.manual:
        states.audit(item, actor=actor, event="matching", details=_details(outcome, result, "kept_manual"),
                     reason=f"Manuelle Zuordnung von {assignment.assigned_by} beibehalten; Ergebnis der Regeln: "
                            f"{outcome.explanation}")
        return "kept_manual"
    values = _values(outcome)
    changed = _differs(assignment, values)
    if assignment is None:
        assignment = Assignment(item_id=item.id, manual=False, **values)
        session.add(assignment)
    if changed:
        for name, value in values.items():
            setattr(assignment, name, value)
        assignment.assigned_by, assignment.assigned_at, assignment.reason = actor, utcnow(), None
    assignment.supplier_id = outcome.supplier_id
    assignment.match_result_id = result.id
    what = "changed" if changed else "unchanged"
    if outcome.matched and item.state == ItemState.PARSED:
        states.transition(item, ItemState.MATCHED, actor, outcome.explanation, details={"result_id": result.id})
        what = "to_matched"
    elif not outcome.matched and item.state == ItemState.MATCHED:
        states.transition(item, ItemState.PARSED, actor, outcome.explanation, details={"result_id": result.id})
        what = "to_manual"
    states.audit(item, actor=actor, event="matching", reason=outcome.explanation,
                 details=_details(outcome, result, what))
    return what


def _run_all(session: Session, runs: list[_Run], actor: str) -> list[str]:
    session.add_all([run.result for run in runs if run.result is not None])
    session.flush()  # one batch of INSERTs for the results (their ids go into assignments and audit events)
    return [_finish(session, run, actor) for run in runs]


def match_item(session: Session, item: IntakeItem, *, actor: str,
               context: MatchingContext | None = None) -> MatchResult:
    """Match one item in parsed or matched (else `WrongState`, a ValueError); see the module docstring."""
    _require_open(item, "matching")
    parsed = newest_parsed(session, item.id)
    if parsed is None:
        raise WrongState(f"item #{item.id} has no parsed invoice")
    run = _plan(item, parsed.model, context or load_context(session), actor, current_assignment(session, item.id))
    _run_all(session, [run], actor)
    return run.result


def rerun(session: Session, *, actor: str, item_ids: Iterable[int] | None = None,
          context: MatchingContext | None = None) -> dict[str, int]:
    """Re-match the items in parsed, matched and in approval (all, or those of ``item_ids``) with
    one context. Counts: total, changed (the assignment or state changed; includes to_matched and
    to_manual), unchanged, to_matched, to_manual, kept_manual, in_approval_differs, skipped (named
    items in other states or without a parsed invoice)."""
    ctx = context or load_context(session)
    wanted = (*OPEN_STATES, ItemState.IN_APPROVAL.value)
    query = select(IntakeItem.id).where(IntakeItem.state.in_(wanted)).order_by(IntakeItem.id)
    named = sorted(set(item_ids)) if item_ids is not None else None
    ids: list[int] = []
    if named is None:
        ids = list(session.scalars(query))
    else:
        for start in range(0, len(named), CHUNK):
            ids += session.scalars(query.where(IntakeItem.id.in_(named[start:start + CHUNK])))
    counts = dict.fromkeys(("total", "changed", "unchanged", "to_matched", "to_manual", "kept_manual",
                            "in_approval_differs", "skipped"), 0)
    counts["skipped"] = len(named) - len(ids) if named is not None else 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        items = session.scalars(select(IntakeItem).where(IntakeItem.id.in_(chunk)).order_by(IntakeItem.id)).all()
        models: dict[int, ParsedInvoice] = {}
        for parsed in session.scalars(select(ParsedInvoice).where(ParsedInvoice.item_id.in_(chunk))
                                      .order_by(ParsedInvoice.created_at, ParsedInvoice.id)):
            models[parsed.item_id] = parsed  # the newest wins
        assignments = {a.item_id: a for a in session.scalars(select(Assignment).where(Assignment.item_id.in_(chunk)))}
        in_approval = [item.id for item in items if item.state not in OPEN_STATES]
        last: dict[int, MatchResult] = {}
        if in_approval:
            for row in session.scalars(select(MatchResult).where(MatchResult.item_id.in_(in_approval))
                                       .order_by(MatchResult.id)):
                last[row.item_id] = row
        runs = [_plan(item, models[item.id].model, ctx, actor, assignments.get(item.id), last.get(item.id))
                for item in items if item.id in models]
        counts["skipped"] += len(items) - len(runs)
        counts["total"] += len(runs)
        for what in _run_all(session, runs, actor):
            if what in ("to_matched", "to_manual"):
                counts["changed"] += 1
            counts[{"in_approval_same": "unchanged"}.get(what, what)] += 1
        session.flush()
        for parsed in models.values():
            session.expunge(parsed)
    log.info("matching re-run by %s: %s", actor, ", ".join(f"{k} {v}" for k, v in counts.items()))
    return counts


# --- by a person --------------------------------------------------------------------------------------

def _manual_splits(session: Session, splits: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if not splits:
        return None
    rows = []
    for index, split in enumerate(splits, start=1):
        centre = None
        if split.get("cost_centre_id") is not None:
            centre = session.get(CostCentre, split["cost_centre_id"])
        elif split.get("cost_centre"):
            centre = session.scalars(select(CostCentre).where(CostCentre.code == split["cost_centre"])).first()
        if centre is None:
            raise InvalidAssignment(f"split {index}: unknown cost centre")
        try:
            amount = Decimal(str(split.get("amount")))
        except (InvalidOperation, ValueError):
            raise InvalidAssignment(f"split {index}: amount {split.get('amount')!r} is not a decimal number") from None
        if isinstance(split.get("amount"), float) or not amount.is_finite():
            raise InvalidAssignment(f"split {index}: give the amount as a decimal string, not {split.get('amount')!r}")
        account = split.get("account") or centre.default_account
        if account and session.get(Account, account) is None:
            raise InvalidAssignment(f"split {index}: unknown account {account!r}")
        rows.append({"cost_centre_id": centre.id, "cost_centre": centre.code, "unit_id": centre.unit_id,
                     "account": account, "budget_product": centre.budget_product, "amount": str(amount),
                     "lines": [str(line) for line in split.get("lines") or []],
                     "explanation": split.get("explanation") or "manuell aufgeteilt"})
    return rows


def assign_manually(session: Session, item: IntakeItem, *, actor: str, unit_id: int | None, cost_centre_id: int,
                    account: str | None = None, splits: list[dict[str, Any]] | None = None,
                    reason: str) -> Assignment:
    """A person of the Rechnungseingangsstelle assigns the item (the role check is the caller's)."""
    if not reason or not reason.strip():
        raise InvalidAssignment("a manual assignment needs a reason")
    _require_open(item, "a manual assignment")
    centre = session.get(CostCentre, cost_centre_id) if cost_centre_id is not None else None
    if centre is None:
        raise InvalidAssignment(f"unknown cost centre {cost_centre_id!r}")
    if not centre.active:
        raise InvalidAssignment(f"cost centre {centre.code} is inactive")
    unit_id = centre.unit_id if unit_id is None else unit_id
    if session.get(OrgUnit, unit_id) is None:
        raise InvalidAssignment(f"unknown unit {unit_id!r}")
    if unit_id != centre.unit_id:
        raise InvalidAssignment(f"cost centre {centre.code} does not belong to unit #{unit_id}")
    account = account or centre.default_account
    if account and session.get(Account, account) is None:
        raise InvalidAssignment(f"unknown account {account!r}")
    rows = _manual_splits(session, splits)
    assignment = current_assignment(session, item.id)
    before = {"cost_centre_id": assignment.cost_centre_id, "status": assignment.status} if assignment else None
    if assignment is None:
        assignment = Assignment(item_id=item.id)
        session.add(assignment)
    assignment.status, assignment.manual = MatchStatus.MATCHED.value, True
    assignment.unit_id, assignment.cost_centre_id, assignment.account = unit_id, centre.id, account
    assignment.budget_product, assignment.splits, assignment.match_result_id = centre.budget_product, rows, None
    assignment.assigned_by, assignment.assigned_at, assignment.reason = actor, utcnow(), reason.strip()
    session.flush()
    text = f"Manuell zugeordnet → KSt {centre.code} {centre.name}: {reason.strip()}"
    details = {"cost_centre": centre.code, "unit_id": unit_id, "account": account, "splits": len(rows or []),
               "before": before}
    if item.state == ItemState.PARSED:
        states.transition(item, ItemState.MATCHED, actor, text, details=details)
    states.audit(item, actor=actor, event="assignment", reason=text, details=details)
    return assignment


# --- the manual queue -----------------------------------------------------------------------------------

def _queue_query(unit_id: int | None):
    query = (select(IntakeItem).outerjoin(Assignment, Assignment.item_id == IntakeItem.id)
             .where(IntakeItem.state == ItemState.PARSED.value,
                    or_(Assignment.item_id.is_(None), Assignment.status == MatchStatus.MANUAL.value)))
    return query.where(Assignment.unit_id == unit_id) if unit_id is not None else query


def manual_queue(session: Session, *, unit_id: int | None = None, limit: int = 100,
                 offset: int = 0) -> list[IntakeItem]:
    """Items in parsed without an assignment or with a manual-status one, oldest first."""
    return list(session.scalars(_queue_query(unit_id).order_by(IntakeItem.received_at, IntakeItem.id)
                                .limit(limit).offset(offset)))
