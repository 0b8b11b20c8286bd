"""The hash chain of the audit trail: linking each new event, exporting one invoice's trail, checking the database.

The format (canonical bytes, genesis value, what is hashed) is specified — and implemented — in
`audit_verify_standalone`, the one-file, stdlib-only verifier the Rechnungsprüfungsamt runs offline;
this module uses its functions, so the writer and the offline check cannot drift apart.

Design decisions:

- **One chain per invoice** (intake item): ``seq`` 1..n, ``prev_hash`` of seq 1 a genesis value that
  names the item. That is the unit of the per-invoice export and of the archive package, and writers
  of different invoices never wait for each other (a single global chain would serialise every
  writer on one "last event" row).
- **Linking** happens when the events are flushed (a ``before_flush`` hook, so every way of adding an
  `AuditEvent` is covered; `einvoice.intake.states.audit` is the one einvoice uses), for all new events
  of the flush at once, in the order they were added: one query for the newest stored event of their
  items, not one per event (the matching re-run of many invoices stays a handful of queries); the
  bulk `transition_many` links its INSERT rows the same way (`link_rows`). Until the flush a new
  event's ``hash`` is None. On PostgreSQL the items' rows are first locked ``FOR NO KEY UPDATE`` (in id
  order; compatible with the foreign-key locks of other inserts, conflicting with any other writer of
  those items), so two transactions adding events to one invoice queue instead of both taking seq
  n+1; SQLite's writers are serialised by ``BEGIN IMMEDIATE`` already. Should anything still race,
  the unique (item_id, seq) index makes the second transaction fail: never a fork.
- **What is hashed**: every column except the surrogate id (item_id, seq, at, actor, event,
  from_state, to_state, reason, details, prev_hash). ``details`` is hashed — and stored — in the form
  the database gives back (`JSONDocument`: Decimals and dates as strings); numbers are canonicalised,
  because PostgreSQL's JSONB may return ``1e2`` as ``100`` and reorders keys.
- **The database** refuses UPDATE, DELETE and TRUNCATE of audit events (triggers since migration
  0001) and an INSERT whose ``prev_hash`` is not the hash of the item's event seq-1 (or the genesis
  value, checked on PostgreSQL) — migration 0005. Someone who can switch triggers off can still
  rewrite rows; `verify_database` then finds the hash or link that no longer fits, and an export or
  archive package handed out earlier proves the old content.
- **Export** (`export_item`, format ``einvoice-audit-export/1``): the item (id, uid, invoice number,
  issue date, supplier and VAT id, state, channel, receipt time, file hash), every event with its
  hashed fields, ``hash`` and database ``id`` (not hashed), ``event_count``, ``final_hash``, the
  export time and the einvoice version. **Checks**: `verify_database` recomputes every chain and
  compares each item's state with its last transition (events cut from the end of a chain);
  `package_problems` compares an archive package's ``audit.json`` with the database row by row
  (content recomputed), which also catches a database whose chain was recomputed after a change.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, event, func, inspect, select
from sqlalchemy.orm import Session

from .audit_verify_standalone import (
    CHAIN_FORMAT, EXPORT_FORMAT, check_document, check_events, event_hash, format_time, genesis,
)
from .models import AuditEvent, IntakeItem
from .types import json_dumps, utcnow

_CHUNK = 500


def stored_details(details: dict[str, Any] | None) -> dict[str, Any] | None:
    """``details`` as the database will give it back (a detached plain-JSON copy)."""
    return None if details is None else json.loads(json_dumps(details))


def hashed_fields(record: AuditEvent | dict[str, Any]) -> dict[str, Any]:
    """The hashed fields of an event (row or dict), ``at`` in the canonical time form."""
    get = record.get if isinstance(record, dict) else (lambda key: getattr(record, key))
    at = get("at")
    return {"item_id": get("item_id"), "seq": get("seq"), "at": at if isinstance(at, str) else format_time(at),
            "actor": get("actor"), "event": get("event"), "from_state": get("from_state"),
            "to_state": get("to_state"), "reason": get("reason"), "details": get("details"),
            "prev_hash": get("prev_hash")}


@cache
def _statements() -> dict[str, Any]:
    """The tail queries, built once (building them per flush costs more than running them)."""
    events, items = AuditEvent.__table__.c, IntakeItem.__table__.c
    ids = bindparam("ids", expanding=True)
    newest = (select(events.item_id, func.max(events.seq).label("seq")).where(events.item_id.in_(ids))
              .group_by(events.item_id).subquery())
    return {
        "one": select(events.item_id, events.seq, events.hash).where(events.item_id == bindparam("id"))
        .order_by(events.seq.desc()).limit(1),
        "many": select(events.item_id, events.seq, events.hash).join(
            newest, and_(events.item_id == newest.c.item_id, events.seq == newest.c.seq)),
        "lock": select(items.id).where(items.id.in_(ids)).order_by(items.id).with_for_update(key_share=True),
    }


def _tails(session: Session, item_ids: list[int], *, lock: bool) -> dict[int, tuple[int, str]]:
    """(seq, hash) of the newest stored event of each item; ``lock``: first lock the item rows (PostgreSQL,
    ``FOR NO KEY UPDATE`` in id order), so no other transaction adds to these chains before the commit."""
    statements = _statements()
    connection = session.connection()
    tails: dict[int, tuple[int, str]] = {}
    for start in range(0, len(item_ids), _CHUNK):
        chunk = item_ids[start:start + _CHUNK]
        if lock and connection.dialect.name == "postgresql":
            connection.execute(statements["lock"], {"ids": chunk}).all()
        rows = (connection.execute(statements["one"], {"id": chunk[0]}) if len(chunk) == 1
                else connection.execute(statements["many"], {"ids": chunk}))
        tails.update({row.item_id: (row.seq, row.hash) for row in rows})
    return tails


def _chain(records: list, tails: dict[int, tuple[int, str]], get, put) -> None:
    for record in records:
        item_id = get(record, "item_id")
        seq, prev = tails.get(item_id, (0, genesis(item_id)))
        put(record, "seq", seq + 1)
        put(record, "prev_hash", prev)
        put(record, "details", stored_details(get(record, "details")))
        for key, default in (("at", utcnow), ("event", lambda: "transition")):  # the column defaults, now:
            if get(record, key) is None:                                         # they are hashed
                put(record, key, default())
        digest = event_hash(hashed_fields(record))
        put(record, "hash", digest)
        tails[item_id] = (seq + 1, digest)


def link_pending(session: Session, records: list[AuditEvent]) -> None:
    """Give new events (in the order they were added) their seq, prev_hash and hash: one query for the
    tails of all their items (on PostgreSQL after locking the items)."""
    if any(record.item_id is None for record in records):
        raise ValueError("an audit event needs the id of its item (flush the new item first)")
    tails = _tails(session, sorted({record.item_id for record in records}), lock=True)
    _chain(records, tails, getattr, setattr)


@event.listens_for(Session, "before_flush")
def _link_on_flush(session: Session, flush_context, instances) -> None:  # noqa: ARG001
    records = [obj for obj in session.new if isinstance(obj, AuditEvent) and obj.hash is None]
    if records:
        records.sort(key=lambda record: inspect(record).insert_order)  # the order the flush inserts them
        link_pending(session, records)


def link_rows(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chain fields for the rows of a bulk INSERT, in their order (pending events must be flushed and
    the items locked by the caller, as `transition_many` requires). Returns the rows."""
    tails = _tails(session, sorted({row["item_id"] for row in rows}), lock=False)
    _chain(rows, tails, lambda row, key: row.get(key), lambda row, key, value: row.__setitem__(key, value))
    return rows


