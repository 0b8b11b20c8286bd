"""``einvoice export bookings|batches|batch|book|cancel`` on the test database (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest

from bookings_data import approved_invoice, load_town, signed_payable_total
from einvoice.cli import main as cli_main

pytest_plugins = ["pg"]


@pytest.fixture
def cli(db, monkeypatch):
    monkeypatch.setenv("EINVOICE_DATABASE_URL", db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(db.settings.data_dir))  # the same blob store
    return cli_main


def test_export_list_download_book_and_cancel(db, cli, capsys, tmp_path):
    town = load_town(db)
    ids = [approved_invoice(town, supplier=s) for s in ("musterbau", "gruenpflege")]
    ids.append(approved_invoice(town, supplier="schreibwerk", credit_note=True))
    expected = signed_payable_total(db, ids)

    assert cli(["export", "bookings", "--user", "m.mueller"]) == 1  # an approver may not export
    assert "kaemmerei" in capsys.readouterr().err
    assert cli(["export", "bookings", "--user", "k.weber"]) == 0
    out = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out.out, newline=""), delimiter=";"))  # the generic CSV on stdout
    assert len(rows) == 3 and sum(Decimal(row["Zahlbetrag"]) for row in rows) == expected
    euro = f"{expected:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    assert f"Kontrollsumme: {euro} EUR" in out.err and "3 Rechnungen" in out.err and "Gutschriften: 1" in out.err

    assert cli(["export", "bookings"]) == 0  # nothing left
    assert "kein Stapel erstellt" in capsys.readouterr().err
    assert cli(["export", "batches", "--format", "json"]) == 0
    (listed,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (listed["id"], listed["status"], listed["mapping"]) == (1, "created", "generic")
    assert Decimal(listed["control_total"]) == expected and listed["created_by"] == "user:k.weber"
    target = tmp_path / "again.csv"
    assert cli(["export", "batch", "1", "--out", str(target)]) == 0
    assert target.read_bytes() == out.out.encode("utf-8")  # byte for byte the same file
    assert cli(["export", "batch", "7"]) == 1 and "7 gibt es nicht" in capsys.readouterr().err

    assert cli(["export", "cancel", "1", "--reason", "Testlauf", "--user", "k.weber"]) == 0
    assert "storniert" in capsys.readouterr().out
    fibu = tmp_path / "fibu.csv"
    assert cli(["export", "bookings", "--mapping", "beispiel-fibu", "--out", str(fibu)]) == 0
    summary = capsys.readouterr().out
    assert "Buchungsstapel 2" in summary and f"Kontrollsumme: {euro} EUR" in summary
    rows = list(csv.reader(io.StringIO(fibu.read_bytes().decode("cp1252"), newline=""), delimiter=";"))
    assert rows[0][0] == "Satzart" and len(rows) == 1 + 5  # one row per VAT group: 7 % and 19 % each
    assert sum(Decimal(row[12].replace(",", ".")) for row in rows[1:]) == expected
    assert cli(["export", "bookings", "--format", "json", "--item", str(ids[0])]) == 1
    assert "Status exported" in capsys.readouterr().err
    assert cli(["export", "book", "2", "--user", "k.weber"]) == 0
    assert cli(["export", "cancel", "2", "--reason", "zu spät", "--user", "k.weber"]) == 1
    assert "Stornobuchung" in capsys.readouterr().err
    assert cli(["export", "batches"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in text] == [["2", "booked"], ["1", "cancelled"]]
    with pytest.raises(SystemExit):  # --user and --reason are required to cancel
        cli(["export", "cancel", "2", "--reason", "x"])
