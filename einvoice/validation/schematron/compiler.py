"""Compile ISO Schematron into an XSLT 3.0 stylesheet that writes SVRL.

Each pattern becomes one mode; its rules become templates whose priority follows document order, so
the first rule whose context matches a node wins and the others of that pattern are not applied to
it (ISO Schematron semantics). Elements and attributes are visited (not text nodes). Lets: global ->
xsl:variable; pattern -> evaluated once at the root and passed down as tunnel parameters; rule ->
local variables. Foreign top-level xsl:* elements (xsl:function, xsl:key) are copied.

The compiled XSLT is written to a cache keyed by the SHA-256 of every source file read and the
compiler version; a broken rule file gives a SchematronError naming the .sch file and line.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

from lxml import etree

from .source import S, SCH, SRC_ATTR, XSL, SchematronError, Source, where

def _compiler_fingerprint() -> str:
    """Part of the cache key: a change to the compiler itself invalidates every cached XSLT."""
    import hashlib

    here = Path(__file__).resolve().parent
    sha = hashlib.sha256()
    for name in ("compiler.py", "source.py"):
        sha.update((here / name).read_bytes())
    return sha.hexdigest()[:16]


COMPILER_VERSION = f"einvoice-schematron-{_compiler_fingerprint()}"
SVRL = "http://purl.oclc.org/dsdl/svrl"
X = f"{{{XSL}}}"
V = f"{{{SVRL}}}"


def _xsl(parent, tag: str, src=None, **attrs) -> etree._Element:
    el = etree.SubElement(parent, X + tag)
    for key, value in attrs.items():
        el.set(key.rstrip("_").replace("_", "-"), value)
    if src is not None:
        el.set(SRC_ATTR, where(src))
    return el


def _avt(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


class Compiler:
    def __init__(self, source: Source, phase: str | None = None):
        self.source = source
        self.schema = source.root
        self.phase = phase or self.schema.get("defaultPhase") or "#ALL"
        self.nsmap = {"xsl": XSL, "svrl": SVRL, "xs": "http://www.w3.org/2001/XMLSchema"}
        for ns in self.schema.findall(f"{S}ns"):
            prefix, uri = ns.get("prefix"), ns.get("uri")
            if not prefix or uri is None:
                raise SchematronError(f"{where(ns)}: sch:ns needs prefix and uri")
            self.nsmap[prefix] = uri
        self.nsmap["ev"] = SRC_ATTR[1:].split("}")[0]

    def patterns(self) -> list[etree._Element]:
        patterns = self.schema.findall(f"{S}pattern")
        if self.phase == "#ALL":
            return patterns
        phase = next((p for p in self.schema.findall(f"{S}phase") if p.get("id") == self.phase), None)
        if phase is None:
            raise SchematronError(f"{self.source.path}: unknown phase {self.phase!r}")
        active = [a.get("pattern") for a in phase.findall(f"{S}active")]
        by_id = {p.get("id"): p for p in patterns}
        missing = [a for a in active if a not in by_id]
        if missing:
            raise SchematronError(f"{where(phase)}: phase names unknown patterns {missing}")
        return [by_id[a] for a in active]

    def build(self) -> etree._Element:
        sheet = etree.Element(X + "stylesheet", nsmap=self.nsmap)
        sheet.set("version", "3.0")
        # relative URIs (document('codelists.xml')) resolve against the .sch file, not the cache folder
        sheet.set("{http://www.w3.org/XML/1998/namespace}base", self.source.path.parent.as_uri() + "/")
        sheet.set("exclude-result-prefixes", " ".join(p for p in self.nsmap if p not in ("svrl",)))
        _xsl(sheet, "output", method="xml", indent="no")
        for child in self.schema:
            if isinstance(child.tag, str) and child.tag.startswith(X):
                sheet.append(_clean_copy(child))
        for let in self.schema.findall(f"{S}let"):
            self._variable(sheet, let, "variable")
        patterns = self.patterns()
        if self.phase != "#ALL":
            phase = next(p for p in self.schema.findall(f"{S}phase") if p.get("id") == self.phase)
            for let in phase.findall(f"{S}let"):
                self._variable(sheet, let, "variable")
        root = _xsl(sheet, "template", match="/")
        output = etree.SubElement(root, V + "schematron-output")
        if self.schema.get("schemaVersion"):
            output.set("schemaVersion", _avt(self.schema.get("schemaVersion")))
        title = self.schema.find(f"{S}title")
        if title is not None:
            output.set("title", _avt(" ".join("".join(title.itertext()).split())))
        output.set("phase", _avt(self.phase))
        for prefix, uri in self.nsmap.items():
            if prefix not in ("xsl", "svrl", "ev"):
                ns = etree.SubElement(output, V + "ns-prefix-in-attribute-values")
                ns.set("prefix", prefix)
                ns.set("uri", uri)
        for index, pattern in enumerate(patterns):
            self._pattern(sheet, output, pattern, f"p{index}")
        return sheet

    def _variable(self, parent, let, kind: str, **extra) -> None:
        name = let.get("name")
        if not name:
            raise SchematronError(f"{where(let)}: sch:let needs a name")
        if let.get("value") is not None:
            _xsl(parent, kind, src=let, name=name, select=let.get("value"), **extra)
        else:
            var = _xsl(parent, kind, src=let, name=name, **extra)
            for child in let:
                var.append(_clean_copy(child))
            var.text = let.text

    def _pattern(self, sheet, output, pattern, mode: str) -> None:
        active = etree.SubElement(output, V + "active-pattern")
        for key in ("id", "name"):
            if pattern.get(key):
                active.set(key, _avt(pattern.get(key)))
        lets = pattern.findall(f"{S}let")
        # the pattern's lets, evaluated at the root, then handed to its rules as tunnel parameters
        scope = _xsl(output, "for-each", select=".")
        for let in lets:
            self._variable(scope, let, "variable")
        apply = _xsl(scope, "apply-templates", select=".", mode=mode)
        for let in lets:
            _xsl(apply, "with-param", name=let.get("name"), select=f"${let.get('name')}", tunnel="yes")
        rules = [r for r in pattern.findall(f"{S}rule")]
        for position, rule in enumerate(rules):
            context = rule.get("context")
            if not context:
                raise SchematronError(f"{where(rule)}: sch:rule needs a context")
            template = _xsl(sheet, "template", src=rule, match=context, mode=mode, priority=str(100000 - position))
            for let in lets:
                _xsl(template, "param", name=let.get("name"), tunnel="yes")
            self._rule_body(template, rule)
            _xsl(template, "apply-templates", select="@*|*", mode=mode)
        default = _xsl(sheet, "template", match="/|@*|*", mode=mode, priority="-100")
        _xsl(default, "apply-templates", select="@*|*", mode=mode)

    def _rule_body(self, template, rule) -> None:
        for child in rule:
            if not isinstance(child.tag, str):
                continue
            if child.tag == f"{S}let":
                self._variable(template, child, "variable")
            elif child.tag in (f"{S}assert", f"{S}report"):
                self._check(template, child, rule)
            elif child.tag.startswith(S):
                raise SchematronError(f"{where(child)}: unsupported element sch:{etree.QName(child).localname} in a rule")

    def _check(self, template, check, rule) -> None:
        test = check.get("test")
        if not test:
            raise SchematronError(f"{where(check)}: {etree.QName(check).localname} needs a test")
        is_assert = check.tag == f"{S}assert"
        cond = _xsl(template, "if", src=check, test=f"not({test})" if is_assert else test)
        out = etree.SubElement(cond, V + ("failed-assert" if is_assert else "successful-report"))
        out.set("test", _avt(test))
        for key in ("id", "flag", "role"):
            if check.get(key) is not None:
                out.set(key, _avt(check.get(key)))
        _xsl(out, "attribute", name="location", select="path()")
        text = etree.SubElement(out, V + "text")
        self._message(text, check)

    def _message(self, target, check) -> None:
        target.text = check.text
        for child in check:
            if not isinstance(child.tag, str):
                continue
            if child.tag == f"{S}value-of":
                if not child.get("select"):
                    raise SchematronError(f"{where(child)}: sch:value-of needs select")
                _xsl(target, "value-of", src=child, select=child.get("select")).tail = child.tail
            elif child.tag == f"{S}name":
                _xsl(target, "value-of", src=child, select=f"name({child.get('path') or '.'})").tail = child.tail
            else:  # emph, dir, span and foreign markup: keep their text
                text_node = _xsl(target, "text")
                text_node.text = "".join(child.itertext())
                text_node.tail = child.tail


def _clean_copy(el):
    dup = copy.deepcopy(el)
    for node in dup.iter():
        if isinstance(node.tag, str):
            node.attrib.pop(SRC_ATTR, None)
    if isinstance(el.tag, str):
        dup.set(SRC_ATTR, where(el))
    return dup


def compile_to_string(path: Path, phase: str | None = None) -> tuple[str, Source]:
    source = Source(path)
    return _serialise(Compiler(source, phase).build()), source


def _serialise(sheet) -> str:
    etree.indent(sheet, space=" ")  # one construct per line: Saxon's line numbers map back to the .sch
    return etree.tostring(sheet, encoding="unicode")


def cache_dir() -> Path:
    from ...config import load_settings

    return load_settings().data_dir / "cache" / "schematron"


def compiled_path(path: Path, phase: str | None = None) -> Path:
    """The compiled XSLT for a .sch file: from the cache when the sources are unchanged, else built."""
    source = Source(path)
    digest = source.digest(f"{COMPILER_VERSION}|{phase or ''}")
    target = cache_dir() / f"{path.stem}-{digest[:24]}.xsl"
    if not target.is_file():
        text = _serialise(Compiler(source, phase).build())
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    return target


def compile_file(path: Path, phase: str | None = None) -> str:
    return compile_to_string(path, phase)[0]


_LINE = re.compile(r"on line (\d+)")


def explain_saxon_error(compiled: Path, message: str) -> str:
    """Map a Saxon compile error in generated XSLT back to the Schematron file and line."""
    match = _LINE.search(message)
    if not match:
        return message
    line = int(match.group(1))
    tree = etree.parse(str(compiled))
    best = None
    for el in tree.getroot().iter():
        if isinstance(el.tag, str) and el.sourceline and el.sourceline <= line and el.get(SRC_ATTR):
            best = el
    detail = " ".join(message.split())
    return f"{best.get(SRC_ATTR)}: {detail}" if best is not None else detail


__all__ = ["SchematronError", "compile_file", "compiled_path", "explain_saxon_error", "SCH"]
