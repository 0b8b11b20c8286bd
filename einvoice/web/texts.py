"""Plain German for suppliers: what a finding means, what an immediate check found, where an item stands.

Finding messages come from three places: einvoice's own checks (``EINVOICE-*``, messages in English
with a German part at best), the XRechnung rules (``BR-DE-*`` etc.: "German / English") and CEN's
EN 16931 rules (English only). `explain` gives each a German sentence a supplier understands and
keeps the original message as the technical detail.

`public_status` maps an item's internal state to the six states a supplier sees on the status page:
eingegangen, wird geprüft, angenommen, in Freigabe, zur Zahlung freigegeben, abgelehnt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..store.models import ItemState

S = ItemState

OWN_FINDINGS = {
    "EINVOICE-EMPTY": "Die Datei ist leer.",
    "EINVOICE-TOO-LARGE": "Die Datei ist größer als erlaubt.",
    "EINVOICE-READ": "Die Datei konnte nicht gelesen werden.",
    "EINVOICE-PARSE": "Die Datei ist keine lesbare XML-Datei (ihr Aufbau ist fehlerhaft, zum Beispiel abgeschnitten). "
                      "Eine E-Rechnung wird als XRechnung (XML) oder als ZUGFeRD-/Factur-X-PDF geschickt.",
    "EINVOICE-XML-UNSAFE": "Die XML-Datei enthält eine DOCTYPE-Deklaration oder Entitäten. Solche Dateien werden "
                           "aus Sicherheitsgründen nicht verarbeitet.",
    "EINVOICE-PDF": "Die PDF-Datei ist nicht lesbar oder enthält keine eingebetteten Rechnungsdaten (XML). "
                    "Ein reines PDF ist keine E-Rechnung.",
    "EINVOICE-PDF-NOTE": "Hinweis zur PDF-Datei: die eingebetteten Rechnungsdaten sind nicht wie im Standard "
                         "vorgesehen benannt oder beschrieben.",
    "EINVOICE-NOT-INVOICE": "Die Datei ist keine Rechnung (weder XRechnung noch ZUGFeRD/Factur-X).",
    "EINVOICE-NO-SCENARIO": "Der verwendete Rechnungsstandard oder seine Version wird hier nicht angenommen.",
    "EINVOICE-VERSION-UNSUPPORTED": "Diese Version des Rechnungsstandards wird nicht (mehr) angenommen.",
    "EINVOICE-XSD": "Die Rechnung entspricht nicht dem technischen Aufbau (Schema) des Standards.",
    "EINVOICE-PROCESSING": "Bei der Prüfung der Rechnung ist ein Verarbeitungsfehler aufgetreten; "
                           "sie gilt deshalb als ungültig.",
    "EINVOICE-INTERNAL": "Bei der Prüfung ist ein technischer Fehler auf unserer Seite aufgetreten. "
                         "Wir kümmern uns darum.",
    "EINVOICE-LEITWEG-ID": "Die Leitweg-ID (Käuferreferenz) scheint fehlerhaft zu sein (Aufbau oder Prüfziffer).",
    "EINVOICE-IBAN": "Die IBAN hat eine falsche Prüfziffer.",
    "EINVOICE-VAT-ID": "Die Umsatzsteuer-Identifikationsnummer scheint fehlerhaft zu sein.",
    "EINVOICE-ISSUE-DATE": "Das Rechnungsdatum liegt in der Zukunft.",
    "EINVOICE-DUE-DATE": "Das Fälligkeitsdatum ist unplausibel (vor dem Rechnungsdatum oder mehr als ein Jahr danach).",
    "EINVOICE-SKONTO": "Die Skontobedingungen sind ungewöhnlich (mehr als 10 % oder 90 Tage, oder die Skontofrist "
                       "endet nach der Fälligkeit).",
}

# findings that mean "this is not an e-invoice document at all" (the API answers 422 for them)
NOT_A_DOCUMENT = frozenset({"EINVOICE-EMPTY", "EINVOICE-PARSE", "EINVOICE-XML-UNSAFE", "EINVOICE-PDF",
                            "EINVOICE-NOT-INVOICE", "EINVOICE-READ"})

_PREFIXES = (
    ("BR-CO-", "Beträge oder Summen der Rechnung passen rechnerisch nicht zusammen."),
    ("BR-DEC-", "Ein Betrag hat mehr Nachkommastellen als erlaubt."),
    ("BR-CL-", "Ein verwendeter Code (zum Beispiel Währung, Land, Einheit oder Steuerkategorie) ist nicht zulässig."),
    ("PEPPOL-", "Eine Regel des Peppol-Standards ist verletzt."),
    ("CII-", "Die Rechnung enthält Angaben an einer Stelle oder in einer Form, die der Standard nicht vorsieht."),
    ("UBL-", "Die Rechnung enthält Angaben an einer Stelle oder in einer Form, die der Standard nicht vorsieht."),
    ("FX-", "Eine Regel des ZUGFeRD-/Factur-X-Profils ist verletzt."),
)
_VAT = re.compile(r"^BR-(S|Z|E|AE|K|G|O|IG|IP|AF|AG)-\d")
_CORE = re.compile(r"^BR-\d")
_ID_PREFIX = re.compile(r"^\s*\[[^\]]{1,80}\]\s*-?\s*")
_GERMAN_FIRST = ("BR-DE", "BR-DEX", "BR-TMP", "BR-DE-CVD")

SEVERITY_DE = {"error": "Fehler", "fatal": "Fehler", "warning": "Hinweis", "information": "Information"}


def _message_parts(message: str) -> tuple[str, str]:
    """(German part, whole message) of an XRechnung message "[ID] Deutsch / English"."""
    text = _ID_PREFIX.sub("", message or "").strip()
    if " / " in text:
        return text.split(" / ", 1)[0].strip(), text
    return "", text


def explain(finding: dict[str, Any]) -> dict[str, str]:
    """A finding (``Finding.to_dict()``) in plain German: ``rule_id``, ``severity`` (German), ``text``, ``detail``."""
    rule_id = str(finding.get("rule_id") or "")
    message = str(finding.get("message") or "")
    severity = str(finding.get("severity") or "error")
    text = OWN_FINDINGS.get(rule_id)
    detail = _ID_PREFIX.sub("", message).strip()
    if text is None and rule_id.startswith(_GERMAN_FIRST):
        german, detail = _message_parts(message)
        text = german or None
        if german:
            detail = ""  # the German part is the message; its English half adds nothing for a supplier
    if text is None:
        for prefix, sentence in _PREFIXES:
            if rule_id.startswith(prefix):
                text = sentence
                break
    if text is None and _VAT.match(rule_id):
        text = "Die Angaben zur Umsatzsteuer sind unvollständig oder passen nicht zusammen."
    if text is None and _CORE.match(rule_id):
        text = "Eine Pflichtangabe der europäischen Rechnungsnorm EN 16931 fehlt oder ist unvollständig."
    if text is None:
        text = f"Die Rechnung verletzt die Regel {rule_id or '(ohne Kennung)'} des Rechnungsstandards."
    return {"rule_id": rule_id, "severity": SEVERITY_DE.get(severity, severity), "text": text, "detail": detail}


def explain_all(findings: list[dict[str, Any]], *, errors_only: bool = False) -> list[dict[str, str]]:
    chosen = [f for f in findings if not errors_only or f.get("severity") in ("error", "fatal")]
    order = {"error": 0, "fatal": 0, "warning": 1, "information": 2}
    chosen.sort(key=lambda f: order.get(f.get("severity"), 3))
    return [explain(f) for f in chosen]


@dataclass
class CheckSummary:
    """The immediate check of an upload, for the receipt (not the binding result: that is the job's)."""

    outcome: str  # "valid" | "review" | "invalid" | "not_invoice"
    headline: str
    text: str
    reasons: list[dict[str, str]] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)


