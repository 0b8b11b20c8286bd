"""Approval chains as data: the step/rule schema, its validation, seeding from TOML, choosing a chain.

A workflow (`Workflow` row; file ``rules/routing/workflows.toml``, API ``PUT /api/v1/workflows``)::

    name        unique name, e.g. "Standard"
    position    the first active workflow (lowest position, then id) that fits an invoice is used
    unit        OrgUnit code the workflow is for (absent: every unit)
    cost_centre CostCentre code (absent: every cost centre)
    min_amount  applies from this gross amount on (|BT-115| >= min_amount; absent: any amount)
    active      true (default) / false
    rules       four_eyes:         "hard" (default: the certifier may not give the Anordnung) | "warn"
                                   (allowed, recorded as a warning in the step and the audit trail)
                supplier_conflict: "block" (default: users linked to the supplier may not decide) | "off"
                iban_check:        "alert" (default: alert when BT-84 differs from the supplier's master
                                   data, or when no IBAN of the supplier is on record) | "differs" (only
                                   when master data has a different IBAN) | "off"
    steps       ordered list, each:
      kind          "sachlich" | "rechnerisch" | "anordnung" (every Anordnung after the certifications)
      name          display name (default per kind)
      role          role the deciding user needs in the step's unit (default "approver"; an
                    Anordnung never "kasse": Kasse staff may not order payments)
      unit          OrgUnit code that decides the step (default: the invoice's assigned unit)
      needs_limit   the user's approval_limit must cover |BT-115| (default: true for "anordnung")
      only_above    the step exists only when |BT-115| > only_above
      auto          "arithmetic" (rechnerisch only): done by the system when the arithmetic check passes …
      person_above  … and |BT-115| <= person_above (above it, or when the check fails, a person decides)

Amounts are strings ("5000.00") or integers; stored normalised to two decimals. Thresholds are
compared with the gross amount |BT-115| (approval-practice.md §3.1: limits apply to the gross amount).
Definitions are validated as a whole; `DefinitionError` lists every problem with its place.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...paths import rules_dir
from ...store.masterdata_models import ROLES, CostCentre, OrgUnit
from ...store.routing_models import Assignment, StepKind, Workflow
from .errors import DefinitionError, NotFound

CENT = Decimal("0.01")
DEFAULT_NAMES = {"sachlich": "Sachlich richtig", "rechnerisch": "Rechnerisch richtig", "anordnung": "Anordnung"}
RULE_CHOICES = {"four_eyes": ("hard", "warn"), "supplier_conflict": ("block", "off"),
                "iban_check": ("alert", "differs", "off")}
DEFAULT_RULES = {"four_eyes": "hard", "supplier_conflict": "block", "iban_check": "alert"}
STEP_KEYS = {"kind", "name", "role", "unit", "needs_limit", "only_above", "auto", "person_above"}
WORKFLOW_KEYS = {"name", "position", "unit", "cost_centre", "min_amount", "active", "rules", "steps"}


class NoWorkflow(NotFound):
    """No active workflow fits the invoice (unit, cost centre, amount): the item stays ``matched``."""


def default_file() -> Path:
    return rules_dir() / "routing" / "workflows.toml"


def _amount(value: Any, where: str, problems: list[str]) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        problems.append(f"{where}: Betrag erwartet (z. B. \"5000.00\"), nicht {value!r}")
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        problems.append(f"{where}: {value!r} ist kein Betrag")
        return None
    if not amount.is_finite() or amount < 0:
        problems.append(f"{where}: Betrag muss null oder positiv sein, nicht {value!r}")
        return None
    return str(amount.quantize(CENT))


def _text(value: Any, where: str, problems: list[str], *, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(f"{where}: fehlt")
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        problems.append(f"{where}: Text erwartet, nicht {value!r}")
        return None
    return str(value).strip()


def _flag(value: Any, default: bool, where: str, problems: list[str]) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        problems.append(f"{where}: true oder false erwartet, nicht {value!r}")
        return default
    return value


def _unknown_keys(raw: dict, allowed: set[str], where: str, problems: list[str]) -> None:
    for key in sorted(set(raw) - allowed):
        problems.append(f"{where}.{key}: unbekannter Schlüssel (erlaubt: {', '.join(sorted(allowed))})")


def validate_step(raw: Any, where: str, problems: list[str]) -> dict | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: Objekt mit kind, role … erwartet")
        return None
    _unknown_keys(raw, STEP_KEYS, where, problems)
    kind = raw.get("kind")
    if kind not in StepKind._value2member_map_:
        problems.append(f"{where}.kind: {kind!r} – erlaubt sind sachlich, rechnerisch, anordnung")
        return None
    role = _text(raw.get("role"), f"{where}.role", problems) or "approver"
    if role not in ROLES:
        problems.append(f"{where}.role: unbekannte Rolle {role!r} (erlaubt: {', '.join(ROLES)})")
    if kind == "anordnung" and role == "kasse":
        problems.append(f"{where}.role: die Kasse darf keine Anordnung erteilen")
    auto = raw.get("auto")
    if auto is not None and (kind != "rechnerisch" or auto != "arithmetic"):
        problems.append(f"{where}.auto: nur \"arithmetic\" und nur für den Schritt rechnerisch")
        auto = None
    if raw.get("person_above") is not None and auto is None:
        problems.append(f"{where}.person_above: nur zusammen mit auto = \"arithmetic\"")
    return {"kind": kind, "name": _text(raw.get("name"), f"{where}.name", problems) or DEFAULT_NAMES[kind],
            "role": role, "unit": _text(raw.get("unit"), f"{where}.unit", problems),
            "needs_limit": _flag(raw.get("needs_limit"), kind == "anordnung", f"{where}.needs_limit", problems),
            "only_above": _amount(raw.get("only_above"), f"{where}.only_above", problems),
            "auto": auto, "person_above": _amount(raw.get("person_above"), f"{where}.person_above", problems)}


def validate_rules(raw: Any, where: str, problems: list[str]) -> dict:
    rules = dict(DEFAULT_RULES)
    if raw is None:
        return rules
    if not isinstance(raw, dict):
        problems.append(f"{where}: Objekt erwartet")
        return rules
    _unknown_keys(raw, set(RULE_CHOICES), where, problems)
    for key, choices in RULE_CHOICES.items():
        if key in raw:
            if raw[key] not in choices:
                problems.append(f"{where}.{key}: {raw[key]!r} – erlaubt: {', '.join(choices)}")
            else:
                rules[key] = raw[key]
    return rules


def validate_workflow(raw: Any, where: str, problems: list[str]) -> dict | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: Objekt erwartet")
        return None
    _unknown_keys(raw, WORKFLOW_KEYS, where, problems)
    position = raw.get("position", 100)
    if not isinstance(position, int) or isinstance(position, bool):
        problems.append(f"{where}.position: ganze Zahl erwartet, nicht {position!r}")
        position = 100
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        problems.append(f"{where}.steps: mindestens ein Schritt erforderlich")
        steps_raw = []
    steps = [validate_step(step, f"{where}.steps[{i}]", problems) for i, step in enumerate(steps_raw)]
    steps = [step for step in steps if step is not None]
    kinds = [step["kind"] for step in steps]
    if steps_raw and not any(s["kind"] == "anordnung" and s["only_above"] is None for s in steps):
        problems.append(f"{where}.steps: eine Anordnung ohne only_above ist erforderlich (jede Rechnung braucht eine)")
    if "anordnung" in kinds and any(k != "anordnung" for k in kinds[kinds.index("anordnung"):]):
        problems.append(f"{where}.steps: sachlich/rechnerisch müssen vor der Anordnung stehen")
    return {"name": _text(raw.get("name"), f"{where}.name", problems, required=True), "position": position,
            "unit": _text(raw.get("unit"), f"{where}.unit", problems),
            "cost_centre": _text(raw.get("cost_centre"), f"{where}.cost_centre", problems),
            "min_amount": _amount(raw.get("min_amount"), f"{where}.min_amount", problems),
            "active": _flag(raw.get("active"), True, f"{where}.active", problems),
            "rules": validate_rules(raw.get("rules"), f"{where}.rules", problems), "steps": steps}


def validate_workflows(raw: Any) -> list[dict]:
    """Normalised definitions, or `DefinitionError` with every problem (German, with its place)."""
    problems: list[str] = []
    if not isinstance(raw, list) or not raw:
        raise DefinitionError(["workflow: mindestens ein Workflow erforderlich"])
    result = [validate_workflow(item, f"workflow[{i}]", problems) for i, item in enumerate(raw)]
    names = [w["name"] for w in result if w and w["name"]]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"workflow: Name {name!r} mehrfach vergeben")
    if problems:
        raise DefinitionError(problems)
    return [w for w in result if w is not None]


def load_file(path: Path | str | None = None) -> list[dict]:
    """The ``[[workflow]]`` tables of a TOML file (default ``rules/routing/workflows.toml``), validated."""
    path = Path(path) if path else default_file()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DefinitionError([f"{path}: {exc}"]) from exc
    return validate_workflows(data.get("workflow"))


def _ids(session: Session, model, codes: set[str]) -> dict[str, int]:
    if not codes:
        return {}
    return dict(session.execute(select(model.code, model.id).where(model.code.in_(codes))).all())


def replace_workflows(session: Session, definitions: list[dict]) -> dict[str, int]:
    """Make the workflows exactly ``definitions`` (validated): update by name, create new ones,
    deactivate the others (rows stay: cases refer to them). Unit codes must exist in master data."""
    units = _ids(session, OrgUnit, {w["unit"] for w in definitions if w["unit"]}
                 | {s["unit"] for w in definitions for s in w["steps"] if s["unit"]})
    centres = _ids(session, CostCentre, {w["cost_centre"] for w in definitions if w["cost_centre"]})
    problems = [f"workflow {w['name']!r}: Organisationseinheit {code!r} unbekannt"
                for w in definitions for code in [w["unit"], *(s["unit"] for s in w["steps"])]
                if code and code not in units]
    problems += [f"workflow {w['name']!r}: Kostenstelle {w['cost_centre']!r} unbekannt"
                 for w in definitions if w["cost_centre"] and w["cost_centre"] not in centres]
    if problems:
        raise DefinitionError(problems)
    existing = {w.name: w for w in session.scalars(select(Workflow))}
    counts = {"created": 0, "updated": 0, "deactivated": 0}
    for definition in definitions:
        row = existing.pop(definition["name"], None)
        if row is None:
            row = Workflow(name=definition["name"])
            session.add(row)
            counts["created"] += 1
        else:
            counts["updated"] += 1
        row.position, row.active = definition["position"], definition["active"]
        row.unit_id = units.get(definition["unit"]) if definition["unit"] else None
        row.cost_centre_id = centres.get(definition["cost_centre"]) if definition["cost_centre"] else None
        row.min_amount = Decimal(definition["min_amount"]) if definition["min_amount"] else None
        row.steps, row.rules = definition["steps"], definition["rules"]
    for row in existing.values():
        if row.active:
            row.active = False
            counts["deactivated"] += 1
    session.flush()
    return counts


def workflow_dict(session: Session, row: Workflow) -> dict:
    """A stored workflow in the definition format (unit and cost centre as codes), plus id."""
    unit = session.get(OrgUnit, row.unit_id) if row.unit_id else None
    centre = session.get(CostCentre, row.cost_centre_id) if row.cost_centre_id else None
    return {"id": row.id, "name": row.name, "position": row.position, "unit": unit.code if unit else None,
            "cost_centre": centre.code if centre else None,
            "min_amount": str(row.min_amount) if row.min_amount is not None else None,
            "active": row.active, "rules": {**DEFAULT_RULES, **(row.rules or {})}, "steps": row.steps}


def step_applies(step: dict, amount: Decimal) -> bool:
    """Whether a step exists for an invoice of this gross amount (``only_above``: strictly above)."""
    return step.get("only_above") is None or abs(amount) > Decimal(step["only_above"])


def choose_workflow(session: Session, assignment: Assignment, amount: Decimal) -> Workflow:
    """The first active workflow (position, then id) whose unit, cost centre and minimum amount fit."""
    rows = session.scalars(select(Workflow).where(Workflow.active.is_(True))
                           .order_by(Workflow.position, Workflow.id)).all()
    for row in rows:
        if row.unit_id is not None and row.unit_id != assignment.unit_id:
            continue
        if row.cost_centre_id is not None and row.cost_centre_id != assignment.cost_centre_id:
            continue
        if row.min_amount is not None and abs(amount) < row.min_amount:
            continue
        return row
    raise NoWorkflow("Kein Freigabe-Workflow passt zu dieser Rechnung (Organisationseinheit, Kostenstelle, Betrag)")
