"""The matching rule set: load it from the database, replace it, seed it from ``rules/routing/matching.toml``.

A rule (`MatchingRule` row, `Rule` in memory) names the invoice key it looks at (`MatchKey`), an
optional ``pattern`` (None: look the key up in master data; else exact or glob with ``*`` and
``?``, case-insensitive) and, for pattern rules, the target it assigns (unit / cost centre /
account, given by code in files and API bodies). Rules are evaluated in ``position`` order
(1, 2, …; see `engine` for the semantics).

`replace_rules` replaces the whole ordered set in one transaction (the API's ``PUT``), after
checking every rule (`RuleError` names the rule and what is wrong); `seed_rules` does the same from
a TOML file and logs what it replaced. File format (see ``rules/routing/matching.toml``)::

    [[rule]]
    name = "Bestellung"          # required
    key = "order"                # required: leitweg, order, contract, buyer_reference,
                                 # line_reference, supplier_vat, supplier_iban, supplier_name
    confidence = 95              # 0..100, default 90
    pattern = "BEST-*"           # optional; then unit and/or cost_centre (codes) are required
    cost_centre = "6610"
    unit = "66"
    account = "5221"             # optional
    active = true                # optional
    note = "..."                 # optional, for administrators
"""

from __future__ import annotations

import hashlib
import logging
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ...paths import rules_dir
from ...store.masterdata_models import Account, CostCentre, OrgUnit
from ...store.routing_models import MatchingRule, MatchKey
from ...store.types import utcnow
from .keys import clean_name, norm_ref

log = logging.getLogger("einvoice.routing.matching")

FIELDS = {"name", "key", "pattern", "unit", "cost_centre", "account", "confidence", "active", "note"}
# at most this many lookup rules (no pattern) per key: two for the Leitweg-ID (cost centre / unit only)
MAX_LOOKUPS = {MatchKey.LEITWEG: 2}


class RuleError(ValueError):
    """A rule set that cannot be used; the message names the source, the rule and the problem."""


def default_rules_file() -> Path:
    return rules_dir() / "routing" / "matching.toml"


def normalise_pattern(key: MatchKey, pattern: str) -> str:
    """Patterns compare like the values they match: names with collapsed whitespace, else no whitespace."""
    return (clean_name(pattern) if key is MatchKey.SUPPLIER_NAME else norm_ref(pattern)) or ""


