"""The per-invoice export and its offline check: `einvoice audit export`, the stand-alone verifier run
without einvoice (``python -I -S verify_audit.py``) and `einvoice audit verify`, and what they report
for a changed, deleted, reordered, re-hashed, foreign or truncated event. The canonical form
(numbers, strings, keys, times) is pinned by examples and a property test."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from einvoice.cli import main
from einvoice.intake.receive import receive
from einvoice.intake.states import audit, transition
from einvoice.store.audit_chain import export_item
from einvoice.store.audit_verify_standalone import canonical, check_document, event_hash, format_time, genesis
from einvoice.store.models import IntakeItem

pytest_plugins = ["pg"]


def exported(db, tmp_path, name: str = "export.json", events: int = 4) -> tuple[int, dict, object]:
    item_id = receive(db, f"<x>{name}</x>".encode(), channel="upload", sender="test", file_name=name).id
    with db.transaction() as session:
        item = session.get(IntakeItem, item_id)
        item.invoice_number, item.seller_name = "RE-2026-0815", "Musterbau GmbH"
        transition(item, "validated", "system:test", "gültig")
        for n in range(events - 2):
            audit(item, actor="user:k.weber", event="comment", reason=f"Anmerkung {n} – Grüße",
                  details={"betrag": Decimal("12.30"), "quote": 0.5, "n": n})
    with db.read() as session:
        document = export_item(session, item_id)
    path = tmp_path / name
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    return item_id, document, path


def write(tmp_path, document: dict, name: str = "changed.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def verifier(tmp_path, capsys):
    """The verifier as the auditors get it, run by a Python that cannot import einvoice or any package."""
    folder = tmp_path / "pruefamt"
    folder.mkdir()
    assert main(["audit", "verifier", "--out", str(folder / "verify_audit.py")]) == 0

    def run(*args) -> subprocess.CompletedProcess:  # Paths are handed over (copied), strings are options
        names = [shutil.copy(a, folder / a.name) and a.name if not isinstance(a, str) else a for a in args]
        return subprocess.run([sys.executable, "-I", "-S", "verify_audit.py", *names], cwd=folder,
                              capture_output=True, text=True, timeout=60)
    return run


def test_export_verifies_offline_and_with_the_cli(db, tmp_path, verifier, capsys, monkeypatch):
    item_id, document, path = exported(db, tmp_path)
    assert document["format"] == "einvoice-audit-export/1" and document["chain"] == "einvoice-audit-chain/1"
    assert document["item"]["id"] == item_id and document["item"]["invoice_number"] == "RE-2026-0815"
    assert document["item"]["supplier"] == "Musterbau GmbH" and document["einvoice_version"]
    assert [e["seq"] for e in document["events"]] == [1, 2, 3, 4] and document["event_count"] == 4
    assert document["final_hash"] == document["events"][-1]["hash"]
    assert document["events"][0]["prev_hash"] == genesis(item_id)
    assert check_document(document) == []
    done = verifier(path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"OK export.json: Rechnung #{item_id} (Rechnungsnummer RE-2026-0815), 4 Ereignisse, Kette intakt" in done.stdout
    capsys.readouterr()
    monkeypatch.setenv("EINVOICE_DATABASE_URL", db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(db.settings.data_dir))
    assert main(["audit", "export", str(item_id), "--out", str(tmp_path / "cli.json")]) == 0
    assert json.loads((tmp_path / "cli.json").read_text())["final_hash"] == document["final_hash"]
    assert main(["audit", "verify", str(tmp_path / "cli.json")]) == 0
    assert main(["audit", "export", "999999"]) == 1 and "gibt es nicht" in capsys.readouterr().err


def tampered(document: dict, how: str) -> dict:
    doc = copy.deepcopy(document)
    events = doc["events"]
    if how == "reason":
        events[2]["reason"] = "Anmerkung geschönt"
    elif how == "delete":
        del events[1]
    elif how == "reorder":
        events[1], events[2] = events[2], events[1]
    elif how == "rehash":  # a careful forger recomputes the changed event's own hash
        events[1]["reason"] = "anders"
        events[1]["hash"] = event_hash({**events[1], "item_id": doc["item"]["id"]})
    elif how == "foreign":  # an event of another invoice, hash and all
        doc["item"]["id"] += 1000
    elif how == "details":
        events[3]["details"]["betrag"] = "12.31"
    elif how == "time":
        events[1]["at"] = events[1]["at"].replace("Z", "+00:00")
    return doc


SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # file checks: one backend is enough


@SQLITE_ONLY
@pytest.mark.parametrize("how, first_problem", [
    ("reason", "Ereignis seq 3: Hash stimmt nicht – der Inhalt wurde nach dem Schreiben verändert"),
    ("delete", "Ereignis seq 2 fehlt (gelöscht oder nie exportiert)"),
    ("reorder", "Reihenfolge verändert: seq 3 steht vor seq 2"),
    ("rehash", "Ereignis seq 3: Verkettung gebrochen – prev_hash ist nicht der Hash von seq 2"),
    ("foreign", "Ereignis seq 1: Hash stimmt nicht"),
    ("details", "Ereignis seq 4: Hash stimmt nicht"),
    ("time", "Ereignis seq 2: Zeitpunkt"),
])
def test_tampered_exports_fail_at_the_right_event(db, tmp_path, verifier, how, first_problem, capsys):
    _, document, _ = exported(db, tmp_path)
    changed = tampered(document, how)
    problems = check_document(changed)
    assert problems and problems[0].startswith(first_problem), problems
    path = write(tmp_path, changed)
    done = verifier(path)
    assert done.returncode == 1 and f"  - {problems[0]}" in done.stdout and done.stdout.startswith("FEHLER")
    assert main(["audit", "verify", str(path)]) == 1 and first_problem in capsys.readouterr().out


@SQLITE_ONLY
def test_a_truncated_export_is_caught_against_an_earlier_one(db, tmp_path, verifier):
    _, document, earlier = exported(db, tmp_path, "earlier.json")
    cut = copy.deepcopy(document)
    del cut["events"][-1]
    cut["event_count"], cut["final_hash"] = 3, cut["events"][-1]["hash"]
    assert check_document(cut) == []  # one file alone cannot show events removed from its end (documented)
    path = write(tmp_path, cut, "later.json")
    done = verifier(path, "--previous", earlier)
    assert done.returncode == 1 and "Ereignis seq 4 der früheren Ausgabe fehlt jetzt oder ist verändert" in done.stdout
    assert main(["audit", "verify", str(path), "--previous", str(earlier)]) == 1
    assert main(["audit", "verify", str(earlier), "--previous", str(earlier)]) == 0
    stale = copy.deepcopy(document)
    stale["final_hash"] = "0" * 64
    assert check_document(stale) == ["final_hash ist nicht der Hash des letzten Ereignisses"]


def test_unreadable_files_exit_2(tmp_path, verifier, capsys):
    (tmp_path / "kaputt.json").write_text("{nicht json")
    (tmp_path / "leer.json").write_text('{"item": {"id": 1}}')
    assert verifier(tmp_path / "kaputt.json").returncode == 2
    assert verifier(tmp_path / "leer.json").returncode == 2
    assert main(["audit", "verify", str(tmp_path / "fehlt.json")]) == 2
    assert main(["audit", "verify"]) == 2 and "welche Datei" in capsys.readouterr().err


# --- the canonical form ----------------------------------------------------------------------------

@pytest.mark.parametrize("value, text", [
    (1, "1"), (1.0, "1"), (Decimal("1.50"), "1.5"), (1.5, "1.5"), (1e2, "100"), (100, "100"), (-0.0, "0"),
    (Decimal("-0.00"), "0"), (1e20, "100000000000000000000"), (10**20, "100000000000000000000"), (0.1, "0.1"),
    (1e-7, "0.0000001"), (-2.5e-3, "-0.0025"), (True, "true"), (None, "null"),
    ({"b": 1, "a": [1, "x"]}, '{"a":[1,"x"],"b":1}'), ({"ä": 1, "z": 2, "Z": 3}, '{"Z":3,"z":2,"ä":1}'),
    ("Grüße \"x\"\\\n\t\x01\u2028", '"Grüße \\"x\\"\\\\\\n\\t\\u0001\u2028"'),
])
def test_canonical_form(value, text):
    assert canonical(value) == text


def test_canonical_form_refuses_what_json_cannot_hold():
    for value in (float("nan"), float("inf"), {1: "x"}, object()):
        with pytest.raises(ValueError):
            canonical(value)


def test_times_are_utc_with_microseconds():
    berlin = timezone(timedelta(hours=1))
    assert format_time(datetime(2026, 11, 3, 10, 0, tzinfo=berlin)) == "2026-11-03T09:00:00.000000Z"
    assert format_time(datetime(5, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc)) == "0005-01-02T03:04:05.000006Z"
    with pytest.raises(ValueError):
        format_time(datetime(2026, 11, 3))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)


def _like_jsonb(value):
    """What PostgreSQL's JSONB gives back: numbers as exact decimals without exponent, keys reordered."""
    if isinstance(value, dict):
        return {k: _like_jsonb(value[k]) for k in sorted(value, key=lambda k: (len(k), k))}
    if isinstance(value, list):
        return [_like_jsonb(v) for v in value]
    if isinstance(value, float):
        text = format(Decimal(repr(value)), "f")
        return json.loads(text)
    return value


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_canonical_form_is_the_same_after_any_json_round_trip(value):
    expected = canonical(value)
    assert canonical(json.loads(json.dumps(value))) == expected
    assert canonical(json.loads(json.dumps(value), parse_float=Decimal)) == expected
    assert canonical(_like_jsonb(value)) == expected
