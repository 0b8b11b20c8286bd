"""The document parsed once into Saxon, for scenario match expressions and all Schematron XSLTs."""

from __future__ import annotations

from lxml import etree

from .. import artefacts


def _text(state) -> str:
    encoding = (state.tree.docinfo.encoding or "UTF-8").upper().replace("_", "-")
    if encoding in ("UTF-8", "UTF8", "US-ASCII", "ASCII"):
        try:
            return state.xml.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
    # another encoding: hand Saxon the already parsed tree as text (no declaration to contradict it)
    return etree.tostring(state.tree, encoding="unicode")


class SaxonParseError(ValueError):
    """Saxon's XML parser refused a document lxml accepted: one of its limits, e.g. JAXP's 200 attributes
    (namespace declarations count) per element. The engine reports it as EINVOICE-PARSE, not as an
    internal error."""


def parse_into_saxon(state):
    from saxonche import PySaxonApiError

    try:
        return artefacts.document_builder().parse_xml(xml_text=_text(state))
    except PySaxonApiError as exc:
        detail = " ".join(str(exc).split())
        raise SaxonParseError(f"the XML parser of the rule engine (Saxon) refused the document: {detail}") from exc
