"""The text of the Verfahrensdokumentation, built from the collected configuration (`collect`).

The structure follows the usual outline (GoBD Rz. 151 ff.; approval-practice.md §8): 1 Allgemeine
Beschreibung, 2 Anwenderdokumentation, 3 Technische Systemdokumentation, 4 Betriebsdokumentation,
5 Internes Kontrollsystem. The document is a list of `Section`s with blocks (paragraph, list,
table) so that Markdown and HTML (`render`) say exactly the same; every number, name and
threshold in it comes from the installation, the fixed sentences describe what the code enforces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ...routing.matching.candidates import KEY_LABELS
from ...routing.workflow.checks import STEP_NAMES
from ...routing.workflow.facts import euro

ROLE_TEXT = {
    "approver": "Feststellung sachlich/rechnerisch richtig und Anordnung in den eigenen Organisationseinheiten",
    "rechnungseingang": "Rechnungseingangsstelle: manuelle Zuordnung, Prüfung abgelehnter Rechnungen",
    "kaemmerei": "Kämmerei: Buchungsexport, Zahlungsläufe, Archivierung",
    "admin": "Administration: Regeln, Workflows, Stammdaten",
    "kasse": "Kasse: Zahlungen; darf keine Anordnung erteilen",
}
RULE_TEXT = {
    "four_eyes": {"hard": "Vier-Augen-Prinzip zwingend: wer sachlich/rechnerisch richtig gezeichnet hat, darf nicht anordnen",
                  "warn": "Vier-Augen-Prinzip nur als Warnung: Verstöße werden im Schritt und im Protokoll vermerkt"},
    "supplier_conflict": {"block": "Interessenkonflikt: mit dem Lieferanten verbundene Personen dürfen nicht entscheiden",
                          "off": "keine Prüfung auf Interessenkonflikte"},
    "iban_check": {"alert": "IBAN-Abgleich: weicht die IBAN von den Stammdaten ab oder fehlt sie dort, muss eine zweite "
                            "Person die Warnung freigeben",
                   "differs": "IBAN-Abgleich: Warnung nur bei abweichender IBAN in den Stammdaten", "off": "kein IBAN-Abgleich"},
}
STATE_TEXT = {"received": "eingegangen", "validated": "geprüft", "rejected": "abgelehnt", "parsed": "gelesen",
              "matched": "zugeordnet", "in_approval": "in Freigabe", "approved": "angeordnet",
              "exported": "exportiert", "archived": "archiviert", "duplicate": "Dublette", "failed": "Fehler"}


@dataclass
class Block:
    kind: str  # "p", "list", "table"
    text: str = ""
    items: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class Section:
    number: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    sections: list["Section"] = field(default_factory=list)


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section]


def p(text: str) -> Block:
    return Block("p", text=text)


def bullets(*items: str) -> Block:
    return Block("list", items=[i for i in items if i])


def table(headers: list[str], rows: list[list[Any]]) -> Block:
    return Block("table", headers=headers, rows=[["" if v is None else str(v) for v in row] for row in rows])


def yes(flag: Any) -> str:
    return "ja" if flag else "nein"


def amount(value: Any) -> str:
    return euro(Decimal(str(value))) if value not in (None, "") else "–"


def _general(f: dict) -> Section:
    units = f["organisation"]["units"]
    return Section("1", "Allgemeine Beschreibung", [
        p("Diese Verfahrensdokumentation beschreibt den elektronischen Rechnungseingang mit einvoice in dieser "
          f"Installation. Sie wurde am {f['generated_at']:%d.%m.%Y um %H:%M} UTC aus der tatsächlichen Konfiguration "
          f"erzeugt (einvoice {f['version']}) und ist bei jeder Änderung der Konfiguration neu zu erzeugen "
          "(`einvoice docs procedure`) und mit den Belegen aufzubewahren."),
    ], [
        Section("1.1", "Zweck und Ablauf", [
            p("Eingehende E-Rechnungen (XRechnung UBL/CII, ZUGFeRD/Factur-X) werden empfangen, unverändert gespeichert, "
              "gegen die offiziellen Regeln geprüft, gelesen, einer Organisationseinheit und Kostenstelle zugeordnet, "
              "sachlich und rechnerisch festgestellt, angeordnet, an die Finanzbuchhaltung übergeben und archiviert."),
            bullets("Eingang (Kanäle: Abschnitt 2.1) → Prüfung (2.2) → Zuordnung (2.3) → Freigabe (2.4) → "
                    "Buchungsexport und Zahlung (2.6) → Archiv (4.2)",
                    "Jeder Statuswechsel einer Rechnung wird mit Zeitpunkt, Handelndem, altem und neuem Status und "
                    "Begründung protokolliert (Abschnitt 5.4)."),
        ]),
        Section("1.2", "Organisation", [
            p(f"{len(units)} Organisationseinheiten, {f['organisation']['users']} aktive Benutzer."),
            table(["Code", "Bezeichnung", "Bundesland", "aktiv", "Kostenstellen", "Leitweg-IDs", "Leitung hinterlegt"],
                  [[u["code"], u["name"], u["bundesland"] or f["deadlines"]["bundesland"], yes(u["active"]),
                    u["cost_centres"], u["leitweg_ids"], yes(u["has_lead"])] for u in units]),
            p("Bestand der Rechnungen nach Status: " + (", ".join(
                f"{STATE_TEXT.get(state, state)} {count}" for state, count in f["items"].items()) or "keine") + "."),
        ]),
    ])


def _workflow(w: dict, number: str) -> Section:
    facts = [f"Position {w['position']}", f"Einheit {w['unit'] or 'alle'}", f"Kostenstelle {w['cost_centre'] or 'alle'}",
             f"ab {amount(w['min_amount'])} brutto" if w["min_amount"] else "jeder Betrag",
             "aktiv" if w["active"] else "inaktiv (nur für laufende Fälle)"]
    steps = []
    for n, s in enumerate(w["steps"], start=1):
        extra = []
        if s.get("auto") == "arithmetic":
            extra.append("automatisch bei bestandener Rechenprüfung" + (
                f" bis {amount(s.get('person_above'))}" if s.get("person_above") else ""))
        if s.get("only_above"):
            extra.append(f"nur über {amount(s['only_above'])}")
        steps.append([n, s.get("name") or STEP_NAMES.get(s["kind"], s["kind"]), STEP_NAMES.get(s["kind"], s["kind"]),
                      s.get("role") or "approver", s.get("unit") or "Einheit der Rechnung",
                      yes(s.get("needs_limit", s["kind"] == "anordnung")), "; ".join(extra)])
    return Section(number, f"Workflow „{w['name']}“" + ("" if w["active"] else " (inaktiv)"), [
        p(", ".join(facts) + "."),
        table(["Nr.", "Schritt", "Art", "Rolle", "entscheidende Einheit", "Betragsgrenze der Person", "Besonderheiten"],
              steps),
        bullets(*(RULE_TEXT[k].get(v, f"{k}: {v}") for k, v in sorted((w.get("rules") or {}).items()) if k in RULE_TEXT)),
    ])


def _user_doc(f: dict) -> Section:
    packs, rules = f["validation"], f["matching"]["rules"]
    archive = f["archive"]
    return Section("2", "Anwenderdokumentation", [], [
        Section("2.1", "Eingangskanäle", [
            table(["Kanal", "aktiv", "Einstellungen"], [[c["name"], yes(c["active"]), c["details"]] for c in f["channels"]]),
            p(f"Größengrenzen: XML {f['limits']['max_xml_bytes'] // (1024 * 1024)} MB, PDF "
              f"{f['limits']['max_pdf_bytes'] // (1024 * 1024)} MB. Jede empfangene Datei wird vor der Bestätigung "
              "unverändert gespeichert, auch eine abgelehnte."),
        ]),
        Section("2.2", "Formale Prüfung", [
            p("Das Urteil gültig/ungültig ist das des offiziellen KoSIT-Prüfverfahrens (XSD, dann Schematron der "
              "Regelpakete); Rechnungen, die nur XRechnung-spezifische Regeln verletzen, werden zur Sichtung durch "
              "eine Person markiert. Regelpakete in Prüfreihenfolge (das erste Paket mit passendem Szenario, dessen "
              "Gültigkeitszeitraum den Eingangstag enthält, entscheidet):"),
            table(["Rang", "Regelpaket", "Version", "Herkunft", "Gültigkeit", "Szenarien"],
                  [[x["rank"], x["name"] + (" (als aktiv gesetzt)" if x["active"] else ""), x["version"], x["origin"],
                    x["window"], ", ".join(x["scenarios"])] for x in packs["packs"]]),
            bullets(*(f"Nicht geladen: {problem}" for problem in packs["problems"])),
        ]),
        Section("2.3", "Zuordnung zu Organisationseinheit und Kostenstelle", [
            p("Die Regeln werden in dieser Reihenfolge angewandt; die erste Regel mit Kostenstelle entscheidet, "
              "widersprechen sich gleich sichere Regeln, entscheidet die Rechnungseingangsstelle. Unter einer Konfidenz "
              f"von {f['matching']['min_confidence']} geht die Rechnung in die manuelle Zuordnung."),
            table(["Pos.", "Regel", "Merkmal", "Muster", "Ziel", "Konfidenz", "aktiv"],
                  [[r["position"], r["name"], KEY_LABELS.get(r["key"], r["key"]), r["pattern"] or "Stammdaten",
                    " / ".join(x for x in (r["unit"], r["cost_centre"], r["account"]) if x) or "aus Stammdaten",
                    r["confidence"], yes(r["active"])] for r in rules]) if rules else p("Keine Zuordnungsregeln hinterlegt."),
        ]),
        Section("2.4", "Freigabe (sachlich richtig, rechnerisch richtig, Anordnung)", [
            p("Für jede Rechnung gilt der erste aktive Workflow (nach Position), dessen Einheit, Kostenstelle und "
              "Mindestbetrag passen. Betragsgrenzen gelten für den Bruttobetrag. Ein laufender Fall behält die Kette, "
              "mit der er begonnen hat." if f["workflows"] else "Keine Workflows hinterlegt."),
        ], [_workflow(w, f"2.4.{n}") for n, w in enumerate(f["workflows"], start=1)]),
        Section("2.5", "Fristen und Skonto", [bullets(
            f"gesetzliche Zahlungsfrist: {f['deadlines']['payment_days']} Kalendertage nach Eingang",
            f"Vorlauf des Zahlungslaufs: {f['deadlines']['payment_run_lead_days']} Arbeitstag(e)",
            f"Erinnerung {f['deadlines']['skonto_reminder_days']} Arbeitstage vor Ablauf einer Skontofrist",
            f"Eskalation an die Leitung nach {f['deadlines']['escalation_days']} Arbeitstagen",
            f"Feiertage: Bundesland {f['deadlines']['bundesland']} (abweichend je Einheit, siehe 1.2)")]),
        Section("2.6", "Übergabe an Finanzbuchhaltung und Archiv", [
            table(["Zuordnungsdatei", "Bezeichnung", "Beschreibung", "Spalten"],
                  [[m["file"], m.get("title") or m["name"], m.get("description") or m.get("error", ""), m.get("columns", "")]
                   for m in f["export_mappings"]])
            if f["export_mappings"] else p("Keine Exportzuordnungen (rules/export/*.toml) vorhanden."),
            bullets("Zahlungsdatei (SEPA pain.001) vom Konto: " + (
                        f"{f['payments']['debtor_name'] or '–'}, IBAN {f['payments']['debtor_iban']}"
                        if f["payments"]["debtor_iban"] else "nicht konfiguriert (EINVOICE_DEBTOR_IBAN)"),
                    f"Archivziel: {archive['target'] or 'nicht konfiguriert (EINVOICE_ARCHIVE_TARGET)'}",
                    f"Aktenzeichen-Vorlage: {archive['aktenzeichen'] or 'keine'}",
                    "archiviert werden exportierte (nach Buchungsbestätigung), abgelehnte und doppelte Rechnungen"),
        ]),
    ])


def _technical(f: dict) -> Section:
    db = f["database"]
    return Section("3", "Technische Systemdokumentation", [], [
        Section("3.1", "Systemkomponenten", [bullets(
            f"einvoice {f['version']} auf Python {f['python']}",
            f"Datenbank: {db['kind']} ({db['where']})",
            f"Datenverzeichnis mit Originalspeicher: {f['data_dir']}",
            f"öffentliche Adresse: {f['base_url'] or 'nicht gesetzt'}")]),
        Section("3.2", "Speicherung und Unveränderbarkeit", [bullets(
            "Originale werden unter ihrer SHA-256-Prüfsumme gespeichert (Schreiben unter temporärem Namen, fsync, "
            "Umbenennen), schreibgeschützt abgelegt und beim Lesen gegen die Prüfsumme geprüft.",
            "Der Originalspeicher hat keine Lösch- oder Änderungsfunktion.",
            "Das Protokoll (Audit-Ereignisse) ist nur erweiterbar: Änderungen und Löschungen werden von der Anwendung "
            "und von Datenbank-Triggern abgewiesen.",
            "Das Protokoll jeder Rechnung ist eine Hash-Kette (jedes Ereignis trägt die SHA-256-Prüfsumme des "
            "vorigen); die Datenbank nimmt nur Ereignisse an, die die Kette fortsetzen. Prüfung des Bestands: "
            "`einvoice audit verify --database`; Export je Rechnung: `einvoice audit export NR`, offline prüfbar "
            "mit `python3 verify_audit.py DATEI` (erzeugt von `einvoice audit verifier`, nur Python-Standardbibliothek).",
            "Gleichzeitige Bearbeitung: optimistische Sperre; die zweite Entscheidung wird abgewiesen.")]),
        Section("3.3", "Schnittstellen und Schlüssel", [bullets(
            f"API-Token (EINVOICE_API_TOKEN): {'gesetzt' if f['api_token'] else 'nicht gesetzt (API gesperrt)'}",
            f"Schlüssel der Statuslinks (EINVOICE_SECRET_KEY): {'gesetzt' if f['secret_key'] else 'automatisch erzeugt'}",
            "Handelnde Personen werden der API mit dem Kopf X-Einvoice-User genannt; Rollen und Einheiten werden geprüft.")]),
    ])


def _operations(f: dict) -> Section:
    a = f["archive"]
    last = f"{a['last_verified']:%d.%m.%Y %H:%M} UTC" if a["last_verified"] else "noch nie"
    return Section("4", "Betriebsdokumentation", [], [
        Section("4.1", "Verarbeitung", [bullets(
            f"Hintergrundaufgaben mit Lease ({f['jobs']['lease_seconds']:g} s); eine Aufgabe wird höchstens "
            f"{f['jobs']['max_attempts']}-mal versucht, danach ist die Rechnung im Status Fehler mit Ursache.",
            "Fristen-Scheduler einmal je Minute, Lauf in der Datenbank vermerkt (kein Auslassen, kein Doppellauf).")]),
        Section("4.2", "Archivierung", [bullets(
            f"Archivziel: {a['target'] or 'nicht konfiguriert'}",
            "je Rechnung ein Paket: Originale unverändert (XML, PDF, E-Mail), Darstellung, Prüfbericht, Protokoll, "
            "Freigabeverlauf, Indexdaten (metadata.json, index.xml) und SHA-256-Manifest",
            f"abgelegte Pakete: {a['delivered']}, fehlgeschlagene Versuche: {a['failed']}",
            f"Nachprüfung (`einvoice archive --verify`): {a['verified_ok']} in Ordnung, {a['verified_bad']} mit "
            f"Abweichung, zuletzt {last}")]),
        Section("4.3", "Aufbewahrung", [bullets(
            f"Aufbewahrung bis 31.12. des {a['retention_years']}. Jahres nach dem Eingangsjahr "
            "(EINVOICE_RETENTION_YEARS); das Datum steht in jedem Archivpaket.",
            "Originale werden von einvoice weder verändert noch gelöscht.",
            "Diese Verfahrensdokumentation ist so lange aufzubewahren wie die Unterlagen, die sie erläutert.")]),
    ])


def _controls(f: dict) -> Section:
    org, subs = f["organisation"], f["substitutions"]
    active = [w for w in f["workflows"] if w["active"]]
    return Section("5", "Internes Kontrollsystem", [], [
        Section("5.1", "Rollen und Berechtigungen", [
            p("Die Dokumentation nennt keine Personen, nur die Zahl der aktiven Rolleninhaber je Einheit; wer welche "
              "Rolle hat, steht in den Stammdaten (`einvoice masterdata export users`)."),
            table(["Rolle", "Aufgabe", "Personen", "je Einheit"],
                  [[r["role"], ROLE_TEXT.get(r["role"], ""), r["count"],
                    ", ".join(f"{u}: {n}" for u, n in r["per_unit"].items())] for r in org["roles"]]),
        ]),
        Section("5.2", "Vier-Augen-Prinzip und Betragsgrenzen", [
            table(["Workflow", "Vier-Augen", "Interessenkonflikt", "IBAN-Abgleich"],
                  [[w["name"], w["rules"].get("four_eyes"), w["rules"].get("supplier_conflict"),
                    w["rules"].get("iban_check")] for w in active]),
            p("Anordnungsgrenzen der Freigabeberechtigten (Bruttobetrag → Zahl der Personen): " + (", ".join(
                f"{'ohne Grenze' if k == 'keine' else amount(k)}: {n}" for k, n in org["limits"].items()) or "keine") + "."),
            bullets("Kassenpersonal darf nicht anordnen.",
                    "Zurückgeben und Ablehnen nur mit Begründung; die Anordnung schreibt Zahlungsempfänger, IBAN und "
                    "Betrag fest, eine Änderung erfordert eine neue Anordnung."),
        ]),
        Section("5.3", "Vertretungen", [p(
            f"{subs['total']} Vertretungen hinterlegt, davon {subs['active']} am {f['date']:%d.%m.%Y} gültig. Vertreter "
            "handeln im eigenen Namen „in Vertretung für …“; das wird im Schritt und im Protokoll festgehalten.")]),
        Section("5.4", "Protokollierung", [bullets(
            "Jeder Statuswechsel und jede Entscheidung: Zeitpunkt (UTC), Handelnder (Person oder Systemteil), alter "
            "und neuer Status, Begründung, Einzelheiten.",
            "Das Protokoll jeder Rechnung liegt zusätzlich im Archivpaket (audit.json, approval.json).")]),
    ])


def build_document(facts: dict) -> Document:
    return Document("Verfahrensdokumentation elektronischer Rechnungseingang (einvoice)",
                    f"Stand {facts['date']:%d.%m.%Y}, erzeugt aus der Konfiguration dieser Installation",
                    [_general(facts), _user_doc(facts), _technical(facts), _operations(facts), _controls(facts)])
