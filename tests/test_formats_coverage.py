"""Coverage: nothing a supplier sent goes unnoticed (what the model did not read is listed)."""

from __future__ import annotations

from conftest import REPORT_LINES
from einvoice.formats.read import read_invoice
from einvoice.samples.generate import cii_invoice, facturx_pdf, ubl_invoice


def test_coverage_is_empty_for_every_official_xrechnung_sample(corpus, expected):
    files = sorted(rel for rel, e in expected.items() if rel.startswith("xrechnung-samples/") and e["valid"])
    unread = {}
    for rel in files:
        gaps = read_invoice((corpus / rel).read_bytes(), rel).coverage()
        if gaps:
            unread[rel] = [(g.location, g.value) for g in gaps]
    assert unread == {}
    REPORT_LINES.append(f"formats: coverage empty (every element and attribute read) for {len(files)}/86 samples")


def test_coverage_is_empty_for_the_generated_documents():
    for data in (ubl_invoice(lines=6), ubl_invoice(credit_note=True), cii_invoice(lines=6), facturx_pdf()):
        assert read_invoice(data).coverage() == []


def test_coverage_lists_an_unknown_element_and_attribute_with_its_group():
    xml = ubl_invoice().replace(
        b"<cbc:CityName>Dortmund</cbc:CityName>",
        b'<cbc:CityName languageID="de">Dortmund</cbc:CityName><cbc:Department>Einkauf</cbc:Department>', 1)
    gaps = read_invoice(xml).coverage()
    assert {(g.location.rsplit("/", 1)[-1], g.value, g.group) for g in gaps} == {
        ("@languageID", "de", "BG-5"), ("cbc:Department", "Einkauf", "BG-5")}
    assert gaps[0].group_label == "Anschrift des Verkäufers"


def test_coverage_lists_a_second_value_where_the_model_holds_one():
    xml = cii_invoice().replace(b"<ram:BuyerReference>", b"<ram:BuyerReference>X</ram:BuyerReference><ram:BuyerReference>", 1)
    result = read_invoice(xml)
    assert result.invoice.buyer_reference == "X"
    assert [g.location.rsplit("/", 1)[-1] for g in result.coverage()] == ["ram:BuyerReference[2]"]


def test_coverage_of_zugferd_extended_lists_the_non_en16931_parts(corpus, expected):
    rel = "zugferd/validator/zugferd_2p1_EXTENDED_PDFA-3A.pdf"
    if rel not in expected:
        return
    locations = {g.location for g in read_invoice((corpus / rel).read_bytes(), rel).coverage()}
    assert any("InvoiceeTradeParty" in loc for loc in locations)  # EXTENDED-only party, not in the model
    assert any("SpecifiedLogisticsServiceCharge" in loc for loc in locations)