def summarize_check(report: dict[str, Any]) -> CheckSummary:
    findings = report.get("findings") or []
    errors = [f for f in findings if f.get("severity") in ("error", "fatal")]
    others = [f for f in findings if f.get("severity") not in ("error", "fatal")]
    spec = (report.get("specification") or {}).get("label") or report.get("kind") or ""
    if report.get("valid"):
        return CheckSummary("valid", "Keine Fehler gefunden",
                            "Die Sofortprüfung hat keine Fehler gefunden"
                            + (f" ({spec})." if spec else ".") + " Die verbindliche Prüfung folgt.",
                            [], explain_all(others))
    if any(f.get("rule_id") in NOT_A_DOCUMENT for f in errors):
        return CheckSummary("not_invoice", "Keine lesbare E-Rechnung",
                            "Die Datei wurde gespeichert, ist aber keine lesbare E-Rechnung. "
                            "Sie wird deshalb voraussichtlich abgelehnt.", explain_all(errors), explain_all(others))
    if report.get("triage") == "review":
        return CheckSummary("review", "Nicht alle XRechnung-Regeln erfüllt",
                            "Die Rechnung entspricht der europäischen Norm EN 16931, aber nicht allen Regeln der "
                            "XRechnung. Die Verwaltung prüft, ob sie trotzdem angenommen wird.",
                            explain_all(errors), explain_all(others))
    return CheckSummary("invalid", "Fehler gefunden",
                        "Die Rechnung enthält Fehler und wird voraussichtlich abgelehnt. "
                        "Bitte korrigieren Sie die Rechnung und senden Sie sie erneut.",
                        explain_all(errors), explain_all(others))


