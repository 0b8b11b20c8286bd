"""What one rule proposes: `Target`, `Candidate`, and the evaluation of lookup, pattern and line rules.

Pure (no database, no clock); the decision over the candidates is `engine.decide`, whose docstring
describes the rule semantics. Confidence rules applied here: the rule's confidence, halved for each
doubt master data raises (closed order, contract not valid on BT-2, order/contract of another
supplier, unknown line references), 0 for a target whose cost centre is inactive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ...formats.leitweg import LeitwegId
from ...store.routing_models import MatchKey
from .context import MatchingContext, SupplierMatch
from .keys import InvoiceKeys, LineKeys, clean_name
from .rules import Rule

K = MatchKey
KEY_LABELS = {K.LEITWEG: "Leitweg-ID", K.ORDER: "Bestellnummer", K.CONTRACT: "Vertragsnummer",
              K.BUYER_REFERENCE: "Buchungsreferenz (BT-19)", K.LINE_REFERENCE: "Positionsreferenz (BT-133)",
              K.SUPPLIER_VAT: "USt-IdNr.", K.SUPPLIER_IBAN: "IBAN", K.SUPPLIER_NAME: "Lieferantenname"}
ZERO = Decimal("0")


@dataclass(frozen=True)
class Target:
    unit_id: int | None
    cost_centre_id: int | None = None
    account: str | None = None
    budget_product: str | None = None


@dataclass
class Candidate:
    rule: Rule
    value: str
    target: Target
    confidence: int
    text: str  # "Bestellnummer BEST-2026-0815 → KSt 6610 Straßenunterhaltung"
    notes: list[str] = field(default_factory=list)
    groups: dict[int, tuple[Target, list[LineKeys]]] | None = None  # line splits: cost centre id → target, lines
    loose_lines: list[LineKeys] = field(default_factory=list)  # lines the splits do not cover

    @property
    def kind(self) -> str:
        if self.groups is not None:
            return "split"
        return "full" if self.target.cost_centre_id is not None else "unit"

    def describe(self) -> str:
        notes = f"; {'; '.join(self.notes)}" if self.notes else ""
        return f"{self.text} ({self.rule.label}, Konfidenz {self.confidence}{notes})"

    def to_dict(self, ctx: MatchingContext) -> dict[str, Any]:
        centre = ctx.cost_centres.get(self.target.cost_centre_id)
        return {"rule_id": self.rule.id, "position": self.rule.position, "rule": self.rule.name,
                "key": self.rule.key.value, "value": self.value, "kind": self.kind, "unit_id": self.target.unit_id,
                "cost_centre_id": self.target.cost_centre_id, "cost_centre": centre.code if centre else None,
                "account": self.target.account, "confidence": self.confidence, "text": self.describe()}



# --- targets --------------------------------------------------------------------------------------

def complete(ctx: MatchingContext, unit_id: int | None, cost_centre_id: int | None,
             account: str | None = None) -> Target:
    centre = ctx.cost_centres.get(cost_centre_id) if cost_centre_id is not None else None
    if centre is None:
        return Target(unit_id, cost_centre_id, account)
    return Target(unit_id if unit_id is not None else centre.unit_id, centre.id, account or centre.default_account,
                  centre.budget_product)


def _target_text(ctx: MatchingContext, target: Target) -> str:
    if target.cost_centre_id is not None:
        return ctx.cost_centre_text(target.cost_centre_id)
    return ctx.unit_text(target.unit_id)


def candidate(ctx: MatchingContext, rule: Rule, value: str, target: Target, notes: list[str],
               what: str | None = None) -> Candidate:
    confidence = rule.confidence
    for _ in notes:
        confidence //= 2
    centre = ctx.cost_centres.get(target.cost_centre_id)
    if centre is not None and not centre.active:
        notes = [*notes, f"KSt {centre.code} ist inaktiv"]
        confidence = 0
    text = f"{what or KEY_LABELS[rule.key]} {value} → {_target_text(ctx, target)}"
    return Candidate(rule, value, target, confidence, text, notes)


def _other_supplier(ctx: MatchingContext, owner_id: int | None, supplier: SupplierMatch, what: str) -> list[str]:
    if owner_id is None or supplier.supplier is None or owner_id == supplier.supplier.id:
        return []
    owner = ctx.suppliers.get(owner_id)
    return [f"{what} gehört zu Lieferant {owner.label if owner else f'#{owner_id}'}, die Rechnung kommt von "
            f"{supplier.supplier.label}"]


def line_ids(lines: list[LineKeys]) -> str:
    """"Position 2" / "Positionen 1, 3"."""
    return ("Position " if len(lines) == 1 else "Positionen ") + ", ".join(str(line.line_id) for line in lines)


# --- evaluating one rule --------------------------------------------------------------------------

def pattern_value(rule: Rule, keys: InvoiceKeys) -> str | None:
    """The key value that matches the rule's pattern, if any."""
    values = {K.LEITWEG: [keys.leitweg_id], K.ORDER: [keys.order_reference], K.CONTRACT: [keys.contract_reference],
              K.BUYER_REFERENCE: [keys.buyer_accounting_reference], K.SUPPLIER_VAT: [keys.seller_vat_id],
              K.SUPPLIER_IBAN: list(keys.ibans), K.SUPPLIER_NAME: [clean_name(keys.seller_name)]}[rule.key]
    return next((v for v in values if v and rule.regex.fullmatch(v)), None)


