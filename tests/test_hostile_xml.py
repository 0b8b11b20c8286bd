"""Hostile XML at three layers, each named in the test:

- ENGINE: `ValidationEngine.validate` gives the verdict with a precise finding (never a traceback,
  never EINVOICE-INTERNAL for bad input);
- READER: `formats.read.read_invoice` raises `FormatError` with the same code (or reads the
  invoice without resolving anything external);
- INTAKE: `receive` → the worker's ``process`` job → the item is ``rejected`` with its report, the
  bytes are kept exactly, the audit trail names the finding (SQLite and PostgreSQL).

External access is checked with a `NetworkTrap` (a listener the documents point at) and a secret
file they try to include. Engine-level file XXE, billion laughs, a DOCTYPE hidden in UTF-16, empty
and binary input are in tests/test_input_safety.py; here they come through the reader and intake.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from einvoice.formats.export import to_dict
from einvoice.formats.read import FormatError, read_invoice
from einvoice.intake.receive import receive
from einvoice.jobs import run_worker
from einvoice.samples.generate import cii_invoice, ubl_invoice
from einvoice.store import AuditEvent, IntakeItem, ValidationReport

from hostile_data import NetworkTrap, many_namespaces, nested, with_doctype

pytest_plugins = ["pg"]  # tests/pg.py: the db fixture over SQLite and PostgreSQL

SECRET = "TOP-SECRET-7f3a"
UBL = ubl_invoice(number="HX-1")


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


def _refused_documents(trap: NetworkTrap, secret) -> dict[str, bytes]:
    """Documents with a DOCTYPE: all refused before parsing (EINVOICE-XML-UNSAFE)."""
    laughs = "".join(f'<!ENTITY e{i} "{("&e%d;" % (i - 1)) * 10}">' for i in range(1, 12))
    return {
        "doctype-alone": with_doctype(UBL, b"<!DOCTYPE Invoice>"),
        "file-entity": with_doctype(UBL, f'<!DOCTYPE Invoice [<!ENTITY x SYSTEM "file://{secret}">]>'.encode())
        .replace(b"<cbc:Note>", b"<cbc:Note>&x;", 1),
        "http-entity": with_doctype(UBL, f'<!DOCTYPE Invoice [<!ENTITY x SYSTEM "{trap.url("e")}">]>'.encode())
        .replace(b"<cbc:Note>", b"<cbc:Note>&x;", 1),
        "parameter-entity": with_doctype(UBL, f'<!DOCTYPE Invoice [<!ENTITY % p SYSTEM "{trap.url("p")}"> %p;]>'
                                         .encode()),
        "external-dtd": with_doctype(UBL, f'<!DOCTYPE Invoice SYSTEM "{trap.url("x.dtd")}">'.encode()),
        "billion-laughs": with_doctype(UBL, f'<!DOCTYPE Invoice [<!ENTITY e0 "ha">{laughs}]>'.encode())
        .replace(b"<cbc:Note>", b"<cbc:Note>&e11;", 1),
        "quadratic-blowup": with_doctype(UBL, b'<!DOCTYPE Invoice [<!ENTITY a "' + b"x" * 100_000 + b'">]>')
        .replace(b"<cbc:Note>", b"<cbc:Note>" + b"&a;" * 100_000, 1),
        "doctype-in-utf16": with_doctype(UBL, f'<!DOCTYPE Invoice SYSTEM "{trap.url("u16.dtd")}">'.encode())
        .decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"),
    }


REFUSED = ["doctype-alone", "file-entity", "http-entity", "parameter-entity", "external-dtd", "billion-laughs",
           "quadratic-blowup", "doctype-in-utf16"]


@pytest.mark.parametrize("name", REFUSED)
def test_doctype_and_entities_are_refused_by_engine_and_reader(engine, secret_file, name):
    with NetworkTrap() as trap:
        data = _refused_documents(trap, secret_file)[name]
        started = time.perf_counter()
        result = engine.validate(data, f"{name}.xml")  # ENGINE
        took = time.perf_counter() - started
        with pytest.raises(FormatError) as refused:  # READER
            read_invoice(data, f"{name}.xml")
    assert (result.valid, result.triage) == (False, "reject")
    assert [f.rule_id for f in result.findings] == ["EINVOICE-XML-UNSAFE"]
    assert "DOCTYPE" in result.findings[0].message
    assert refused.value.code == "EINVOICE-XML-UNSAFE"
    assert took < 1.0  # refused before parsing: no expansion at all
    assert trap.requests == []  # no network access
    assert SECRET not in repr(result.to_dict())


def test_external_references_without_doctype_are_never_followed(engine, secret_file):
    """XInclude, an xsi:schemaLocation and an xml-stylesheet PI need no DOCTYPE: none is resolved."""
    with NetworkTrap() as trap:
        xinclude_file = UBL.replace(b"<cbc:Note>", b'<cbc:Note><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
                                    + f'href="file://{secret_file}" parse="text"/>'.encode(), 1)
        xinclude_http = UBL.replace(b"<cbc:Note>", b'<cbc:Note><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
                                    + f'href="{trap.url("xi")}" parse="text"/>'.encode(), 1)
        schema_location = UBL.replace(b"<Invoice ", b'<Invoice xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                                      b'xsi:schemaLocation="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2 '
                                      + trap.url("s.xsd").encode() + b'" ', 1)
        stylesheet = UBL.replace(b"?>\n", f'?>\n<?xml-stylesheet type="text/xsl" href="{trap.url("s.xsl")}"?>\n'
                                 .encode(), 1)
        results = {name: engine.validate(data, f"{name}.xml") for name, data in
                   (("xinclude-file", xinclude_file), ("xinclude-http", xinclude_http),
                    ("schema-location", schema_location), ("stylesheet", stylesheet))}
        models = [to_dict(read_invoice(data)) for data in (xinclude_file, xinclude_http, schema_location, stylesheet)]
    assert trap.requests == []
    for name in ("xinclude-file", "xinclude-http"):  # ENGINE: an element where BT-22 has text: XSD-invalid
        result = results[name]
        assert (result.valid, result.triage) == (False, "reject")
        assert {f.rule_id for f in result.findings if f.is_error} == {"EINVOICE-XSD"}
    assert results["schema-location"].valid and results["stylesheet"].valid  # harmless hints, ignored
    assert all(SECRET not in repr(r.to_dict()) for r in results.values())
    assert all(SECRET not in repr(model) for model in models)  # READER: nothing included
    assert models[2]["invoice"]["number"] == "HX-1"


def test_deep_nesting_is_a_parse_error_not_a_recursion_error(engine):
    for depth in (300, 100_000):
        data = nested(depth)
        started = time.perf_counter()
        result = engine.validate(data, "deep.xml")  # ENGINE
        assert time.perf_counter() - started < 2.0
        assert (result.valid, result.triage) == (False, "reject")
        assert [f.rule_id for f in result.findings] == ["EINVOICE-PARSE"]
        assert "depth" in result.findings[0].message.lower()
        with pytest.raises(FormatError) as refused:  # READER
            read_invoice(data)
        assert refused.value.code == "EINVOICE-PARSE"


def test_huge_attribute_is_refused_by_the_parser_limit(engine):
    data = UBL.replace(b'<cbc:PaymentMeansCode name="', b'<cbc:PaymentMeansCode name="' + b"x" * 12_000_000, 1)
    result = engine.validate(data, "attr.xml")
    assert [f.rule_id for f in result.findings] == ["EINVOICE-PARSE"] and "limit" in result.findings[0].message
    with pytest.raises(FormatError) as refused:
        read_invoice(data)
    assert refused.value.code == "EINVOICE-PARSE"


def test_large_text_is_validated_in_bounded_time(engine):
    """1 MB of free text in BT-20 (the payment terms the Skonto rule BR-DE-18 scans): valid, and linear
    in time (~0.8 s per MB on the 2-core machine, so a 20 MB XML stays under half a minute)."""
    text = "Lieferung gemäß Angebot.\n".encode() * 40_000
    data = UBL.replace(b"<cbc:Note>Zahlbar", b"<cbc:Note>" + text + b"Zahlbar", 1)
    started = time.perf_counter()
    result = engine.validate(data, "long-terms.xml")
    assert time.perf_counter() - started < 15.0
    assert result.valid, result.findings
    assert len(read_invoice(data).invoice.payment_terms) > 1_000_000


@pytest.mark.parametrize("make", [ubl_invoice, cii_invoice], ids=["ubl", "cii"])
def test_many_namespace_declarations_are_refused_as_unparseable_not_internal(engine, make):
    """1000 unused xmlns declarations: lxml and the XSD accept them, Saxon's parser (JAXP: at most 200
    attributes per element) does not; the finding says so (EINVOICE-PARSE), it is no internal error."""
    data = many_namespaces(make(number="NS-1"), 1000)
    result = engine.validate(data, "ns.xml")
    assert (result.valid, result.triage) == (False, "reject")
    assert [f.rule_id for f in result.findings if f.is_error] == ["EINVOICE-PARSE"]
    assert "Saxon" in result.findings[-1].message and "200" in result.findings[-1].message
    assert read_invoice(data).invoice.number == "NS-1"  # READER: lxml reads it


@pytest.mark.parametrize("encode", [
    lambda xml: b"\xef\xbb\xbf" + xml,
    lambda xml: xml.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"),
    lambda xml: xml.decode().replace('encoding="UTF-8"', 'encoding="UTF-16LE"').encode("utf-16-le"),
    lambda xml: xml.decode().replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("latin-1"),
], ids=["utf8-bom", "utf16-bom", "utf16le-declared", "latin1-declared"])
def test_other_encodings_of_a_valid_invoice_stay_valid(engine, encode):
    data = encode(ubl_invoice(number="ENC-1"))
    result = engine.validate(data, "enc.xml")
    assert result.valid and result.triage == "accept", result.findings
    invoice = read_invoice(data).invoice
    assert invoice.number == "ENC-1" and invoice.seller.address.line1 == "Industriestraße 12"


BROKEN_BYTES = {
    "invalid-utf8": UBL.replace(b"Musterbau GmbH</cbc:RegistrationName>", b"Muster\xff\xfebau</cbc:RegistrationName>"),
    "nul-byte": UBL.replace(b"Musterbau GmbH</cbc:RegistrationName>", b"Muster\x00bau</cbc:RegistrationName>"),
    "nul-char-reference": UBL.replace(b"<cbc:Note>", b"<cbc:Note>&#0;", 1),
    "unknown-encoding": UBL.replace(b'encoding="UTF-8"', b'encoding="x-klingon"'),
    "utf16-declared-utf8-bytes": UBL.replace(b'encoding="UTF-8"', b'encoding="UTF-16"'),
}


@pytest.mark.parametrize("name", sorted(BROKEN_BYTES))
def test_broken_bytes_are_parse_errors(engine, name):
    result = engine.validate(BROKEN_BYTES[name], f"{name}.xml")
    assert (result.valid, result.triage) == (False, "reject")
    assert [f.rule_id for f in result.findings] == ["EINVOICE-PARSE"]
    assert "line" in result.findings[0].message
    with pytest.raises(FormatError) as refused:
        read_invoice(BROKEN_BYTES[name])
    assert refused.value.code == "EINVOICE-PARSE"


# --- INTAKE: receive → worker → rejected with the report, bytes kept -------------------------------

INTAKE_CASES = [("http-entity", "EINVOICE-XML-UNSAFE"), ("billion-laughs", "EINVOICE-XML-UNSAFE"),
                ("nested", "EINVOICE-PARSE"), ("many-namespaces", "EINVOICE-PARSE"),
                ("invalid-utf8", "EINVOICE-PARSE"), ("nul-byte", "EINVOICE-PARSE"), ("xinclude", "EINVOICE-XSD")]


def test_full_intake_rejects_with_the_report_and_keeps_the_bytes(db, secret_file):
    with NetworkTrap() as trap:
        refused = _refused_documents(trap, secret_file)
        documents = {
            "http-entity": refused["http-entity"], "billion-laughs": refused["billion-laughs"],
            "nested": nested(100_000), "many-namespaces": many_namespaces(ubl_invoice(number="NS-2"), 1000),
            "invalid-utf8": BROKEN_BYTES["invalid-utf8"], "nul-byte": BROKEN_BYTES["nul-byte"],
            "xinclude": UBL.replace(b"<cbc:Note>", b'<cbc:Note><xi:include xmlns:xi="http://www.w3.org/2001/XInclude"'
                                    + f' href="{trap.url("xi")}" parse="text"/>'.encode(), 1),
        }
        items = {name: receive(db, documents[name], channel="upload", sender="angreifer@example.com",
                               file_name=f"{name}.xml") for name, _ in INTAKE_CASES}
        assert run_worker(once=True, db=db) == len(items)  # one process job each, none fails
    assert trap.requests == []
    with db.read() as session:
        for name, rule in INTAKE_CASES:
            item = session.get(IntakeItem, items[name].id)
            assert (item.state, item.valid, item.triage, item.error) == ("rejected", False, "reject", None), name
            report = session.scalars(sa.select(ValidationReport).where(ValidationReport.item_id == item.id)).one()
            assert rule in {f["rule_id"] for f in report.report["findings"] if f["severity"] == "error"}, name
            event = session.scalars(sa.select(AuditEvent).where(AuditEvent.item_id == item.id)
                                    .order_by(AuditEvent.id.desc()).limit(1)).one()
            assert event.to_state == "rejected" and rule in event.reason, name
            text = repr(report.report) + event.reason
            assert "Traceback" not in text and "EINVOICE-INTERNAL" not in text and SECRET not in text, name
            assert db.blobs.get(item.sha256) == documents[name]  # kept exactly, for inspection
