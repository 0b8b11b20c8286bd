"""``einvoice docs procedure``: the Verfahrensdokumentation states the installation's real rule packs,
matching rules, workflows and thresholds, roles, channels, archive target and retention; it changes
with the configuration, names no persons, reveals no secrets and escapes what administrators typed."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest

import archive_data as data
from einvoice.cli import main
from einvoice.handoff.procedure import generate, write
from einvoice.routing.clock import FixedClock
from einvoice.routing.workflow.definitions import load_file, replace_workflows, validate_workflows
from einvoice.validation.packs import PackRegistry

pytest_plugins = ["pg"]

CLOCK = FixedClock(date(2026, 11, 10))


@pytest.fixture
def town(db):
    return data.town(db)


def docs(db) -> dict[str, str]:
    return generate(db, clock=CLOCK)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_document_states_the_actual_configuration(town):
    db = town
    md, html = docs(db)["md"], docs(db)["html"]
    for heading in ("1 Allgemeine Beschreibung", "2 Anwenderdokumentation", "3 Technische Systemdokumentation",
                    "4 Betriebsdokumentation", "5 Internes Kontrollsystem"):
        assert f"## {heading}" in md and heading in text_of(html)
    pack = PackRegistry(db.settings).packs[0]
    assert f"| 1 | {pack.name} | {pack.version} | mitgeliefert |" in md
    assert "EN16931 XRechnung (UBL Invoice)" in md
    # matching rules in order, with their keys and confidences
    assert "| 1 | Bestellung | Bestellnummer | Stammdaten | aus Stammdaten | 95 | ja |" in md
    assert "| 9 | Lieferant (Name) | Lieferantenname |" in md and "Konfidenz von 50" in md
    # workflows with thresholds and rules
    assert "#### 2.4.1 Workflow „Tiefbau groß“" in md and "ab 25.000,00 EUR brutto" in md
    assert "automatisch bei bestandener Rechenprüfung bis 5.000,00 EUR" in md
    assert "| Tiefbau groß | hard | block | alert |" in md
    # roles as counts per unit, limits as a distribution, no names
    assert "| kaemmerei | Kämmerei: Buchungsexport, Zahlungsläufe, Archivierung | 1 | 20: 1 |" in md
    assert "5.000,00 EUR: 6" in md and "100.000,00 EUR: 5" in md
    for person in ("Markus Müller", "m.mueller", "Elena Schneider", "@musterstadt.example"):
        assert person not in md and person not in html
    assert "1 Vertretungen hinterlegt, davon 1 am 10.11.2026 gültig" in md
    assert "Stand 10.11.2026" in md and "Datenbank: " + ("SQLite" if db.dialect == "sqlite" else "PostgreSQL") in md
    assert "Archivziel: nicht konfiguriert" in md and "31.12. des 10. Jahres" in md
    assert "<script" not in html and "src=" not in html and "<link" not in html  # self-contained, no script


def test_document_changes_with_the_configuration(town, tmp_path, monkeypatch):
    db = town
    before = docs(db)["md"]
    assert before == docs(db)["md"]  # same configuration, same document
    definitions = load_file() + validate_workflows([{
        "name": "Schulen klein", "position": 50, "unit": "40", "min_amount": "0", "rules": {"four_eyes": "warn"},
        "steps": [{"kind": "sachlich"}, {"kind": "rechnerisch", "only_above": "1000.00"}, {"kind": "anordnung"}]}])
    with db.transaction() as session:
        replace_workflows(session, definitions)
    monkeypatch.setattr(db, "settings", replace(db.settings, archive_target=f"hotfolder+zip:{tmp_path}",
                                                retention_years=8, archive_aktenzeichen="902.41/{year}"))
    monkeypatch.setenv("EINVOICE_IMAP_HOST", "imap.musterstadt.example")
    monkeypatch.setenv("EINVOICE_IMAP_USER", "rechnungseingang")
    monkeypatch.setenv("EINVOICE_IMAP_PASSWORD", "streng-geheim-42")
    monkeypatch.setenv("EINVOICE_API_TOKEN", "token-geheim-0123456789")
    after = docs(db)["md"]
    assert after != before
    assert "Workflow „Schulen klein“" in after and "Workflow „Schulen klein“" not in before
    assert "Position 50, Einheit 40" in after and "nur über 1.000,00 EUR" in after
    assert "| Schulen klein | warn | block | alert |" in after
    assert "Vier-Augen-Prinzip nur als Warnung" in after
    assert f"Übergabeordner (Hotfolder) {tmp_path}, je Paket eine ZIP-Datei" in after
    assert "Aktenzeichen-Vorlage: 902.41/{year}" in after and "31.12. des 8. Jahres" in after
    assert "| E-Mail-Postfach (IMAP) | ja | imap://rechnungseingang@imap.musterstadt.example:993, Ordner INBOX;" in after
    assert "API-Token (EINVOICE_API_TOKEN): gesetzt" in after
    assert "streng-geheim-42" not in after and "token-geheim" not in after

    (tmp_path / "rules" / "export").mkdir(parents=True)
    (tmp_path / "rules" / "export" / "kasse.toml").write_text(
        'title = "Kassenverfahren XY"\ndescription = "Import der Kreditorenbuchungen"\n'
        '[[columns]]\nheader = "Betrag"\nfield = "payable"\n', encoding="utf-8")
    monkeypatch.setenv("EINVOICE_RULES_DIR", str(tmp_path / "rules"))
    assert "| rules/export/kasse.toml | Kassenverfahren XY | Import der Kreditorenbuchungen | 1 |" in docs(db)["md"]


def test_administrator_text_is_escaped(town):
    db = town
    evil = "<script>alert(1)</script> | Spalte"
    with db.transaction() as session:
        replace_workflows(session, load_file() + validate_workflows([{
            "name": evil, "position": 60, "steps": [{"kind": "sachlich"}, {"kind": "anordnung"}]}]))
    out = docs(db)
    assert "<script>" not in out["html"] and "&lt;script&gt;alert(1)&lt;/script&gt; | Spalte" in out["html"]
    assert "<script>" not in out["md"] and "| &lt;script&gt;alert(1)&lt;/script&gt; \\| Spalte | hard |" in out["md"]


def test_cli_writes_markdown_and_html(town, tmp_path, monkeypatch, capsys):
    db = town
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(db.settings.data_dir))
    monkeypatch.setenv("EINVOICE_DATABASE_URL", db.url.render_as_string(hide_password=False))
    assert main(["docs", "procedure", "--out", str(tmp_path / "doku")]) == 0
    written = sorted(p.name for p in (tmp_path / "doku").iterdir())
    assert [re.sub(r"\d{4}-\d{2}-\d{2}", "DATE", n) for n in written] == [
        "verfahrensdokumentation-DATE.html", "verfahrensdokumentation-DATE.md"]
    capsys.readouterr()
    assert main(["docs", "procedure", "--format", "html"]) == 0
    assert capsys.readouterr().out.startswith("<!DOCTYPE html>")
    assert main(["docs", "procedure", "--format", "both"]) == 2
    paths = write(db, tmp_path / "md-only", ("md",), clock=CLOCK)
    assert [p.name for p in paths] == ["verfahrensdokumentation-2026-11-10.md"]
