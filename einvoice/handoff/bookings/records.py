"""The booking records of one approved invoice, built from what routing decided (pure: no database).

Inputs (`Sources`): the stored model dict (`ParsedInvoice.model`), the approved `ApprovalCase`
(payable amount, payee and IBAN frozen by the Anordnung), the `Assignment` (unit, cost centre,
account, budget product, splits), the `Supplier` (creditor number, BIC), the `InvoiceDeadline` (due
dates, the Skonto term chosen at the Anordnung) and the intake item (id, uid, receipt time). Nothing
is recomputed that routing already decided. Output: one record per cost-centre split (one record
without splits), fields as in `fields.RECORD_FIELDS`.

How document amounts are distributed over splits (so that the records sum exactly to the invoice):

1. VAT groups are the invoice's BG-23 entries (category BT-118, rate BT-119, taxable BT-116, tax
   BT-117); without any, one group of BT-109 and BT-110.
2. The weight of a split in a group is the sum of BT-131 of the split's lines (`Assignment.splits`
   names them by BT-126) whose VAT (BT-151/152) is that group's. A group none of whose lines is in a
   split (a document charge with a rate of its own, splits made by hand without lines) is weighted by
   the splits' ``amount``; weights that sum to zero count equally.
3. Each group's BT-116 and BT-117 are divided by these weights, rounded to the cent by the largest
   remainder method (`allocate`): the parts always add up to the group amount exactly.
4. A record's net, VAT and gross are the sums over its groups; BT-115 (``amount_due``), the case's
   payable amount and the Skonto amount are divided the same way by the records' gross amounts, and
   within a record its payable and Skonto amounts by its groups' gross (for one CSV row per VAT group);
   a record lists only the VAT groups it has a share of (all zero: left out).
5. Credit notes (``model["direction"]["sign"] == -1``): every amount is negative (the case's payable
   amount is signed already). ``payable`` is what the Kämmerei books; the control total of a batch is
   the sum of ``payable``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from ...routing.clock import BERLIN

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
GroupKey = tuple[str | None, Decimal | None]

# the parts of the stored model the records use (a loader may read just these); the lines only for splits
MODEL_PARTS: tuple[tuple[str, ...], ...] = (
    ("invoice", "number"), ("invoice", "issue_date"), ("invoice", "type_code"), ("invoice", "currency"),
    ("invoice", "due_date"), ("invoice", "buyer_reference"), ("invoice", "contract_reference"),
    ("invoice", "purchase_order_reference"), ("invoice", "seller", "name"), ("invoice", "seller", "vat_id"),
    ("invoice", "payment_instructions"), ("invoice", "totals"), ("invoice", "vat_breakdown"), ("direction",))
LINES_PART = ("invoice", "lines")


@dataclass(frozen=True)
class Sources:
    """What one invoice's records are built from; ORM rows or anything with the same attributes."""

    item_id: int
    item_uid: str
    received_at: datetime
    model: dict[str, Any]
    case: Any  # ApprovalCase: payable_amount, payable_reason, payee_name, payee_iban, frozen_by, frozen_at
    assignment: Any | None = None  # Assignment: unit_id, cost_centre_id, account, budget_product, splits
    supplier: Any | None = None  # Supplier: creditor_number, name, iban, bic
    deadline: Any | None = None  # InvoiceDeadline: due_date, legal_due_date, skonto_*, terms
    centres: Mapping[int, Any] | None = None  # cost centre id → CostCentre (code, name, unit_id, …)
    units: Mapping[int, str] | None = None  # unit id → code


def money(value: Any) -> Decimal:
    """A Decimal rounded to the cent; "", None and non-numbers are 0 (never a float)."""
    if isinstance(value, dict):
        value = value.get("value")
    if value is None or value == "" or isinstance(value, float):
        return ZERO
    try:
        amount = (value if isinstance(value, Decimal) else Decimal(str(value))).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return ZERO
    return ZERO if amount == 0 else amount


def text(amount: Decimal | None) -> str | None:
    """Money (already in cents) as the record holds it: ``"-12.30"`` (never ``"-0.00"``)."""
    if amount is None:
        return None
    return str(amount) if amount else "0.00"


def _integers(weights: Sequence[Decimal | int]) -> list[int]:
    """The weights as integers of the same ratio (Decimals scaled by a common power of ten)."""
    decimals = [w if isinstance(w, Decimal) else Decimal(w) for w in weights]
    exponent = min(min(d.as_tuple().exponent for d in decimals), 0)
    scale = 10 ** -exponent
    return [int(d * scale) for d in decimals]


