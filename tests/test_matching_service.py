"""Matching stored items (einvoice.routing.matching.service) on SQLite and PostgreSQL: results,
assignments, state changes and audit events; the manual queue; re-runs after master data changes;
manual assignments kept; items in approval; splits as JSON; a fixed number of queries per re-run."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from einvoice.intake import states
from einvoice.routing.matching import (
    InvalidAssignment, WrongState, assign_manually, current_assignment, load_context, manual_queue, match_item,
    match_results, rerun, seed_rules,
)
from einvoice.store import AuditEvent, IntakeItem
from einvoice.store.masterdata_models import PurchaseOrder
from einvoice.store.routing_models import Assignment, MatchResult
from matching_data import LW_10, LW_40, LW_UNKNOWN, VAT_MUSTERBAU, master_data, model, parsed_item

pytest_plugins = ["pg"]  # tests/pg.py: the db / db_url fixtures over SQLite and PostgreSQL

ACTOR = "system:matching"


@pytest.fixture
def ids(db):
    with db.transaction() as session:
        ids = master_data(session)
        seed_rules(session, actor="user:admin")
    return ids


def new_item(db, state="parsed", **fields) -> int:
    with db.transaction() as session:
        return parsed_item(session, model(**fields), state=state).id


def match(db, item_id, actor=ACTOR):
    with db.transaction() as session:
        result = match_item(session, session.get(IntakeItem, item_id), actor=actor)
        return result.id


def load(db, item_id):
    with db.read() as session:
        return session.get(IntakeItem, item_id), current_assignment(session, item_id), match_results(session, item_id)


def events(db, item_id, event=None):
    with db.read() as session:
        query = sa.select(AuditEvent).where(AuditEvent.item_id == item_id).order_by(AuditEvent.id)
        rows = session.scalars(query).all()
    return [e for e in rows if event is None or e.event == event]


def test_match_by_order_moves_to_matched_with_result_assignment_and_audit(db, ids):
    item_id = new_item(db, order="BEST-2026-0815", vat=VAT_MUSTERBAU)
    result_id = match(db, item_id)
    item, assignment, [result] = load(db, item_id)
    assert item.state == "matched" and result.id == result_id
    assert (result.status, result.cost_centre_id, result.confidence) == ("matched", ids["KSt 6610"], 95)
    assert result.explanation.startswith("Bestellnummer BEST-2026-0815 → KSt 6610 Straßenunterhaltung")
    assert (assignment.status, assignment.cost_centre_id, assignment.unit_id, assignment.account) == \
        ("matched", ids["KSt 6610"], ids["FB66"], "5221")
    assert assignment.supplier_id == ids["musterbau"] and not assignment.manual
    assert assignment.match_result_id == result.id and assignment.budget_product == "54.10"
    transition, fact = events(db, item_id)[-2:]
    assert (transition.from_state, transition.to_state, transition.actor) == ("parsed", "matched", ACTOR)
    assert transition.reason == result.explanation
    assert fact.event == "matching" and fact.details["result_id"] == result.id
    assert (fact.details["status"], fact.details["cost_centre"], fact.details["confidence"]) == ("matched", "6610", 95)


def test_no_match_stays_parsed_in_the_manual_queue(db, ids):
    unknown = new_item(db, leitweg_id=LW_UNKNOWN)
    unit_only = new_item(db, leitweg_id=LW_40)
    never_matched = new_item(db)
    matched = new_item(db, leitweg_id=LW_10)
    for item_id in (unknown, unit_only, matched):
        match(db, item_id)
    item, assignment, [result] = load(db, unknown)
    assert item.state == "parsed" and assignment.status == "manual" and assignment.cost_centre_id is None
    assert result.explanation.startswith(f"Keine Regel traf zu: Leitweg-ID {LW_UNKNOWN} unbekannt")
    assert events(db, unknown, "matching")[-1].details["status"] == "manual"
    with db.read() as session:
        assert [i.id for i in manual_queue(session)] == [unknown, unit_only, never_matched]
        assert [i.id for i in manual_queue(session, unit_id=ids["FB40"])] == [unit_only]  # the suggested unit
        assert [i.id for i in manual_queue(session, limit=1, offset=1)] == [unit_only]


def test_match_item_refuses_other_states(db, ids):
    item_id = new_item(db, state="validated")
    with db.transaction() as session, pytest.raises(ValueError, match="needs parsed or matched"):
        match_item(session, session.get(IntakeItem, item_id), actor=ACTOR)


def test_rerun_after_master_data_change_moves_manual_to_matched_and_back(db, ids):
    item_id = new_item(db, order="BEST-2026-1234")
    match(db, item_id)
    assert load(db, item_id)[0].state == "parsed"
    with db.transaction() as session:  # the order is imported later
        session.add(PurchaseOrder(number="BEST-2026-1234", unit_id=ids["FB40"], cost_centre_id=ids["KSt 4020"]))
    with db.transaction() as session:
        counts = rerun(session, actor="user:admin")
    assert counts["to_matched"] == 1 and counts["changed"] == 1 and counts["total"] == 1
    item, assignment, results = load(db, item_id)
    assert item.state == "matched" and assignment.cost_centre_id == ids["KSt 4020"] and len(results) == 2
    last = events(db, item_id)[-2:]
    assert [(e.event, e.actor) for e in last] == [("transition", "user:admin"), ("matching", "user:admin")]
    assert last[1].details["outcome"] == "to_matched"

    with db.transaction() as session:
        assert rerun(session, actor="user:admin")["unchanged"] == 1  # nothing new: unchanged
        session.execute(sa.delete(PurchaseOrder).where(PurchaseOrder.number == "BEST-2026-1234"))
    with db.transaction() as session:
        assert rerun(session, actor="user:admin", item_ids=[item_id, 999999])["to_manual"] == 1
    item, assignment, _ = load(db, item_id)
    assert item.state == "parsed" and assignment.status == "manual" and assignment.cost_centre_id is None
    assert events(db, item_id, "transition")[-1].to_state == "parsed"


def test_manual_assignment_is_audited_and_kept_on_rerun(db, ids):
    item_id = new_item(db, leitweg_id=LW_UNKNOWN)
    match(db, item_id)
    with db.transaction() as session:
        item = session.get(IntakeItem, item_id)
        with pytest.raises(InvalidAssignment, match="reason"):
            assign_manually(session, item, actor="user:rita", unit_id=None, cost_centre_id=ids["KSt 4010"], reason=" ")
        with pytest.raises(InvalidAssignment, match="does not belong"):
            assign_manually(session, item, actor="user:rita", unit_id=ids["FB66"], cost_centre_id=ids["KSt 4010"],
                            reason="x")
        assign_manually(session, item, actor="user:rita", unit_id=None, cost_centre_id=ids["KSt 4010"],
                        reason="Telefonat mit dem Schulamt",
                        splits=[{"cost_centre_id": ids["KSt 4010"], "amount": "60.00", "lines": ["1"]},
                                {"cost_centre": "4020", "amount": "40.00"}])
    item, assignment, _ = load(db, item_id)
    assert item.state == "matched" and assignment.manual and assignment.assigned_by == "user:rita"
    assert (assignment.cost_centre_id, assignment.unit_id, assignment.account) == (ids["KSt 4010"], ids["FB40"], "5241")
    assert [(s["cost_centre"], s["amount"]) for s in assignment.splits] == [("4010", "60.00"), ("4020", "40.00")]
    transition = events(db, item_id, "transition")[-1]
    assert transition.actor == "user:rita" and "Telefonat mit dem Schulamt" in transition.reason

    with db.transaction() as session:  # the rules still find nothing, but the person's decision stands
        counts = rerun(session, actor="system:matching")
    assert counts["kept_manual"] == 1 and counts["changed"] == 0
    item, after, results = load(db, item_id)
    assert item.state == "matched" and after.cost_centre_id == ids["KSt 4010"] and after.manual and len(results) == 2
    kept = events(db, item_id, "matching")[-1]
    assert kept.details["outcome"] == "kept_manual" and "Manuelle Zuordnung von user:rita beibehalten" in kept.reason


def test_assignment_needs_an_open_state(db, ids):
    item_id = new_item(db, state="validated")
    with db.transaction() as session, pytest.raises(WrongState):
        assign_manually(session, session.get(IntakeItem, item_id), actor="user:rita", unit_id=None,
                        cost_centre_id=ids["KSt 4010"], reason="x")


def test_items_in_approval_get_a_differing_result_recorded_once_and_nothing_changed(db, ids):
    item_id = new_item(db, leitweg_id=LW_10)
    match(db, item_id)
    with db.transaction() as session:
        states.transition(session.get(IntakeItem, item_id), "in_approval", "system:workflow", "Freigabe gestartet")
    with db.transaction() as session:
        assert rerun(session, actor=ACTOR)["unchanged"] == 1
    with db.transaction() as session:  # the Leitweg-ID now points to another cost centre
        session.execute(sa.text("UPDATE leitweg_ids SET cost_centre_id = :cc WHERE leitweg_id = :lid"),
                        {"cc": ids["KSt 6610"], "lid": LW_10})
    for _ in range(2):
        with db.transaction() as session:
            counts = rerun(session, actor=ACTOR)
    item, assignment, results = load(db, item_id)
    assert item.state == "in_approval" and assignment.cost_centre_id == ids["KSt 1100"]  # unchanged
    assert [r.cost_centre_id for r in results] == [ids["KSt 6610"], ids["KSt 1100"]]  # recorded once, newest first
    assert counts["in_approval_differs"] == 0 and counts["unchanged"] == 1
    differs = events(db, item_id, "matching")[-1]
    assert differs.details["outcome"] == "in_approval_differs" and "nichts wurde geändert" in differs.reason


def test_splits_are_stored_as_json_with_amounts_as_strings(db, ids):
    item_id = new_item(db, lines=[("1", "1100", "100.10"), ("2", "4010", "200.20"), ("3", "1100", "0.05")])
    match(db, item_id)
    item, assignment, [result] = load(db, item_id)
    assert item.state == "matched"
    for splits in (assignment.splits, result.splits):
        assert {s["cost_centre"]: (s["amount"], s["lines"]) for s in splits} == {
            "1100": ("100.15", ["1", "3"]), "4010": ("200.20", ["2"])}


def test_rerun_loads_master_data_once_not_per_item(db, ids):
    for n in range(12):
        new_item(db, order="BEST-2026-0815" if n % 2 else "BEST-9", vat=VAT_MUSTERBAU if n % 3 else None)
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement.split()[0].upper())

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        with db.transaction() as session:
            counts = rerun(session, actor=ACTOR)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert counts["total"] == 12
    selects = statements.count("SELECT")
    assert selects <= 15, statements  # context (7) + ids + one query each for items, models, assignments
    with db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(MatchResult)) == 12
        assert session.scalar(sa.select(sa.func.count()).select_from(Assignment)) == 12


def test_one_context_serves_many_items(db, ids):
    first, second = new_item(db, leitweg_id=LW_10), new_item(db, order="BEST-2026-0815")
    with db.transaction() as session:
        context = load_context(session)
        for item_id in (first, second):
            match_item(session, session.get(IntakeItem, item_id), actor=ACTOR, context=context)
    assert load(db, first)[1].cost_centre_id == ids["KSt 1100"]
    assert load(db, second)[1].cost_centre_id == ids["KSt 6610"]
