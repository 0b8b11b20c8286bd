"""Workflow definitions (schema, validation messages, the shipped TOML), seeding and choosing a workflow,
the facts and arithmetic pre-check taken from the stored model, and the preconditions of start_case."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from einvoice.formats.arithmetic import check_result
from einvoice.formats.export import to_dict
from einvoice.formats.read import read_invoice
from einvoice.routing.workflow import Conflict, DefinitionError, NoWorkflow, choose_workflow, start_case
from einvoice.routing.workflow.definitions import load_file, replace_workflows, validate_workflows
from einvoice.routing.workflow.facts import arithmetic_precheck, invoice_facts
from einvoice.samples.generate import cii_invoice, ubl_invoice
from einvoice.store.models import IntakeItem
from einvoice.store.routing_models import Assignment, Workflow

pytest.register_assert_rewrite("workflow_fixtures")
from workflow_fixtures import act, start  # noqa: E402

pytest_plugins = ["pg", "workflow_fixtures"]


def test_the_shipped_workflows_are_valid_and_thresholds_are_data():
    tiefbau, standard = load_file()
    assert (tiefbau["name"], tiefbau["unit"], tiefbau["min_amount"], tiefbau["position"]) == (
        "Tiefbau groß", "66", "25000.00", 10)
    assert [s["kind"] for s in tiefbau["steps"]] == ["sachlich", "rechnerisch", "anordnung", "anordnung"]
    assert [s["needs_limit"] for s in tiefbau["steps"]][2:] == [False, True]
    assert (standard["unit"], standard["min_amount"]) == (None, None)
    assert standard["steps"][1] | {} == {"kind": "rechnerisch", "name": "Rechnerisch richtig", "role": "approver",
                                         "unit": None, "needs_limit": False, "only_above": None,
                                         "auto": "arithmetic", "person_above": "5000.00"}
    assert standard["rules"] == {"four_eyes": "hard", "supplier_conflict": "block", "iban_check": "alert"}


def test_invalid_definitions_list_every_problem_with_its_place():
    bad = [{"name": "X", "steps": [
        {"kind": "anordnung", "role": "kasse"},
        {"kind": "sachlich", "auto": "arithmetic", "colour": "red"},
        {"kind": "freigabe"},
    ], "min_amount": "-5", "rules": {"four_eyes": "maybe"}},
        {"name": "X", "steps": [{"kind": "sachlich"}]}]
    with pytest.raises(DefinitionError) as caught:
        validate_workflows(bad)
    problems = caught.value.problems
    expected = ["workflow[0].steps[0].role: die Kasse darf keine Anordnung erteilen",
                "workflow[0].steps[1].colour: unbekannter Schlüssel",
                "workflow[0].steps[1].auto: nur \"arithmetic\" und nur für den Schritt rechnerisch",
                "workflow[0].steps[2].kind: 'freigabe'",
                "workflow[0].steps: sachlich/rechnerisch müssen vor der Anordnung stehen",
                "workflow[0].min_amount: Betrag muss null oder positiv sein",
                "workflow[0].rules.four_eyes: 'maybe'",
                "workflow[1].steps: eine Anordnung ohne only_above ist erforderlich",
                "workflow: Name 'X' mehrfach vergeben"]
    for text in expected:
        assert any(p.startswith(text) for p in problems), (text, problems)
    assert caught.value.status == 422 and caught.value.message.startswith("Ungültige Workflow-Definition")
    with pytest.raises(DefinitionError):
        validate_workflows([])
    [ok] = validate_workflows([{"name": "Y", "steps": [{"kind": "anordnung", "only_above": 100.5},
                                                       {"kind": "anordnung"}], "min_amount": 250}])
    assert (ok["min_amount"], ok["steps"][0]["only_above"], ok["steps"][0]["needs_limit"]) == ("250.00", "100.50", True)


@pytest.mark.parametrize("make,defect", [(ubl_invoice, None), (cii_invoice, None), (ubl_invoice, "amount-due"),
                                         (cii_invoice, "amount-due")])
def test_precheck_from_the_stored_model_agrees_with_the_arithmetic_check(make, defect):
    result = read_invoice(make(number="RE-7", defect=defect), "x.xml")
    model = json.loads(json.dumps(to_dict(result), default=str))  # as stored (JSON)
    precheck = arithmetic_precheck(model)
    assert precheck["ok"] == check_result(result).ok == (defect is None)
    if defect:
        assert "BR-CO-16" in {c["rule"] for c in precheck["failed"]}
    facts = invoice_facts(model)
    assert (facts.gross, facts.iban, facts.payee_name) == (Decimal(model["terms"]["BT-115"]),
                                                          model["terms"]["BT-84"][0], "Musterbau GmbH")
    credit = read_invoice(ubl_invoice(number="GS-1", credit_note=True), "gs.xml")
    assert invoice_facts(json.loads(json.dumps(to_dict(credit), default=str))).gross < 0
    assert arithmetic_precheck({"invoice": {"lines": "nonsense"}})["ok"] is False
    assert arithmetic_precheck({"invoice": {}})["error"] == "Rechnungsbetrag (BT-115) oder Positionen fehlen"


def test_payee_bt59_wins_over_the_seller():
    model = {"terms": {"BT-27": "Musterbau GmbH", "BT-59": "Factoring AG", "BT-84": ["de91 4405 0199 0004 7118 15"],
                       "BT-115": "10.00"}, "direction": {"sign": 1}}
    facts = invoice_facts(model)
    assert (facts.payee_name, facts.iban, facts.gross) == ("Factoring AG", "DE91440501990004711815", Decimal("10.00"))


def test_replace_and_choose_workflows(world):
    with world.db.transaction() as session:
        assignment = Assignment(item_id=0, status="matched", unit_id=world.units["66"], assigned_by="t")
        choose = lambda amount: choose_workflow(session, assignment, Decimal(amount)).name  # noqa: E731
        assert [choose(a) for a in ("3000", "24999.99", "25000", "-30000")] == [
            "Standard", "Standard", "Tiefbau groß", "Tiefbau groß"]  # credit notes by their amount
        assignment.unit_id = world.units["20"]
        assert choose("30000") == "Standard"

        definitions = copy.deepcopy(load_file())[:1]  # only "Tiefbau groß": "Standard" is deactivated
        assert replace_workflows(session, definitions) == {"created": 0, "updated": 1, "deactivated": 1}
        with pytest.raises(NoWorkflow):
            choose("30000")
        definitions[0]["unit"] = "99"
        with pytest.raises(DefinitionError, match="Organisationseinheit '99' unbekannt"):
            replace_workflows(session, definitions)
        assert session.query(Workflow).filter(Workflow.active.is_(True)).count() == 1


def test_start_case_preconditions(world):
    item_id = world.item("3000")
    start(world, item_id)
    with pytest.raises(Conflict, match="in_approval"):
        start(world, item_id)
    other = world.item("3000", unit="20")
    with world.db.transaction() as session:
        replace_workflows(session, load_file()[:1])  # only Tiefbau (unit 66) remains active
    with pytest.raises(NoWorkflow):
        start(world, other)
    assert world.state(other) == "matched"
    with world.db.transaction() as session:
        session.get(Assignment, other).status = "manual"
        with pytest.raises(Conflict, match="keine Zuordnung"):
            start_case(session, session.get(IntakeItem, other), actor="system:test")


def test_cli_seed_and_show(world, monkeypatch, capsys, tmp_path):
    from einvoice.cli import main
    from einvoice.routing.workflow import approve

    monkeypatch.setenv("EINVOICE_DATABASE_URL", world.db.url.render_as_string(hide_password=False))
    item_id = world.item("3000")
    start(world, item_id)
    act(world, approve, item_id, "A", reason="geprüft")
    assert main(["workflow", "show", str(item_id)]) == 0
    text = capsys.readouterr().out
    assert "Workflow „Standard“" in text and "1. Sachlich richtig [66, approver]: done – approve Person A" in text
    assert "▶ 3. Anordnung" in text and "3.000,00 EUR" in text
    assert main(["workflow", "show", str(item_id), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == 2
    assert main(["workflow", "show", "999"]) == 1

    broken = tmp_path / "workflows.toml"
    broken.write_text('[[workflow]]\nname = "X"\n[[workflow.steps]]\nkind = "sachlich"\n', encoding="utf-8")
    assert main(["workflow", "seed", str(broken)]) == 1
    assert "eine Anordnung ohne only_above ist erforderlich" in capsys.readouterr().err
    assert main(["workflow", "seed"]) == 0
    assert "2 aktualisiert" in capsys.readouterr().err
