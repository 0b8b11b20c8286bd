"""Load a KoSIT validator configuration (scenarios.xml + resources/) as a rule pack.

The match expressions are XPath 2.0 (e.g. `exists(/invoice:Invoice[...])`), so they are evaluated
with Saxon on the document, with the namespace declarations of their scenario.
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from ..findings import Severity
from ..safe_xml import UnsafeXmlError, parse_untrusted
from .manifest import PackError
from .model import RulePack, Scenario, SchematronStep

SCENARIOS_NS = "http://www.xoev.de/de/validator/framework/1/scenarios"
_NS = {"s": SCENARIOS_NS}
_SPEC_LITERAL = re.compile(r"'(urn:[^']+)'")
_VERSION = re.compile(r"\d+\.\d+(?:\.\d+)?")


def _text(el, path: str) -> str:
    found = el.find(path, _NS)
    return " ".join((found.text or "").split()) if found is not None else ""


def _layer(location: str, name: str) -> str:
    return "cius" if "xrechnung" in (location + name).lower() else "en16931"


def _step_name(location: str) -> str:
    return Path(location).stem


def _xpath_matcher(expression: str, namespaces: dict[str, str]):
    def matches(doc) -> bool:
        from ..artefacts import xpath_is_true

        return xpath_is_true(expression, namespaces, doc.saxon_document())

    return matches


def load_kosit(folder: Path) -> RulePack:
    path = folder / "scenarios.xml"
    try:
        root = parse_untrusted(path.read_bytes()).getroot()
    except (OSError, etree.XMLSyntaxError, UnsafeXmlError) as exc:
        raise PackError(f"{path}: cannot read scenarios.xml: {exc}") from exc
    if root.tag != f"{{{SCENARIOS_NS}}}scenarios":
        raise PackError(f"{path}: root element is not {{{SCENARIOS_NS}}}scenarios")
    scenarios = []
    for i, el in enumerate(root.findall("s:scenario", _NS), start=1):
        name = _text(el, "s:name") or f"scenario {i}"
        namespaces = {ns.get("prefix"): (ns.text or "").strip() for ns in el.findall("s:namespace", _NS)}
        match = _text(el, "s:match")
        if not match:
            raise PackError(f"{path}: scenario {name!r} has no match expression (line {el.sourceline})")
        xsd_locations = [(loc.text or "").strip() for loc in el.findall("s:validateWithXmlSchema/s:resource/s:location", _NS)]
        if not xsd_locations:
            raise PackError(f"{path}: scenario {name!r} has no validateWithXmlSchema resource (line {el.sourceline})")
        steps = []
        for res in el.findall("s:validateWithSchematron/s:resource", _NS):
            location = _text(res, "s:location")
            steps.append(
                SchematronStep(
                    name=_step_name(location),
                    path=(folder / location).resolve(),
                    layer=_layer(location, _text(res, "s:name")),
                )
            )
        levels: dict[str, Severity] = {}
        for custom in el.findall("s:createReport/s:customLevel", _NS):
            try:
                level = Severity(custom.get("level"))
            except ValueError as exc:
                raise PackError(f"{path}: customLevel line {custom.sourceline}: {exc}") from exc
            for rule in (custom.text or "").split():
                levels[rule] = level
        scenarios.append(
            Scenario(
                name=name,
                description=_text(el, "s:description"),
                matches=_xpath_matcher(match, namespaces),
                xsd=(folder / xsd_locations[0]).resolve(),
                schematron=tuple(steps),
                custom_levels=levels,
                spec_ids=tuple(dict.fromkeys(_SPEC_LITERAL.findall(match))),
            )
        )
    if not scenarios:
        raise PackError(f"{path}: no scenario element found")
    title = _text(root, "s:name")
    version = _VERSION.search(title)
    date = _text(root, "s:date")
    return RulePack(
        name=folder.name,
        version=" ".join(v for v in ((version.group(0) if version else ""), date) if v),
        description=title,
        origin=str(folder),
        scenarios=scenarios,
    )
