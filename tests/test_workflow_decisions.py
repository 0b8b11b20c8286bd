"""Approval workflow rules on SQLite and PostgreSQL: happy path and freeze, four-eyes (hard/warn),
substitutes, return, thresholds and limits, supplier conflicts, IBAN alert, park, partial
acceptance, reopening after the freeze, forward/reassign, stale versions, Kasse staff."""

from __future__ import annotations

from decimal import Decimal

import pytest

from einvoice.intake.states import IllegalTransition, transition
from einvoice.routing.workflow import (
    Conflict, FourEyesViolation, InvalidInput, NotAllowed, ReasonRequired, approve, clear_iban_alert, comment,
    forward, park, reassign, reopen_anordnung, return_to_previous, set_payable, unpark,
)
from einvoice.routing.workflow.definitions import load_file, replace_workflows
from einvoice.store.models import IntakeItem
from einvoice.store.routing_models import Assignment

pytest.register_assert_rewrite("workflow_fixtures")
from workflow_fixtures import OTHER_IBAN, act, start  # noqa: E402

pytest_plugins = ["pg", "workflow_fixtures"]


def kinds(world, item_id):
    return [(s.kind, s.state) for s in world.steps(item_id)]


def test_happy_path_sachlich_auto_rechnerisch_anordnung_freezes(world):
    item_id = world.item("3000")
    case = start(world, item_id)
    assert world.state(item_id) == "in_approval"
    assert (case.status, case.version, case.iban_alert) == ("open", 1, None)
    assert case.payee_iban == "DE91440501990004711815" and case.payee_name == "Musterbau GmbH"
    assert case.gross_amount == case.payable_amount == Decimal("3000.00")
    assert case.workflow_snapshot["name"] == "Standard" and case.workflow_snapshot["precheck"]["ok"] is True
    assert kinds(world, item_id) == [("sachlich", "open"), ("rechnerisch", "auto"), ("anordnung", "waiting")]
    assert "arithmetische Prüfung" in world.steps(item_id)[1].reason

    case = act(world, approve, item_id, "A", reason="Leistung abgenommen")
    assert case.version == 2
    assert kinds(world, item_id) == [("sachlich", "done"), ("rechnerisch", "auto"), ("anordnung", "open")]
    case = act(world, approve, item_id, "C")
    assert (case.status, case.frozen_by, case.version) == ("approved", "user:c", 3)
    assert case.frozen_at == world.clock.now() and case.closed_at is not None
    assert world.state(item_id) == "approved"
    steps = world.steps(item_id)
    assert [s.decided_by_id for s in steps] == [world.user("A").id, None, world.user("C").id]
    assert steps[0].reason == "Leistung abgenommen"
    events = world.events(item_id)
    assert [e.details["decision"] for e in events] == ["start", "approve", "approve"]
    assert [(e.actor, e.details["step"], e.details["version"]) for e in events[1:]] == [
        ("user:a", "sachlich", 2), ("user:c", "anordnung", 3)]
    assert events[2].details["acting_for"] is None and events[2].details["closed"] is True


def test_four_eyes_hard_refuses_the_certifier_and_warn_records_it(world):
    item_id = world.item("3000")
    start(world, item_id)
    act(world, approve, item_id, "A")
    version = world.case(item_id).version
    with pytest.raises(FourEyesViolation, match="Vier-Augen-Prinzip"):
        act(world, approve, item_id, "A")
    assert world.case(item_id).version == version and kinds(world, item_id)[2] == ("anordnung", "open")

    definitions = load_file()
    definitions[1]["rules"]["four_eyes"] = "warn"  # "Standard"
    with world.db.transaction() as session:
        replace_workflows(session, definitions)
    other = world.item("3000")
    start(world, other)
    act(world, approve, other, "A")
    case = act(world, approve, other, "A")
    assert case.status == "approved"
    assert "Vier-Augen-Prinzip" in world.steps(other)[2].reason
    assert "Vier-Augen-Prinzip" in world.events(other)[-1].details["warnings"][0]


