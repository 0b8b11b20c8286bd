"""`einvoice show` output: the model as JSON-ready dict and as German/English text.

JSON: ``{"file", "kind", "specification", "embedded_file", "is_en16931", "invoice": {structured
model; null values and empty lists left out; amounts {"value": "12.30", "currency": "EUR"};
attachments with size and sha256 instead of the bytes}, "direction": {credit note and sign, see
model.py}, "terms": {flat BT id → value, lists for repeating terms}, "buyer_reference": Leitweg-ID
check, "payment_terms": Skonto terms, "problems": [...], "coverage": [...] (with --coverage)}``.
"""

from __future__ import annotations

import hashlib
from dataclasses import fields, is_dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from .labels import label
from .leitweg import LeitwegId
from .model import Amount, BinaryObject, Identifier, Quantity
from .read import ReadResult
from .skonto import PaymentTerms
from .terms import flat_terms, plain, walk_terms


def structured(value: Any) -> Any:
    if isinstance(value, Amount):
        return {"value": str(value.value), "currency": value.currency}
    if isinstance(value, Quantity):
        return {"value": str(value.value), "unit": value.unit}
    if isinstance(value, Identifier):
        return {"value": value.value, "scheme": value.scheme}
    if isinstance(value, BinaryObject):
        return {"filename": value.filename, "mime_code": value.mime_code, "size": len(value.data),
                "sha256": hashlib.sha256(value.data).hexdigest()}
    if isinstance(value, (Decimal, date)):
        return plain(value)
    if isinstance(value, list):
        return [structured(v) for v in value]
    if is_dataclass(value):
        data = {}
        for f in fields(value):
            item = getattr(value, f.name)
            if item is None or (isinstance(item, list) and not item):
                continue
            data[f.name] = structured(item)
        return data
    return value


def _direction(result: ReadResult) -> dict:
    invoice = result.invoice
    signed = invoice.signed_amount_due
    return {"is_credit_note": invoice.is_credit_note, "sign": invoice.sign, "direction": invoice.direction,
            "signed_amount_due": structured(signed) if signed else None}


def _leitweg(text: str | None) -> dict | None:
    if text is None:
        return None
    lid = LeitwegId.parse(text)
    data = {"value": lid.normalized, "is_valid": lid.is_valid, "coarse": lid.coarse, "fine": lid.fine,
            "check_digits": lid.check_digits, "state_code": lid.state_code, "state_name": lid.state_name}
    if not lid.is_valid:
        data.update(reason_code=lid.reason_code, reason=lid.reason)
    return data


def _payment_terms(terms: PaymentTerms) -> dict:
    return {
        "source": terms.source,
        "due_date": plain(terms.due_date) if terms.due_date else None,
        "net_due_date": plain(terms.net_due_date) if terms.net_due_date else None,
        "net_due_source": terms.net_due_source,
        "payable": terms.payable,
        "br_de_18_ok": terms.br_de_18_ok,
        "skonto_terms": [structured(t) for t in terms.skonto_terms],
        "free_text": terms.free_text,
    }


def to_dict(result: ReadResult, *, coverage: bool = False) -> dict:
    terms = result.payment_terms()
    data = {
        "file": result.file_name,
        "kind": result.kind.value,
        "specification": result.specification.to_dict(),
        "embedded_file": result.embedded_file,
        "is_en16931": result.is_en16931,
        "invoice": structured(result.invoice),
        "direction": _direction(result),
        "terms": flat_terms(result.invoice),
        "buyer_reference": _leitweg(result.invoice.buyer_reference),
        "payment_terms": _payment_terms(terms),
        "problems": [p.to_dict() for p in result.problems + terms.problems],
    }
    if coverage:
        data["coverage"] = [u.to_dict() for u in result.coverage()]
    return data


def _text_value(value: Any) -> str:
    if isinstance(value, bytes):
        return f"{len(value)} Bytes"
    if isinstance(value, (Amount, Quantity, Identifier)):
        return str(value)
    return str(plain(value))


def to_text(result: ReadResult, *, coverage: bool = False, language: str = "de") -> str:
    invoice = result.invoice
    out = [f"{result.file_name or '-'}: {result.kind.label}, {result.specification.label}"]
    if result.embedded_file:
        out.append(f"  eingebettet / embedded: {result.embedded_file}")
    if invoice.is_credit_note:
        out.append("  GUTSCHRIFT / CREDIT NOTE: Betrag zugunsten des Käufers / money owed to the buyer")
    out.append(f"  Richtung / direction: {invoice.direction} ({invoice.signed_amount_due})")
    section = None
    for term in walk_terms(invoice):
        if term.value is None or term.path.endswith((".scheme", ".unit")):
            continue  # shown with their identifier / quantity
        top = term.path.split(".")[0]
        if "[" in top and top != section:
            section = top
            out.append(f"  [{top}]")
        elif "[" not in top:
            section = None
        indent = "    " if section else "  "
        out.append(f"{indent}{term.bt:<10} {label(term.bt, language)}: {_text_value(term.value)}")
    lid = LeitwegId.parse(invoice.buyer_reference) if invoice.buyer_reference else None
    if lid is not None:
        verdict = f"gültig / valid ({lid.state_name})" if lid.is_valid else f"ungültig / invalid: {lid.reason}"
        out.append(f"  Leitweg-ID {lid.normalized}: {verdict}")
    terms = result.payment_terms()
    for t in terms.skonto_terms:
        out.append(f"  Skonto {t.percent} % bis / until {t.deadline}: {t.discount_amount} → zahlen / pay "
                   f"{t.amount_to_pay}")
    if terms.net_due_date:
        out.append(f"  netto fällig / net due: {terms.net_due_date} ({terms.net_due_source})")
    for problem in result.problems + terms.problems:
        out.append(f"  {problem.severity.upper()} {problem.code}: {problem.message}")
    if coverage:
        unread = result.coverage()
        out.append(f"  nicht gelesen / not read: {len(unread)}")
        for item in unread:
            out.append(f"    {item.location} = {item.value!r}" + (f" ({item.group} {item.group_label})" if item.group else ""))
    return "\n".join(out)
