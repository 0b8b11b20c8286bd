"""Reading a Schematron schema: includes, extends, abstract patterns and rules resolved.

Supported: sch:include (replaced by the referenced file's root element), sch:extends/@href at schema
level (the referenced schema's children are merged in), abstract patterns (pattern/@abstract,
pattern/@is-a with sch:param), abstract rules (rule/@abstract, sch:extends/@rule).
Every element keeps where it came from (file, line) for error messages.
"""

from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path

from lxml import etree

SCH = "http://purl.oclc.org/dsdl/schematron"
XSL = "http://www.w3.org/1999/XSL/Transform"
S = f"{{{SCH}}}"
SRC_ATTR = "{urn:einvoice:schematron-source}at"  # file:line, kept on every element for error messages

MAX_DEPTH = 20


class SchematronError(ValueError):
    """A rule file cannot be compiled; the message names the file and line."""


def where(el) -> str:
    return el.get(SRC_ATTR) or "?"


def _load(path: Path) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True)
    try:
        root = etree.parse(str(path), parser).getroot()
    except (OSError, etree.XMLSyntaxError) as exc:
        raise SchematronError(f"{path}: cannot read Schematron: {exc}") from exc
    for el in root.iter():
        if isinstance(el.tag, str):
            el.set(SRC_ATTR, f"{path}:{el.sourceline}")
    return root


class Source:
    """One schema with everything resolved; `files` are all files read (for the cache key)."""

    def __init__(self, path: Path):
        self.path = path.resolve()
        self.files: list[Path] = []
        self.root = self._read(self.path, 0)
        if self.root.tag != f"{S}schema":
            raise SchematronError(f"{self.path}:{self.root.sourceline}: root element must be sch:schema")
        self._instantiate_abstract_patterns()
        self._extend_rules()

    def digest(self, salt: str) -> str:
        sha = hashlib.sha256(salt.encode())
        for file in self.files:
            sha.update(str(file).encode() + b"\0" + file.read_bytes() + b"\0")
        return sha.hexdigest()

    def _read(self, path: Path, depth: int) -> etree._Element:
        if depth > MAX_DEPTH:
            raise SchematronError(f"{path}: includes nested more than {MAX_DEPTH} deep (a cycle?)")
        if path not in self.files:
            self.files.append(path)
        root = _load(path)
        self._resolve_includes(root, path, depth)
        return root

    def _resolve_includes(self, root, path: Path, depth: int) -> None:
        for inc in list(root.iter(f"{S}include", f"{S}extends")):
            href = inc.get("href")
            if href is None:
                continue  # sch:extends/@rule (abstract rules) is handled later
            target = (path.parent / href).resolve()
            if not target.is_file():
                raise SchematronError(f"{where(inc)}: included file {href!r} not found")
            included = self._read(target, depth + 1)
            parent = inc.getparent()
            index = parent.index(inc)
            parent.remove(inc)
            if inc.tag == f"{S}include":
                parent.insert(index, included)
            else:
                if included.tag != f"{S}schema":
                    raise SchematronError(f"{where(inc)}: sch:extends/@href must name a schema, got {included.tag}")
                for offset, child in enumerate(list(included)):
                    parent.insert(index + offset, child)

    def _instantiate_abstract_patterns(self) -> None:
        abstract = {p.get("id"): p for p in self.root.findall(f"{S}pattern") if p.get("abstract") == "true"}
        for pattern in list(self.root.findall(f"{S}pattern")):
            if pattern.get("abstract") == "true":
                self.root.remove(pattern)
                continue
            base_id = pattern.get("is-a")
            if base_id is None:
                continue
            base = abstract.get(base_id)
            if base is None:
                raise SchematronError(f"{where(pattern)}: is-a names unknown abstract pattern {base_id!r}")
            params = {p.get("name"): p.get("value", "") for p in pattern.findall(f"{S}param")}
            instance = copy.deepcopy(base)
            instance.attrib.pop("abstract", None)
            for key in ("id", "name"):
                if pattern.get(key):
                    instance.set(key, pattern.get(key))
            _substitute(instance, params)
            instance.set(SRC_ATTR, where(pattern))
            self.root.replace(pattern, instance)

    def _extend_rules(self) -> None:
        abstract_rules = {}
        for pattern in self.root.findall(f"{S}pattern"):
            for rule in list(pattern.findall(f"{S}rule")):
                if rule.get("abstract") == "true":
                    abstract_rules[rule.get("id")] = rule
                    pattern.remove(rule)
        for rule in self.root.iter(f"{S}rule"):
            for ext in list(rule.findall(f"{S}extends")):
                base = abstract_rules.get(ext.get("rule"))
                if base is None:
                    raise SchematronError(f"{where(ext)}: sch:extends names unknown abstract rule {ext.get('rule')!r}")
                index = rule.index(ext)
                rule.remove(ext)
                for offset, child in enumerate(base):
                    rule.insert(index + offset, copy.deepcopy(child))


_PARAM = re.compile(r"\$([A-Za-z_][\w.-]*)")


def _substitute(el, params: dict[str, str]) -> None:
    def replace(text: str) -> str:
        return _PARAM.sub(lambda m: params.get(m.group(1), m.group(0)), text)

    for node in el.iter():
        if not isinstance(node.tag, str):
            continue
        for key, value in node.attrib.items():
            if key not in ("name", SRC_ATTR) and "$" in value:
                node.set(key, replace(value))