def test_substitute_acts_with_own_name_for_the_absent_budget_holder(world):
    world.substitute("C", "S")
    item_id = world.item("3000")
    start(world, item_id)
    act(world, approve, item_id, "A")
    with pytest.raises(NotAllowed):  # absent today: their substitute acts
        act(world, approve, item_id, "C")
    case = act(world, approve, item_id, "S", reason="i. V.")
    assert case.status == "approved"
    anordnung = world.steps(item_id)[2]
    assert (anordnung.decided_by_id, anordnung.acting_for_id) == (world.user("S").id, world.user("C").id)
    event = world.events(item_id)[-1]
    assert (event.actor, event.details["user"], event.details["acting_for"]) == ("user:s", "s", "c")


def test_return_to_previous_step_needs_a_reason(world):
    item_id = world.item("3000")
    start(world, item_id)
    with pytest.raises(Conflict, match="keinen vorherigen"):
        act(world, return_to_previous, item_id, "A", reason="zurück")
    act(world, approve, item_id, "A")
    with pytest.raises(ReasonRequired):
        act(world, return_to_previous, item_id, "C", reason="  ")
    act(world, return_to_previous, item_id, "C", reason="Lieferschein fehlt")
    steps = world.steps(item_id)
    assert [(s.kind, s.state) for s in steps] == [("sachlich", "open"), ("rechnerisch", "auto"),
                                                  ("anordnung", "returned")]
    assert steps[0].decided_by_id is None
    assert (steps[2].decision, steps[2].reason, steps[2].decided_by_id) == ("return", "Lieferschein fehlt",
                                                                             world.user("C").id)
    event = world.events(item_id)[-1]
    assert (event.details["decision"], event.details["returned_to"], event.reason) == ("return", "sachlich",
                                                                                     "Lieferschein fehlt")
    act(world, approve, item_id, "A", reason="Lieferschein nachgereicht")
    assert kinds(world, item_id)[2] == ("anordnung", "open")
    assert act(world, approve, item_id, "C").status == "approved"


def test_threshold_chains_and_amount_limits(world):
    small, middle, large, wrong = world.item("3000"), world.item("12000"), world.item("30000"), \
        world.item("3000", wrong_total=True)
    for item_id in (small, middle, large, wrong):
        start(world, item_id)
    assert [k for k, _ in kinds(world, small)] == ["sachlich", "rechnerisch", "anordnung"]
    assert kinds(world, middle)[1] == ("rechnerisch", "waiting")  # above 5 000 EUR: a person
    assert kinds(world, wrong)[1] == ("rechnerisch", "waiting")  # the arithmetic check failed
    assert not world.case(wrong).workflow_snapshot["precheck"]["ok"]
    assert world.case(large).workflow_snapshot["name"] == "Tiefbau groß"
    assert [k for k, _ in kinds(world, large)] == ["sachlich", "rechnerisch", "anordnung", "anordnung"]

    act(world, approve, middle, "A")
    act(world, approve, middle, "B")
    with pytest.raises(NotAllowed, match="übersteigt das Anordnungslimit"):
        act(world, approve, middle, "C")  # limit 10 000 < 12 000
    assert act(world, approve, middle, "D").status == "approved"

    act(world, approve, large, "A")
    act(world, approve, large, "B")
    act(world, approve, large, "C")  # the budget holder's Anordnung (no limit needed)
    for who in ("A", "C"):  # the lead's Anordnung: limit 10 000 < 30 000
        with pytest.raises(NotAllowed, match="Anordnungslimit"):
            act(world, approve, large, who)
    assert act(world, approve, large, "D").status == "approved"


def test_supplier_conflict_blocks_a_linked_user(world):
    world.link_supplier("A")
    item_id = world.item("3000")
    start(world, item_id)
    with pytest.raises(NotAllowed, match="verbunden"):
        act(world, approve, item_id, "A")
    act(world, approve, item_id, "B")
    assert kinds(world, item_id)[0] == ("sachlich", "done")


