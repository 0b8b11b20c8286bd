"""Payment runs on SQLite and PostgreSQL with invoices approved through the real workflow: the file
validates and its sums match with Skonto only inside the deadline, partial acceptance, skipped credit
notes and zero amounts, invalid IBANs refused before writing, an invoice in at most one active run (also
two runs at once), cancelling frees it, umlauts transliterated, remittance = invoice number."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal as D

import pytest
import sqlalchemy as sa
from lxml import etree

pytest.register_assert_rewrite("workflow_fixtures", "payments_data")
from payments_data import ONE_TERM, STAGGERED, approved, settings_for  # noqa: E402

from einvoice.handoff.payments import runs  # noqa: E402
from einvoice.handoff.payments.charset import is_sepa_text  # noqa: E402
from einvoice.handoff.payments.errors import (  # noqa: E402
    DebtorNotConfigured, InvalidRequest, NothingToPay, PaymentError, RunConflict,
)
from einvoice.handoff.payments.sepa import NS, totals, xsd_errors  # noqa: E402
from einvoice.store.handoff_models import PaymentEntry, PaymentRun  # noqa: E402
from einvoice.store.models import AuditEvent, Blob, IntakeItem  # noqa: E402
from einvoice.store.routing_models import ApprovalCase  # noqa: E402

pytest_plugins = ["pg", "workflow_fixtures"]
P = {"p": NS}


def make_run(world, execution_date, item_ids=None, **settings):
    with world.db.transaction() as session:
        result = runs.create_run(session, world.db.blobs, actor="user:k", execution_date=execution_date,
                                 item_ids=item_ids, settings=settings_for(world.db, **settings), clock=world.clock)
        return result, world.db.blobs.get(result.run.sha256)


def transactions(xml: bytes) -> dict[str, dict]:
    """EndToEndId → amount, name, IBAN, remittance of each CdtTrfTxInf."""
    root = etree.fromstring(xml)
    return {tx.findtext("p:PmtId/p:EndToEndId", namespaces=P): {
        "amount": D(tx.findtext("p:Amt/p:InstdAmt", namespaces=P)), "name": tx.findtext("p:Cdtr/p:Nm", namespaces=P),
        "iban": tx.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=P),
        "remittance": tx.findtext("p:RmtInf/p:Ustrd", namespaces=P)} for tx in root.iterfind(".//p:CdtTrfTxInf", P)}


def count(db, model, *where) -> int:
    with db.read() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_file_validates_and_sums_match_with_skonto_only_inside_the_deadline(world):
    # ONE_TERM: 2 % until Mon 23 Nov 2026; STAGGERED: 3 % until 16 Nov, 2 % until 23 Nov, net 9 Dec
    early = approved(world, "1190.00", bt20=ONE_TERM)
    staggered = approved(world, "4284.00", bt20=STAGGERED)
    plain = approved(world, "595.00")
    result, xml = make_run(world, date(2026, 11, 16))
    assert xsd_errors(xml) == [] and xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    run = result.run
    amounts = {e.item_id: (e.amount, e.skonto_deducted) for e in result.entries}
    assert amounts == {early: (D("1166.20"), D("23.80")), staggered: (D("4155.48"), D("128.52")),
                       plain: (D("595.00"), D("0.00"))}
    assert (run.transaction_count, run.control_sum, run.skonto_total) == (3, D("5916.68"), D("152.32"))
    assert totals(xml) == {"group": (3, D("5916.68")), "payment_infos": [(3, D("5916.68"))],
                           "transactions": (3, D("5916.68"))}
    assert etree.fromstring(xml).findtext(".//p:GrpHdr/p:MsgId", namespaces=P) == run.message_id
    txs = transactions(xml)
    assert sorted(txs) == sorted(e.end_to_end_id for e in result.entries)  # unique, one per invoice
    with world.db.read() as session:
        numbers = {i: session.get(IntakeItem, i).invoice_number for i in (early, staggered, plain)}
        states = {session.get(IntakeItem, i).state for i in (early, staggered, plain)}
        events = session.scalars(sa.select(AuditEvent).where(AuditEvent.event == "payment")).all()
    by_item = {e.item_id: txs[e.end_to_end_id] for e in result.entries}
    assert by_item[plain]["remittance"] == numbers[plain]  # remittance = the invoice number
    assert by_item[early]["remittance"] == f"{numbers[early]} Skonto 23,80 EUR"
    assert states == {"approved"}  # a payment run does not change the item state
    assert {e.item_id for e in events} == {early, staggered, plain}
    assert all(e.actor == "user:k" and f"Zahllauf #{run.id}" in e.reason for e in events)


@pytest.mark.parametrize("executed, amount, skonto", [
    (date(2026, 11, 23), "1166.20", "23.80"),  # the deadline day itself
    (date(2026, 11, 24), "1190.00", "0.00"),  # one day later: the full amount
])
def test_deadline_day_counts_one_day_later_full_amount(world, executed, amount, skonto):
    item = approved(world, "1190.00", bt20=ONE_TERM)
    result, xml = make_run(world, executed)
    entry = result.entries[0]
    assert (entry.item_id, entry.amount, entry.skonto_deducted) == (item, D(amount), D(skonto))
    assert transactions(xml)[entry.end_to_end_id]["amount"] == D(amount)


def test_staggered_terms_step_down(world):
    ids = [approved(world, "4284.00", bt20=STAGGERED) for _ in range(3)]
    got = []
    for item_id, executed in zip(ids, (date(2026, 11, 17), date(2026, 11, 23), date(2026, 11, 24))):
        result, _ = make_run(world, executed, [item_id])
        got.append((result.entries[0].amount, result.entries[0].skonto_deducted))
    assert got == [(D("4198.32"), D("85.68")), (D("4198.32"), D("85.68")), (D("4284.00"), D("0.00"))]


def test_partial_acceptance_pays_the_reduced_amount_with_skonto_on_it(world):
    item = approved(world, "4284.00", bt20=STAGGERED, payable="4000.00")
    result, xml = make_run(world, date(2026, 11, 16))
    entry = result.entries[0]
    assert (entry.item_id, entry.amount, entry.skonto_deducted) == (item, D("3880.00"), D("120.00"))
    assert "gekürzten Zahlbetrag" in result.amounts[item].explanation
    assert totals(xml)["group"] == (1, D("3880.00"))


def test_credit_notes_zero_amounts_and_unapproved_invoices_are_skipped_with_reasons(world):
    pay = approved(world, "100.00")
    credit = approved(world, "50.00", credit=True)
    open_one = approved(world, "70.00", approve_it=False)
    result, xml = make_run(world, date(2026, 11, 16), [pay, credit, open_one, 999999])
    assert [e.item_id for e in result.entries] == [pay]
    assert {s.item_id: s.code for s in result.skipped} == {credit: "credit-note", open_one: "state",
                                                           999999: "not-found"}
    assert "Gutschrift" in next(s.reason for s in result.skipped if s.item_id == credit)
    with world.db.transaction() as session:  # zero payable (e.g. fully disputed, yet ordered)
        session.scalars(sa.select(ApprovalCase).where(ApprovalCase.item_id == pay)).one().payable_amount = D("0.00")
        runs.cancel_run(session, result.run.id, actor="user:k", reason="Test")
    with pytest.raises(NothingToPay) as refused:
        make_run(world, date(2026, 11, 16), [pay])
    assert refused.value.details == [{"item_id": pay, "code": "zero",
                                      "reason": "Zahlbetrag 0,00 EUR: nichts zu überweisen"}]


def test_invalid_iban_is_refused_before_writing(world):
    good = approved(world, "100.00")
    bad = approved(world, "200.00")
    with world.db.transaction() as session:  # a wrong check digit, as a hand-edited record could bring in
        session.scalars(sa.select(ApprovalCase).where(ApprovalCase.item_id == bad)).one().payee_iban = \
            "DE91440501990004711816"
    blobs_before = count(world.db, Blob)
    with pytest.raises(NothingToPay) as refused:  # alone: nothing is written at all
        make_run(world, date(2026, 11, 16), [bad])
    assert refused.value.details[0]["code"] == "invalid-iban" and "ungültig" in refused.value.details[0]["reason"]
    assert (count(world.db, PaymentRun), count(world.db, PaymentEntry), count(world.db, Blob)) == (0, 0, blobs_before)
    result, xml = make_run(world, date(2026, 11, 16), [good, bad])  # with others: reported, not written
    assert [e.item_id for e in result.entries] == [good]
    assert [(s.item_id, s.code) for s in result.skipped] == [(bad, "invalid-iban")]
    assert b"DE91440501990004711816" not in xml


def test_refused_without_debtor_settings_or_with_a_past_date(world):
    approved(world, "100.00")
    with pytest.raises(DebtorNotConfigured, match="EINVOICE_DEBTOR_NAME"):
        make_run(world, date(2026, 11, 16), debtor_name=None)
    with pytest.raises(DebtorNotConfigured, match="EINVOICE_DEBTOR_IBAN"):
        make_run(world, date(2026, 11, 16), debtor_iban="DE02120300000000202052")
    with pytest.raises(InvalidRequest, match="Vergangenheit"):
        make_run(world, date(2026, 11, 9))  # world.clock: 10 Nov 2026
    assert count(world.db, PaymentRun) == 0


def test_an_invoice_is_in_one_active_run_and_cancelling_frees_it(world):
    first, second = approved(world, "100.00"), approved(world, "200.00")
    result, _ = make_run(world, date(2026, 11, 16))  # every open one
    assert sorted(e.item_id for e in result.entries) == [first, second]
    with pytest.raises(NothingToPay) as refused:
        make_run(world, date(2026, 11, 16), [first])
    assert refused.value.details[0]["code"] == "in-run" and f"#{result.run.id}" in refused.value.details[0]["reason"]
    with pytest.raises(NothingToPay):  # nothing open any more
        make_run(world, date(2026, 11, 16))
    with world.db.transaction() as session:
        with pytest.raises(InvalidRequest):
            runs.cancel_run(session, result.run.id, actor="user:k", reason=" ")
        runs.cancel_run(session, result.run.id, actor="user:k", reason="Datei nicht an die Bank gegeben")
    with world.db.transaction() as session, pytest.raises(RunConflict):
        runs.cancel_run(session, result.run.id, actor="user:k", reason="nochmal")
    assert count(world.db, PaymentEntry, PaymentEntry.active.is_(True)) == 0
    again, _ = make_run(world, date(2026, 11, 17), [first])
    assert [e.item_id for e in again.entries] == [first]
    assert again.entries[0].end_to_end_id != result.entries[0].end_to_end_id
    with world.db.read() as session:
        cancelled = session.get(PaymentRun, result.run.id)
        assert (cancelled.status, cancelled.cancelled_by) == ("cancelled", "user:k")
        events = session.scalars(sa.select(AuditEvent).where(AuditEvent.event == "payment-cancelled")).all()
        assert sorted(e.item_id for e in events) == [first, second]
        assert "Datei nicht an die Bank gegeben" in events[0].reason


def test_two_runs_at_once_never_pay_an_invoice_twice(world, monkeypatch):
    ids = [approved(world, "100.00"), approved(world, "250.00")]
    barrier = threading.Barrier(2, timeout=1.0)  # PostgreSQL: both runs selected before either writes
    build = runs.build_pain001

    def both_at_once(*args, **kwargs):
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass  # SQLite: the second run waits for the write lock, so it never gets here meanwhile
        return build(*args, **kwargs)

    monkeypatch.setattr(runs, "build_pain001", both_at_once)
    made, refused = [], []

    def run_once():
        try:
            made.append(sorted(e.item_id for e in make_run(world, date(2026, 11, 16), ids)[0].entries))
        except PaymentError as exc:
            refused.append(exc)

    threads = [threading.Thread(target=run_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert made == [ids] and len(refused) == 1
    # PostgreSQL: both wrote, the unique index on active entries stops the second; SQLite: the runs queue
    # on the write lock and the second finds both invoices taken
    expected = RunConflict if world.db.url.get_backend_name() == "postgresql" else NothingToPay
    assert type(refused[0]) is expected, refused[0].message
    assert count(world.db, PaymentRun) == 1 and count(world.db, PaymentEntry, PaymentEntry.active.is_(True)) == 2


def test_umlauts_are_transliterated_and_every_text_is_in_the_sepa_set(world):
    approved(world, "100.00", payee="Müller & Söhne Straßenbau GmbH – Niederlassung Köln-Mülheim Ost/Nord")
    result, xml = make_run(world, date(2026, 11, 16))
    name = result.entries[0].creditor_name
    assert name == "Mueller + Soehne Strassenbau GmbH - Niederlassung Koeln-Muelheim Ost/Nord"[:70]
    assert len(name) <= 70 and transactions(xml)[result.entries[0].end_to_end_id]["name"] == name
    root = etree.fromstring(xml)
    texts = [el.text for el in root.iter() if el.text and el.text.strip()]
    assert all(is_sepa_text(t) for t in texts), [t for t in texts if not is_sepa_text(t)]


def test_an_invoice_in_an_active_payment_run_cannot_be_reopened(world):
    from einvoice.routing.workflow import reopen_anordnung
    from einvoice.routing.workflow.errors import Conflict

    item_id = approved(world)
    result, _ = make_run(world, world.clock.now().date())
    with world.db.transaction() as session:
        case = session.scalars(sa.select(ApprovalCase).where(ApprovalCase.item_id == item_id)).one()
        case_id, version = case.id, case.version
    with world.db.transaction() as session, pytest.raises(Conflict, match="Zahlungsdatei"):
        reopen_anordnung(session, case_id, user=world.users["K"], expected_version=version,
                         reason="neue Bankverbindung", payee_iban="DE02120300000000202051", clock=world.clock)
    with world.db.transaction() as session:
        runs.cancel_run(session, result.run.id, actor="user:k", reason="falsche Datei", clock=world.clock)
    with world.db.transaction() as session:
        reopen_anordnung(session, case_id, user=world.users["K"], expected_version=version,
                         reason="neue Bankverbindung", payee_iban="DE02120300000000202051", clock=world.clock)
