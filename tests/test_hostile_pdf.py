"""Hostile and odd PDFs at three layers: ENGINE (`ValidationEngine.validate`: verdict, finding,
``embedded_file``), READER (`formats.read.read_invoice`: `FormatError` code or the invoice taken) and
INTAKE (receive → worker → ``rejected`` with the report, the PDF kept; SQLite and PostgreSQL).

Which embedded XML is taken (zugferd-facturx.md §3, `pdf_attachments._choose`): the first file spec
with a standard name in the PDF's name-tree order (the tree is sorted by name, so ``factur-x.xml``
comes before ``xrechnung.xml``), exact names before case-insensitive ones; with no standard name, a
single ``.xml`` attachment with an invoice root (with a warning); several such: refused for manual
handling. A plain PDF, an encrypted, truncated or inflating one (a PDF bomb) is refused with
EINVOICE-PDF. Engine-level "no attachment", "broken PDF" and "non-standard name" are in
tests/test_input_safety.py.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest
import sqlalchemy as sa

from einvoice.formats.read import FormatError, read_invoice
from einvoice.intake.receive import receive
from einvoice.jobs import run_worker
from einvoice.samples.generate import EN16931, cii_invoice, facturx_pdf
from einvoice.store import IntakeItem, ValidationReport

from hostile_data import inflating_pdf, pdf_with

pytest_plugins = ["pg"]  # tests/pg.py: the db fixture over SQLite and PostgreSQL


def _cii(number: str) -> bytes:
    return cii_invoice(number=number, customization=EN16931)


@pytest.fixture(scope="module")
def facturx() -> bytes:
    return facturx_pdf(_cii("PDF-1"))


def _refused(result, rule_id: str, text: str) -> None:
    assert (result.valid, result.triage) == (False, "reject")
    errors = [f for f in result.findings if f.is_error]
    assert [f.rule_id for f in errors] == [rule_id], result.findings
    assert text in errors[0].message
    assert "Traceback" not in errors[0].message


def _reader_code(data: bytes) -> str:
    with pytest.raises(FormatError) as refused:
        read_invoice(data, "x.pdf")
    return refused.value.code


def test_pdf_without_embedded_xml(engine):
    plain = pdf_with(pages=2)
    _refused(engine.validate(plain, "plain.pdf"), "EINVOICE-PDF", "no embedded invoice XML")
    other = pdf_with([("lieferschein.txt", b"Lieferschein 4711")])
    _refused(engine.validate(other, "other.pdf"), "EINVOICE-PDF", "'lieferschein.txt'")  # names what is there
    assert _reader_code(plain) == _reader_code(other) == "EINVOICE-PDF"


def test_several_invoices_the_first_standard_name_is_taken(engine):
    both = pdf_with([("xrechnung.xml", _cii("ZWEI")), ("factur-x.xml", _cii("EINS"))])
    result = engine.validate(both, "both.pdf")
    assert result.valid and result.embedded_file == "factur-x.xml"  # name-tree order: sorted by name
    read = read_invoice(both)
    assert (read.embedded_file, read.invoice.number) == ("factur-x.xml", "EINS")

    twice = pdf_with([("factur-x.xml", _cii("ERSTE")), ("factur-x.xml", _cii("ZWEITE"))])
    assert engine.validate(twice, "twice.pdf").embedded_file == "factur-x.xml"
    assert read_invoice(twice).invoice.number == "ERSTE"  # the first in the PDF's order

    case = pdf_with([("Factur-X.xml", _cii("GROSS")), ("rechnung.xml", _cii("ANDERE"))])
    result = engine.validate(case, "case.pdf")
    assert result.embedded_file == "Factur-X.xml" and "EINVOICE-PDF-NOTE" in {f.rule_id for f in result.findings}


def test_several_invoices_without_a_standard_name_are_refused(engine):
    data = pdf_with([("rechnung-a.xml", _cii("A")), ("rechnung-b.xml", _cii("B"))])
    _refused(engine.validate(data, "two.pdf"), "EINVOICE-PDF", "several XML attachments look like invoices")
    assert _reader_code(data) == "EINVOICE-PDF"


@pytest.mark.parametrize("password", ["geheim", ""], ids=["user-password", "empty-password"])
def test_encrypted_pdf_is_refused(engine, password):
    data = pdf_with([("factur-x.xml", _cii("ENC"))], encrypt=password)
    _refused(engine.validate(data, "enc.pdf"), "EINVOICE-PDF", "encrypted")
    assert _reader_code(data) == "EINVOICE-PDF"


@pytest.mark.parametrize("fraction", [0.5, 0.9])
def test_truncated_pdf_is_refused(engine, facturx, fraction):
    data = facturx[: int(len(facturx) * fraction)]
    _refused(engine.validate(data, "cut.pdf"), "EINVOICE-PDF", "cannot be read")
    assert _reader_code(data) == "EINVOICE-PDF"


@pytest.mark.parametrize("content,rule_id", [
    (b"\x89garbage\x00\x01 not xml at all", "EINVOICE-PARSE"),
    (b"", "EINVOICE-PARSE"),
    (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>', "EINVOICE-XML-UNSAFE"),
    (b"<Lieferschein/>", "EINVOICE-NOT-INVOICE"),
], ids=["garbage", "empty", "xxe", "not-an-invoice"])
def test_factur_x_xml_with_bad_content(engine, content, rule_id):
    data = pdf_with([("factur-x.xml", content)])
    result = engine.validate(data, "bad.pdf")
    assert result.embedded_file == "factur-x.xml"  # it was found, and its content refused
    assert (result.valid, result.triage) == (False, "reject")
    assert [f.rule_id for f in result.findings if f.is_error] == [rule_id]
    assert "root:" not in repr(result.to_dict())
    assert _reader_code(data) == rule_id


def test_inflating_embedded_file_is_refused_with_bounded_memory(engine):
    """An embedded stream that inflates to 1 GB (the PDF has 1 MB): pypdf stops at 75 MB, the engine
    refuses it as unreadable (EINVOICE-PDF, not an internal error); one that inflates past the XML
    limit (20 MB) but under pypdf's is refused by the limit."""
    bomb = inflating_pdf("factur-x.xml", 1 << 30)
    assert len(bomb) < 2_000_000
    tracemalloc.start()
    try:
        started = time.perf_counter()
        result = engine.validate(bomb, "bomb.pdf")
        took = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    _refused(result, "EINVOICE-PDF", "cannot be read")
    assert took < 5.0 and peak < 200 * 2**20  # measured: 0.3 s, 153 MB peak (pypdf's 75 MB cap, copied once)
    assert _reader_code(bomb) == "EINVOICE-PDF"
    over_limit = inflating_pdf("factur-x.xml", 30 << 20)
    _refused(engine.validate(over_limit, "big.pdf"), "EINVOICE-PDF", "larger than the limit of 20971520 bytes")


