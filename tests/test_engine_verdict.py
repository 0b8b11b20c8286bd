"""Verdict rules of kosit-scenarios.md section 3, on the project's own sample invoices."""

from __future__ import annotations

from lxml import etree

from einvoice.samples.generate import EN16931, cii_invoice, ubl_invoice
from einvoice.validation.findings import Severity, severity_from_flag
from einvoice.validation.identifiers import classify

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


def _edit(data: bytes, xpath: str, text: str) -> bytes:
    tree = etree.fromstring(data)
    ns = {"cbc": CBC, "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}
    tree.xpath(xpath, namespaces=ns)[0].text = text
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def test_flag_to_level_mapping():
    assert severity_from_flag("fatal") is Severity.ERROR
    assert severity_from_flag("error") is Severity.ERROR
    assert severity_from_flag(None) is Severity.ERROR
    assert severity_from_flag("warning") is Severity.WARNING
    assert severity_from_flag("information") is Severity.INFORMATION


def test_own_samples_are_accepted(engine):
    for data in (ubl_invoice(), ubl_invoice(credit_note=True), cii_invoice(), ubl_invoice(customization=EN16931)):
        result = engine.validate(data, "sample.xml")
        assert result.valid, [f.to_dict() for f in result.errors()]
        assert result.triage == "accept"


def test_en16931_error_rejects_and_triage_rejects(engine):
    broken = _edit(ubl_invoice(), "//cac:LegalMonetaryTotal/cbc:PayableAmount", "1.00")
    result = engine.validate(broken, "wrong-total.xml")
    assert result.valid is False
    assert "BR-CO-16" in {f.rule_id for f in result.errors()}
    assert {f.source for f in result.errors()} == {"cen-ubl"}
    assert result.triage == "reject"


def test_xsd_failure_skips_schematron(engine):
    broken = _edit(ubl_invoice(), "//cbc:IssueDate", "not-a-date")
    result = engine.validate(broken, "bad-date.xml")
    assert result.valid is False
    assert {f.rule_id for f in result.findings} == {"EINVOICE-XSD"}
    assert "xsd" in result.timings_ms and "schematron" not in result.timings_ms
    assert result.triage == "reject"


def test_custom_level_makes_a_warning_an_error():
    """UBL-CR-646 (SubInvoiceLine) is a CEN warning; the XRechnung standard scenario raises it to error."""
    from einvoice.validation.packs.registry import builtin_packs

    pack = builtin_packs()[0]
    standard = next(s for s in pack.scenarios if s.name == "EN16931 XRechnung (UBL Invoice)")
    extension = next(s for s in pack.scenarios if s.name == "EN16931 XRechnung Extension (UBL Invoice)")
    assert standard.custom_levels["UBL-CR-646"] is Severity.ERROR
    assert extension.custom_levels["UBL-CR-646"] is Severity.INFORMATION


def test_subinvoiceline_is_an_error_only_in_the_standard_scenario(engine, corpus):
    extension_sample = next((corpus / "xrechnung-samples").rglob("*04.01a-INVOICE_ubl.xml"))
    data = extension_sample.read_bytes()
    as_extension = engine.validate(data, "ext.xml")
    assert as_extension.valid and as_extension.scenario == "EN16931 XRechnung Extension (UBL Invoice)"
    assert any(f.rule_id == "UBL-CR-646" and f.severity is Severity.INFORMATION for f in as_extension.findings)
    as_standard = engine.validate(
        data.replace(b"#conformant#urn:xeinkauf.de:kosit:extension:xrechnung_3.0", b""), "std.xml")
    assert as_standard.scenario == "EN16931 XRechnung (UBL Invoice)"
    assert any(f.rule_id == "UBL-CR-646" and f.is_error for f in as_standard.findings)
    assert as_standard.valid is False


def test_xrechnung_cii_runs_the_projects_cen_rules_not_the_facturx_profile(engine):
    result = engine.validate(cii_invoice(), "x.xml")
    assert result.valid and result.findings == []
    assert {"xslt:en16931-cii", "xslt:xr-cii"} <= result.timings_ms.keys()
    broken = cii_invoice().replace(b"<ram:LineID>1</ram:LineID>", b"<ram:LineID> </ram:LineID>")
    assert "BR-21" in {f.rule_id for f in engine.validate(broken, "y.xml").errors()}


def test_specification_identifiers():
    x = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
    assert classify(x).label == "XRechnung 3.0"
    assert classify(x + "#conformant#urn:xeinkauf.de:kosit:extension:xrechnung_3.0").variant == "extension"
    assert classify(x + "#compliant#urn:xeinkauf.de:kosit:xrechnung:cvd_0.9").variant == "cvd"
    assert classify(x.replace("3.0", "2.3")).version == "2.3"
    assert classify("urn:cen.eu:en16931:2017").family == "en16931"
    assert classify("urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0").family == "peppol"
    for spec_id, profile in (
        ("urn:factur-x.eu:1p0:minimum", "MINIMUM"),
        ("urn:factur-x.eu:1p0:basicwl", "BASIC WL"),
        ("urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic", "BASIC"),
        ("urn:cen.eu:en16931:2017#conformant#urn:zugferd.de:2p0:extended", "EXTENDED"),
    ):
        assert classify(spec_id).family == "facturx" and classify(spec_id).variant == profile
    assert classify(" urn:ferd:CrossIndustryDocument:invoice:1p0:comfort\n").label == "ZUGFeRD 1.0 COMFORT"
    assert classify(None).family == "missing"
