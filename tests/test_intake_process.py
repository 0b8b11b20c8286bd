"""receive → process: validated/rejected → parsed, duplicates, idempotency, raw bytes kept."""

from __future__ import annotations

import threading
from datetime import date

import pytest
import sqlalchemy as sa

from einvoice.formats.read import FormatError
from einvoice.intake import process as process_module
from einvoice.intake.receive import receive, receive_message
from einvoice.intake.process import _parse_step, _validate_step, process_item
from einvoice.samples.generate import cii_invoice, facturx_pdf, ubl_invoice
from einvoice.store import AuditEvent, DuplicateKey, IntakeItem, Job, ParsedInvoice, ValidationReport

pytest_plugins = ["pg"]  # tests/pg.py: the db / db_url fixtures over SQLite and PostgreSQL


def _events(db, item_id):
    with db.transaction() as session:
        return session.execute(sa.select(AuditEvent).where(AuditEvent.item_id == item_id)
                               .order_by(AuditEvent.id)).scalars().all()


def _path(db, item_id):
    return [(e.from_state, e.to_state) for e in _events(db, item_id)]


def _item(db, item_id) -> IntakeItem:
    with db.transaction() as session:
        return session.get(IntakeItem, item_id)


def _rows(db, model, item_id):
    with db.transaction() as session:
        return session.scalars(sa.select(model).where(model.item_id == item_id)).all()


def _snapshot(db):
    """Everything processing writes, to compare before and after a second run."""
    with db.transaction() as session:
        return {
            "items": session.execute(sa.select(IntakeItem.id, IntakeItem.state, IntakeItem.version,
                                               IntakeItem.duplicate_of_id).order_by(IntakeItem.id)).all(),
            "events": session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)),
            "reports": session.scalar(sa.select(sa.func.count()).select_from(ValidationReport)),
            "parsed": session.scalar(sa.select(sa.func.count()).select_from(ParsedInvoice)),
            "keys": session.execute(sa.select(DuplicateKey.key, DuplicateKey.item_id).order_by(DuplicateKey.key)).all(),
        }


def test_valid_invoice_is_validated_and_parsed(db, engine):
    data = ubl_invoice(number="RE-2026-0100")
    item = receive(db, data, channel="upload", sender="alice", file_name="rechnung.xml")
    assert process_item(db, item.id, engine=engine) == "parsed"

    assert _path(db, item.id) == [(None, "received"), ("received", "validated"), ("validated", "parsed")]
    assert db.blobs.get(item.sha256) == data  # the raw bytes, exactly
    stored = _item(db, item.id)
    assert (stored.kind, stored.valid, stored.triage) == ("ubl-invoice", True, "accept")
    assert (stored.invoice_number, stored.issue_date, stored.seller_vat_id) == ("RE-2026-0100", date(2026, 11, 2),
                                                                                 "DE123456788")
    [report] = _rows(db, ValidationReport, item.id)
    assert report.valid and report.report["valid"] is True and report.report["file"] == "rechnung.xml"
    [parsed] = _rows(db, ParsedInvoice, item.id)
    model = parsed.model
    assert model["invoice"]["number"] == "RE-2026-0100"
    assert model["invoice"]["totals"]["amount_due"] == {"value": "1119.96", "currency": "EUR"}  # a string, never a float
    assert model["direction"]["direction"] == "buyer-pays"


@pytest.mark.parametrize("make", [cii_invoice, lambda **kw: facturx_pdf(cii_invoice(**kw))], ids=["cii", "facturx-pdf"])
def test_other_syntaxes_reach_parsed(db, engine, make):
    data = make(number="RE-2026-0200")
    item = receive(db, data, channel="api", sender="client", file_name="x")
    assert process_item(db, item.id, engine=engine) == "parsed"
    assert _item(db, item.id).invoice_number == "RE-2026-0200"
    assert db.blobs.get(item.sha256) == data


def test_broken_invoice_is_rejected_with_its_findings_kept(db, engine):
    data = ubl_invoice(number="RE-2026-0300", defect="amount-due")
    item = receive(db, data, channel="imap", sender="lieferant@example.com", file_name="bad.xml")
    assert process_item(db, item.id, engine=engine) == "rejected"

    assert _path(db, item.id) == [(None, "received"), ("received", "rejected")]
    [event] = _events(db, item.id)[1:]
    assert "BR-CO-16" in event.reason and event.details["errors"] == ["BR-CO-16"]
    [report] = _rows(db, ValidationReport, item.id)
    assert not report.valid
    assert any(f["rule_id"] == "BR-CO-16" and f["severity"] == "error" for f in report.report["findings"])
    assert _rows(db, ParsedInvoice, item.id) == []
    assert db.blobs.get(item.sha256) == data
    assert _item(db, item.id).valid is False