def test_huge_page_count_is_read_in_bounded_time(engine):
    data = pdf_with([("factur-x.xml", _cii("SEITEN"))], pages=5000)
    started = time.perf_counter()
    result = engine.validate(data, "pages.pdf")
    read = read_invoice(data)
    assert time.perf_counter() - started < 10.0  # only the catalog and the attachment are read
    assert result.valid and read.invoice.number == "SEITEN"


def test_full_intake_rejects_and_keeps_every_bad_pdf(db, facturx):
    documents = {
        "plain": (pdf_with(), "EINVOICE-PDF"),
        "two-invoices": (pdf_with([("a.xml", _cii("A")), ("b.xml", _cii("B"))]), "EINVOICE-PDF"),
        "encrypted": (pdf_with([("factur-x.xml", _cii("E"))], encrypt="geheim"), "EINVOICE-PDF"),
        "truncated": (facturx[: len(facturx) // 2], "EINVOICE-PDF"),
        "garbage-xml": (pdf_with([("factur-x.xml", b"\x00garbage")]), "EINVOICE-PARSE"),
        "bomb": (inflating_pdf("factur-x.xml", 1 << 30), "EINVOICE-PDF"),
    }
    items = {name: receive(db, data, channel="api", sender="client", file_name=f"{name}.pdf")
             for name, (data, _) in documents.items()}
    assert run_worker(once=True, db=db) == len(items)
    with db.read() as session:
        for name, (data, rule_id) in documents.items():
            item = session.get(IntakeItem, items[name].id)
            assert (item.state, item.triage, item.error) == ("rejected", "reject", None), name
            report = session.scalars(sa.select(ValidationReport).where(ValidationReport.item_id == item.id)).one()
            assert [f["rule_id"] for f in report.report["findings"] if f["severity"] == "error"] == [rule_id], name
            assert db.blobs.get(item.sha256) == data, name  # kept for inspection
