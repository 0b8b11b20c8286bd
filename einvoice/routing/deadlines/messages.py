"""The German texts of reminder, escalation and digest mails (`reminders` decides who gets what).

Each function returns ``(subject, body)``; `build_message` makes the `EmailMessage` with the
``X-Einvoice-Notice: <kind>; item=<id>`` header that the handoff notices carry as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

STEP_NAMES = {"sachlich": "Feststellung der sachlichen Richtigkeit",
              "rechnerisch": "Feststellung der rechnerischen Richtigkeit",
              "anordnung": "Zahlungsanordnung"}
FOOTER = "\n\n-- \nDiese Nachricht wurde automatisch von einvoice (Rechnungseingang) versandt."


def money(amount: Decimal | None, currency: str | None = "EUR") -> str:
    """German notation: 1.234,50 EUR."""
    if amount is None:
        return "–"
    text = f"{amount:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"{text} {currency or 'EUR'}"


def day(value: date | None) -> str:
    return f"{value:%d.%m.%Y}" if value else "–"


def working_days(n: int) -> str:
    return "1 Arbeitstag" if n == 1 else f"{n} Arbeitstagen" if n != 0 else "heute"


@dataclass
class Task:
    """One open approval step of one invoice, as a line of a mail."""

    item_id: int
    invoice_number: str | None
    seller: str | None
    payable: Decimal | None
    currency: str | None
    step_kind: str
    pay_by: date | None
    skonto_deadline: date | None
    skonto_amount: Decimal | None
    latest_approval: date | None
    money_at_risk_cents: int
    acting_for: str | None = None

    @property
    def title(self) -> str:
        return f"Rechnung {self.invoice_number or '(ohne Nummer)'} von {self.seller or 'unbekanntem Lieferanten'}"

    def facts(self) -> str:
        lines = [f"Vorgang: #{self.item_id}", f"Rechnung: {self.invoice_number or '–'}",
                 f"Lieferant: {self.seller or '–'}", f"Betrag: {money(self.payable, self.currency)}",
                 f"Arbeitsschritt: {STEP_NAMES.get(self.step_kind, self.step_kind)}"]
        if self.skonto_deadline:
            lines.append(f"Skonto: {money(self.skonto_amount, self.currency)} bei Zahlung bis "
                         f"{day(self.skonto_deadline)}")
            lines.append(f"Letzter Tag für die Zahlungsanordnung: {day(self.latest_approval)}")
        lines.append(f"Zu zahlen bis: {day(self.pay_by)}")
        return "\n".join(lines)


def skonto_reminder(task: Task, name: str, days_left: int) -> tuple[str, str]:
    subject = (f"Skontofrist läuft ab: {task.title} – {money(task.skonto_amount, task.currency)} bis "
               f"{day(task.skonto_deadline)}")
    lead = f"Guten Tag {name},\n\nfür die folgende Rechnung endet die Skontofrist in {working_days(days_left)}. "
    lead += ("Bitte schließen Sie Ihren Arbeitsschritt rechtzeitig ab, damit das Skonto nicht verloren geht."
             if days_left else "Bitte schließen Sie Ihren Arbeitsschritt heute ab.")
    if task.acting_for:
        lead += f"\nSie erhalten diese Nachricht als Vertretung für {task.acting_for}."
    return subject, f"{lead}\n\n{task.facts()}{FOOTER}"


def escalation(task: Task, name: str, reasons: list[str], approvers: list[str]) -> tuple[str, str]:
    subject = f"Eskalation: {task.title}"
    body = (f"Guten Tag {name},\n\nals Leitung der Organisationseinheit informieren wir Sie über eine Rechnung, "
            "deren Bearbeitung stockt:\n\n" + "\n".join(f"- {reason}" for reason in reasons) + "\n\n" + task.facts()
            + "\n\nZuständig: " + (", ".join(approvers) if approvers else "niemand (bitte Zuständigkeit regeln)"))
    return subject, body + FOOTER


def digest(tasks: list[Task], name: str, on: date) -> tuple[str, str]:
    subject = f"Ihre offenen Rechnungen am {day(on)}: {len(tasks)}"
    lines = [f"Guten Tag {name},\n\nfolgende Rechnungen warten auf Sie (dringendste zuerst):\n"]
    for number, task in enumerate(tasks, start=1):
        line = (f"{number}. #{task.item_id} {task.title}, {money(task.payable, task.currency)}: "
                f"{STEP_NAMES.get(task.step_kind, task.step_kind)}, zu zahlen bis {day(task.pay_by)}")
        if task.skonto_deadline:
            line += f"; Skonto {money(task.skonto_amount, task.currency)} bis {day(task.skonto_deadline)}"
        if task.acting_for:
            line += f" (in Vertretung für {task.acting_for})"
        lines.append(line)
    return subject, "\n".join(lines) + FOOTER


def build_message(sender: str, recipient: str, subject: str, body: str, *, kind: str,
                  item_id: int | None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = (parseaddr(sender)[1] or "einvoice.invalid").rpartition("@")[2] or "einvoice.invalid"
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Einvoice-Notice"] = kind + (f"; item={item_id}" if item_id is not None else "")
    message.set_content(body)
    return message
