"""Skonto reminders, escalations and digests with a FixedClock through a real SMTP server (aiosmtpd):
timing in working days, the eligible approvers incl. a substitute, each mail once (also after a
restart), no escalation for a parked case, at most once when a send was interrupted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa

from deadlines_data import default_deadline_settings  # noqa: F401 (autouse)
from deadlines_data import add_case, add_item, add_unit, add_user, assign, berlin, invoice_model, substitute
from einvoice.routing.clock import FixedClock
from einvoice.routing.deadlines.reminders import send_due
from einvoice.routing.deadlines.service import compute_for_item
from einvoice.store.routing_models import Reminder

pytest.register_assert_rewrite("mailservers")
pytest_plugins = ["pg", "mailservers"]

ONE_TERM = "#SKONTO#TAGE=14#PROZENT=2.00#\n"  # issued Mon 2 March 2026: deadline Mon 16 March


@dataclass
class Scene:
    item_id: int
    unit_id: int


def _scene(db, *, text=ONE_TERM, amount="1190.00", status="open", opened=date(2026, 3, 2)) -> Scene:
    """FB20 (NW) led by Lena; approvers Anna, Bernd (absent, Carla stands in) and Dora (no mail address)."""
    with db.transaction() as session:
        lena = add_user(session, "lena", roles=("approver",))
        unit = add_unit(session, "FB20", land="NW", lead=lena)
        anna = add_user(session, "anna", units=[unit])
        bernd = add_user(session, "bernd", units=[unit])
        carla = add_user(session, "carla")
        add_user(session, "dora", units=[unit], email=None)
        add_user(session, "kasse", units=[unit], roles=("kasse",))  # not an approver: gets nothing
        substitute(session, bernd, carla, date(2026, 3, 1), date(2026, 3, 31))
        item = add_item(session, invoice_model(date(2026, 3, 2), amount, text), berlin(date(2026, 3, 2)))
        assign(session, item, unit)
        compute_for_item(session, item, clock=FixedClock(date(2026, 3, 2)), settings=db.settings)
        add_case(session, item, unit, opened=berlin(opened, 10), status=status, payable=amount)
        assert anna and carla
        return Scene(item.id, unit.id)


def _sent(sink, kind=None):
    """(kind, recipient) of every mail the relay got, in order."""
    found = [(m.notice.split(";")[0], m.rcpt_tos[0]) for m in sink.messages]
    return [f for f in found if kind is None or f[0] == kind]


def _at(day: date, hour: int = 7, minute: int = 5) -> FixedClock:
    return FixedClock(berlin(day, hour, minute))


def test_skonto_reminder_timing_recipients_and_once(db, smtp_sink):
    scene = _scene(db)
    # Mon 9 March: the deadline (Mon 16) is 5 working days away: no reminder, only the digests
    counts = send_due(db, clock=_at(date(2026, 3, 9)))
    assert _sent(smtp_sink, "skonto-reminder") == []
    assert sorted(_sent(smtp_sink, "digest")) == [("digest", "anna@musterstadt.example"),
                                                  ("digest", "carla@musterstadt.example")]
    assert counts["sent"] == 2
    send_due(db, clock=_at(date(2026, 3, 10)))  # 4 working days: still nothing
    assert _sent(smtp_sink, "skonto-reminder") == []
    # Wed 11 March: 3 working days (Thu, Fri, Mon) = EINVOICE_SKONTO_REMINDER_DAYS
    send_due(db, clock=_at(date(2026, 3, 11)))
    reminders = [m for m in smtp_sink.messages if m.notice.startswith("skonto-reminder")]
    assert sorted(m.rcpt_tos[0] for m in reminders) == ["anna@musterstadt.example", "carla@musterstadt.example"]
    assert all(m.notice == f"skonto-reminder; item={scene.item_id}" for m in reminders)
    carla = next(m for m in reminders if m.rcpt_tos[0].startswith("carla"))
    assert "Vertretung für Bernd" in carla.text and "23,80 EUR" in carla.text
    assert "Letzter Tag für die Zahlungsanordnung: 13.03.2026" in carla.text
    assert "Skontofrist" in carla.message["Subject"]
    # a restart (a new run on the same database, later the same day and the next day): not sent again
    before = len(_sent(smtp_sink, "skonto-reminder"))
    counts = send_due(db, clock=_at(date(2026, 3, 11), 15))
    assert counts.get("sent", 0) == 0 and counts["sent-before"] == counts["due"]
    send_due(db, clock=_at(date(2026, 3, 12)))
    assert len(_sent(smtp_sink, "skonto-reminder")) == before
    with db.read() as session:
        keys = session.scalars(sa.select(Reminder.key).where(Reminder.kind == "skonto-reminder")).all()
        states = set(session.scalars(sa.select(Reminder.state)))
    assert len(keys) == 2 and all(k.startswith(f"skonto-reminder:item:{scene.item_id}:2026-03-16:user:") for k in keys)
    assert states == {"sent"}


def test_escalation_to_the_lead_after_the_threshold_once(db, smtp_sink):
    _scene(db, text="Zahlbar in 30 Tagen.")  # no Skonto: only the step's age counts
    send_due(db, clock=_at(date(2026, 3, 9)))  # opened Mon 2 March: 5 working days open, not more
    assert _sent(smtp_sink, "escalation") == []
    send_due(db, clock=_at(date(2026, 3, 10)))  # 6 working days
    assert _sent(smtp_sink, "escalation") == [("escalation", "lena@musterstadt.example")]
    message = next(m for m in smtp_sink.messages if m.notice.startswith("escalation"))
    assert "seit 6 Arbeitstagen offen" in message.text and "Carla (für Bernd)" in message.text
    send_due(db, clock=_at(date(2026, 3, 11)))
    send_due(db, clock=_at(date(2026, 3, 12)))
    assert len(_sent(smtp_sink, "escalation")) == 1


def test_escalation_when_the_skonto_deadline_is_one_working_day_away(db, smtp_sink):
    _scene(db, opened=date(2026, 3, 11))  # a young step: only the deadline escalates
    send_due(db, clock=_at(date(2026, 3, 12)))  # Thu: 2 working days to Mon 16
    assert _sent(smtp_sink, "escalation") == []
    send_due(db, clock=_at(date(2026, 3, 13)))  # Fri: 1 working day
    assert _sent(smtp_sink, "escalation") == [("escalation", "lena@musterstadt.example")]
    message = next(m for m in smtp_sink.messages if m.notice.startswith("escalation"))
    assert "Skontofrist (16.03.2026, 23,80 EUR) endet in 1 Arbeitstag" in message.text


def test_no_escalation_for_a_parked_case_but_reminders_go_on(db, smtp_sink):
    _scene(db, status="parked")
    send_due(db, clock=_at(date(2026, 3, 13)))  # both escalation reasons hold: step 9 days open, 1 day to go
    assert _sent(smtp_sink, "escalation") == []
    assert len(_sent(smtp_sink, "skonto-reminder")) == 2


def test_digest_lists_tasks_by_priority_once_per_user_and_day(db, smtp_sink):
    scene = _scene(db)
    with db.transaction() as session:
        from einvoice.store.masterdata_models import OrgUnit

        unit = session.get(OrgUnit, scene.unit_id)
        ids = [scene.item_id]
        for text, amount in (("Zahlbar in 30 Tagen.", "50000.00"), ("#SKONTO#TAGE=20#PROZENT=3.00#\n", "2000.00")):
            item = add_item(session, invoice_model(date(2026, 3, 2), amount, text), berlin(date(2026, 3, 2)))
            assign(session, item, unit)
            compute_for_item(session, item, clock=FixedClock(date(2026, 3, 2)), settings=db.settings)
            add_case(session, item, unit, opened=berlin(date(2026, 3, 9)), payable=amount)
            ids.append(item.id)
    send_due(db, clock=_at(date(2026, 3, 9)))
    send_due(db, clock=_at(date(2026, 3, 9), 12))
    digests = [m for m in smtp_sink.messages if m.notice == "digest"]
    assert sorted(m.rcpt_tos[0] for m in digests) == ["anna@musterstadt.example", "carla@musterstadt.example"]
    text = next(m for m in digests if m.rcpt_tos[0].startswith("anna")).text
    # 3 % of 2000 = 60.00 EUR, then 2 % of 1190 = 23.80 EUR, then 50000 without Skonto (12.33 EUR a day)
    positions = [text.index(f"#{item_id} ") for item_id in (ids[2], ids[0], ids[1])]
    assert positions == sorted(positions)
    assert "1. #%d" % ids[2] in text
    send_due(db, clock=_at(date(2026, 3, 10)))
    assert len([m for m in smtp_sink.messages if m.notice == "digest"]) == 4  # a new day, a new digest


def test_at_most_once_interrupted_send_is_not_repeated_and_refused_is_retried(db, smtp_sink):
    _scene(db)
    clock = _at(date(2026, 3, 11))
    with db.transaction() as session:  # a crash after "sending" was committed for Anna's reminder
        anna_id = session.scalar(sa.text("SELECT id FROM users WHERE username = 'anna'"))
        item_id = session.scalar(sa.text("SELECT max(id) FROM intake_items"))
        session.add(Reminder(key=f"skonto-reminder:item:{item_id}:2026-03-16:user:{anna_id}", kind="skonto-reminder",
                             item_id=item_id, user_id=anna_id, recipient="anna@musterstadt.example", state="sending"))
    smtp_sink.refuse = 1  # the first mail of this run is refused (451): failed, retried next run
    counts = send_due(db, clock=clock)
    assert counts["unknown"] == 1 and counts["failed"] == 1
    counts = send_due(db, clock=clock)
    assert counts.get("sent") == 1 and "failed" not in counts
    with db.read() as session:
        states = dict(session.execute(sa.select(Reminder.key, Reminder.state)).all())
    assert states[f"skonto-reminder:item:{item_id}:2026-03-16:user:{anna_id}"] == "unknown"
    assert set(states.values()) == {"sent", "unknown"}
    assert ("skonto-reminder", "anna@musterstadt.example") not in _sent(smtp_sink)
