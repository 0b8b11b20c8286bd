"""The index data of an archive package: ``metadata.json`` and ``index.xml`` for the DMS import.

Fields (JSON keys; the XML index has the same values as flat elements, see `INDEX_FIELDS`):
``document_type`` (Rechnung / Gutschrift, None when the document could not be read),
``document_type_code`` (BT-3) and its German label, ``outcome`` (the state before archiving:
exported / rejected / duplicate), ``intake`` (id, uid, channel, sender, received_at, receipt_date in
Germany, file name, SHA-256, size, envelope SHA-256, duplicate_of), ``invoice`` (number BT-1, issue
date BT-2, due date BT-9, currency BT-5, net BT-109, VAT BT-110, gross BT-112, payable BT-115, Leitweg-ID
BT-10, order BT-13, buyer BT-44), ``supplier`` (name, VAT id, creditor number from master data),
``booking`` (unit, cost centre, account, budget product, splits: what routing assigned), ``approval``
(the frozen payee, IBAN and payable amount of the approved case), ``aktenzeichen`` (from the template
``EINVOICE_ARCHIVE_AKTENZEICHEN``, placeholders {year} {unit} {cost_centre} {account} {creditor}
{id}), ``retention_until`` (31 December of receipt year + ``EINVOICE_RETENTION_YEARS``) and
``files`` (path, SHA-256, size, kind: original / derived / report / record).

Everything comes from what intake and routing stored; nothing is recomputed.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...formats.html_view import TYPE_CODES
from ...intake.process import receipt_date
from ...store.masterdata_models import CostCentre, OrgUnit, Supplier
from ...store.models import IntakeItem
from ...store.routing_models import ApprovalCase, Assignment, CaseStatus
from ...store.types import _json_default

SCHEMA = "einvoice-archive/1"
INDEX_NS = "urn:einvoice:archive:1"
PLACEHOLDERS = ("year", "unit", "cost_centre", "account", "creditor", "id")


def retention_until(receipt: date, years: int) -> date:
    """Kept until the end of the year ``years`` after the year of receipt (2026, 10 → 2036-12-31)."""
    return date(receipt.year + years, 12, 31)


def aktenzeichen(template: str | None, values: dict[str, Any]) -> str | None:
    """The file reference from a template like ``902.41/{year}``; ValueError for unknown placeholders."""
    if not template:
        return None
    try:
        return template.format_map({key: "" if values.get(key) is None else values[key] for key in PLACEHOLDERS})
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"EINVOICE_ARCHIVE_AKTENZEICHEN {template!r} ungültig ({exc}); erlaubt sind "
                         + ", ".join("{" + p + "}" for p in PLACEHOLDERS)) from exc


def canonical_json(value: Any) -> bytes:
    """Sorted keys, two-space indent, UTF-8: the same data always give the same bytes."""
    return (json.dumps(value, ensure_ascii=False, sort_keys=True, indent=2, default=_json_default) + "\n").encode()


def _term(terms: dict, bt: str) -> Any:
    value = terms.get(bt)
    return value[0] if isinstance(value, list) and value else (value or None)


def _code(session: Session, model, row_id: int | None) -> dict | None:
    row = session.get(model, row_id) if row_id else None
    return {"code": row.code, "name": row.name} if row else None


def collect(session: Session, item: IntakeItem, model: dict | None, *, outcome: str, years: int,
            template: str | None) -> dict[str, Any]:
    """The metadata of one item (without ``files`` and ``package``, which the package adds)."""
    terms = (model or {}).get("terms") or {}
    direction = (model or {}).get("direction") or {}
    received = receipt_date(item.received_at)
    assignment = session.get(Assignment, item.id)
    supplier = session.get(Supplier, assignment.supplier_id) if assignment and assignment.supplier_id else None
    case = session.scalars(select(ApprovalCase).where(ApprovalCase.item_id == item.id,
                                                      ApprovalCase.status == CaseStatus.APPROVED.value)
                           .order_by(ApprovalCase.id.desc())).first()
    type_code = _term(terms, "BT-3")
    document_type = None
    if model:
        document_type = "Gutschrift" if direction.get("is_credit_note") else "Rechnung"
    unit = _code(session, OrgUnit, assignment.unit_id) if assignment else None
    centre = _code(session, CostCentre, assignment.cost_centre_id) if assignment else None
    meta: dict[str, Any] = {
        "schema": SCHEMA,
        "document_type": document_type,
        "document_type_code": type_code,
        "document_type_label": TYPE_CODES.get(str(type_code or "").strip()),
        "outcome": outcome,
        "intake": {"id": item.id, "uid": item.uid, "channel": item.channel, "sender": item.sender,
                   "received_at": item.received_at, "receipt_date": received, "file_name": item.file_name,
                   "sha256": item.sha256, "size": item.size, "envelope_sha256": item.envelope_sha256,
                   "duplicate_of": item.duplicate_of_id},
        "invoice": {"number": _term(terms, "BT-1") or item.invoice_number,
                    "issue_date": _term(terms, "BT-2") or item.issue_date, "due_date": _term(terms, "BT-9"),
                    "currency": _term(terms, "BT-5"), "net": _term(terms, "BT-109"), "vat": _term(terms, "BT-110"),
                    "gross": _term(terms, "BT-112"), "payable": _term(terms, "BT-115"),
                    "leitweg_id": _term(terms, "BT-10"), "order": _term(terms, "BT-13"),
                    "buyer": _term(terms, "BT-44"), "credit_note": bool(direction.get("is_credit_note"))},
        "supplier": {"name": _term(terms, "BT-27") or item.seller_name or (supplier.name if supplier else None),
                     "vat_id": _term(terms, "BT-31") or item.seller_vat_id,
                     "creditor_number": supplier.creditor_number if supplier else None,
                     "master_data_name": supplier.name if supplier else None},
        "booking": None if assignment is None else {
            "status": assignment.status, "unit": unit, "cost_centre": centre, "account": assignment.account,
            "budget_product": assignment.budget_product, "splits": assignment.splits or []},
        "approval": None if case is None else {
            "case_id": case.id, "payee_name": case.payee_name, "payee_iban": case.payee_iban,
            "payable_amount": case.payable_amount, "frozen_at": case.frozen_at, "frozen_by": case.frozen_by},
        "retention_years": years,
        "retention_until": retention_until(received, years),
    }
    meta["aktenzeichen"] = aktenzeichen(template, {
        "year": received.year, "unit": unit and unit["code"], "cost_centre": centre and centre["code"],
        "account": assignment.account if assignment else None,
        "creditor": supplier.creditor_number if supplier else None, "id": item.id})
    return meta


# element name → path in the metadata dict
INDEX_FIELDS = (
    ("documentType", ("document_type",)), ("documentTypeCode", ("document_type_code",)),
    ("outcome", ("outcome",)), ("supplierName", ("supplier", "name")),
    ("creditorNumber", ("supplier", "creditor_number")), ("supplierVatId", ("supplier", "vat_id")),
    ("invoiceNumber", ("invoice", "number")), ("issueDate", ("invoice", "issue_date")),
    ("receiptDate", ("intake", "receipt_date")), ("dueDate", ("invoice", "due_date")),
    ("currency", ("invoice", "currency")), ("netAmount", ("invoice", "net")), ("vatAmount", ("invoice", "vat")),
    ("grossAmount", ("invoice", "gross")), ("payableAmount", ("invoice", "payable")),
    ("unit", ("booking", "unit", "code")), ("unitName", ("booking", "unit", "name")),
    ("costCentre", ("booking", "cost_centre", "code")), ("costCentreName", ("booking", "cost_centre", "name")),
    ("account", ("booking", "account")), ("budgetProduct", ("booking", "budget_product")),
    ("leitwegId", ("invoice", "leitweg_id")), ("orderNumber", ("invoice", "order")),
    ("intakeId", ("intake", "id")), ("intakeUid", ("intake", "uid")), ("channel", ("intake", "channel")),
    ("aktenzeichen", ("aktenzeichen",)), ("retentionUntil", ("retention_until",)), ("package", ("package",)),
)


def _get(meta: dict, path: tuple[str, ...]) -> Any:
    value: Any = meta
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def index_xml(meta: dict) -> bytes:
    """The flat XML index (one element per filled field, then the file list)."""
    root = etree.Element(f"{{{INDEX_NS}}}archiveIndex", nsmap={None: INDEX_NS}, schema=SCHEMA)
    for name, path in INDEX_FIELDS:
        value = _get(meta, path)
        if value is not None and value != "":
            etree.SubElement(root, f"{{{INDEX_NS}}}{name}").text = str(_json_default(value)
                                                                        if not isinstance(value, (str, int)) else value)
    files = etree.SubElement(root, f"{{{INDEX_NS}}}files")
    for entry in meta.get("files") or []:
        etree.SubElement(files, f"{{{INDEX_NS}}}file", path=entry["path"], sha256=entry["sha256"],
                         size=str(entry["size"]), kind=entry["kind"])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
