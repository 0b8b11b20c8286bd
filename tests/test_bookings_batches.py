"""Booking batches on a generated month (SQLite and PostgreSQL): the control total is the sum of the
signed payable amounts, split records add up to their invoice exactly, a second export takes nothing,
cancelling frees the invoices for the next export, booked batches stay, two exports at once take each
invoice once, batches are immutable, the JSON file round-trips."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bookings_data import approved_invoice, generated_month, load_town, signed_payable_total
from einvoice.handoff.bookings import (
    Conflict, InvalidInput, NotFound, batch_file, cancel_batch, create_batch, mark_booked,
)
from einvoice.handoff.bookings import build_records
from einvoice.handoff.bookings.batches import ImmutableBatchError
from einvoice.handoff.bookings.sources import load_sources
from einvoice.store.handoff_models import ExportBatch, ExportRecord
from einvoice.store.models import AuditEvent, IntakeItem, ParsedInvoice
from einvoice.store.routing_models import ApprovalCase

pytest_plugins = ["pg"]

KAEMMEREI = "user:k.weber"


@pytest.fixture
def town(db):
    return load_town(db)


@pytest.fixture
def month(town):
    return generated_month(town)


def export(db, **kwargs):
    with db.transaction() as session:
        return create_batch(session, db.blobs, actor=kwargs.pop("actor", KAEMMEREI), **kwargs)


def active_records(db) -> list[ExportRecord]:
    with db.read() as session:
        return list(session.scalars(sa.select(ExportRecord).where(ExportRecord.active.is_(True))
                                    .order_by(ExportRecord.id)))


def states(db, ids) -> set[str]:
    with db.read() as session:
        return set(session.scalars(sa.select(IntakeItem.state).where(IntakeItem.id.in_(ids))))


def test_generated_month_exports_once_with_the_control_total(db, month):
    batch = export(db)
    expected = signed_payable_total(db, month)
    assert (batch.invoice_count, batch.record_count, batch.status) == (40, 42, "created")
    assert batch.control_total == expected
    records = active_records(db)
    assert len(records) == 42 and sum(r.gross_amount for r in records) == expected
    assert sum(Decimal(r.record["payable"]) for r in records) == expected
    # credit notes negative: 3 of them, each with negative amounts; the control total is below the invoices' sum
    credit = [r for r in records if r.record["document_type"] == "Gutschrift"]
    assert len({r.item_id for r in credit}) == 3 and all(r.gross_amount < 0 for r in credit)
    assert all(Decimal(r.record[k]) < 0 for r in credit for k in ("net", "vat", "gross", "amount_due"))
    assert batch.totals["credit_notes"]["count"] == 3 and batch.totals["invoices"]["count"] == 37
    assert Decimal(batch.totals["credit_notes"]["payable"]) + Decimal(batch.totals["invoices"]["payable"]) == expected
    eur = batch.totals["currencies"]["EUR"]
    assert Decimal(eur["payable"]) == expected and eur["records"] == 42
    assert {(v["category"], v["rate"]) for v in batch.totals["vat"]} == {("S", "19.00"), ("S", "7.00")}
    assert sum(Decimal(v["payable"]) for v in batch.totals["vat"]) == expected
    assert states(db, month) == {"exported"}
    with db.read() as session:
        events = session.scalars(sa.select(AuditEvent).where(AuditEvent.to_state == "exported")).all()
        assert len(events) == 40 and {e.actor for e in events} == {KAEMMEREI}
        assert all(e.details == {"batch_id": batch.id} and batch.file_name in e.reason for e in events)
    # the stored file is the batch's file and carries its number in every row
    data = batch_file(db, batch.id)
    assert data.decode("utf-8").count(f"\r\n{batch.id};") == 42
    # running the export again produces no second batch and no second record
    assert export(db) is None
    assert len(active_records(db)) == 42
    with db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ExportBatch)) == 1


def test_every_invoice_and_each_split_sums_exactly(db, month):
    export(db)
    by_item = defaultdict(list)
    for record in active_records(db):
        by_item[record.item_id].append(record.record)
    with db.read() as session:
        models = {p.item_id: p.model for p in session.scalars(sa.select(ParsedInvoice))}
        cases = {c.item_id: c for c in session.scalars(sa.select(ApprovalCase))}
    split = {item: rows for item, rows in by_item.items() if len(rows) > 1}
    assert len(split) == 2 and all(len(rows) == 2 for rows in split.values())
    for item_id, rows in by_item.items():
        terms, sign = models[item_id]["terms"], models[item_id]["direction"]["sign"]
        total = lambda key: sum(Decimal(r[key]) for r in rows)  # noqa: E731
        assert total("net") == Decimal(terms["BT-109"]) * sign, item_id
        assert total("vat") == Decimal(terms["BT-110"]) * sign
        assert total("gross") == Decimal(terms["BT-112"]) * sign
        assert total("amount_due") == Decimal(terms["BT-115"]) * sign
        assert total("payable") == cases[item_id].payable_amount
        groups = defaultdict(Decimal)
        for row in rows:
            assert Decimal(row["net"]) + Decimal(row["vat"]) == Decimal(row["gross"])
            assert sum(Decimal(g["payable"]) for g in row["vat_breakdown"]) == Decimal(row["payable"])
            for group in row["vat_breakdown"]:
                groups[(group["category"], group["rate"], "net")] += Decimal(group["net"])
                groups[(group["category"], group["rate"], "vat")] += Decimal(group["vat"])
        for vat in models[item_id]["invoice"]["vat_breakdown"]:
            assert groups[(vat["category"], vat["rate"], "net")] == Decimal(vat["taxable_amount"]["value"]) * sign
            assert groups[(vat["category"], vat["rate"], "vat")] == Decimal(vat["tax_amount"]["value"]) * sign
    for rows in split.values():
        assert [r["split_index"] for r in rows] == [0, 1] and len({r["cost_centre"] for r in rows}) == 2
        assert {r["split_count"] for r in rows} == {2}
        # each split carries the VAT of its own lines: the lines' net amounts add up to the split's net
        model = models[rows[0]["item_id"]]
        lines = {line["id"]: Decimal(line["net_amount"]["value"]) for line in model["invoice"]["lines"]}
        if "allowances" not in model["invoice"] and "charges" not in model["invoice"]:
            assert Decimal(rows[0]["net"]) == sum(v for k, v in lines.items() if int(k) % 2 == 1)
    partial = [rows[0] for rows in by_item.values() if rows[0]["payable_reason"]]
    assert len(partial) == 1 and Decimal(partial[0]["payable"]) == Decimal(partial[0]["amount_due"]) - 100
    # the export reads only parts of each stored model: the records are those of the whole model
    with db.read() as session:
        items = list(session.scalars(sa.select(IntakeItem).where(IntakeItem.id.in_(list(by_item)))))
        sources = load_sources(session, items)
    assert len(sources) == 40 and any("lines" in src.model["invoice"] for src in sources)
    for src in sources:
        whole = [{**r, "batch_id": rows[0]["batch_id"]} for r in build_records(replace(src, model=models[src.item_id]))
                 for rows in [by_item[src.item_id]]]
        assert whole == by_item[src.item_id], src.item_id


def test_cancel_frees_the_invoices_for_the_next_export(db, month):
    first = export(db)
    original = batch_file(db, first.id)
    with pytest.raises(InvalidInput):
        with db.transaction() as session:
            cancel_batch(session, first.id, actor=KAEMMEREI, reason="  ")
    with pytest.raises(InvalidInput):  # a person cancels, not the system
        with db.transaction() as session:
            cancel_batch(session, first.id, actor="system:cli", reason="falsches Format")
    with db.transaction() as session:
        cancelled = cancel_batch(session, first.id, actor=KAEMMEREI, reason="Falsche Zuordnung gewählt")
    assert (cancelled.status, cancelled.cancelled_by, cancelled.cancel_reason) == (
        "cancelled", KAEMMEREI, "Falsche Zuordnung gewählt")
    assert states(db, month) == {"approved"} and active_records(db) == []
    with db.read() as session:
        back = session.scalars(sa.select(AuditEvent).where(AuditEvent.from_state == "exported")).all()
        assert len(back) == 40 and all("Falsche Zuordnung gewählt" in e.reason for e in back)
    with pytest.raises(Conflict):
        with db.transaction() as session:
            cancel_batch(session, first.id, actor=KAEMMEREI, reason="nochmal")
    second = export(db, mapping="beispiel-fibu")
    assert second.id == first.id + 1 and second.invoice_count == 40
    assert second.control_total == first.control_total
    assert {r.batch_id for r in active_records(db)} == {second.id}
    assert batch_file(db, first.id) == original  # the cancelled batch's file is kept unchanged
    with db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ExportRecord)) == 84


def test_a_booked_batch_cannot_be_cancelled(db, town):
    ids = [approved_invoice(town), approved_invoice(town, supplier="schreibwerk")]
    batch = export(db)
    with db.transaction() as session:
        booked = mark_booked(session, batch.id, actor=KAEMMEREI)
    assert booked.status == "booked" and booked.booked_by == KAEMMEREI and booked.booked_at is not None
    with pytest.raises(Conflict, match="Stornobuchung"):
        with db.transaction() as session:
            cancel_batch(session, batch.id, actor=KAEMMEREI, reason="zu spät bemerkt")
    with pytest.raises(Conflict):
        with db.transaction() as session:
            mark_booked(session, batch.id, actor=KAEMMEREI)
    with pytest.raises(NotFound):
        with db.transaction() as session:
            mark_booked(session, 999, actor=KAEMMEREI)
    assert states(db, ids) == {"exported"}
    with db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                              .where(AuditEvent.event == "booked")) == 2


def test_chosen_invoices_only_and_refusals(db, town):
    ids = [approved_invoice(town, supplier=s) for s in ("musterbau", "gruenpflege", "nordlicht")]
    batch = export(db, item_ids=[ids[2], ids[0]])
    assert batch.invoice_count == 2 and {r.item_id for r in active_records(db)} == {ids[0], ids[2]}
    with pytest.raises(Conflict, match=f"#{ids[0]} \\(Status exported\\)"):
        export(db, item_ids=[ids[0], ids[1]])
    with pytest.raises(Conflict, match="#99999 \\(unbekannt\\)"):
        export(db, item_ids=[99999])
    with pytest.raises(InvalidInput):
        export(db, format="xlsx")
    assert export(db, item_ids=[]) is None
    assert export(db).invoice_count == 1  # the one left


def test_two_exports_at_once_take_each_invoice_once(db, town):
    ids = [approved_invoice(town, supplier=s, lines=2) for s in ("musterbau", "gruenpflege") * 6]
    barrier, results, errors = threading.Barrier(2), [], []

    def run():
        barrier.wait()
        try:
            results.append(export(db))
        except Conflict as exc:  # the partial unique index refused a second record (the lock should prevent it)
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    records = active_records(db)
    assert sorted(r.item_id for r in records) == sorted(ids)  # each invoice exactly once
    batches = [b for b in results if b is not None]
    assert errors == [] and len(results) == 2  # locked rows are skipped (PostgreSQL) or the writers queue (SQLite)
    assert sum(b.invoice_count for b in batches) == len(ids)
    assert states(db, ids) == {"exported"}
    # and the database itself refuses a second active record of an invoice
    with pytest.raises(IntegrityError):
        with db.transaction() as session:
            session.add(ExportRecord(batch_id=records[0].batch_id, item_id=records[0].item_id, split_index=0,
                                     active=True, gross_amount=Decimal("1.00"), record={}))


def test_batches_and_records_are_immutable(db, town):
    approved_invoice(town)
    batch = export(db)
    with pytest.raises(ImmutableBatchError):
        with db.transaction() as session:
            session.get(ExportBatch, batch.id).file_name = "anders.csv"
    with pytest.raises(ImmutableBatchError):
        with db.transaction() as session:
            record = session.scalars(sa.select(ExportRecord)).first()
            record.gross_amount = Decimal("0.01")
    with pytest.raises(ImmutableBatchError):
        with db.transaction() as session:
            session.delete(session.get(ExportBatch, batch.id))


def test_json_file_round_trips_the_stored_records(db, town):
    ids = [approved_invoice(town, supplier="gruenpflege", lines=5, split=("6710", "6720")),
           approved_invoice(town, supplier="nordlicht", credit_note=True)]
    batch = export(db, format="json")
    assert batch.file_name.endswith(".json") and batch.mapping == "json"
    document = json.loads(batch_file(db, batch.id))
    assert (document["format"], document["version"], document["batch_id"]) == ("einvoice-buchungen", 1, batch.id)
    assert Decimal(document["control_total"]) == batch.control_total == signed_payable_total(db, ids)
    assert document["records"] == [r.record for r in active_records(db)]
    assert document["totals"] == {k: v for k, v in batch.totals.items() if k != "file"}
    credit = [r for r in document["records"] if r["item_id"] == ids[1]][0]
    assert credit["sign"] == -1 and credit["document_type"] == "Gutschrift" and credit["payable"].startswith("-")
    assert credit["payee_name"] == "Förde Factoring GmbH" and credit["creditor_number"] == "70004"
