"""The texts of the notices to suppliers (German first, then English) and the MIME messages.

`compose(context, sender)` returns an `EmailMessage`: plain text, UTF-8, ``Auto-Submitted:
auto-replied`` (RFC 3834, so that other robots do not answer), threaded to the supplier's message
(In-Reply-To/References). A rejection carries the readable validation report as an HTML attachment;
a workflow rejection (rejected in the approval) carries the approver's reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from zoneinfo import ZoneInfo

from ..store.types import utcnow

GERMANY = "Europe/Berlin"
MAX_LISTED_FINDINGS = 10

NOTE_TEXT = {
    "zip-unreadable": ("das ZIP-Archiv {file} ließ sich nicht öffnen", "the zip archive {file} could not be opened"),
    "zip-too-many-entries": ("das ZIP-Archiv {file} hat zu viele Einträge ({detail})",
                             "the zip archive {file} has too many entries ({detail})"),
    "zip-too-large": ("das ZIP-Archiv {file} ist entpackt zu groß ({detail})",
                      "the zip archive {file} is too large when unpacked ({detail})"),
    "zip-ratio": ("das ZIP-Archiv {file} ist ungewöhnlich stark komprimiert und wurde nicht entpackt",
                  "the zip archive {file} is unusually highly compressed and was not unpacked"),
    "zip-lying-size": ("das ZIP-Archiv {file} ist beschädigt", "the zip archive {file} is damaged"),
    "zip-encrypted-entry": ("ein Eintrag im ZIP-Archiv {file} ist verschlüsselt ({detail})",
                            "an entry of the zip archive {file} is encrypted ({detail})"),
    "zip-bad-entry": ("ein Eintrag im ZIP-Archiv {file} ist beschädigt ({detail})",
                      "an entry of the zip archive {file} is damaged ({detail})"),
    "zip-nested-too-deep": ("ZIP-Archive in {file} sind zu tief verschachtelt",
                            "zip archives inside {file} are nested too deeply"),
    "mime-defects": ("die Nachricht ist fehlerhaft aufgebaut (MIME); Anhänge können fehlen oder beschädigt sein",
                     "the message is malformed (MIME); attachments may be missing or damaged"),
    "mime-too-deep": ("die Nachricht ist zu tief verschachtelt und wurde nicht gelesen",
                      "the message is nested too deeply and was not read"),
    "mime-too-many-parts": ("die Nachricht hat mehr Teile als erlaubt; nur die ersten wurden gelesen",
                            "the message has more parts than allowed; only the first were read"),
}


@dataclass
class NoticeContext:
    kind: str  # receipt | rejection | duplicate | no-invoice
    recipient: str
    original_message_id: str | None = None
    original_subject: str | None = None
    original_date: datetime | None = None
    item_id: int | None = None
    file_name: str | None = None
    invoice_number: str | None = None
    received_at: datetime | None = None
    status_url: str | None = None
    companion: dict | None = None
    other_files: list[str] = field(default_factory=list)
    report: dict | None = None  # ValidationResult.to_dict() of the item
    triage: str | None = None
    duplicate_of: dict | None = None  # id, received_at, invoice_number, same_file
    notes: list[dict] = field(default_factory=list)
    body_has_invoice: bool = False
    reason: str | None = None  # workflow-rejection: the approver's reason


def _local(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    try:
        moment = moment.astimezone(ZoneInfo(GERMANY))
    except Exception:
        pass
    return f"{moment:%d.%m.%Y %H:%M} Uhr"


def _local_en(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    try:
        moment = moment.astimezone(ZoneInfo(GERMANY))
    except Exception:
        pass
    return f"{moment:%Y-%m-%d %H:%M} (German time)"


def _errors(report: dict | None) -> list[dict]:
    findings = (report or {}).get("findings") or []
    return [f for f in findings if f.get("severity") in ("error", "fatal")]


def _facts_de(c: NoticeContext) -> list[str]:
    lines = [f"  Eingangsnummer:   {c.item_id}"]
    if c.invoice_number:
        lines.append(f"  Rechnungsnummer:  {c.invoice_number}")
    lines.append(f"  Datei:            {c.file_name or '-'}")
    lines.append(f"  Eingegangen am:   {_local(c.received_at)}")
    if c.original_subject:
        lines.append(f"  Ihre Nachricht:   „{c.original_subject}“")
    return lines


def _facts_en(c: NoticeContext) -> list[str]:
    lines = [f"  Intake number:    {c.item_id}"]
    if c.invoice_number:
        lines.append(f"  Invoice number:   {c.invoice_number}")
    lines.append(f"  File:             {c.file_name or '-'}")
    lines.append(f"  Received:         {_local_en(c.received_at)}")
    if c.original_subject:
        lines.append(f"  Your message:     \"{c.original_subject}\"")
    return lines


FOOTER_DE = "Diese Nachricht wurde automatisch erstellt."
FOOTER_EN = "This message was generated automatically."


def _receipt(c: NoticeContext) -> tuple[str, list[str], list[str]]:
    what = f"Rechnung {c.invoice_number}" if c.invoice_number else f"Rechnung {c.file_name}"
    subject = f"Eingangsbestätigung: {what} (Eingangsnummer {c.item_id}) / Receipt of your invoice"
    de = ["Sehr geehrte Damen und Herren,", "", "wir bestätigen den Eingang Ihrer elektronischen Rechnung:", "",
          *_facts_de(c)]
    en = ["Dear Sir or Madam,", "", "we confirm receipt of your electronic invoice:", "", *_facts_en(c)]
    if c.companion:
        de.append(f"  Beigefügtes PDF:  {c.companion.get('file_name')} (dieselbe Rechnung; maßgeblich ist die "
                  f"XML-Datei)")
        en.append(f"  Attached PDF:     {c.companion.get('file_name')} (the same invoice; the XML file is the "
                  f"legal original)")
    if c.status_url:
        de += ["", "Den Bearbeitungsstand Ihrer Rechnung finden Sie hier:", f"  {c.status_url}"]
        en += ["", "You can follow the processing of your invoice here:", f"  {c.status_url}"]
    de += ["", "Die Rechnung wird nun geprüft. Ist sie nicht in Ordnung, erhalten Sie eine gesonderte Nachricht."]
    en += ["", "The invoice will now be checked. If it is not in order, you will receive a separate message."]
    if c.other_files:
        listed = ", ".join(c.other_files)
        de += ["", f"Weitere Anhänge Ihrer Nachricht haben wir aufbewahrt, aber nicht als Rechnung bearbeitet: {listed}"]
        en += ["", f"Further attachments of your message were kept, but not processed as invoices: {listed}"]
    return subject, de, en


def _rejection(c: NoticeContext) -> tuple[str, list[str], list[str]]:
    what = f"Rechnung {c.invoice_number}" if c.invoice_number else f"Rechnung {c.file_name}"
    errors = _errors(c.report)
    listed = [f"  - {e.get('rule_id')}: {e.get('message')}" for e in errors[:MAX_LISTED_FINDINGS]]
    if len(errors) > MAX_LISTED_FINDINGS:
        listed.append(f"  … und {len(errors) - MAX_LISTED_FINDINGS} weitere / and {len(errors) - MAX_LISTED_FINDINGS} more")
    if c.triage == "review":
        subject = f"Rechnung wird manuell geprüft: {what} (Eingangsnummer {c.item_id}) / Invoice under manual review"
        de = ["Sehr geehrte Damen und Herren,", "",
              "Ihre Rechnung erfüllt nicht alle Vorgaben des Standards XRechnung. Sie entspricht jedoch der "
              "europäischen Norm EN 16931 und wird deshalb von uns manuell geprüft. Sie müssen zunächst nichts tun; "
              "falls wir eine korrigierte Rechnung benötigen, melden wir uns.", "", *_facts_de(c)]
        en = ["Dear Sir or Madam,", "",
              "Your invoice does not meet all requirements of the XRechnung standard. It does conform to the European "
              "standard EN 16931, so we will review it manually. No action is needed for now; should we need a "
              "corrected invoice, we will contact you.", "", *_facts_en(c)]
    else:
        subject = f"Rechnung nicht angenommen: {what} (Eingangsnummer {c.item_id}) / Invoice not accepted"
        de = ["Sehr geehrte Damen und Herren,", "",
              "Ihre Rechnung konnte nicht angenommen werden: Sie hat die Prüfung als elektronische Rechnung "
              "(XRechnung / EN 16931) nicht bestanden.", "", *_facts_de(c)]
        en = ["Dear Sir or Madam,", "",
              "Your invoice could not be accepted: it failed the check as an electronic invoice "
              "(XRechnung / EN 16931).", "", *_facts_en(c)]
    if listed:
        de += ["", "Gefundene Fehler:", *listed]
        en += ["", "Errors found (see above)."]
    de += ["", f"Den vollständigen Prüfbericht finden Sie im Anhang (pruefbericht-{c.item_id}.html)."]
    en += ["", f"The full validation report is attached (pruefbericht-{c.item_id}.html)."]
    if c.triage != "review":
        de += ["Bitte korrigieren Sie die Rechnung und senden Sie sie erneut. Eine Rechnung im PDF-Format ohne "
               "strukturierte Daten ist keine elektronische Rechnung."]
        en += ["Please correct the invoice and send it again. A PDF invoice without structured data is not an "
               "electronic invoice."]
    if c.status_url:
        de += ["", f"Bearbeitungsstand: {c.status_url}"]
        en += ["", f"Processing status: {c.status_url}"]
    return subject, de, en


def _duplicate(c: NoticeContext) -> tuple[str, list[str], list[str]]:
    first = c.duplicate_of or {}
    what = f"Rechnung {c.invoice_number}" if c.invoice_number else f"Rechnung {c.file_name}"
    subject = f"Rechnung bereits erhalten: {what} (Eingangsnummer {c.item_id}) / Invoice already received"
    why_de = "dieselbe Datei" if first.get("same_file") else "dieselbe Rechnungsnummer desselben Rechnungsstellers"
    why_en = "the same file" if first.get("same_file") else "the same invoice number from the same seller"
    de = ["Sehr geehrte Damen und Herren,", "",
          f"diese Rechnung haben wir bereits erhalten ({why_de}): unter der Eingangsnummer {first.get('id')} am "
          f"{_local(first.get('received_at'))}. Das erneut gesendete Exemplar wird nicht noch einmal bearbeitet "
          f"und nicht noch einmal bezahlt.", "", *_facts_de(c), "",
          "Handelt es sich um eine neue Rechnung, vergeben Sie ihr bitte eine neue Rechnungsnummer."]
    en = ["Dear Sir or Madam,", "",
          f"we have already received this invoice ({why_en}): as intake number {first.get('id')} on "
          f"{_local_en(first.get('received_at'))}. The copy sent again will not be processed or paid a second "
          f"time.", "", *_facts_en(c), "", "If this is a new invoice, please give it a new invoice number."]
    return subject, de, en


def _no_invoice(c: NoticeContext) -> tuple[str, list[str], list[str]]:
    about = f": {c.original_subject}" if c.original_subject else ""
    subject = f"Keine Rechnung gefunden / No invoice found{about}"[:200]
    quoted_de = f" „{c.original_subject}“" if c.original_subject else ""
    quoted_en = f' "{c.original_subject}"' if c.original_subject else ""
    de = ["Sehr geehrte Damen und Herren,", "",
          f"Ihre Nachricht{quoted_de} vom {_local(c.original_date or c.received_at)} "
          "enthielt keine elektronische Rechnung als Anhang. Sie wurde aufbewahrt, aber nicht als Rechnung bearbeitet.",
          "",
          "Wir nehmen Rechnungen als Anhang im Format XRechnung (XML-Datei, UBL oder CII) oder ZUGFeRD / Factur-X "
          "(PDF mit eingebetteten XML-Daten) an. Eine Rechnung im Text der E-Mail ist keine elektronische Rechnung."]
    en = ["Dear Sir or Madam,", "",
          f"your message{quoted_en} of {_local_en(c.original_date or c.received_at)} "
          "contained no electronic invoice as an attachment. It was kept, but not processed as an invoice.", "",
          "We accept invoices as attachments in the XRechnung format (XML file, UBL or CII) or as ZUGFeRD / Factur-X "
          "(PDF with embedded XML data). An invoice in the text of the e-mail is not an electronic invoice."]
    if c.body_has_invoice:
        de += ["", "Ihre Nachricht scheint Rechnungsdaten im Text zu enthalten: bitte senden Sie die XML-Datei als "
                   "Anhang."]
        en += ["", "Your message seems to contain invoice data in its text: please send the XML file as an "
                   "attachment."]
    problems = [(NOTE_TEXT[n["code"]], n) for n in c.notes if n.get("code") in NOTE_TEXT]
    if problems:
        de += ["", "Außerdem:"] + [f"  - {text[0].format(file=n.get('file'), detail=n.get('detail'))}"
                                   for text, n in problems]
        en += ["", "Also:"] + [f"  - {text[1].format(file=n.get('file'), detail=n.get('detail'))}"
                               for text, n in problems]
    return subject, de, en


def _workflow_rejection(c: NoticeContext) -> tuple[str, list[str], list[str]]:
    """Rejected in the approval (sachlich/rechnerisch/Anordnung) with the approver's reason."""
    what = f"Rechnung {c.invoice_number}" if c.invoice_number else f"Rechnung {c.file_name}"
    subject = f"Rechnung abgelehnt: {what} (Eingangsnummer {c.item_id}) / Invoice rejected"
    reason = [f"  {line}" for line in (c.reason or "-").splitlines() or ["-"]]
    de = ["Sehr geehrte Damen und Herren,", "",
          "Ihre Rechnung wurde bei der Prüfung abgelehnt und wird nicht bezahlt.", "", *_facts_de(c), "",
          "Begründung:", *reason, "",
          "Bitte senden Sie gegebenenfalls eine korrigierte Rechnung mit einer neuen Rechnungsnummer. "
          "Elektronische Rechnungen können nicht geändert werden."]
    en = ["Dear Sir or Madam,", "",
          "Your invoice was rejected during the approval and will not be paid.", "", *_facts_en(c), "",
          "Reason (in German, as given by the approver):", *reason, "",
          "If appropriate, please send a corrected invoice with a new invoice number. Electronic invoices "
          "cannot be changed."]
    if c.status_url:
        de += ["", f"Bearbeitungsstand: {c.status_url}"]
        en += ["", f"Processing status: {c.status_url}"]
    return subject, de, en


