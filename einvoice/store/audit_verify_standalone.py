#!/usr/bin/env python3
"""Check an exported einvoice audit trail offline: ``python3 verify_audit.py EXPORT.json [--previous OLD.json]``.

One file, Python standard library only (3.8 or newer), no einvoice needed: the Rechnungsprüfungsamt
gets it with ``einvoice audit verifier > verify_audit.py`` (or copies
``einvoice/store/audit_verify_standalone.py``). einvoice itself hashes with the functions of this very
file, so what the auditors run is what wrote the chain. Exit status: 0 intact, 1 a deviation, 2 the
file cannot be read. It accepts the export of ``einvoice audit export`` / ``GET
/api/v1/invoices/{id}/audit`` and the ``audit.json`` of a DMS archive package.

Chain format ``einvoice-audit-chain/1`` (never changed; a new format would get a new name):

- Each invoice (intake item) has its own chain: its events carry ``seq`` 1, 2, … n without gaps.
- ``prev_hash`` of seq 1 is the genesis value ``sha256("einvoice-audit-genesis/1:<item id>")``
  (the item id in decimal, UTF-8, lower-case hex digest); ``prev_hash`` of seq k is the ``hash`` of seq k-1.
- ``hash`` = lower-case hex SHA-256 of the canonical bytes of the JSON object with exactly the keys
  ``item_id, seq, at, actor, event, from_state, to_state, reason, details, prev_hash`` (all columns of
  the event except its database id).
- Canonical bytes: UTF-8 of the JSON text without any whitespace; object keys sorted by Unicode code
  point; strings as Python's ``json.dumps(s, ensure_ascii=False)`` writes them (only ``"``, ``\\`` and
  U+0000–U+001F escaped: ``\\b \\f \\n \\r \\t`` short, the others as ``\\u00xx`` in lower-case hex);
  ``null``, ``true``, ``false``; a number as the plain decimal of its exact value, without exponent,
  trailing zeros or a trailing point (``1.50`` and ``1.5e0`` → ``1.5``; ``1.0`` and ``1e2`` → ``1`` and
  ``100``; ``-0`` → ``0``) — so a number reads the same whether a database returns it as 1.0 or 1.
- ``at`` is the time in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always six fraction digits).
- ``details`` is the stored JSON object (or null); money amounts in it are strings.

What the check proves: no event that is in the file was changed, removed from the middle, inserted
or moved after it was written. Events removed from the end are not visible in one file alone:
compare with an earlier export (``--previous``: every event of it must still be there, unchanged),
with the archive package, or run ``einvoice audit verify --database`` (it also compares each item's
state with its last transition).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import json.encoder
import re
import sys
from decimal import Decimal

CHAIN_FORMAT = "einvoice-audit-chain/1"
EXPORT_FORMAT = "einvoice-audit-export/1"
HASHED_FIELDS = ("item_id", "seq", "at", "actor", "event", "from_state", "to_state", "reason", "details",
                 "prev_hash")
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def genesis(item_id: int) -> str:
    """The ``prev_hash`` of an item's first event."""
    return hashlib.sha256(f"einvoice-audit-genesis/1:{int(item_id)}".encode("utf-8")).hexdigest()


def format_time(value) -> str:
    """An aware datetime as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (the hashed form of ``at``)."""
    from datetime import timezone

    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: the zone is unknown")
    v = value.astimezone(timezone.utc)
    return (f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
            f".{v.microsecond:06d}Z")


_string = json.encoder.encode_basestring  # = json.dumps(s, ensure_ascii=False) for a str, without its overhead


def _number(value) -> str:
    exact = Decimal(value) if isinstance(value, (int, Decimal)) else Decimal(repr(value))
    if not exact.is_finite():
        raise ValueError(f"{value!r} is not a JSON number")
    if exact == 0:
        return "0"
    return format(exact.normalize(), "f")