@dataclass
class PublicStatus:
    """What a supplier may see: one of six states, a sentence, and the reasons of a rejection."""

    code: str  # received | checking | accepted | in_approval | payment_released | rejected
    label: str
    text: str
    reasons: list[dict[str, str]] = field(default_factory=list)


PUBLIC_LABELS = {
    "received": "Eingegangen",
    "checking": "Wird geprüft",
    "accepted": "Angenommen",
    "in_approval": "In Freigabe",
    "payment_released": "Zur Zahlung freigegeben",
    "rejected": "Abgelehnt",
}


def _status(code: str, text: str, reasons: list[dict[str, str]] | None = None) -> PublicStatus:
    return PublicStatus(code, PUBLIC_LABELS[code], text, reasons or [])


def public_status(state: str, *, triage: str | None, report: dict[str, Any] | None,
                  archived_from: str | None = None) -> PublicStatus:
    """The supplier's view of an item. ``archived_from``: the state an archived item was archived from."""
    findings = (report or {}).get("findings") or []
    if state == S.ARCHIVED:
        state = archived_from or S.EXPORTED
    if state == S.RECEIVED:
        return _status("received", "Ihre Rechnung ist eingegangen und wird in Kürze geprüft.")
    if state in (S.VALIDATED, S.FAILED):
        return _status("checking", "Ihre Rechnung wird geprüft.")
    if state == S.REJECTED and triage == "review":
        return _status("checking", "Ihre Rechnung entspricht der europäischen Norm EN 16931, aber nicht allen Regeln "
                                   "der XRechnung. Die Verwaltung prüft, ob sie trotzdem angenommen wird. "
                                   "Die folgenden Punkte wurden festgestellt:",
                       explain_all(findings, errors_only=True))
    if state == S.REJECTED:
        return _status("rejected", "Ihre Rechnung wurde abgelehnt, weil sie nicht den Vorgaben für E-Rechnungen "
                                   "entspricht. Bitte korrigieren Sie die folgenden Punkte und senden Sie die "
                                   "Rechnung erneut:", explain_all(findings, errors_only=True))
    if state == S.DUPLICATE:
        return _status("rejected", "Diese Rechnung ist bereits bei uns eingegangen. Sie wird nicht ein zweites Mal "
                                   "bearbeitet; die zuerst eingegangene Rechnung wird weiterbearbeitet.",
                       [{"rule_id": "", "severity": "Fehler",
                         "text": "Doppelt eingereicht: dieselbe Datei oder dieselbe Rechnungsnummer desselben "
                                 "Rechnungsstellers im selben Jahr.", "detail": ""}])
    if state in (S.PARSED, S.MATCHED):
        return _status("accepted", "Ihre Rechnung wurde angenommen und wird sachlich geprüft.")
    if state == S.IN_APPROVAL:
        return _status("in_approval", "Ihre Rechnung liegt zur Freigabe vor.")
    if state in (S.APPROVED, S.EXPORTED):
        return _status("payment_released", "Ihre Rechnung wurde freigegeben und zur Zahlung angewiesen.")
    return _status("checking", "Ihre Rechnung wird geprüft.")


BERLIN = "Europe/Berlin"


def german_time(value: datetime | None) -> str:
    if value is None:
        return ""
    try:
        local = value.astimezone(ZoneInfo(BERLIN))
        return local.strftime("%d.%m.%Y, %H:%M Uhr")
    except Exception:  # no time zone data on this machine
        return value.strftime("%d.%m.%Y, %H:%M Uhr (UTC)")


def german_size(size: int) -> str:
    if size < 1024:
        return f"{size} Bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB".replace(".", ",")
    return f"{size / (1024 * 1024):.1f} MB".replace(".", ",")
