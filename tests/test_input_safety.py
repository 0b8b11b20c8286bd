"""Hostile and broken input: every case gets a clear error finding, never a traceback."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from pypdf import PdfWriter

from einvoice.samples.generate import cii_invoice, ubl_invoice
from einvoice.validation import ValidationEngine


def _ids(result):
    return [f.rule_id for f in result.findings]


def _rejected(result, rule_id):
    assert result.valid is False
    assert result.triage == "reject"
    assert rule_id in _ids(result), result.findings
    assert "Traceback" not in " ".join(f.message for f in result.findings)


def test_malformed_xml(engine):
    result = engine.validate(ubl_invoice()[:500], "cut.xml")
    _rejected(result, "EINVOICE-PARSE")
    assert "line" in result.findings[0].message


def test_external_entity_is_refused_and_not_read(engine, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    xxe = (f'<?xml version="1.0"?><!DOCTYPE Invoice [<!ENTITY x SYSTEM "file://{secret}">]>'
           '<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&x;</Invoice>').encode()
    result = engine.validate(xxe, "xxe.xml")
    _rejected(result, "EINVOICE-XML-UNSAFE")
    assert "TOP-SECRET" not in repr(result.to_dict())


def test_entity_expansion_bomb_is_refused(engine):
    entities = "".join(f'<!ENTITY e{i} "{"&e%d;" % (i - 1) * 10}">' for i in range(1, 12))
    bomb = f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e0 "ha">{entities}]><r>&e11;</r>'.encode()
    _rejected(engine.validate(bomb, "bomb.xml"), "EINVOICE-XML-UNSAFE")


def test_doctype_hidden_in_utf16_is_refused(engine):
    doc = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r SYSTEM "http://example.org/x.dtd"><r/>'
    _rejected(engine.validate(doc.encode("utf-16"), "u16.xml"), "EINVOICE-XML-UNSAFE")


@pytest.mark.parametrize("data", [b"", b"   \n\t  "])
def test_empty_file(engine, data):
    _rejected(engine.validate(data, "empty.xml"), "EINVOICE-EMPTY")


def test_well_formed_but_not_an_invoice(engine):
    result = engine.validate(b"<?xml version='1.0'?><catalogue><item/></catalogue>", "other.xml")
    _rejected(result, "EINVOICE-NOT-INVOICE")
    assert "catalogue" in result.findings[0].message


def test_size_limit(engine):
    small = ValidationEngine(settings=replace(engine.settings, max_xml_bytes=1000), registry=engine.registry)
    result = small.validate(ubl_invoice(lines=20), "big.xml")
    _rejected(result, "EINVOICE-TOO-LARGE")


def test_binary_garbage(engine):
    _rejected(engine.validate(bytes(range(256)) * 10, "garbage.bin"), "EINVOICE-PARSE")


def test_pdf_without_attachment(engine):
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    result = engine.validate(buffer.getvalue(), "plain.pdf")
    _rejected(result, "EINVOICE-PDF")
    assert "no embedded" in result.findings[0].message


def test_broken_pdf(engine):
    _rejected(engine.validate(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ntrailer\n%%EOF", "broken.pdf"), "EINVOICE-PDF")


def test_pdf_with_non_standard_attachment_name_is_used_with_a_warning(engine):
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_attachment("rechnung.xml", cii_invoice())
    buffer = io.BytesIO()
    writer.write(buffer)
    result = engine.validate(buffer.getvalue(), "odd.pdf")
    assert result.embedded_file == "rechnung.xml"
    assert "EINVOICE-PDF-NOTE" in _ids(result)
    assert result.kind == "cii"


def test_xrechnung_2_is_reported_as_outdated_and_triaged_for_review(engine):
    old = ubl_invoice().replace(b"xrechnung_3.0", b"xrechnung_2.3")
    result = engine.validate(old, "old.xml")
    assert result.valid is False
    finding = result.findings[0]
    assert finding.rule_id == "EINVOICE-VERSION-UNSUPPORTED"
    assert "XRechnung 2.3" in finding.message and "XRechnung 3.0" in finding.message
    assert result.triage == "review"  # sound EN 16931 invoice: a person decides


def test_unknown_identifier_gets_no_scenario(engine):
    other = ubl_invoice().replace(b"urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0",
                                  b"urn:example:something")
    result = engine.validate(other, "other.xml")
    assert result.valid is False
    assert result.findings[0].rule_id == "EINVOICE-NO-SCENARIO"
    assert "urn:example:something" in result.findings[0].message


def test_file_too_large_to_read_and_unreadable_file(engine, tmp_path):
    small = ValidationEngine(settings=replace(engine.settings, max_xml_bytes=100, max_pdf_bytes=100),
                             registry=engine.registry)
    big = tmp_path / "big.xml"
    big.write_bytes(ubl_invoice())
    _rejected(small.validate_file(big), "EINVOICE-TOO-LARGE")
    _rejected(engine.validate_file(tmp_path), "EINVOICE-READ")  # a folder cannot be read as a file