BUILDERS = {"receipt": _receipt, "rejection": _rejection, "duplicate": _duplicate, "no-invoice": _no_invoice,
            "workflow-rejection": _workflow_rejection}


def report_html(report: dict) -> str:
    """The readable validation report (`render_html.html_report`) of a stored report dict."""
    from ..validation.findings import Finding, Severity
    from ..validation.render_html import html_report
    from ..validation.result import ValidationResult

    findings = [Finding(rule_id=str(f.get("rule_id") or ""), severity=Severity(f.get("severity") or "error"),
                        message=str(f.get("message") or ""), location=str(f.get("location") or ""),
                        source=str(f.get("source") or "")) for f in report.get("findings") or []]
    result = ValidationResult(file=report.get("file") or "", kind=report.get("kind"), valid=bool(report.get("valid")),
                              triage=report.get("triage") or "reject", pack=report.get("pack"),
                              scenario=report.get("scenario"), spec_id=report.get("specification_id"),
                              specification=report.get("specification"), container="",
                              embedded_file=report.get("embedded_file"), findings=findings)
    return html_report([result])


def _one_line(text: str | None, limit: int = 300) -> str | None:
    """Supplier-controlled text (invoice number, file name, subject) on one line: no header injection."""
    return None if text is None else " ".join(str(text).split())[:limit]


def compose(c: NoticeContext, sender: str, *, message_id_domain: str | None = None) -> EmailMessage:
    c.invoice_number, c.file_name = _one_line(c.invoice_number), _one_line(c.file_name)
    c.original_subject = _one_line(c.original_subject)
    subject, de, en = BUILDERS[c.kind](c)
    subject = _one_line(subject, 900)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = c.recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    domain = message_id_domain or (sender.rpartition("@")[2].strip(" >") or "einvoice.invalid")
    message["Message-ID"] = make_msgid("einvoice", domain=domain)
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    message["X-Einvoice-Notice"] = c.kind + (f"; item={c.item_id}" if c.item_id is not None else "")
    if c.original_message_id:
        message["In-Reply-To"] = c.original_message_id
        message["References"] = c.original_message_id
    body = "\n".join([*de, "", FOOTER_DE, "", "-- English --", "", *en, "", FOOTER_EN, ""])
    message.set_content(body, charset="utf-8")
    if c.kind == "rejection" and c.report is not None and not c.report.get("valid", False):
        message.add_attachment(report_html(c.report).encode("utf-8"), maintype="text", subtype="html",
                               filename=f"pruefbericht-{c.item_id}.html")
    return message