def test_iban_alert_blocks_the_anordnung_until_a_second_person_clears_it(world):
    item_id = world.item("3000", iban=OTHER_IBAN)
    case = start(world, item_id)
    assert case.iban_alert == "open" and OTHER_IBAN in case.iban_alert_reason and "weicht" in case.iban_alert_reason
    act(world, approve, item_id, "A")
    with pytest.raises(NotAllowed, match="IBAN-Warnung offen"):
        act(world, approve, item_id, "C")
    with pytest.raises(NotAllowed):  # Rechnungseingang may not clear it; nor an approver of another unit
        act(world, clear_iban_alert, item_id, "R", reason="telefonisch bestätigt")
    with pytest.raises(NotAllowed):
        act(world, clear_iban_alert, item_id, "S", reason="telefonisch bestätigt")
    with pytest.raises(ReasonRequired):
        act(world, clear_iban_alert, item_id, "C")
    case = act(world, clear_iban_alert, item_id, "C", reason="Rückruf beim Lieferanten: neue Bankverbindung")
    assert (case.iban_alert, case.iban_alert_cleared_by) == ("cleared", "user:c")
    with pytest.raises(FourEyesViolation, match="IBAN-Warnung"):
        act(world, approve, item_id, "C")
    assert act(world, approve, item_id, "D").status == "approved"
    assert [e.details["decision"] for e in world.events(item_id)][-2:] == ["clear-iban-alert", "approve"]

    unknown = world.item("3000", supplier=False)  # no supplier in master data: the IBAN is unconfirmed
    assert start(world, unknown).iban_alert == "open"
    act(world, clear_iban_alert, unknown, "K", reason="Kreditor neu angelegt")  # the Kämmerei may clear


def test_park_pauses_decisions_comments_still_possible(world):
    item_id = world.item("3000")
    start(world, item_id)
    with pytest.raises(ReasonRequired):
        act(world, park, item_id, "A")
    case = act(world, park, item_id, "A", reason="Rückfrage beim Bauhof")
    assert (case.status, case.parked_reason) == ("parked", "Rückfrage beim Bauhof") and case.parked_at is not None
    with pytest.raises(NotAllowed, match="geparkt"):
        act(world, approve, item_id, "A")
    act(world, comment, item_id, "B", version=None, reason="Bauhof ruft zurück")
    case = act(world, unpark, item_id, "B")
    assert case.status == "open" and case.parked_reason is None
    act(world, approve, item_id, "A")
    view_events = [e.details["decision"] for e in world.events(item_id)]
    assert view_events == ["start", "park", "unpark", "approve"]
    assert [e.reason for e in world.events(item_id, "comment")] == ["Bauhof ruft zurück"]


def test_partial_acceptance_changes_the_payable_amount_with_reason(world):
    item_id = world.item("3000")
    start(world, item_id)
    with pytest.raises(ReasonRequired):
        act(world, set_payable, item_id, "A", payable_amount="2500")
    with pytest.raises(InvalidInput):
        act(world, set_payable, item_id, "A", payable_amount="3500", reason="zu viel")
    case = act(world, set_payable, item_id, "A", payable_amount="2500,00", reason="Kürzung: 2 Bordsteine beschädigt")
    assert (case.gross_amount, case.payable_amount) == (Decimal("3000.00"), Decimal("2500.00"))
    assert case.payable_reason == "Kürzung: 2 Bordsteine beschädigt"
    assert world.events(item_id)[-1].details["payable"] == "2500.00"
    act(world, approve, item_id, "A")
    with pytest.raises(NotAllowed, match="nur bei der sachlichen oder rechnerischen"):
        act(world, set_payable, item_id, "C", payable_amount="2000", reason="Skonto")  # who orders, never cuts
    case = act(world, approve, item_id, "C")
    assert (case.status, case.payable_amount) == ("approved", Decimal("2500.00"))


