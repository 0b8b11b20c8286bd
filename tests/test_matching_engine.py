"""The pure matching engine (keys + rules + context → outcome) on an in-memory context built from
tests/matching_data.py and the default rules of rules/routing/matching.toml: every key, splits,
conflicts, unit-only proposals, confidence threshold, doubts from master data, patterns."""

from __future__ import annotations

from decimal import Decimal

import pytest

from einvoice.routing.matching import decide, extract_keys
from einvoice.routing.matching.keys import norm_name
from einvoice.store.routing_models import MatchStatus
from matching_data import (
    IBAN_MUSTERBAU, LW_10, LW_40, LW_66, LW_CENTRAL, LW_UNKNOWN, VAT_MUSTERBAU, VAT_SCHULBEDARF, memory_context, model,
)

CTX = memory_context()
CC = {code: centre.id for code, centre in CTX.cost_centres_by_code.items()}
UNIT = {unit.code: unit.id for unit in CTX.units.values()}
SUPPLIER = {s.creditor_number: s.id for s in CTX.suppliers.values()}


def run(ctx=CTX, **fields):
    return decide(extract_keys(model(**fields)), ctx.rules, ctx)


# --- keys ---------------------------------------------------------------------------------------------

def test_keys_are_normalised_and_lines_keep_their_own_references():
    keys = extract_keys(model(leitweg_id=f"  {LW_66.lower()} ", iban="de91 4405 0199 0004 7118 15", vat=" de 123456788",
                              name="  Musterbau \n GmbH ", order="best-2026-0815",
                              lines=[("1", "1100", "10.00"), ("2", None, "5.50"), ("3", " 4010 ", "-1.25")]))
    assert keys.leitweg_id == LW_66 and keys.order_reference == "BEST-2026-0815"
    assert keys.ibans == (IBAN_MUSTERBAU,) and keys.seller_vat_id == "DE123456788"
    assert keys.seller_name == "Musterbau GmbH" and norm_name(keys.seller_name) == "musterbau gmbh"
    assert [(line.line_id, line.accounting_reference, line.net_amount) for line in keys.lines] == [
        ("1", "1100", Decimal("10.00")), ("2", None, Decimal("5.50")), ("3", "4010", Decimal("-1.25"))]


def test_flat_terms_are_used_without_structured_lines_but_misaligned_references_are_dropped():
    aligned = extract_keys({"terms": {"BT-126": ["1", "2"], "BT-131": ["1.00", "2.00"], "BT-133": ["1100", "4010"]}})
    assert [(line.line_id, line.accounting_reference) for line in aligned.lines] == [("1", "1100"), ("2", "4010")]
    misaligned = extract_keys({"terms": {"BT-126": ["1", "2"], "BT-131": ["1.00", "2.00"], "BT-133": ["1100"]}})
    assert [line.accounting_reference for line in misaligned.lines] == [None, None]  # which line? a person decides
    assert extract_keys({}).lines == () and extract_keys({}).leitweg_id is None


# --- one key each -----------------------------------------------------------------------------------

def test_order_assigns_its_cost_centre_account_and_explains_it():
    outcome = run(order="BEST-2026-0815", vat=VAT_MUSTERBAU)
    assert outcome.status is MatchStatus.MATCHED
    assert (outcome.cost_centre_id, outcome.unit_id, outcome.account, outcome.budget_product) == \
        (CC["6610"], UNIT["FB66"], "5221", "54.10")
    assert outcome.confidence == 95 and outcome.supplier_id == SUPPLIER["K-1001"]
    assert outcome.explanation.startswith("Bestellnummer BEST-2026-0815 → KSt 6610 Straßenunterhaltung "
                                          "(Regel 1 „Bestellung“, Konfidenz 95)")
    # the supplier's default cost centre (6620, confidence 70) disagrees but is weaker: listed, not a conflict
    assert "abweichend" in outcome.explanation and "KSt 6620" in outcome.explanation
    assert [c["rule"] for c in outcome.candidates] == ["Bestellung", "Lieferant (USt-IdNr.)"]


def test_contract_account_wins_over_the_cost_centre_default():
    outcome = run(contract="v-2024-17")
    assert (outcome.status, outcome.cost_centre_id, outcome.account) == (MatchStatus.MATCHED, CC["1100"], "5241")
    assert "Vertragsnummer V-2024-17" in outcome.explanation


def test_leitweg_id_with_cost_centre_case_insensitive():
    outcome = run(leitweg_id=LW_66.lower())
    assert (outcome.status, outcome.cost_centre_id, outcome.account) == (MatchStatus.MATCHED, CC["6610"], "5221")
    assert "Leitweg-ID mit Kostenstelle" in outcome.explanation