def _leitweg_miss(ctx: MatchingContext, value: str) -> str:
    parsed = LeitwegId.parse(value)
    if not parsed.is_valid and parsed.reason_code == "check-digits":
        return f"Leitweg-ID {value} unbekannt, Prüfziffer falsch (erwartet {parsed.expected_check_digits})"
    if not parsed.is_valid:
        return f"Leitweg-ID {value} unbekannt und ungültig ({parsed.reason})"
    known = ctx.leitweg_by_coarse.get(parsed.coarse or "", [])
    if known:
        return (f"Leitweg-ID {value} unbekannt (Feinadresse unbekannt; bekannt mit Grobadresse {parsed.coarse}: "
                f"{', '.join(known[:5])}{' …' if len(known) > 5 else ''})")
    return f"Leitweg-ID {value} unbekannt (fremde Grobadresse {parsed.coarse}: Irrläufer?)"


def lookup(rule: Rule, keys: InvoiceKeys, ctx: MatchingContext, supplier: SupplierMatch,
            leitweg_tier: int | None) -> tuple[Candidate | None, str | None]:
    """A lookup rule (no pattern): (candidate, None) or (None, why not — None if the key is absent)."""
    key = rule.key
    if key is K.LEITWEG:
        value = keys.leitweg_id
        if not value:
            return None, None
        entry = ctx.leitweg_ids.get(value)
        if entry is None:
            return None, _leitweg_miss(ctx, value)
        full = entry.cost_centre_id is not None
        if entry.central and not full:
            return None, (f"Leitweg-ID {value} ist die zentrale Rechnungsadresse"
                          f"{f' ({entry.description})' if entry.description else ''}: sie nennt keinen Fachbereich")
        if leitweg_tier is not None and leitweg_tier != (0 if full else 1):
            return None, None  # the other Leitweg rule takes this one
        target = complete(ctx, None, entry.cost_centre_id) if full else Target(entry.unit_id)
        return candidate(ctx, rule, value, target, []), None
    if key in (K.ORDER, K.CONTRACT):
        value = keys.order_reference if key is K.ORDER else keys.contract_reference
        if not value:
            return None, None
        entry = (ctx.orders if key is K.ORDER else ctx.contracts).get(value)
        what = "Bestellung" if key is K.ORDER else "Vertrag"
        if entry is None:
            return None, f"{KEY_LABELS[key]} {value} unbekannt"
        notes = _other_supplier(ctx, entry.supplier_id, supplier, what)
        if key is K.ORDER and not entry.open:
            notes.append(f"Bestellung {value} ist abgeschlossen")
        if key is K.CONTRACT and keys.issue_date is not None:
            if (entry.valid_from and keys.issue_date < entry.valid_from) or \
                    (entry.valid_until and keys.issue_date > entry.valid_until):
                notes.append(f"Vertrag {value} am Rechnungsdatum {keys.issue_date.isoformat()} nicht gültig "
                             f"({entry.valid_from or '…'} bis {entry.valid_until or '…'})")
        target = complete(ctx, entry.unit_id, entry.cost_centre_id, entry.account)
        return candidate(ctx, rule, value, target, notes), None
    if key is K.BUYER_REFERENCE:
        value = keys.buyer_accounting_reference
        if not value:
            return None, None
        centre = ctx.cost_centres_by_code.get(value)
        if centre is None:
            return None, f"{KEY_LABELS[key]} {value} ist keine bekannte Kostenstelle"
        return candidate(ctx, rule, value, complete(ctx, None, centre.id), []), None
    # supplier keys: the supplier identified by this very key, and its default cost centre
    kind, values = {K.SUPPLIER_VAT: ("vat", [keys.seller_vat_id]), K.SUPPLIER_IBAN: ("iban", list(keys.ibans)),
                    K.SUPPLIER_NAME: ("name", [keys.seller_name])}[key]
    values = [v for v in values if v]
    if not values:
        return None, None
    misses = []
    for value in values:
        found, count = ctx.supplier_by(kind, value)
        if found is None:
            misses.append(f"{KEY_LABELS[key]} {value} " + (f"passt zu {count} Lieferanten" if count else "unbekannt"))
            continue
        if found.default_cost_centre_id is None:
            misses.append(f"Lieferant {found.label} ({KEY_LABELS[key]}) hat keine Standard-Kostenstelle")
            continue
        return candidate(ctx, rule, value, complete(ctx, None, found.default_cost_centre_id), [],
                          what=f"Lieferant {found.label}, {KEY_LABELS[key]}"), None
    return None, "; ".join(misses)