@pytest.mark.parametrize("data,rule", [(b"not xml at all", "EINVOICE-PARSE"), (b"", "EINVOICE-EMPTY"),
                                       (b"<html><body/></html>", "EINVOICE-NOT-INVOICE")])
def test_non_invoices_are_rejected(db, engine, data, rule):
    item = receive(db, data, channel="upload", sender="a", file_name="x.xml")
    assert process_item(db, item.id, engine=engine) == "rejected"
    [report] = _rows(db, ValidationReport, item.id)
    assert rule in {f["rule_id"] for f in report.report["findings"]}
    assert db.blobs.get(item.sha256) == data


def test_same_file_again_is_a_duplicate_of_the_first(db, engine):
    data = ubl_invoice(number="RE-2026-0400")
    first = receive(db, data, channel="upload", sender="alice", file_name="a.xml")
    second = receive(db, data, channel="imap", sender="bob@example.com", file_name="copy.xml")
    assert process_item(db, first.id, engine=engine) == "parsed"
    assert process_item(db, second.id, engine=engine) == "duplicate"

    dup = _item(db, second.id)
    assert dup.duplicate_of_id == first.id
    assert _path(db, second.id) == [(None, "received"), ("received", "duplicate")]
    event = _events(db, second.id)[-1]
    assert f"#{first.id}" in event.reason and "SHA-256" in event.reason
    assert event.details["duplicate_of"] == first.id and event.details["first_state"] == "parsed"
    assert _rows(db, ValidationReport, second.id) == []  # not validated again
    assert db.blobs.get(dup.sha256) == data


def test_same_file_as_a_rejected_one_is_a_duplicate_too(db, engine):
    data = ubl_invoice(number="RE-2026-0410", defect="grand-total")
    first = receive(db, data, channel="upload", sender="a", file_name="a.xml")
    second = receive(db, data, channel="upload", sender="a", file_name="a.xml")
    assert process_item(db, first.id, engine=engine) == "rejected"
    assert process_item(db, second.id, engine=engine) == "duplicate"
    assert _events(db, second.id)[-1].details["first_state"] == "rejected"


def test_same_seller_and_number_is_a_duplicate(db, engine):
    first = receive(db, ubl_invoice(number="RE-2026-0500", lines=3), channel="upload", sender="a", file_name="a.xml")
    second = receive(db, ubl_invoice(number="RE-2026-0500", lines=2), channel="upload", sender="a", file_name="b.xml")
    assert _item(db, first.id).sha256 != _item(db, second.id).sha256
    assert process_item(db, first.id, engine=engine) == "parsed"
    assert process_item(db, second.id, engine=engine) == "duplicate"

    assert _item(db, second.id).duplicate_of_id == first.id
    assert _path(db, second.id) == [(None, "received"), ("received", "validated"), ("validated", "duplicate")]
    event = _events(db, second.id)[-1]
    assert "RE-2026-0500" in event.reason and event.details["key"] == "invoice:vat:DE123456788|RE-2026-0500|2026"
    assert len(_rows(db, ParsedInvoice, second.id)) == 1  # its data is kept for the person who looks at it


def test_not_duplicates(db, engine):
    """Another year, another seller, or a corrected invoice after a rejection are not duplicates."""
    base = receive(db, ubl_invoice(number="RE-0600"), channel="upload", sender="a", file_name="a.xml")
    other_year = receive(db, ubl_invoice(number="RE-0600", issue_date=date(2025, 11, 3)), channel="upload",
                         sender="a", file_name="b.xml")
    other_seller = receive(db, ubl_invoice(number="RE-0600", supplier="gruenpflege"), channel="upload",
                           sender="b", file_name="c.xml")
    broken = receive(db, ubl_invoice(number="RE-0601", defect="amount-due"), channel="upload", sender="a",
                     file_name="d.xml")
    corrected = receive(db, ubl_invoice(number="RE-0601"), channel="upload", sender="a", file_name="e.xml")
    for item, state in ((base, "parsed"), (other_year, "parsed"), (other_seller, "parsed"), (broken, "rejected"),
                        (corrected, "parsed")):
        assert process_item(db, item.id, engine=engine) == state, item