def allocate(total: Decimal, weights: Sequence[Decimal | int]) -> list[Decimal]:
    """``total`` divided in proportion to ``weights``, in cents, summing exactly to ``total``.

    Largest remainder (Hamilton): every part gets the floor of its exact share, the cents left over go
    to the parts with the largest fractional remainders (ties: the earlier part). Weights may be
    negative (a split of credit lines); weights summing to zero count equally. Exact integer arithmetic.
    """
    if len(weights) == 1:
        return [money(total)]
    if not weights:
        raise ValueError("allocate needs at least one weight")
    cents = int(money(total) * 100)
    scaled = _integers(weights)
    whole = sum(scaled)
    if whole == 0:
        scaled, whole = [1] * len(scaled), len(scaled)
    elif whole < 0:
        scaled, whole = [-w for w in scaled], -whole
    parts, rests = [], []
    for weight in scaled:
        part, rest = divmod(cents * weight, whole)  # floor, and the remainder in units of 1/whole cent
        parts.append(part)
        rests.append(rest)
    for index in sorted(range(len(parts)), key=lambda i: (-rests[i], i))[:cents - sum(parts)]:
        parts[index] += 1
    return [Decimal(part).scaleb(-2) for part in parts]


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _rate(value: Any) -> Decimal | None:
    try:
        return None if value in (None, "") else Decimal(str(value)).quantize(CENT)
    except (InvalidOperation, ValueError):
        return None


def _groups(invoice: dict[str, Any]) -> list[dict[str, Any]]:
    """[{"key", "category", "rate", "net", "vat", "exemption_reason"}], highest rate first."""
    groups = []
    for row in invoice.get("vat_breakdown") or []:
        category, rate = row.get("category"), _rate(row.get("rate"))
        groups.append({"key": (category, rate), "category": category, "rate": rate,
                       "net": money(row.get("taxable_amount")), "vat": money(row.get("tax_amount")),
                       "exemption_reason": row.get("exemption_reason") or row.get("exemption_reason_code")})
    if not groups:
        totals = invoice.get("totals") or {}
        groups.append({"key": (None, None), "category": None, "rate": None,
                       "net": money(totals.get("tax_exclusive") or totals.get("line_net_total")),
                       "vat": money(totals.get("tax_total")), "exemption_reason": None})
    return sorted(groups, key=lambda g: (-(g["rate"] or 0), g["category"] or ""))


def _weights(splits: list[dict[str, Any]], invoice: dict[str, Any], groups: list[dict[str, Any]]) -> list[list[Any]]:
    """weights[group][split] (see the module docstring, step 2)."""
    lines: dict[str, tuple[GroupKey, Decimal]] = {}
    for line in invoice.get("lines") or []:
        line_id = " ".join(str(line.get("id") or "").split())
        vat = line.get("vat") or {}
        if line_id and line_id not in lines:
            lines[line_id] = ((vat.get("category"), _rate(vat.get("rate"))), money(line.get("net_amount")))
    by_key = {group["key"]: index for index, group in enumerate(groups)}
    weights = [[ZERO] * len(splits) for _ in groups]
    covered = [False] * len(groups)
    for s, split in enumerate(splits):
        for line_id in split.get("lines") or []:
            found = lines.get(" ".join(str(line_id).split()))
            g = by_key.get(found[0]) if found else None
            if g is None and found and len(groups) == 1:
                g = 0
            if g is not None:
                weights[g][s] += found[1]
                covered[g] = True
    fallback = [money(split.get("amount")) for split in splits]
    return [row if covered[g] and any(row) else list(fallback) for g, row in enumerate(weights)]


def _targets(src: Sources) -> list[dict[str, Any]]:
    """The booking target of each record: the assignment's, or one per split."""
    assignment, centres, units = src.assignment, src.centres or {}, src.units or {}
    fallback_account = getattr(assignment, "account", None)

    def target(cc_id, unit_id, account, product, amount=None, lines=()):
        centre = centres.get(cc_id) if cc_id is not None else None
        unit_id = unit_id if unit_id is not None else getattr(centre, "unit_id", None)
        return {"cost_centre": getattr(centre, "code", None), "cost_centre_name": getattr(centre, "name", None),
                "unit": units.get(unit_id) if unit_id is not None else None,
                "account": account or getattr(centre, "default_account", None) or fallback_account,
                "budget_product": product or getattr(centre, "budget_product", None),
                "amount": amount, "lines": list(lines)}

    if assignment is None:
        return [target(None, None, None, None)]
    splits = [s for s in (assignment.splits or []) if isinstance(s, dict)]
    if len(splits) < 2:
        return [target(assignment.cost_centre_id, assignment.unit_id, assignment.account, assignment.budget_product)]
    return [target(s.get("cost_centre_id"), s.get("unit_id"), s.get("account"),
                   s.get("budget_product"), s.get("amount"), s.get("lines") or []) for s in splits]


def _bic(src: Sources, invoice: dict[str, Any], iban: str | None) -> str | None:
    transfers = ((invoice.get("payment_instructions") or {}).get("credit_transfers")) or []
    for transfer in transfers:
        if iban and "".join(str(transfer.get("account_id") or "").split()).upper() == iban:
            if transfer.get("service_provider_id"):
                return transfer["service_provider_id"]
    supplier = src.supplier
    if supplier is not None and getattr(supplier, "bic", None) and (not iban or supplier.iban == iban):
        return supplier.bic
    return None