def canonical(value) -> str:
    """The canonical JSON text of a value (see the module docstring)."""
    if isinstance(value, str):
        return _string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return str(value)
    if isinstance(value, (int, float, Decimal)):
        return _number(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise ValueError("JSON object keys must be strings")
        return "{" + ",".join(_string(k) + ":" + canonical(value[k]) for k in sorted(value)) + "}"
    raise ValueError(f"{type(value).__name__} is not a JSON value")


def event_hash(fields: dict) -> str:
    """The ``hash`` of an event from its hashed fields (``at`` already in the canonical time form)."""
    return hashlib.sha256(canonical({key: fields[key] for key in HASHED_FIELDS}).encode("utf-8")).hexdigest()


def _hashed(item_id: int, event: dict) -> dict:
    fields = {key: event.get(key) for key in HASHED_FIELDS}
    fields["item_id"] = item_id
    for key, short in (("from_state", "from"), ("to_state", "to")):  # the archive package's audit.json
        if key not in event and short in event:
            fields[key] = event[short]
    return fields


def check_events(item_id: int, events: list) -> list:
    """Deviations of one item's events (in the order given) from an intact chain, by seq; [] = intact."""
    problems = []
    seqs = [e.get("seq") for e in events]
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in seqs):
        return ["Ereignis ohne gültige Folgenummer (seq): die Datei ist keine Audit-Kette dieses Formats"]
    for before, after in zip(seqs, seqs[1:]):
        if after == before:
            problems.append(f"Ereignis seq {after} kommt doppelt vor")
        elif after < before:
            problems.append(f"Reihenfolge verändert: seq {before} steht vor seq {after}")
            break
    present = set(seqs)
    for missing in sorted(set(range(1, max(seqs, default=0) + 1)) - present):
        problems.append(f"Ereignis seq {missing} fehlt (gelöscht oder nie exportiert)")
    by_seq = {}
    for event in events:
        by_seq.setdefault(event["seq"], event)
    for seq in sorted(by_seq):
        event = by_seq[seq]
        fields = _hashed(item_id, event)
        if not isinstance(fields["at"], str) or not TIME.match(fields["at"]):
            problems.append(f"Ereignis seq {seq}: Zeitpunkt {fields['at']!r} nicht in der Form "
                            "JJJJ-MM-TTThh:mm:ss.ffffffZ")
        try:
            recomputed = event_hash(fields)
        except ValueError as exc:
            problems.append(f"Ereignis seq {seq}: nicht prüfbar ({exc})")
            continue
        if event.get("hash") != recomputed:
            problems.append(f"Ereignis seq {seq}: Hash stimmt nicht – der Inhalt wurde nach dem Schreiben verändert")
        if seq == 1 and fields["prev_hash"] != genesis(item_id):
            problems.append("Ereignis seq 1: prev_hash ist nicht der Anfangswert dieser Rechnung "
                            "(Ereignis einer anderen Rechnung oder verändert)")
        elif seq > 1 and seq - 1 in by_seq and fields["prev_hash"] != by_seq[seq - 1].get("hash"):
            problems.append(f"Ereignis seq {seq}: Verkettung gebrochen – prev_hash ist nicht der Hash von "
                            f"seq {seq - 1} "
                            f"(seq {seq - 1} wurde verändert und neu gehasht, oder seq {seq} gehört nicht hierher)")
    return sorted(problems, key=_seq_of)


def _seq_of(problem: str) -> int:
    match = re.search(r"seq (\d+)", problem)
    return int(match.group(1)) if match else 0


def item_id_of(document: dict) -> int:
    item = document.get("item")
    item_id = item.get("id") if isinstance(item, dict) else document.get("item_id")
    if not isinstance(item_id, int) or isinstance(item_id, bool):
        raise ValueError("keine Rechnungs-Id (item.id oder item_id) in der Datei")
    return item_id


def check_document(document: dict, previous: dict | None = None) -> list:
    """Deviations of an export (or an archive package's audit.json); ``previous``: an earlier export of
    the same invoice, whose events must all still be there with the same hashes."""
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise ValueError("keine Audit-Kette: es fehlt die Liste 'events'")
    item_id = item_id_of(document)
    events = document["events"]
    if not all(isinstance(e, dict) for e in events):
        raise ValueError("keine Audit-Kette: 'events' enthält etwas anderes als Ereignisse")
    problems = check_events(item_id, events)
    last = max(events, key=lambda e: e.get("seq") if isinstance(e.get("seq"), int) else 0, default=None)
    if "final_hash" in document and document["final_hash"] != (last or {}).get("hash"):
        problems.append("final_hash ist nicht der Hash des letzten Ereignisses")
    if "event_count" in document and document["event_count"] != len(events):
        problems.append(f"event_count ist {document['event_count']}, die Datei enthält {len(events)} Ereignisse")
    if previous is not None:
        if item_id_of(previous) != item_id:
            problems.append(f"die frühere Ausgabe gehört zu Rechnung #{item_id_of(previous)}, nicht zu #{item_id}")
        else:
            now = {e.get("seq"): e.get("hash") for e in events}
            for old in previous.get("events") or []:
                if now.get(old.get("seq")) != old.get("hash"):
                    problems.append(f"Ereignis seq {old.get('seq')} der früheren Ausgabe fehlt jetzt "
                                    "oder ist verändert")
    return problems


def _load(path: str):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle, parse_float=Decimal)  # exact numbers, never rounded through a float


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="verify_audit.py",
                                     description="Prüft eine exportierte einvoice-Audit-Kette.")
    parser.add_argument("file", nargs="+",
                        help="Export (JSON) von 'einvoice audit export' oder audit.json eines Archivpakets")
    parser.add_argument("--previous", metavar="OLD", help="eine frühere Ausgabe derselben Rechnung: alle ihre "
                                                          "Ereignisse müssen unverändert enthalten sein")
    args = parser.parse_args(argv)
    status = 0
    try:
        previous = _load(args.previous) if args.previous else None
    except (OSError, ValueError) as exc:
        print(f"{args.previous}: nicht lesbar: {exc}", file=sys.stderr)
        return 2
    for path in args.file:
        try:
            document = _load(path)
            problems = check_document(document, previous)
        except (OSError, ValueError) as exc:
            print(f"{path}: nicht prüfbar: {exc}", file=sys.stderr)
            status = max(status, 2)
            continue
        events = document["events"]
        label = f"Rechnung #{item_id_of(document)}"
        number = (document.get("item") or {}).get("invoice_number")
        label += f" (Rechnungsnummer {number})" if number else ""
        if problems:
            status = max(status, 1)
            print(f"FEHLER {path}: {label}, {len(events)} Ereignisse, {len(problems)} Abweichung(en):")
            for problem in problems:
                print(f"  - {problem}")
        else:
            last = events[-1]["hash"] if events else "-"
            print(f"OK {path}: {label}, {len(events)} Ereignisse, Kette intakt, letzter Hash {last}")
    return status


if __name__ == "__main__":
    sys.exit(main())