def test_processing_twice_changes_nothing(db, engine):
    items = [receive(db, data, channel="upload", sender="a", file_name="x.xml") for data in (
        ubl_invoice(number="RE-0700"), ubl_invoice(number="RE-0700"), ubl_invoice(number="RE-0700", lines=1),
        ubl_invoice(number="RE-0701", defect="amount-due"))]
    states = [process_item(db, item.id, engine=engine) for item in items]
    assert states == ["parsed", "duplicate", "duplicate", "rejected"]
    before = _snapshot(db)
    assert [process_item(db, item.id, engine=engine) for item in items] == states
    assert _snapshot(db) == before


def test_resuming_after_each_step_gives_the_same_result(db, engine):
    item = receive(db, ubl_invoice(number="RE-0800"), channel="upload", sender="a", file_name="x.xml")
    _validate_step(db, item.id, engine, "system:test")
    _validate_step(db, item.id, engine, "system:test")  # a retry of a step already done: nothing happens
    assert _item(db, item.id).state == "validated"
    _parse_step(db, item.id, "system:test")
    _parse_step(db, item.id, "system:test")
    assert process_item(db, item.id, engine=engine) == "parsed"
    assert _path(db, item.id) == [(None, "received"), ("received", "validated"), ("validated", "parsed")]
    assert len(_rows(db, ValidationReport, item.id)) == 1 and len(_rows(db, ParsedInvoice, item.id)) == 1


def test_concurrent_duplicates_have_exactly_one_winner(db, engine):
    """Two workers parse the same invoice at once: the unique key lets exactly one be first."""
    items = [receive(db, ubl_invoice(number="RE-0900", lines=n), channel="upload", sender="a", file_name="x.xml")
             for n in (1, 2, 3, 4)]
    for item in items:
        _validate_step(db, item.id, engine, "system:test")
    barrier = threading.Barrier(len(items))
    errors = []

    def parse(item_id):
        try:
            barrier.wait()
            _parse_step(db, item_id, "system:test")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=parse, args=(item.id,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    final = [_item(db, item.id) for item in items]
    winners = [i for i in final if i.state == "parsed"]
    assert len(winners) == 1
    assert all(i.state == "duplicate" and i.duplicate_of_id == winners[0].id for i in final if i is not winners[0])


def test_valid_but_unreadable_goes_to_failed_with_the_error(db, engine, monkeypatch):
    def unreadable(data, file_name):
        raise FormatError("EINVOICE-PARSE", "simulated reader gap")

    monkeypatch.setattr(process_module, "parse_bytes", unreadable)
    item = receive(db, ubl_invoice(number="RE-1000"), channel="upload", sender="a", file_name="x.xml")
    assert process_item(db, item.id, engine=engine) == "failed"
    stored = _item(db, item.id)
    assert stored.error == "EINVOICE-PARSE: simulated reader gap"
    assert _path(db, item.id)[-1] == ("validated", "failed")


def test_a_corrupt_blob_is_never_validated(db, engine):
    item = receive(db, ubl_invoice(number="RE-1100"), channel="upload", sender="a", file_name="x.xml")
    path = db.blobs.path_for(item.sha256)
    path.chmod(0o644)
    path.write_bytes(ubl_invoice(number="RE-6666"))
    with pytest.raises(Exception, match="corrupt"):
        process_item(db, item.id, engine=engine)
    assert _item(db, item.id).state == "received"


def test_an_email_keeps_the_message_and_each_attachment(db, engine):
    eml = b"From: lieferant@example.com\r\nSubject: Rechnungen\r\n\r\n(MIME body)\r\n"
    first, second = ubl_invoice(number="RE-1200"), cii_invoice(number="RE-1201")
    message_sha, items = receive_message(db, eml, [("a.xml", first), ("b.xml", second)], channel="imap",
                                         sender="lieferant@example.com", extra={"subject": "Rechnungen"})
    assert db.blobs.get(message_sha) == eml
    assert [i.envelope_sha256 for i in items] == [message_sha, message_sha]
    assert [db.blobs.get(i.sha256) for i in items] == [first, second]
    assert [process_item(db, i.id, engine=engine) for i in items] == ["parsed", "parsed"]
    with db.transaction() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Job).where(Job.kind == "process")) == 2