def test_buyer_accounting_reference_is_a_cost_centre_code():
    outcome = run(buyer_reference=" 4020 ")
    assert (outcome.status, outcome.cost_centre_id, outcome.unit_id) == (MatchStatus.MATCHED, CC["4020"], UNIT["FB40"])


@pytest.mark.parametrize("fields,how,confidence", [
    ({"vat": VAT_MUSTERBAU}, "USt-IdNr.", 70),
    ({"iban": "DE91 4405 0199 0004 7118 15"}, "IBAN", 60),
    ({"name": "  MUSTERBAU   gmbh"}, "Name", 50),
], ids=["vat", "iban", "name"])
def test_supplier_default_cost_centre_by_vat_iban_name(fields, how, confidence):
    outcome = run(**fields)
    assert (outcome.status, outcome.cost_centre_id, outcome.confidence) == (MatchStatus.MATCHED, CC["6620"], confidence)
    assert outcome.supplier_id == SUPPLIER["K-1001"]
    assert f"erkannt an {how}" in outcome.explanation


def test_supplier_is_found_even_when_another_rule_decides():
    outcome = run(leitweg_id=LW_10, iban=IBAN_MUSTERBAU)
    assert outcome.cost_centre_id == CC["1100"] and outcome.supplier_id == SUPPLIER["K-1001"]


# --- no match, conflicts, unit only, confidence --------------------------------------------------------

def test_unknown_leitweg_id_goes_to_the_manual_queue_with_the_reason():
    outcome = run(leitweg_id=LW_UNKNOWN)
    assert outcome.status is MatchStatus.MANUAL and outcome.cost_centre_id is None
    assert outcome.explanation.startswith(f"Keine Regel traf zu: Leitweg-ID {LW_UNKNOWN} unbekannt")
    assert "Grobadresse 05315000" in outcome.explanation and LW_66 in outcome.explanation  # known siblings
    typo = run(leitweg_id=LW_66[:-2] + "00")
    assert "Prüfziffer falsch (erwartet " + LW_66[-2:] + ")" in typo.explanation


def test_nothing_to_match_on():
    outcome = run(name=None)
    assert outcome.status is MatchStatus.MANUAL and "keine auswertbaren Angaben" in outcome.explanation


def test_conflicting_rules_of_equal_confidence_go_to_manual_naming_both():
    outcome = run(order="BEST-2026-0815", leitweg_id=LW_10)
    assert outcome.status is MatchStatus.MANUAL and outcome.cost_centre_id is None
    assert outcome.explanation.startswith("Widerspruch: Bestellnummer BEST-2026-0815 → KSt 6610")
    assert "Leitweg-ID " + LW_10 + " → KSt 1100" in outcome.explanation
    assert {c["cost_centre"] for c in outcome.candidates} == {"6610", "1100"}


def test_agreeing_rules_confirm_each_other():
    outcome = run(order="BEST-2026-0815", leitweg_id=LW_66)
    assert outcome.status is MatchStatus.MATCHED and "bestätigt durch Regel 3" in outcome.explanation


def test_unit_only_leitweg_id_is_no_match_alone():
    outcome = run(leitweg_id=LW_40)
    assert outcome.status is MatchStatus.MANUAL and outcome.unit_id == UNIT["FB40"] and outcome.cost_centre_id is None
    assert "Nur die Organisationseinheit" in outcome.explanation


def test_central_leitweg_id_names_no_unit_so_the_supplier_decides():
    outcome = run(leitweg_id=LW_CENTRAL, vat=VAT_SCHULBEDARF)
    assert (outcome.status, outcome.cost_centre_id) == (MatchStatus.MATCHED, CC["4010"])  # no conflict with FB10
    alone = run(leitweg_id=LW_CENTRAL, name=None)
    assert alone.status is MatchStatus.MANUAL and alone.unit_id is None
    assert "zentrale Rechnungsadresse" in alone.explanation


def test_unit_only_leitweg_id_plus_cost_centre_of_the_same_unit_matches():
    outcome = run(leitweg_id=LW_40, vat=VAT_SCHULBEDARF)
    assert (outcome.status, outcome.cost_centre_id) == (MatchStatus.MATCHED, CC["4010"])


def test_unit_only_leitweg_id_contradicting_a_later_cost_centre_is_manual():
    outcome = run(leitweg_id=LW_40, vat=VAT_MUSTERBAU)  # Leitweg → FB40, supplier default → 6620 of FB66
    assert outcome.status is MatchStatus.MANUAL and "Widerspruch" in outcome.explanation
    assert "OE FB40" in outcome.explanation and "KSt 6620" in outcome.explanation


