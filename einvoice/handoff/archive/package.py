"""The content of one archive package: every file as (relative path, bytes), deterministic.

Layout (the same item always gives the same bytes, so a package can be rebuilt and compared)::

    original/<file name>        the received bytes, unchanged (blob store) — the legal original
    original/message.eml        mail: the whole message as received
    original/<pdf name>         mail: the PDF of a hybrid pair whose XML is the item
    extracted/<name>.xml        PDF item: the embedded invoice XML (derived, for reading only)
    attachments/NN-<name>       invoice attachments BG-24, decoded (derived)
    rendering/invoice.html      the readable invoice (einvoice.formats.html_view, self-contained)
    validation/report.json      the stored validation report (ValidationResult.to_dict)
    validation/report.html      the same, readable
    audit.json                  every audit event of the item (who, when, from, to, why) up to
                                archiving (failed attempts and the final transition stay in the database),
                                with its hash chain (seq, prev_hash, hash: `einvoice.store.audit_chain`)
    approval.json               matching results, assignment, approval cases with steps and
                                comments, deadline and Skonto, booking export and payment records
    metadata.json, index.xml    index data for the DMS (`metadata`)
    manifest-sha256.txt         SHA-256 of every other file (`manifest`)

No PDF rendering is built (WeasyPrint would need system libraries; the HTML has print CSS); for a
hybrid invoice the received PDF is the readable original. The HTML embeds attachments up to 1 MB.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...config import Settings
from ...formats.read import FormatError, read_invoice
from ...store.audit_verify_standalone import format_time
from ...store.blobs import BlobStore
from ...store.handoff_models import ExportBatch, ExportRecord, PaymentEntry, PaymentRun
from ...store.masterdata_models import CostCentre, OrgUnit, Supplier
from ...store.models import AuditEvent, IntakeItem, ParsedInvoice, ValidationReport
from ...store.routing_models import ApprovalCase, Assignment, InvoiceDeadline, MatchResult
from ..notices import report_html
from .manifest import MANIFEST, manifest_bytes, sha256_hex
from .metadata import canonical_json, collect, index_xml

RENDER_EMBED_LIMIT = 1024 * 1024
ARCHIVE_FAILED = "archive-failed"  # audit event of a failed archiving attempt (service)
KINDS = {"original": "original", "extracted": "derived", "attachments": "derived", "rendering": "derived",
         "validation": "report"}


class PackageError(RuntimeError):
    """The package cannot be built (e.g. an original is missing from the blob store)."""


@dataclass
class Package:
    name: str
    files: list[tuple[str, bytes]]  # sorted by path, manifest included
    metadata: dict[str, Any]

    @property
    def manifest_sha256(self) -> str:
        return sha256_hex(dict(self.files)[MANIFEST])

    @property
    def retention_until(self) -> date:
        return self.metadata["retention_until"]


def package_name(item: IntakeItem) -> str:
    return f"einvoice-{item.id:08d}-{item.uid}"


def safe_name(name: str | None, fallback: str) -> str:
    """One path component: no separators, control or reserved characters, at most 150 characters."""
    text = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = re.sub(r'[\x00-\x1f\x7f-\x9f:*?"<>|]+', "_", text).strip(". ")
    return text[:150] or fallback


class _Files:
    def __init__(self):
        self.entries: dict[str, bytes] = {}

    def add(self, folder: str, name: str, data: bytes) -> str:
        """Add under ``folder/name``; a second file of the same name becomes ``name-2.ext``."""
        stem, dot, ext = name.rpartition(".")
        prefix = f"{folder}/" if folder else ""
        path, n = prefix + name, 2
        while path in self.entries:
            path = prefix + (f"{stem}-{n}.{ext}" if dot and stem else f"{name}-{n}")
            n += 1
        self.entries[path] = data
        return path


def _blob(blobs: BlobStore, sha256: str, what: str) -> bytes:
    try:
        return blobs.get(sha256)
    except Exception as exc:  # missing or corrupt: never archive a package without its original
        raise PackageError(f"{what} ({sha256}) nicht lesbar: {exc}") from exc


def _originals(files: _Files, blobs: BlobStore, item: IntakeItem) -> bytes:
    data = _blob(blobs, item.sha256, "Original")
    fallback = "rechnung.pdf" if data[:1024].find(b"%PDF-") >= 0 else "rechnung.xml"
    files.add("original", safe_name(item.file_name, fallback), data)
    if item.envelope_sha256:
        files.add("original", "message.eml", _blob(blobs, item.envelope_sha256, "E-Mail"))
    companion = (item.extra or {}).get("companion") or {}
    if companion.get("sha256"):
        files.add("original", safe_name(companion.get("file_name"), "rechnung.pdf"),
                  _blob(blobs, companion["sha256"], "PDF der Rechnung"))
    return data


def _validation(report: dict | None) -> Any:
    if report is None:
        return None
    return SimpleNamespace(valid=bool(report.get("valid")), triage=report.get("triage") or "",
                           scenario=report.get("scenario") or "",
                           findings=[SimpleNamespace(**{k: f.get(k) or "" for k in
                                                        ("rule_id", "severity", "message", "location", "source")})
                                     for f in report.get("findings") or []])


def _derived(files: _Files, data: bytes, item: IntakeItem, report: dict | None, notes: list[str]) -> None:
    """Extracted XML, decoded attachments and the HTML rendering, as far as the document can be read."""
    try:
        result = read_invoice(data, item.file_name or "")
    except (FormatError, ValueError) as exc:
        notes.append(f"keine lesbare Darstellung: die Datei ist keine lesbare Rechnung ({exc})")
        return
    if result.pdf is not None:
        files.add("extracted", safe_name(result.embedded_file, "rechnung.xml"), result.xml)
    for number, attachment in enumerate(result.invoice.attachments, start=1):
        content = attachment.content
        if content is not None and content.data:
            files.add("attachments", f"{number:02d}-{safe_name(content.filename, 'anhang')}", content.data)
    from ...formats.html_view import render_html

    html = render_html(result, _validation(report), embed_limit=RENDER_EMBED_LIMIT)
    files.add("rendering", "invoice.html", html.encode("utf-8"))


def _rows(session: Session, stmt) -> list:
    return list(session.scalars(stmt))


def _codes(session: Session, model, ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    return dict(session.execute(select(model.id, model.code).where(model.id.in_(ids))).all()) if ids else {}


def _approval(session: Session, item: IntakeItem) -> dict[str, Any]:
    from ...routing.workflow.view import case_view

    matches = _rows(session, select(MatchResult).where(MatchResult.item_id == item.id).order_by(MatchResult.id))
    assignment = session.get(Assignment, item.id)
    units = _codes(session, OrgUnit, [m.unit_id for m in matches] + [assignment and assignment.unit_id])
    centres = _codes(session, CostCentre, [m.cost_centre_id for m in matches] + [assignment and assignment.cost_centre_id])
    supplier = session.get(Supplier, assignment.supplier_id) if assignment and assignment.supplier_id else None
    deadline = session.get(InvoiceDeadline, item.id)
    records = session.execute(select(ExportRecord, ExportBatch).join(ExportBatch, ExportBatch.id == ExportRecord.batch_id)
                              .where(ExportRecord.item_id == item.id).order_by(ExportRecord.id)).all()
    payments = session.execute(select(PaymentEntry, PaymentRun).join(PaymentRun, PaymentRun.id == PaymentEntry.run_id)
                               .where(PaymentEntry.item_id == item.id).order_by(PaymentEntry.id)).all()
    cases = _rows(session, select(ApprovalCase).where(ApprovalCase.item_id == item.id).order_by(ApprovalCase.id))
    return {
        "matching": [{"at": m.created_at, "actor": m.actor, "status": m.status, "unit": units.get(m.unit_id),
                      "cost_centre": centres.get(m.cost_centre_id), "account": m.account, "confidence": m.confidence,
                      "explanation": m.explanation, "splits": m.splits, "candidates": m.candidates} for m in matches],
        "assignment": None if assignment is None else {
            "status": assignment.status, "unit": units.get(assignment.unit_id),
            "cost_centre": centres.get(assignment.cost_centre_id), "account": assignment.account,
            "budget_product": assignment.budget_product, "splits": assignment.splits,
            "supplier": supplier.creditor_number if supplier else None, "manual": assignment.manual,
            "assigned_by": assignment.assigned_by, "assigned_at": assignment.assigned_at, "reason": assignment.reason},
        "cases": [case_view(session, case) for case in cases],
        "deadline": None if deadline is None else {
            "receipt_date": deadline.receipt_date, "due_date": deadline.due_date,
            "legal_due_date": deadline.legal_due_date, "pay_by": deadline.pay_by, "terms": deadline.terms,
            "skonto_status": deadline.skonto_status, "skonto_deadline": deadline.skonto_deadline,
            "offered_amount": deadline.offered_amount, "outcome_amount": deadline.outcome_amount,
            "notes": deadline.notes},
        "booking_export": [{"batch_id": b.id, "file_name": b.file_name, "file_sha256": b.sha256, "status": b.status,
                            "created_at": b.created_at, "created_by": b.created_by, "booked_at": b.booked_at,
                            "split_index": r.split_index, "active": r.active, "gross_amount": r.gross_amount,
                            "record": r.record} for r, b in records],
        "payment": [{"run_id": run.id, "message_id": run.message_id, "execution_date": run.execution_date,
                     "file_name": run.file_name, "status": run.status, "end_to_end_id": e.end_to_end_id,
                     "amount": e.amount, "skonto_deducted": e.skonto_deducted, "iban": e.creditor_iban,
                     "active": e.active} for e, run in payments],
    }


def _audit(session: Session, item: IntakeItem) -> dict[str, Any]:
    # attempts to archive are not part of the package (they would make a retried package differ from the
    # one a crashed run delivered); they stay in the database's audit trail like the final transition
    # (only trailing ones are left out: the rest is the item's hash chain up to here, seq 1..n without a
    # gap, checkable offline with `einvoice audit verify audit.json`)
    events = _rows(session, select(AuditEvent).where(AuditEvent.item_id == item.id).order_by(AuditEvent.seq))
    while events and events[-1].event == ARCHIVE_FAILED:
        events.pop()
    return {"item_id": item.id, "events": [{"id": e.id, "at": format_time(e.at), "actor": e.actor, "event": e.event,
                                            "from": e.from_state, "to": e.to_state, "reason": e.reason,
                                            "details": e.details, "seq": e.seq, "prev_hash": e.prev_hash,
                                            "hash": e.hash} for e in events]}


def build_package(session: Session, blobs: BlobStore, item: IntakeItem, settings: Settings, *,
                  outcome: str | None = None) -> Package:
    """Every file of the item's package. ``outcome``: the finished state (default: the item's state)."""
    files, notes = _Files(), []
    data = _originals(files, blobs, item)
    report_row = session.scalars(select(ValidationReport).where(ValidationReport.item_id == item.id)
                                 .order_by(ValidationReport.id.desc())).first()
    report = report_row.report if report_row else None
    parsed = session.scalars(select(ParsedInvoice).where(ParsedInvoice.item_id == item.id)
                             .order_by(ParsedInvoice.id.desc())).first()
    _derived(files, data, item, report, notes)
    if report is not None:
        files.add("validation", "report.json", canonical_json(report))
        files.add("validation", "report.html", report_html(report).encode("utf-8"))
    else:
        notes.append("kein Validierungsbericht (z. B. Dublette derselben Datei: nicht erneut geprüft)")
    files.add("", "audit.json", canonical_json(_audit(session, item)))
    files.add("", "approval.json", canonical_json(_approval(session, item)))

    name = package_name(item)
    meta = collect(session, item, parsed.model if parsed else None, outcome=outcome or item.state,
                   years=settings.retention_years, template=settings.archive_aktenzeichen)
    meta["package"] = name
    meta["notes"] = notes
    meta["files"] = [{"path": path, "sha256": sha256_hex(content), "size": len(content),
                      "kind": KINDS.get(path.split("/", 1)[0], "record")} for path, content in sorted(files.entries.items())]
    files.entries["metadata.json"] = canonical_json(meta)
    files.entries["index.xml"] = index_xml(meta)
    listing = sorted(files.entries.items())
    listing.append((MANIFEST, manifest_bytes(listing)))
    return Package(name=name, files=sorted(listing), metadata=meta)