def compile_pattern(key: MatchKey, pattern: str) -> re.Pattern[str]:
    """Exact or glob (``*`` any run, ``?`` one character), case-insensitive, whole value."""
    text = normalise_pattern(key, pattern)
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(regex, re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Rule:
    """One rule as the engine uses it (`MatchingRule` without the ORM)."""

    id: int | None
    position: int
    name: str
    key: MatchKey
    pattern: str | None = None
    unit_id: int | None = None
    cost_centre_id: int | None = None
    account: str | None = None
    confidence: int = 90
    active: bool = True
    regex: re.Pattern[str] | None = None

    @classmethod
    def make(cls, *, position: int, name: str, key: MatchKey | str, pattern: str | None = None, id: int | None = None,
             unit_id: int | None = None, cost_centre_id: int | None = None, account: str | None = None,
             confidence: int = 90, active: bool = True) -> Rule:
        key = MatchKey(key)
        regex = compile_pattern(key, pattern) if pattern else None
        return cls(id, position, name, key, pattern or None, unit_id, cost_centre_id, account, confidence, active, regex)

    @property
    def label(self) -> str:
        return f"Regel {self.position} „{self.name}“"


def load_rules(session: Session, *, active_only: bool = True) -> list[Rule]:
    rows = session.scalars(select(MatchingRule).order_by(MatchingRule.position, MatchingRule.id)).all()
    return [Rule.make(id=r.id, position=r.position, name=r.name, key=r.key, pattern=r.pattern, unit_id=r.unit_id,
                      cost_centre_id=r.cost_centre_id, account=r.account, confidence=r.confidence, active=r.active)
            for r in rows if r.active or not active_only]


def rule_rows(session: Session) -> list[MatchingRule]:
    return list(session.scalars(select(MatchingRule).order_by(MatchingRule.position, MatchingRule.id)))


def rule_dict(row: MatchingRule, codes: dict[str, dict[int, str]] | None = None) -> dict[str, Any]:
    codes = codes or {}
    return {"id": row.id, "position": row.position, "name": row.name, "key": row.key, "pattern": row.pattern,
            "unit_id": row.unit_id, "unit": codes.get("unit", {}).get(row.unit_id),
            "cost_centre_id": row.cost_centre_id, "cost_centre": codes.get("cost_centre", {}).get(row.cost_centre_id),
            "account": row.account, "confidence": row.confidence, "active": row.active, "note": row.note,
            "updated_at": row.updated_at, "updated_by": row.updated_by}


def rule_dicts(session: Session) -> list[dict[str, Any]]:
    rows = rule_rows(session)
    codes = {"unit": {row[0]: row[1] for row in session.execute(select(OrgUnit.id, OrgUnit.code))},
             "cost_centre": {row[0]: row[1] for row in session.execute(select(CostCentre.id, CostCentre.code))}}
    return [rule_dict(row, codes) for row in rows]


# --- checking a rule set -----------------------------------------------------------------------------

def check_definitions(definitions: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    """Check the shape of rule definitions (no database); returns them cleaned. Raises `RuleError`."""
    if not isinstance(definitions, list) or not definitions:
        raise RuleError(f"{source}: no rules ([[rule]] entries) found; a rule set needs at least one rule")
    cleaned, lookups = [], {}
    for index, raw in enumerate(definitions, start=1):
        where = f"{source}: rule {index}" + (f" „{raw.get('name')}“" if isinstance(raw, dict) and raw.get("name") else "")
        if not isinstance(raw, dict):
            raise RuleError(f"{where}: expected a table of fields, got {type(raw).__name__}")
        unknown = sorted(set(raw) - FIELDS)
        if unknown:
            raise RuleError(f"{where}: unknown field(s) {', '.join(unknown)} (allowed: {', '.join(sorted(FIELDS))})")
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise RuleError(f"{where}: 'name' is required (a short German name shown in explanations)")
        try:
            key = MatchKey(raw.get("key"))
        except ValueError:
            raise RuleError(f"{where}: 'key' must be one of {', '.join(k.value for k in MatchKey)}, "
                            f"got {raw.get('key')!r}") from None
        confidence = raw.get("confidence", 90)
        if isinstance(confidence, bool) or not isinstance(confidence, int) or not 0 <= confidence <= 100:
            raise RuleError(f"{where}: 'confidence' must be a whole number from 0 to 100, got {confidence!r}")
        for field in ("pattern", "unit", "cost_centre", "account", "note"):
            if raw.get(field) is not None and not isinstance(raw[field], str):
                raise RuleError(f"{where}: '{field}' must be text, got {raw[field]!r}")
        if not isinstance(raw.get("active", True), bool):
            raise RuleError(f"{where}: 'active' must be true or false")
        pattern = (raw.get("pattern") or "").strip() or None
        if pattern is not None and (len(pattern) > 256 or not normalise_pattern(key, pattern)):
            raise RuleError(f"{where}: 'pattern' must be 1 to 256 characters")
        if pattern is not None and not (raw.get("unit") or raw.get("cost_centre")):
            raise RuleError(f"{where}: a rule with a pattern assigns its own target: give 'cost_centre' and/or 'unit'")
        if pattern is not None and key is MatchKey.LINE_REFERENCE and not raw.get("cost_centre"):
            raise RuleError(f"{where}: a line_reference rule with a pattern needs a 'cost_centre' (lines are split "
                            "by cost centre)")
        if pattern is None and (raw.get("unit") or raw.get("cost_centre") or raw.get("account")):
            raise RuleError(f"{where}: a rule without a pattern takes its target from master data; "
                            "remove unit/cost_centre/account or add a pattern")
        if pattern is None and raw.get("active", True):
            lookups[key] = lookups.get(key, 0) + 1
            if lookups[key] > MAX_LOOKUPS.get(key, 1):
                raise RuleError(f"{where}: more than {MAX_LOOKUPS.get(key, 1)} active lookup rule(s) for key "
                                f"'{key.value}' (a further one could never fire)")
        cleaned.append({"name": name.strip(), "key": key, "pattern": pattern, "unit": raw.get("unit"),
                        "cost_centre": raw.get("cost_centre"), "account": raw.get("account"),
                        "confidence": confidence, "active": raw.get("active", True), "note": raw.get("note")})
    return cleaned


def parse_rules_toml(text: str, source: str = "rules") -> list[dict[str, Any]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{source}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"rule", "version"})
    if unknown:
        raise RuleError(f"{source}: unknown top-level entry {', '.join(unknown)} (expected [[rule]] tables)")
    if data.get("version", 1) != 1:
        raise RuleError(f"{source}: version {data.get('version')!r} is not supported (1)")
    return check_definitions(data.get("rule", []), source)


def replace_rules(session: Session, definitions: list[dict[str, Any]], *, actor: str,
                  source: str = "rules") -> list[MatchingRule]:
    """Replace the whole rule set by ``definitions`` (positions 1, 2, …); codes are resolved here."""
    cleaned = check_definitions(definitions, source)
    units = {code: id for code, id in session.execute(select(OrgUnit.code, OrgUnit.id))}
    centres = {code: (cc_id, unit_id) for code, cc_id, unit_id in
               session.execute(select(CostCentre.code, CostCentre.id, CostCentre.unit_id))}
    accounts = set(session.scalars(select(Account.code)))
    rows = []
    for position, d in enumerate(cleaned, start=1):
        where = f"{source}: rule {position} „{d['name']}“"
        unit_id = cc_id = None
        if d["unit"]:
            if d["unit"] not in units:
                raise RuleError(f"{where}: unit {d['unit']!r} is not in the master data")
            unit_id = units[d["unit"]]
        if d["cost_centre"]:
            if d["cost_centre"] not in centres:
                raise RuleError(f"{where}: cost centre {d['cost_centre']!r} is not in the master data")
            cc_id, cc_unit = centres[d["cost_centre"]]
            if unit_id is not None and unit_id != cc_unit:
                raise RuleError(f"{where}: cost centre {d['cost_centre']!r} does not belong to unit {d['unit']!r}")
        if d["account"] and d["account"] not in accounts:
            raise RuleError(f"{where}: account {d['account']!r} is not in the master data")
        rows.append(MatchingRule(position=position, name=d["name"], key=d["key"].value, pattern=d["pattern"],
                                 unit_id=unit_id, cost_centre_id=cc_id, account=d["account"] or None,
                                 confidence=d["confidence"], active=d["active"], note=d["note"],
                                 updated_at=utcnow(), updated_by=actor))
    session.execute(delete(MatchingRule))
    session.add_all(rows)
    session.flush()
    return rows


def seed_rules(session: Session, path: str | Path | None = None, *, actor: str) -> dict[str, Any]:
    """Replace the rule set by the rules of a TOML file (default ``rules/routing/matching.toml``)."""
    path = Path(path) if path else default_rules_file()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RuleError(f"{path}: cannot read the rule file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RuleError(f"{path}: not UTF-8 text") from None
    definitions = parse_rules_toml(text, str(path))
    previous = [f"{r.position}:{r.name}" for r in rule_rows(session)]
    rows = replace_rules(session, definitions, actor=actor, source=str(path))
    summary = {"file": str(path), "sha256": hashlib.sha256(raw).hexdigest(), "actor": actor,
               "replaced": len(previous), "count": len(rows),
               "rules": [{"position": r.position, "name": r.name, "key": r.key, "confidence": r.confidence}
                         for r in rows]}
    log.info("matching rules seeded by %s from %s (sha256 %s): %d rule(s) replaced by %d: %s", actor, path,
             summary["sha256"][:12], len(previous), len(rows), ", ".join(f"{r.position}:{r.name}" for r in rows))
    return summary