def test_confidence_below_the_minimum_is_manual_with_the_proposal_kept():
    assert run(name="Musterbau GmbH").status is MatchStatus.MATCHED  # 50 ≥ 50
    strict = memory_context(min_confidence=60)
    outcome = run(strict, name="Musterbau GmbH")
    assert outcome.status is MatchStatus.MANUAL and outcome.cost_centre_id == CC["6620"]  # a suggestion
    assert outcome.explanation.startswith("Konfidenz 50 unter dem Mindestwert 60")


@pytest.mark.parametrize("fields,doubt", [
    ({"order": "BEST-2026-0900"}, "ist abgeschlossen"),
    ({"contract": "V-2020-01"}, "nicht gültig"),
    ({"order": "BEST-2026-0815", "vat": VAT_SCHULBEDARF}, "gehört zu Lieferant K-1001"),
], ids=["closed-order", "expired-contract", "order-of-another-supplier"])
def test_doubts_from_master_data_halve_the_confidence(fields, doubt):
    outcome = run(**fields)
    assert outcome.status is MatchStatus.MANUAL or outcome.confidence < 50
    assert doubt in outcome.explanation
    assert outcome.candidates[0]["confidence"] == 47


def test_inactive_cost_centre_never_matches():
    outcome = run(buyer_reference="9900")
    assert outcome.status is MatchStatus.MANUAL and "KSt 9900 ist inaktiv" in outcome.explanation


# --- line splits --------------------------------------------------------------------------------------

def test_line_references_to_two_cost_centres_split_with_exact_sums():
    outcome = run(lines=[("1", "1100", "100.10"), ("2", "4010", "200.20"), ("3", "1100", "0.05")])
    assert outcome.status is MatchStatus.MATCHED
    splits = {s["cost_centre"]: s for s in outcome.splits}
    assert splits["1100"]["amount"] == "100.15" and splits["1100"]["lines"] == ["1", "3"]
    assert splits["4010"]["amount"] == "200.20" and splits["4010"]["lines"] == ["2"]
    assert splits["1100"]["account"] == "5431" and splits["4010"]["unit_id"] == UNIT["FB40"]
    assert sum(Decimal(s["amount"]) for s in outcome.splits) == Decimal("300.35")
    assert outcome.cost_centre_id == CC["4010"]  # no document-level target: the largest part
    assert "Aufteilung" in outcome.explanation


def test_lines_without_reference_go_to_the_document_level_target():
    outcome = run(order="BEST-2026-0815",
                  lines=[("1", "1100", "100.10"), ("2", "4010", "200.20"), ("3", None, "5.00"), ("4", None, "0.01")])
    assert outcome.status is MatchStatus.MATCHED and outcome.cost_centre_id == CC["6610"]
    rest = next(s for s in outcome.splits if s["cost_centre"] == "6610")
    assert rest["amount"] == "5.01" and rest["lines"] == ["3", "4"]
    assert outcome.confidence == 85  # the lowest of the rules used


def test_lines_without_reference_and_no_document_target_are_manual():
    outcome = run(lines=[("1", "1100", "1.00"), ("2", "4010", "2.00"), ("3", None, "3.00")])
    assert outcome.status is MatchStatus.MANUAL and "Position 3 ohne Kostenstelle" in outcome.explanation


def test_lines_of_one_cost_centre_are_a_document_level_match():
    outcome = run(lines=[("1", "4020", "1.00"), ("2", "4020", "2.00")])
    assert (outcome.status, outcome.cost_centre_id, outcome.splits) == (MatchStatus.MATCHED, CC["4020"], None)


# --- patterns -----------------------------------------------------------------------------------------

def test_glob_pattern_rule_assigns_its_own_target():
    rules = [{"name": "Stadtwerke", "key": "supplier_name", "pattern": "stadtwerke *", "cost_centre": "1100",
              "account": "5241", "confidence": 80},
             {"name": "Bestellung", "key": "order", "confidence": 95}]
    ctx = memory_context(rules)
    outcome = run(ctx, name="Stadtwerke  Musterstadt GmbH")
    assert (outcome.status, outcome.cost_centre_id, outcome.account) == (MatchStatus.MATCHED, CC["1100"], "5241")
    assert run(ctx, name="Neue Stadtwerke GmbH").status is MatchStatus.MANUAL  # whole value, not a substring
    single = memory_context([{"name": "BT-19 Muster", "key": "buyer_reference", "pattern": "KST-66??", "unit": "FB66"}])
    outcome = run(single, buyer_reference="kst-6610")
    assert (outcome.status, outcome.unit_id) == (MatchStatus.MANUAL, UNIT["FB66"])  # unit only: a suggestion