# --- export and checks --------------------------------------------------------------------------------

def event_json(event: AuditEvent) -> dict[str, Any]:
    fields = hashed_fields(event)
    del fields["item_id"]  # in the document's "item"
    return {**fields, "hash": event.hash, "id": event.id}


def export_item(session: Session, item_id: int, *, now: datetime | None = None) -> dict[str, Any] | None:
    """The audit trail of one invoice as a self-contained JSON document (None: no such item)."""
    from .. import __version__

    item = session.get(IntakeItem, item_id)
    if item is None:
        return None
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.item_id == item_id).order_by(AuditEvent.seq)))
    return {
        "format": EXPORT_FORMAT, "chain": CHAIN_FORMAT, "exported_at": format_time(now or utcnow()),
        "einvoice_version": __version__,
        "item": {"id": item.id, "uid": item.uid, "invoice_number": item.invoice_number,
                 "issue_date": item.issue_date.isoformat() if item.issue_date else None,
                 "supplier": item.seller_name, "supplier_vat_id": item.seller_vat_id, "state": item.state,
                 "channel": item.channel, "received_at": format_time(item.received_at), "sha256": item.sha256},
        "event_count": len(events), "final_hash": events[-1].hash if events else None,
        "verify": "python3 verify_audit.py DIESE-DATEI.json (Prüfprogramm: einvoice audit verifier > verify_audit.py)",
        "events": [event_json(e) for e in events],
    }


