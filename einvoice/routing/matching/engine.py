"""The matching decision: `decide(keys, rules, context) -> Outcome`. Pure (no database, no clock).

Rule semantics
--------------
A rule looks at one key of the invoice (`MatchKey`):

==================  ==============  ===================================================================
key                 term            lookup (rule without ``pattern``)
==================  ==============  ===================================================================
``leitweg``         BT-10           `LeitwegId` table (exact, normalised): its unit and cost centre
``order``           BT-13           `PurchaseOrder.number`: the order's unit, cost centre, account
``contract``        BT-12           `Contract.number`: the contract's unit, cost centre, account
``buyer_reference`` BT-19           `CostCentre.code`
``line_reference``  BT-133 per line `CostCentre.code` per line: line-level splits (below)
``supplier_vat``    BT-31           `Supplier.vat_id` → the supplier's default cost centre
``supplier_iban``   BT-84 (each)    `Supplier.iban` → the supplier's default cost centre
``supplier_name``   BT-27           `Supplier.name` (case-insensitive, whitespace-normalised) → default
==================  ==============  ===================================================================

A rule *with* a pattern (exact or glob ``*`` ``?``, case-insensitive, whole value) fires when the
key matches it and proposes the rule's own unit / cost centre / account. A fired rule proposes a
*target*; missing parts are completed from master data: a cost centre brings its unit, default
account and budget product; orders and contracts bring their own unit, cost centre and account.
Its confidence is the rule's, halved when master data casts doubt on it (a closed order, a
contract not valid on the invoice date BT-2, an order or contract of another supplier, line
references BT-133 that name no cost centre); a target
whose cost centre is inactive gets confidence 0. The Leitweg-ID lookup proposes a full target when
the Leitweg-ID has a cost centre, otherwise a *unit-only* proposal; with two Leitweg lookup rules
(the default set) the first makes the full proposals and the second the unit-only ones, so that
BT-19 / BT-133 can sit between them.

Decision
--------
1. Rules are evaluated in position order; every fired rule is a *candidate* (kept in the result).
2. The *winner* is the first candidate with a cost centre.
3. *Conflict* (→ manual, the explanation names both): another candidate with confidence ≥ the
   winner's proposes a different cost centre, or a unit-only candidate proposes a different unit
   and either stands before the winner or has confidence ≥ the winner's.
4. A unit-only proposal is no full match: without a winner the invoice goes to the manual queue
   (the unit is kept as suggestion, e.g. for the queue of that unit).
5. No candidate → manual ("Keine Regel traf zu: …" with every key that was present and not found).
6. A match whose confidence is below ``context.min_confidence`` (``EINVOICE_MATCH_MIN_CONFIDENCE``,
   default 50) → manual, the proposal kept as suggestion.

Line-level splits: the ``line_reference`` rules are evaluated together at the position of the first
of them; a line is taken by the first such rule that resolves its BT-133. If the lines resolve to
one cost centre, that is an ordinary (document-level) candidate. If they resolve to two or more,
the result has *splits*: one per cost centre with the Decimal sum of its lines' net amounts (BT-131)
and the line ids. Lines without (or with an unknown) BT-133 go to the document-level winner (steps
2–3 over the other candidates); without one, or if it conflicts, the invoice goes to the manual
queue. When every line has a resolved BT-133 the splits decide alone (document-level proposals stay
listed as candidates). The assignment's own unit / cost centre is then the document-level winner's,
else the largest split's. The confidence is the lowest of the rules used.

The supplier (by VAT id, else tax number, else IBAN, else name; ambiguous values identify none) is
always looked up and returned, whichever rule decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ...store.routing_models import MatchStatus
from .candidates import (
    KEY_LABELS, ZERO, Candidate, K, Target, candidate, complete, line_candidate, line_ids, lookup, pattern_value,
)
from .context import MatchingContext, SupplierMatch
from .keys import InvoiceKeys
from .rules import Rule

__all__ = ["Outcome", "decide"]


@dataclass
class Outcome:
    status: MatchStatus
    explanation: str
    confidence: int = 0
    unit_id: int | None = None  # for manual: a suggestion (or None)
    cost_centre_id: int | None = None
    cost_centre_code: str | None = None
    account: str | None = None
    budget_product: str | None = None
    supplier_id: int | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    splits: list[dict[str, Any]] | None = None

    @property
    def matched(self) -> bool:
        return self.status is MatchStatus.MATCHED




# --- the decision ---------------------------------------------------------------------------------

def _conflicts(winner: Candidate, doc: list[Candidate]) -> list[Candidate]:
    found = []
    for other in doc:
        if other is winner:
            continue
        if other.kind == "full" and other.target.cost_centre_id != winner.target.cost_centre_id \
                and other.confidence >= winner.confidence:
            found.append(other)
        elif other.kind == "unit" and other.target.unit_id != winner.target.unit_id \
                and (other.rule.position < winner.rule.position or other.confidence >= winner.confidence):
            found.append(other)
    return found


def _conflict_text(winner: Candidate, conflicts: list[Candidate]) -> str:
    return "Widerspruch: " + " ↔ ".join(c.describe() for c in [winner, *conflicts])


def _split_rows(ctx: MatchingContext, split: Candidate, doc_target: Candidate | None) -> list[dict[str, Any]]:
    groups = {cc: (target, list(lines)) for cc, (target, lines) in split.groups.items()}
    if split.loose_lines and doc_target is not None:
        groups.setdefault(doc_target.target.cost_centre_id, (doc_target.target, []))[1].extend(split.loose_lines)
    rows = []
    for cc_id, (target, lines) in groups.items():
        centre = ctx.cost_centres.get(cc_id)
        amount = sum((line.net_amount or ZERO for line in lines), ZERO)
        why = [KEY_LABELS[K.LINE_REFERENCE]] if cc_id in split.groups else []
        if doc_target is not None and split.loose_lines and cc_id == doc_target.target.cost_centre_id:
            why.append(f"übrige Positionen nach {doc_target.rule.label}")
        why = " und ".join(why)
        rows.append({"cost_centre_id": cc_id, "cost_centre": centre.code if centre else None,
                     "unit_id": target.unit_id, "account": target.account, "budget_product": target.budget_product,
                     "amount": str(amount), "lines": [line.line_id for line in lines],
                     "explanation": f"{line_ids(lines)} → {ctx.cost_centre_text(cc_id)}: {amount} ({why})"})
    return rows


def _outcome(ctx: MatchingContext, status: MatchStatus, explanation: str, confidence: int = 0,
             target: Target | None = None, **extra: Any) -> Outcome:
    target = target or Target(None)
    centre = ctx.cost_centres.get(target.cost_centre_id) if target.cost_centre_id is not None else None
    return Outcome(status, explanation, confidence, target.unit_id, target.cost_centre_id,
                   centre.code if centre else None, target.account, target.budget_product, **extra)


def _with_threshold(ctx: MatchingContext, outcome: Outcome) -> Outcome:
    if outcome.matched and outcome.confidence < ctx.min_confidence:
        outcome.status = MatchStatus.MANUAL
        outcome.explanation = (f"Konfidenz {outcome.confidence} unter dem Mindestwert {ctx.min_confidence}, "
                               f"bitte prüfen: {outcome.explanation}")
    return outcome


def _supplier_text(supplier: SupplierMatch) -> str:
    if supplier.supplier is not None:
        text = f"Lieferant {supplier.supplier.label} (erkannt an {supplier.how})"
    else:
        text = "Lieferant nicht in den Stammdaten"
    return text + (f"; {supplier.note}" if supplier.note else "")


def _absent(keys: InvoiceKeys) -> str:
    present = [keys.leitweg_id, keys.order_reference, keys.contract_reference, keys.buyer_accounting_reference,
               keys.has_line_references(), keys.seller_vat_id, keys.ibans, keys.seller_name]
    return "keine auswertbaren Angaben" if not any(present) else "keine Regel passt zu den Angaben der Rechnung"


def decide(keys: InvoiceKeys, rules: list[Rule], ctx: MatchingContext) -> Outcome:
    """Evaluate ``rules`` (active ones, position order) on ``keys`` against ``ctx``: see the module docstring."""
    supplier = ctx.find_supplier(keys)
    active = sorted((r for r in rules if r.active), key=lambda r: (r.position, r.id or 0))
    leitweg_lookups = [r for r in active if r.key is K.LEITWEG and r.regex is None]
    line_rules = [r for r in active if r.key is K.LINE_REFERENCE]
    candidates: list[Candidate] = []
    misses: list[str] = []
    for rule in active:
        if rule.key is K.LINE_REFERENCE:
            if rule is not line_rules[0]:
                continue
            found, notes = line_candidate(line_rules, keys, ctx)
            if found is None:
                misses.extend(notes)
        elif rule.regex is not None:
            value = pattern_value(rule, keys)
            target = complete(ctx, rule.unit_id, rule.cost_centre_id, rule.account)
            found = candidate(ctx, rule, value, target, []) if value else None
        else:
            tier = leitweg_lookups.index(rule) if len(leitweg_lookups) > 1 and rule in leitweg_lookups else None
            found, miss = lookup(rule, keys, ctx, supplier, tier)
            if miss:
                misses.append(miss)
        if found is not None:
            candidates.append(found)
    misses = list(dict.fromkeys(misses))

    supplier_text = _supplier_text(supplier)
    common = {"supplier_id": supplier.supplier.id if supplier.supplier else None,
              "candidates": [c.to_dict(ctx) for c in candidates]}
    doc = [c for c in candidates if c.kind != "split"]
    split = next((c for c in candidates if c.kind == "split"), None)
    winner = next((c for c in doc if c.kind == "full"), None)
    conflicts = _conflicts(winner, doc) if winner else []

    if split is not None:
        doc_target = winner if winner is not None and not conflicts else None
        if split.loose_lines and doc_target is None:
            why = _conflict_text(winner, conflicts) if winner else "keine Regel bestimmt eine Kostenstelle für die " \
                                                                   "ganze Rechnung"
            return _outcome(ctx, MatchStatus.MANUAL,
                            f"{split.describe()}; {line_ids(split.loose_lines)} ohne Kostenstelle: {why}; "
                            f"{supplier_text}", **common)
        splits = _split_rows(ctx, split, doc_target if split.loose_lines else None)
        if doc_target is not None:
            primary = doc_target.target
        else:
            largest = max(splits, key=lambda row: Decimal(row["amount"]))
            primary = split.groups[largest["cost_centre_id"]][0]
        confidence = min(split.confidence, doc_target.confidence) if split.loose_lines else split.confidence
        text = split.describe()
        if split.loose_lines:
            text += f"; übrige {line_ids(split.loose_lines)} nach {doc_target.describe()}"
        return _with_threshold(ctx, _outcome(ctx, MatchStatus.MATCHED, f"{text}; {supplier_text}", confidence,
                                             primary, splits=splits, **common))
    if winner is not None and conflicts:
        units = {c.target.unit_id for c in [winner, *conflicts]}
        return _outcome(ctx, MatchStatus.MANUAL, f"{_conflict_text(winner, conflicts)}; {supplier_text}", 0,
                        Target(units.pop()) if len(units) == 1 else None, **common)
    if winner is not None:
        agree = [c for c in doc if c is not winner and c.target.cost_centre_id == winner.target.cost_centre_id]
        differ = [c for c in doc if c is not winner and c not in agree and
                  (c.kind == "full" or c.target.unit_id != winner.target.unit_id)]
        text = winner.describe() + (f"; bestätigt durch {', '.join(c.rule.label for c in agree)}" if agree else "")
        text += f"; abweichend, mit geringerer Konfidenz: {', '.join(c.describe() for c in differ)}" if differ else ""
        return _with_threshold(ctx, _outcome(ctx, MatchStatus.MATCHED, f"{text}; {supplier_text}",
                                             winner.confidence, winner.target, **common))
    units = [c for c in doc if c.kind == "unit"]
    if units:
        text = "; ".join(c.describe() for c in units)
        return _outcome(ctx, MatchStatus.MANUAL, f"Nur die Organisationseinheit ist bestimmt, keine Kostenstelle: "
                        f"{text}" + "".join(f"; {m}" for m in misses) + f"; {supplier_text}", 0,
                        Target(units[0].target.unit_id), **common)
    reasons = "; ".join(misses) if misses else _absent(keys)
    return _outcome(ctx, MatchStatus.MANUAL, f"Keine Regel traf zu: {reasons}; {supplier_text}", **common)
