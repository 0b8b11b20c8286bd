"""Archive package content, built from invoices that went through the real chain (tests/archive_data.py):
originals byte-identical to the input (XML, hybrid PDF with the extracted XML, mail with the .eml and
both attachments, a rejected file), rendering, report, audit and approval trail, metadata and
index, retention date, Aktenzeichen, and the same item giving the same bytes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from lxml import etree

import archive_data as data
from einvoice.handoff.archive.manifest import MANIFEST, check_files
from einvoice.handoff.archive.metadata import aktenzeichen, retention_until
from einvoice.handoff.archive.package import PackageError, build_package
from einvoice.store.models import IntakeItem

pytest_plugins = ["pg"]


@pytest.fixture
def town(db):
    return data.town(db)


def build(db, item_id, settings=None):
    with db.read() as session:
        return build_package(session, db.blobs, session.get(IntakeItem, item_id), settings or db.settings)


def test_exported_xml_invoice(town):
    db = town
    original = data.xml()
    item_id = data.exported(db, original, "Rechnung 4711.xml")
    package = build(db, item_id)
    files = dict(package.files)
    assert files["original/Rechnung 4711.xml"] == original  # the received bytes, unchanged
    assert sorted(files) == ["approval.json", "audit.json", "index.xml", MANIFEST, "metadata.json",
                             "original/Rechnung 4711.xml", "rendering/invoice.html", "validation/report.html",
                             "validation/report.json"]
    assert check_files(files) == []
    assert b"Musterbau GmbH" in files["rendering/invoice.html"] and b"<script" not in files["rendering/invoice.html"]
    assert json.loads(files["validation/report.json"])["valid"] is True

    audit = json.loads(files["audit.json"])["events"]
    assert [e["to"] for e in audit if e["event"] == "transition"] == [
        "received", "validated", "parsed", "matched", "in_approval", "approved", "exported"]
    approval = json.loads(files["approval.json"])
    steps = approval["cases"][0]["steps"]
    assert [s["decided_by"]["username"] for s in steps if s["decided_by"]] == ["m.mueller", "e.schneider"]
    assert "BEST-2026-0815" in approval["matching"][0]["explanation"]

    meta = json.loads(files["metadata.json"])
    assert meta["document_type"] == "Rechnung" and meta["outcome"] == "exported"
    assert meta["supplier"]["creditor_number"] == "70001" and meta["booking"]["cost_centre"]["code"] == "6610"
    assert meta["invoice"]["gross"] == "1115.86" and meta["invoice"]["leitweg_id"] == "05315-12345-85"
    assert meta["approval"]["payee_iban"] == "DE91440501990004711815"
    assert meta["intake"]["receipt_date"] == "2026-11-03" and meta["retention_until"] == "2036-12-31"
    assert {f["path"]: f["kind"] for f in meta["files"]}["original/Rechnung 4711.xml"] == "original"

    index = etree.fromstring(files["index.xml"])
    ns = {"a": "urn:einvoice:archive:1"}
    assert index.findtext("a:creditorNumber", namespaces=ns) == "70001"
    assert index.findtext("a:costCentre", namespaces=ns) == "6610"
    assert index.findtext("a:retentionUntil", namespaces=ns) == "2036-12-31"
    assert len(index.findall("a:files/a:file", namespaces=ns)) == 6

    assert build(db, item_id).files == package.files  # deterministic: same item, same bytes


def test_hybrid_pdf_keeps_the_pdf_and_adds_the_extracted_xml_as_derived(town):
    db = town
    embedded = data.cii()
    original = data.pdf(embedded=embedded)
    item_id = data.exported(db, original, "rechnung.pdf")
    files = dict(build(db, item_id).files)
    assert files["original/rechnung.pdf"] == original
    assert files["extracted/factur-x.xml"] == embedded
    meta = json.loads(files["metadata.json"])
    kinds = {f["path"]: f["kind"] for f in meta["files"]}
    assert kinds["extracted/factur-x.xml"] == "derived" and kinds["original/rechnung.pdf"] == "original"
    assert check_files(files) == []


def test_mail_item_keeps_the_eml_and_the_pdf_of_the_pair(town):
    db = town
    number = data.number()
    xml, pdf = data.xml(number), data.pdf(number)
    (item_id,), raw = data.mailed(db, [("rechnung.xml", xml), ("rechnung.pdf", pdf)])
    files = dict(build(db, item_id).files)
    assert files["original/rechnung.xml"] == xml
    assert files["original/message.eml"] == raw
    assert files["original/rechnung.pdf"] == pdf
    meta = json.loads(files["metadata.json"])
    assert meta["intake"]["channel"] == "smtp" and meta["intake"]["envelope_sha256"]
    assert check_files(files) == []


def test_rejected_invoice_has_its_report_and_no_booking_data(town):
    db = town
    item_id, original = data.rejected(db, "falsch.xml")
    files = dict(build(db, item_id).files)
    assert files["original/falsch.xml"] == original
    report = json.loads(files["validation/report.json"])
    assert report["valid"] is False and b"BR-CO-15" in files["validation/report.html"]
    meta = json.loads(files["metadata.json"])
    assert meta["outcome"] == "rejected" and meta["booking"] is None and meta["approval"] is None
    assert b"BR-CO-15" in files["rendering/invoice.html"]  # readable with its findings


def test_unreadable_file_gets_a_package_without_rendering(db):
    from einvoice.intake.receive import receive

    garbage = b"\x00\x01 kein Rechnungsformat"
    item = receive(db, garbage, channel="upload", sender=None, file_name=None)
    data.work(db)
    assert data.state(db, item.id) == "rejected"
    files = dict(build(db, item.id).files)
    assert files["original/rechnung.xml"] == garbage and "rendering/invoice.html" not in files
    meta = json.loads(files["metadata.json"])
    assert meta["document_type"] is None and "keine lesbare Darstellung" in meta["notes"][0]


def test_missing_original_is_refused(town):
    db = town
    item_id, _ = data.rejected(db)
    with db.read() as session:
        blob = db.blobs.path_for(session.get(IntakeItem, item_id).sha256)
    blob.chmod(0o644)
    blob.write_bytes(b"damaged")
    with pytest.raises(PackageError, match="Original"):
        build(db, item_id)


def test_retention_date_and_aktenzeichen(town):
    db = town
    assert retention_until(datetime(2026, 1, 1).date(), 10).isoformat() == "2036-12-31"
    assert retention_until(datetime(2026, 12, 31).date(), 8).isoformat() == "2034-12-31"
    # received on 31 Dec 2025 23:30 UTC = 1 Jan 2026 in Germany: the German date counts
    item_id = data.exported(db, data.xml(), "neujahr.xml", received_at=datetime(2025, 12, 31, 23, 30, tzinfo=timezone.utc))
    settings = replace(db.settings, retention_years=8, archive_aktenzeichen="902.41/{year}-{unit}-{creditor}")
    meta = json.loads(dict(build(db, item_id, settings).files)["metadata.json"])
    assert meta["retention_until"] == "2034-12-31" and meta["aktenzeichen"] == "902.41/2026-66-70001"
    with pytest.raises(ValueError, match="ungültig"):
        aktenzeichen("902/{jahr}", {})
