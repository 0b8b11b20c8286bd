"""What the supplier sent that the model did not read.

Walks the source XML and lists every element with text and every attribute that no reader
path took (readers mark what they read in their `XmlSource`). Each entry names the nearest
enclosing group the reader recognised (e.g. BG-4 seller), so a clerk sees *where* the
unread content sits. An empty list means: every value in the document is in the model.

Not listed: comments, processing instructions, whitespace-only text, namespace declarations and
``xsi:*`` attributes (schema hints, no business content).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from .labels import label
from .xmlsource import XmlSource

_XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
_MAX_VALUE = 200


@dataclass(frozen=True)
class Uncovered:
    location: str  # XPath of the element (and /@attribute)
    value: str  # the text, shortened to 200 characters
    group: str | None = None  # nearest enclosing BG the reader knew, e.g. "BG-4"

    @property
    def group_label(self) -> str | None:
        return label(self.group) if self.group else None

    def to_dict(self) -> dict:
        data = {"location": self.location, "value": self.value}
        if self.group:
            data["group"] = self.group
            data["group_label"] = self.group_label
        return data


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _group_of(source: XmlSource, node: etree._Element) -> str | None:
    current = node
    while current is not None:
        if current in source.groups:
            return source.groups[current]
        current = current.getparent()
    return None


def _attribute_name(node: etree._Element, name: str) -> str:
    if name.startswith("{"):
        uri, local = name[1:].split("}", 1)
        prefix = next((p for p, u in (node.nsmap or {}).items() if u == uri and p), None)
        return f"{prefix}:{local}" if prefix else local
    return name


def uncovered(source: XmlSource) -> list[Uncovered]:
    tree = source.root.getroottree()
    found: list[Uncovered] = []
    for node in source.root.iter(etree.Element):
        text = node.text or ""
        if text.strip() and node not in source.consumed:
            found.append(Uncovered(tree.getpath(node), _short(text), _group_of(source, node)))
        for name, value in node.attrib.items():
            if name.startswith(_XSI) or (node, name) in source.consumed_attributes:
                continue
            found.append(Uncovered(f"{tree.getpath(node)}/@{_attribute_name(node, name)}", _short(value),
                                   _group_of(source, node)))
    return found