def test_change_after_the_freeze_needs_reopen_and_a_new_anordnung(world):
    item_id = world.item("3000")
    start(world, item_id)
    act(world, approve, item_id, "A")
    act(world, approve, item_id, "C")
    with pytest.raises(NotAllowed, match="festgeschrieben"):
        act(world, set_payable, item_id, "C", payable_amount="2000", reason="Gutschrift verrechnet")
    with pytest.raises(ReasonRequired):
        act(world, reopen_anordnung, item_id, "C", payable_amount="2000")
    case = act(world, reopen_anordnung, item_id, "C", payable_amount="2000", payee_iban=OTHER_IBAN,
               reason="Abtretung an Factoring-Gesellschaft")
    assert (case.status, case.frozen_at, case.payable_amount) == ("open", None, Decimal("2000.00"))
    assert case.payee_iban == OTHER_IBAN and case.iban_alert == "open"  # the new IBAN is not in master data
    assert world.state(item_id) == "in_approval"
    assert kinds(world, item_id) == [("sachlich", "done"), ("rechnerisch", "auto"), ("anordnung", "open")]
    act(world, clear_iban_alert, item_id, "B", reason="Abtretungsanzeige liegt vor")
    case = act(world, approve, item_id, "C")
    assert (case.status, case.payable_amount, world.state(item_id)) == ("approved", Decimal("2000.00"), "approved")
    assert [e.details["decision"] for e in world.events(item_id)][-3:] == ["reopen", "clear-iban-alert", "approve"]


def test_approved_back_to_in_approval_only_by_a_person(world):
    item_id = world.item("3000")
    start(world, item_id)
    act(world, approve, item_id, "A")
    act(world, approve, item_id, "C")
    with world.db.transaction() as session, pytest.raises(IllegalTransition, match="only a person"):
        transition(session.get(IntakeItem, item_id), "in_approval", "system:test", "reopen")
    with world.db.transaction() as session:
        transition(session.get(IntakeItem, item_id), "in_approval", "user:c", "Anordnung wieder geöffnet")
    assert world.state(item_id) == "in_approval"


def test_forward_and_reassign(world):
    item_id = world.item("3000")
    start(world, item_id)
    with pytest.raises(NotAllowed):
        act(world, approve, item_id, "S")  # not an approver of unit 66
    act(world, forward, item_id, "A", unit="20", reason="Kämmerei prüft den Vertrag")
    assert world.steps(item_id)[0].unit_id == world.units["20"]
    act(world, approve, item_id, "S")
    assert kinds(world, item_id)[2] == ("anordnung", "open")

    with pytest.raises(NotAllowed):
        act(world, reassign, item_id, "K", unit="20", reason="falsches Amt")
    case = act(world, reassign, item_id, "R", unit="20", reason="gehört zur Kämmerei")
    assert case.status == "cancelled" and world.state(item_id) == "matched"
    assert {s.state for s in world.steps(item_id)} == {"done", "auto", "cancelled"}
    with world.db.read() as session:
        assignment = session.get(Assignment, item_id)
        assert (assignment.unit_id, assignment.manual, assignment.reason) == (world.units["20"], True,
                                                                              "gehört zur Kämmerei")
    new = start(world, item_id, actor="user:r")
    assert new.id != case.id and world.steps(item_id)[0].unit_id == world.units["20"]


def test_stale_version_is_a_conflict_naming_who_was_first(world):
    item_id = world.item("3000")
    start(world, item_id)
    version = world.case(item_id).version
    act(world, approve, item_id, "A", version=version)
    with pytest.raises(Conflict, match="inzwischen von Person A bearbeitet – bitte neu laden"):
        act(world, approve, item_id, "C", version=version)
    assert kinds(world, item_id)[2] == ("anordnung", "open")


def test_kasse_staff_may_not_order(world):
    item_id = world.item("3000")
    start(world, item_id)
    act(world, approve, item_id, "A")
    with pytest.raises(NotAllowed, match="Kasse"):
        act(world, approve, item_id, "KASSE")