@dataclass
class DatabaseCheck:
    items: int = 0
    events: int = 0
    problems: dict[int, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"items": self.items, "events": self.events, "broken_items": len(self.problems),
                "problems": {str(k): v for k, v in self.problems.items()}}


def _events_by_item(session: Session, item_id: int | None) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    columns = [AuditEvent.item_id, AuditEvent.seq, AuditEvent.at, AuditEvent.actor, AuditEvent.event,
               AuditEvent.from_state, AuditEvent.to_state, AuditEvent.reason, AuditEvent.details,
               AuditEvent.prev_hash, AuditEvent.hash]
    stmt = select(*columns).order_by(AuditEvent.item_id, AuditEvent.seq)
    if item_id is not None:
        stmt = stmt.where(AuditEvent.item_id == item_id)
    current, events = None, []
    for row in session.execute(stmt.execution_options(yield_per=2000)):
        if row.item_id != current:
            if events:
                yield current, events
            current, events = row.item_id, []
        events.append(row._asdict())
    if events:
        yield current, events


def _state_problem(state: str, events: list[dict[str, Any]]) -> str | None:
    last = next((e for e in reversed(events) if e["event"] == "transition"), None)
    if last is None:
        return f"kein Statusübergang im Audit-Trail, der Status ist aber „{state}“"
    if last["to_state"] != state:
        return (f"Status „{state}“ passt nicht zum letzten Übergang "
                f"(seq {last['seq']} → „{last['to_state']}“): "
                "Ereignisse am Ende gelöscht oder Status ohne Audit-Ereignis geändert")
    return None


def verify_database(session: Session, item_id: int | None = None) -> DatabaseCheck:
    """Recompute every chain in the database (or one item's): hashes, links, gaps, state vs. last transition."""
    stmt = select(IntakeItem.id, IntakeItem.state)
    states = dict(session.execute(stmt.where(IntakeItem.id == item_id) if item_id is not None else stmt).all())
    check, seen = DatabaseCheck(items=len(states)), set()
    for current, events in _events_by_item(session, item_id):
        seen.add(current)
        check.events += len(events)
        problems = check_events(current, [{**hashed_fields(e), "hash": e["hash"]} for e in events])
        state = states.get(current)
        if state is not None and (problem := _state_problem(state, events)):
            problems.append(problem)
        if problems:
            check.problems[current] = problems
    for missing in sorted(set(states) - seen):
        check.problems[missing] = ["keine Audit-Ereignisse (alle gelöscht?)"]
    return check


def package_problems(session: Session, item_id: int, audit_json: bytes | None) -> list[str]:
    """Problems of the ``audit.json`` of an archive package: its own chain, and each of its events
    against the database's event of the same seq (a difference means one of them was rewritten — also
    a database whose chain was recomputed after a change, which `verify_database` alone cannot see)."""
    if audit_json is None:
        return ["audit.json fehlt im Paket"]
    try:
        document = json.loads(audit_json, parse_float=Decimal)
        events = document.get("events") if isinstance(document, dict) else None
        if isinstance(events, list) and not any(isinstance(e, dict) and "hash" in e for e in events):
            return []  # a package from before the chain (migration 0005): the manifest is its only check
        problems = [f"audit.json: {p}" for p in check_document(document)]
    except ValueError as exc:
        return [f"audit.json nicht prüfbar: {exc}"]
    stored = {e.seq: e for e in session.scalars(select(AuditEvent).where(AuditEvent.item_id == item_id))}
    for entry in document["events"]:
        row = stored.get(entry.get("seq"))  # its content (recomputed) and its stored hash must both match
        if row is None or row.hash != entry.get("hash") or event_hash(hashed_fields(row)) != entry.get("hash"):
            problems.append(f"audit.json: Ereignis seq {entry.get('seq')} weicht vom Audit-Trail der Datenbank ab")
    return problems