def line_candidate(line_rules: list[Rule], keys: InvoiceKeys, ctx: MatchingContext) -> tuple[Candidate | None, list[str]]:
    """All line_reference rules together: one candidate (document-level or splits) or None."""
    taken: dict[int, list[LineKeys]] = {}
    used: dict[int, Rule] = {}
    loose: list[LineKeys] = []
    unknown: list[str] = []
    for line in keys.lines:
        ref = line.accounting_reference
        hit = None
        for rule in line_rules if ref else ():
            if rule.regex is not None:
                if rule.regex.fullmatch(ref):
                    hit = (rule, complete(ctx, rule.unit_id, rule.cost_centre_id, rule.account))
            elif ref in ctx.cost_centres_by_code:
                hit = (rule, complete(ctx, None, ctx.cost_centres_by_code[ref].id))
            if hit:
                break
        if hit is None:
            loose.append(line)
            if ref:
                unknown.append(f"{ref} (Position {line.line_id})")
            continue
        taken.setdefault(hit[1].cost_centre_id, (hit[1], []))[1].append(line)
        used.setdefault(hit[1].cost_centre_id, hit[0])
    doubt = [f"{KEY_LABELS[K.LINE_REFERENCE]} unbekannt: {', '.join(unknown)}"] if unknown else []
    if not taken:
        return None, doubt
    first = min(used.values(), key=lambda r: r.position)
    confidence = min(r.confidence for r in used.values())
    refs = ", ".join(sorted({line.accounting_reference for _, lines in taken.values() for line in lines}))
    if len(taken) == 1:
        [(target, lines)] = taken.values()
        single = candidate(ctx, first, refs, target, doubt,
                           what=f"{KEY_LABELS[K.LINE_REFERENCE]} ({line_ids(lines)})")
        if single.confidence:  # 0: inactive cost centre
            single.confidence = confidence // 2 if doubt else confidence
        return single, []
    text = f"{KEY_LABELS[K.LINE_REFERENCE]} {refs} → Aufteilung: " + "; ".join(
        f"{ctx.cost_centre_text(cc_id)} ({line_ids(lines)})" for cc_id, (_, lines) in taken.items())
    inactive = [ctx.cost_centres[cc].code for cc in taken if cc in ctx.cost_centres and not ctx.cost_centres[cc].active]
    notes = doubt + [f"KSt {code} ist inaktiv" for code in inactive]
    confidence = 0 if inactive else confidence // 2 if doubt else confidence
    return Candidate(first, refs, Target(None), confidence, text, notes, groups=taken, loose_lines=loose), []


