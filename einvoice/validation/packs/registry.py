"""Which rule packs exist (built-in and installed) and which scenario validates a given document."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ...config import Settings
from ...paths import schemas_dir
from ..findings import Finding, Severity
from ..identifiers import classify
from .kosit import load_kosit
from .manifest import PackError, load_manifest
from .model import RulePack, Scenario

PACK_META = "einvoice-pack.toml"  # written by `einvoice rules install` beside scenarios.xml
ACTIVE_FILE = "active"  # holds the name of the pack that is tried first


@dataclass
class RouteResult:
    pack: RulePack | None
    scenario: Scenario | None
    finding: Finding | None = None  # why no scenario applies
    triage_scenario: Scenario | None = None


def builtin_packs() -> list[RulePack]:
    root = schemas_dir()
    return [load_manifest(p) for p in sorted(root.glob("*/pack.toml"))]


def load_installed(folder: Path) -> RulePack:
    meta_path = folder / PACK_META
    meta = tomllib.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    if (folder / "scenarios.xml").is_file():
        pack = load_kosit(folder)
    elif (folder / "pack.toml").is_file():
        pack = load_manifest(folder / "pack.toml")
    else:
        raise PackError(f"{folder}: neither scenarios.xml nor pack.toml found")
    pack.name = meta.get("name", folder.name)
    pack.version = meta.get("version") or pack.version  # "" while installing: keep scenarios.xml's
    pack.origin = str(folder)
    pack.valid_from = _date(meta.get("valid_from"))
    pack.valid_until = _date(meta.get("valid_until"))
    return pack


def _date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


class PackRegistry:
    """All packs in routing order: the active installed pack, other installed packs, built-in packs."""

    def __init__(self, settings: Settings, packs: list[RulePack] | None = None):
        self.settings = settings
        self.problems: list[str] = []  # installed packs that could not be loaded (skipped, not fatal)
        self.packs = packs if packs is not None else self._load()

    def _load(self) -> list[RulePack]:
        installed_dir = self.settings.rule_packs_dir
        installed: list[RulePack] = []
        if installed_dir.is_dir():
            for folder in sorted(p for p in installed_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
                try:
                    installed.append(load_installed(folder))
                except (PackError, OSError, ValueError) as exc:
                    self.problems.append(f"rule pack {folder.name} skipped: {exc}")
        active = self.active_name()
        installed.sort(key=lambda p: p.name != active)
        return installed + builtin_packs()

    def active_name(self) -> str | None:
        marker = self.settings.rule_packs_dir / ACTIVE_FILE
        return marker.read_text(encoding="utf-8").strip() if marker.is_file() else None

    def get(self, name: str) -> RulePack:
        for pack in self.packs:
            if pack.name == name:
                return pack
        raise PackError(f"no rule pack named {name!r}; installed: {', '.join(p.name for p in self.packs)}")

    def route(self, doc, pack_name: str | None = None, day: date | None = None) -> RouteResult:
        day = day or date.today()
        candidates = [self.get(pack_name)] if pack_name else self.packs
        expired: list[RulePack] = []
        for pack in candidates:
            scenario = _first_match(pack, doc)
            if scenario is None:
                continue
            if pack_name or pack.active_on(day):
                return RouteResult(pack, scenario)
            expired.append(pack)
        triage = next((s for p in candidates for s in p.scenarios if s.triage_only and s.matches(doc)), None)
        return RouteResult(None, None, self._no_scenario(doc, candidates, expired, day), triage)

    def _no_scenario(self, doc, candidates, expired, day) -> Finding:
        spec = classify(doc.spec_id)
        labels = _accepted_labels(candidates, day)
        accepted = ", ".join(labels) or "none"
        packs = ", ".join(p.name for p in candidates)
        if expired:
            windows = "; ".join(f"pack {p.name} {p.version}: {p.window}" for p in expired)
            return _router_error(
                "EINVOICE-VERSION-UNSUPPORTED",
                f"{spec.label} is no longer (or not yet) accepted on {day.isoformat()} ({windows}). "
                f"Accepted: {accepted}.",
            )
        if spec.family == "xrechnung":
            return _router_error(
                "EINVOICE-VERSION-UNSUPPORTED",
                f"{spec.label} is not supported by the rule pack(s) {packs}"
                f"{' (outdated version)' if _older_xrechnung(spec, labels) else ''}. Accepted: {accepted}.",
            )
        kind = getattr(doc.kind, "label", "document")
        return _router_error(
            "EINVOICE-NO-SCENARIO",
            f"No validation scenario matches this {kind} with specification identifier (BT-24) "
            f"{doc.spec_id!r} ({spec.label}). Accepted: {accepted}.",
        )


def _router_error(rule_id: str, message: str) -> Finding:
    return Finding(rule_id, Severity.ERROR, message, source="router", layer="input")


def _accepted_labels(candidates, day) -> list[str]:
    labels = set()
    for pack in candidates:
        if len(candidates) > 1 and not pack.active_on(day):
            continue
        for scenario in pack.scenarios:
            if scenario.triage_only:
                continue
            for spec_id in scenario.spec_ids:
                spec = classify(spec_id)
                labels.add(spec_id if spec.family == "unknown" else spec.label)
    return sorted(labels)


def _older_xrechnung(spec, accepted: list[str]) -> bool:
    """True when every accepted XRechnung version is newer than the document's."""
    versions = [_version(v) for v in _XR_VERSIONS.findall(" ".join(accepted))]
    return bool(versions and spec.version) and all(_version(spec.version) < v for v in versions)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


_XR_VERSIONS = re.compile(r"XRechnung (\d+\.\d+)")


def _first_match(pack: RulePack, doc) -> Scenario | None:
    for scenario in pack.scenarios:
        if not scenario.triage_only and scenario.matches(doc):
            return scenario
    return None
