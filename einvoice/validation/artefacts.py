"""Process-wide caches of loaded XSDs and compiled XSLTs (loaded once per process, then reused).

Saxon is not fork-safe once started, so each worker process builds its own caches (see parallel.py).
"""

from __future__ import annotations

import threading
from pathlib import Path

from lxml import etree
from saxonche import PySaxonApiError, PySaxonProcessor

SVRL_NS = "http://purl.oclc.org/dsdl/svrl"


class ArtefactError(RuntimeError):
    """An XSD or XSLT cannot be loaded or compiled; the message names the file."""


_lock = threading.RLock()
_processor: PySaxonProcessor | None = None
_xslt: dict[Path, object] = {}
_xsd: dict[Path, etree.XMLSchema] = {}
_builder = None


def saxon() -> PySaxonProcessor:
    global _processor
    with _lock:
        if _processor is None:
            _processor = PySaxonProcessor(license=False)
        return _processor


def document_builder():
    """A Saxon document builder without line numbering (reports use XPath locations, not lines)."""
    global _builder
    with _lock:
        if _builder is None:
            _builder = saxon().new_document_builder()
            _builder.set_line_numbering(False)
        return _builder


def xslt(path: Path):
    """The compiled stylesheet for an .xsl/.xslt file, or a .sch file compiled by the project's own
    Schematron compiler (cached on disk by source hash), compiled by Saxon at first use."""
    with _lock:
        executable = _xslt.get(path)
        if executable is None:
            if not path.is_file():
                raise ArtefactError(f"Schematron XSLT not found: {path}")
            stylesheet = path
            if path.suffix.lower() == ".sch":
                from .schematron.compiler import compiled_path
                from .schematron.source import SchematronError

                try:
                    stylesheet = compiled_path(path)
                except SchematronError as exc:
                    raise ArtefactError(str(exc)) from exc
            compiler = saxon().new_xslt30_processor()
            try:
                executable = compiler.compile_stylesheet(stylesheet_file=str(stylesheet))
            except PySaxonApiError as exc:
                if stylesheet is not path:
                    from .schematron.compiler import explain_saxon_error

                    raise ArtefactError(f"cannot compile Schematron {path}: {explain_saxon_error(stylesheet, str(exc))}") from exc
                raise ArtefactError(f"cannot compile XSLT {path}: {exc}") from exc
            if executable is None:
                raise ArtefactError(f"cannot compile XSLT {path}")
            _xslt[path] = executable
        return executable


def xsd(path: Path) -> etree.XMLSchema:
    """The loaded XML Schema for path (loaded at first use; imports resolved from disk only)."""
    with _lock:
        schema = _xsd.get(path)
        if schema is None:
            if not path.is_file():
                raise ArtefactError(f"XML Schema not found: {path}")
            parser = etree.XMLParser(no_network=True, resolve_entities=False)
            try:
                schema = etree.XMLSchema(etree.parse(str(path), parser))
            except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
                raise ArtefactError(f"cannot load XML Schema {path}: {exc}") from exc
            _xsd[path] = schema
        return schema


def forget_under(folder: Path) -> None:
    """Drop cached artefacts loaded from below folder (after a rule pack was replaced)."""
    with _lock:
        for cache in (_xslt, _xsd):
            for path in [p for p in cache if p.is_relative_to(folder)]:
                del cache[path]


def xpath_is_true(expression: str, namespaces: dict[str, str], document) -> bool:
    """Effective boolean value of an XPath 2.0+ expression on a Saxon document node.

    Each (expression, namespaces) is compiled once per process, as a function of a tiny stylesheet.
    """
    key = (expression, tuple(sorted(namespaces.items())))
    with _lock:
        executable = _match_functions.get(key)
        if executable is None:
            executable = _match_functions[key] = _compile_match(expression, namespaces)
    try:
        value = executable.call_function_returning_value(f"{{{_HELPERS_NS}}}match", [document])
    except PySaxonApiError as exc:
        raise ArtefactError(f"scenario match expression {expression!r} failed: {exc}") from exc
    return value is not None and value.size == 1 and value.head.get_atomic_value().boolean_value


_match_functions: dict[tuple, object] = {}


def _compile_match(expression: str, namespaces: dict[str, str]):
    from xml.sax.saxutils import quoteattr

    declarations = " ".join(f"xmlns:{prefix}={quoteattr(uri)}" for prefix, uri in namespaces.items() if prefix)
    text = f"""<xsl:stylesheet version="3.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
        xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:e="{_HELPERS_NS}" {declarations}>
      <xsl:function name="e:match" as="xs:boolean" visibility="public">
        <xsl:param name="doc" as="node()"/>
        <xsl:for-each select="$doc"><xsl:sequence select={quoteattr(f"boolean({expression})")}/></xsl:for-each>
      </xsl:function>
    </xsl:stylesheet>"""
    try:
        return saxon().new_xslt30_processor().compile_stylesheet(stylesheet_text=text)
    except PySaxonApiError as exc:
        raise ArtefactError(f"scenario match expression {expression!r} does not compile: {exc}") from exc


def svrl_messages(svrl_document) -> list[tuple[str, str, str, str, str]]:
    """(kind, id, flag, location, text) for each failed-assert / successful-report of an SVRL result.

    Evaluated inside Saxon by a function compiled once per process: the SVRL tree is never
    serialised and re-parsed, and no XPath is compiled per document.
    """
    value = _helpers().call_function_returning_value(f"{{{_HELPERS_NS}}}svrl-rows", [svrl_document])
    if value is None:
        return []
    return [tuple(value.item_at(i).get_atomic_value().string_value.split("\t")) for i in range(value.size)]


_HELPERS_NS = "urn:einvoice:engine"
_helpers_executable = None

# One string per message, fields joined by TAB (normalize-space leaves none in the texts).
_HELPERS_XSLT = f"""<xsl:stylesheet version="3.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:svrl="{SVRL_NS}" xmlns:e="{_HELPERS_NS}">
  <xsl:function name="e:svrl-rows" as="xs:string*" visibility="public">
    <xsl:param name="svrl" as="node()"/>
    <xsl:sequence select="for $m in $svrl//(svrl:failed-assert | svrl:successful-report) return string-join((
        local-name($m), string($m/@id), string(($m/@flag, $m/@role)[1]), string($m/@location),
        normalize-space(string-join($m/svrl:text, ' '))), codepoints-to-string(9))"/>
  </xsl:function>
</xsl:stylesheet>"""


def _helpers():
    global _helpers_executable
    with _lock:
        if _helpers_executable is None:
            _helpers_executable = saxon().new_xslt30_processor().compile_stylesheet(stylesheet_text=_HELPERS_XSLT)
        return _helpers_executable
