"""EINVOICE-* plausibility warnings: Leitweg-ID, IBAN, VAT id, dates, Skonto terms."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal

from stdnum import iban as stdnum_iban
from stdnum.de import leitweg as stdnum_leitweg
from stdnum.eu import vat as stdnum_vat
from stdnum.exceptions import ValidationError

from ..findings import Finding, Severity
from ..kinds import DocumentKind
from .values import CheckedValues, read_values

# own, stricter than python-stdnum: no empty fine part (leitweg-id.md section 1)
_LEITWEG = re.compile(r"^[0-9]{2,12}(-[0-9A-Z]{1,30})?-[0-9]{2}$")
_SKONTO = re.compile(r"^#SKONTO#TAGE=(\d+)#PROZENT=(\d+\.\d{2})(?:#BASISBETRAG=-?\d+\.\d{2})?#$", re.ASCII)
MAX_SKONTO_PERCENT = 10  # more is almost always a typo (2.00 written as 20.00)
MAX_SKONTO_DAYS = 90


def _warn(rule: str, message: str, location: str) -> Finding:
    return Finding(rule, Severity.WARNING, message, location=location, source="einvoice", layer="einvoice")


def _date(text: str | None, kind: DocumentKind) -> date | None:
    if not text:
        return None
    try:
        if kind is DocumentKind.CII:
            return datetime.strptime(text.strip(), "%Y%m%d").date()
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def _plus_days(day: date, days: int) -> date | None:
    """``day`` + ``days``; None beyond the calendar (year 9999, TAGE=99999999999): never an OverflowError."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return None


def check_leitweg(value: str | None) -> Finding | None:
    if not value:
        return None  # absence is BR-DE-15's business
    normalised = value.strip().upper()
    if not _LEITWEG.match(normalised) or not 5 <= len(normalised) <= 46:
        return _warn("EINVOICE-LEITWEG-ID",
                     f"Käuferreferenz (BT-10) {value!r} ist keine Leitweg-ID (Grob-[Fein-]Prüfziffer) / "
                     "buyer reference is not a Leitweg-ID: the invoice cannot be routed automatically", "BT-10")
    if not stdnum_leitweg.is_valid(normalised):
        return _warn("EINVOICE-LEITWEG-ID",
                     f"Leitweg-ID (BT-10) {value!r}: Prüfziffer falsch / wrong check digits (ISO 7064 MOD 97-10)",
                     "BT-10")
    return None


def check_iban(value: str) -> Finding | None:
    if stdnum_iban.is_valid(value):
        return None
    return _warn("EINVOICE-IBAN", f"IBAN (BT-84) {value!r} ist ungültig (Prüfsumme) / invalid IBAN checksum: "
                 "payment would fail", "BT-84")


def check_vat_id(value: str) -> Finding | None:
    try:
        stdnum_vat.validate(value)
    except ValidationError as exc:
        return _warn("EINVOICE-VAT-ID", f"USt-IdNr. des Verkäufers (BT-31) {value!r} ist ungültig / "
                     f"seller VAT identifier is invalid: {exc}", "BT-31")
    return None


def check_dates(values: CheckedValues, kind: DocumentKind, today: date) -> list[Finding]:
    found = []
    issued = _date(values.issue_date, kind)
    due = _date(values.due_date, kind)
    if values.issue_date and issued is None:  # CII-DT-097 checks only the form: 20260230 passes
        found.append(_warn("EINVOICE-ISSUE-DATE", f"Rechnungsdatum (BT-2) {values.issue_date!r} ist kein gültiges "
                           "Kalenderdatum / invoice date is not a calendar date", "BT-2"))
    if issued and issued > (_plus_days(today, 1) or date.max):
        found.append(_warn("EINVOICE-ISSUE-DATE", f"Rechnungsdatum (BT-2) {issued} liegt in der Zukunft / "
                           "invoice date is in the future", "BT-2"))
    if issued and due and due < issued:
        found.append(_warn("EINVOICE-DUE-DATE", f"Fälligkeitsdatum (BT-9) {due} liegt vor dem Rechnungsdatum "
                           f"{issued} / due date before invoice date", "BT-9"))
    if issued and due and due > (_plus_days(issued, 365) or date.max):
        found.append(_warn("EINVOICE-DUE-DATE", f"Fälligkeitsdatum (BT-9) {due} liegt mehr als ein Jahr nach dem "
                           f"Rechnungsdatum / due date more than a year after the invoice date", "BT-9"))
    found.extend(_check_skonto(values.payment_terms, issued, due))
    return found


def _check_skonto(terms: str | None, issued: date | None, due: date | None) -> list[Finding]:
    found = []
    for line in (terms or "").splitlines():
        match = _SKONTO.match(" ".join(line.split()))
        if not match:
            continue  # syntax is BR-DE-18's business
        days, percent = int(match.group(1)), Decimal(match.group(2))
        if percent == 0:
            continue  # PROZENT=0.00 states the net payment period, not a discount
        if percent > MAX_SKONTO_PERCENT or not 0 < days <= MAX_SKONTO_DAYS:
            found.append(_warn("EINVOICE-SKONTO", f"Skonto {percent:.2f} % in {days} Tagen ist unplausibel / "
                               f"implausible cash discount terms", "BT-20"))
        deadline = _plus_days(issued, days) if issued else None
        if issued and due and (deadline is None or deadline > due):
            found.append(_warn("EINVOICE-SKONTO", f"Skontofrist ({deadline or 'nach dem Jahr 9999'}) endet nach der "
                               f"Fälligkeit ({due}) / discount deadline after the due date", "BT-20"))
    return found


def plausibility_findings(root, kind: DocumentKind, today: date | None = None) -> list[Finding]:
    if kind not in (DocumentKind.UBL_INVOICE, DocumentKind.UBL_CREDITNOTE, DocumentKind.CII):
        return []
    values = read_values(root, kind)
    found = [f for f in [check_leitweg(values.buyer_reference)] if f]
    found += [f for f in map(check_iban, values.payee_accounts) if f]
    found += [f for f in map(check_vat_id, values.seller_vat_ids) if f]
    found += check_dates(values, kind, today or date.today())
    return found