def _skonto_percent(deadline: Any) -> str | None:
    if deadline is None or deadline.skonto_deadline is None:
        return None
    for term in deadline.terms or []:
        if term.get("deadline") == deadline.skonto_deadline.isoformat() and money(term.get("discount")) == \
                money(deadline.skonto_amount):
            return str(_rate(term.get("percent")))
    return None


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _get(invoice: dict[str, Any], terms: dict[str, Any], bt: str, *path: str) -> Any:
    """A term from the structured invoice (``path``), else from the flat terms (``bt``)."""
    value: Any = invoice
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if isinstance(value, dict):
        value = value.get("value")
    return value if value not in (None, "") else _first(terms.get(bt))


def build_records(src: Sources) -> list[dict[str, Any]]:
    """The records of one approved invoice (see the module docstring); ``batch_id`` is left None."""
    model, case, deadline = src.model or {}, src.case, src.deadline
    invoice, terms = model.get("invoice") or {}, model.get("terms") or {}
    direction = model.get("direction") or {}
    sign = -1 if int(direction.get("sign") or 1) < 0 else 1
    groups = _groups(invoice)
    targets = _targets(src)
    n = len(targets)
    weights = _weights(targets, invoice, groups) if n > 1 else [[1] for _ in groups]
    net = [allocate(g["net"], weights[i]) for i, g in enumerate(groups)]  # net[group][split]
    vat = [allocate(g["vat"], weights[i]) for i, g in enumerate(groups)]
    gross = [sum((net[g][s] + vat[g][s] for g in range(len(groups))), ZERO) for s in range(n)]
    amount_due = allocate(money(_get(invoice, terms, "BT-115", "totals", "amount_due")), gross)
    payable = allocate(money(case.payable_amount) * sign, gross)  # unsigned here, signed below
    skonto = allocate(money(deadline.skonto_amount), gross) if deadline and deadline.skonto_amount else None
    supplier = src.supplier
    iban = case.payee_iban
    frozen = case.frozen_at.astimezone(BERLIN).date() if case.frozen_at else None
    number = _get(invoice, terms, "BT-1", "number")
    common = {
        "batch_id": None, "item_id": src.item_id, "item_uid": src.item_uid, "split_count": n,
        "document_type": "Gutschrift" if sign < 0 else "Rechnung",
        "type_code": _get(invoice, terms, "BT-3", "type_code"), "sign": sign, "invoice_number": number,
        "invoice_date": _get(invoice, terms, "BT-2", "issue_date"),
        "receipt_date": src.received_at.astimezone(BERLIN).date().isoformat(),
        "currency": _get(invoice, terms, "BT-5", "currency"),
        "creditor_number": getattr(supplier, "creditor_number", None),
        "supplier_name": getattr(supplier, "name", None) or _get(invoice, terms, "BT-27", "seller", "name"),
        "supplier_vat_id": _get(invoice, terms, "BT-31", "seller", "vat_id"), "payee_name": case.payee_name,
        "iban": iban, "bic": _bic(src, invoice, iban),
        "payment_reference": _get(invoice, terms, "BT-83", "payment_instructions", "remittance_information") or number,
        "leitweg_id": _get(invoice, terms, "BT-10", "buyer_reference"),
        "order_number": _get(invoice, terms, "BT-13", "purchase_order_reference"),
        "contract_number": _get(invoice, terms, "BT-12", "contract_reference"), "payable_reason": case.payable_reason,
        "due_date": _iso(deadline.due_date) if deadline else _get(invoice, terms, "BT-9", "due_date"),
        "legal_due_date": _iso(deadline.legal_due_date) if deadline else None,
        "skonto_date": _iso(deadline.skonto_deadline) if deadline else None,
        "skonto_percent": _skonto_percent(deadline), "skonto_status": deadline.skonto_status if deadline else None,
        "ordered_by": case.frozen_by, "ordered_on": _iso(frozen),
    }
    records = []
    for s, target in enumerate(targets):
        group_gross = [net[g][s] + vat[g][s] for g in range(len(groups))]
        group_payable = allocate(payable[s], group_gross)
        group_skonto = allocate(skonto[s], group_gross) if skonto else [None] * len(groups)
        breakdown = [{"category": group["category"], "rate": text(group["rate"]),
                      "net": text(net[g][s] * sign), "vat": text(vat[g][s] * sign),
                      "gross": text(group_gross[g] * sign), "payable": text(group_payable[g] * sign),
                      "skonto": text(group_skonto[g] * sign) if skonto else None,
                      "exemption_reason": group["exemption_reason"]} for g, group in enumerate(groups)]
        breakdown = [row for g, row in enumerate(breakdown) if net[g][s] or vat[g][s] or group_payable[g]] \
            or breakdown[:1]
        record = {**common, "split_index": s,
                  **{key: target[key] for key in ("unit", "cost_centre", "cost_centre_name", "account",
                                                   "budget_product")},
                  "net": text(sum((net[g][s] for g in range(len(groups))), ZERO) * sign),
                  "vat": text(sum((vat[g][s] for g in range(len(groups))), ZERO) * sign),
                  "gross": text(gross[s] * sign), "amount_due": text(amount_due[s] * sign),
                  "payable": text(payable[s] * sign),
                  "skonto_amount": text(skonto[s] * sign) if skonto else None,
                  "vat_breakdown": breakdown}
        records.append(record)
    return records
