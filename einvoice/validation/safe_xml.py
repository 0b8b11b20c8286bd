"""Hardened XML parsing for untrusted input: no DTD, no entities, no network, bounded size."""

from __future__ import annotations

import re
import threading

from lxml import etree


class UnsafeXmlError(ValueError):
    """The document uses a construct that is refused for security (DOCTYPE, entities)."""


# A DOCTYPE may only appear in the prolog: before the root element.
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)


def _prolog(data: bytes) -> bytes:
    """Everything before the first start tag of an element (comments/PIs may contain '<')."""
    for match in re.finditer(rb"<([^?!])", data):
        return data[: match.start()]
    return data


def _decoded_prolog(data: bytes) -> bytes:
    """UTF-16/32 documents hide the DOCTYPE from a byte search: look at them as UTF-8."""
    head = data[:4096]
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head.decode(codec, errors="ignore").encode("utf-8")
    if head[:4] in (b"<\x00?\x00", b"<\x00<\x00"):
        return head.decode("utf-16-le", errors="ignore").encode("utf-8")
    if head[:4] in (b"\x00<\x00?", b"\x00<\x00<"):
        return head.decode("utf-16-be", errors="ignore").encode("utf-8")
    return data


_local = threading.local()


def _parser() -> etree.XMLParser:
    """One hardened parser per thread (creating a parser per document costs more than parsing)."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _new_parser()
    return parser


def _new_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )


def parse_untrusted(data: bytes) -> etree._ElementTree:
    """Parse bytes into an lxml tree; refuse DOCTYPE/ENTITY declarations.

    Raises UnsafeXmlError for refused constructs and etree.XMLSyntaxError for malformed input.
    """
    prolog = _prolog(_decoded_prolog(data))
    if _DOCTYPE.search(prolog) or _ENTITY.search(prolog):
        raise UnsafeXmlError("the document has a DOCTYPE declaration; DTDs and entities are refused (XXE protection)")
    tree = etree.ElementTree(etree.fromstring(data, parser=_parser()))
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXmlError("the document has a DOCTYPE declaration; DTDs and entities are refused (XXE protection)")
    return tree
