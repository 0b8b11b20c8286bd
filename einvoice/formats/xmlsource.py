"""Reading values out of a parsed invoice while remembering every node that was read.

The readers (ubl.py, cii.py, zugferd1.py) only read through an `XmlSource`; each element whose
text was taken and each attribute that was looked at is recorded, so coverage.py can list what a
supplier sent that the model did not take. Values that cannot be parsed (a date "2018-13-45", an
amount "12,50") become ``None`` plus a ``FORMAT-VALUE`` problem: never a guess.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree

from .model import Amount, Identifier, Quantity
from .problems import Problem

_DECIMAL = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:Z|[+-]\d{2}:\d{2})?$")
_DATE_102 = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


class XmlSource:
    def __init__(self, root: etree._Element, namespaces: dict[str, str]):
        self.root = root
        self.namespaces = namespaces
        self.consumed: set[etree._Element] = set()
        self.consumed_attributes: set[tuple[etree._Element, str]] = set()
        self.groups: dict[etree._Element, str] = {}
        self.problems: list[Problem] = []
        self.currency: str | None = None  # BT-5, for CII amounts without @currencyID
        self._compiled: dict[str, etree.XPath] = {}

    # -- finding nodes -----------------------------------------------------------------------

    def all(self, context: etree._Element | None, path: str) -> list[etree._Element]:
        if context is None:
            return []
        xpath = self._compiled.get(path)
        if xpath is None:
            xpath = self._compiled[path] = etree.XPath(path, namespaces=self.namespaces)
        return [node for node in xpath(context) if isinstance(node, etree._Element)]

    def one(self, context: etree._Element | None, path: str) -> etree._Element | None:
        nodes = self.all(context, path)
        return nodes[0] if nodes else None

    def first(self, context: etree._Element | None, *paths: str) -> etree._Element | None:
        """The first match of the first path that matches (alternatives in order of preference)."""
        for path in paths:
            node = self.one(context, path)
            if node is not None:
                return node
        return None

    def group(self, context: etree._Element | None, path: str, bt: str) -> list[etree._Element]:
        """The elements of a group (BG-x); remembered as the context of anything left unread in them."""
        nodes = self.all(context, path)
        for node in nodes:
            self.groups.setdefault(node, bt)
        return nodes

    def location(self, node: etree._Element) -> str:
        return node.getroottree().getpath(node)

    # -- taking values -----------------------------------------------------------------------

    def take(self, node: etree._Element | None, *, raw: bool = False) -> str | None:
        """The text of one element (trimmed; ``raw`` keeps it as written), marking it as read."""
        if node is None:
            return None
        self.consumed.add(node)
        text = node.text or ""
        if raw:
            return text if text.strip() else None
        return text.strip() or None

    def text(self, context: etree._Element | None, path: str, *, raw: bool = False) -> str | None:
        """The first match's text. Further matches stay unread (coverage reports them)."""
        return self.take(self.one(context, path), raw=raw)

    def texts(self, context: etree._Element | None, path: str) -> list[str]:
        return [t for t in (self.take(n) for n in self.all(context, path)) if t is not None]

    def attribute(self, node: etree._Element | None, name: str) -> str | None:
        if node is None or name not in node.attrib:
            return None
        self.consumed_attributes.add((node, name))
        return node.attrib[name].strip() or None

    def take_repeats(self, nodes: list[etree._Element]) -> None:
        """After the first node was read: mark the others as read where they only repeat it (same text,
        same attributes), e.g. the payment means code in every UBL cac:PaymentMeans or BT-7 in every CII
        VAT breakdown. Repeats that differ stay unread, so coverage reports them."""
        if not nodes:
            return
        first = nodes[0]
        text = (first.text or "").strip()
        for node in nodes[1:]:
            if (node.text or "").strip() != text:
                continue
            self.consumed.add(node)
            for name, value in node.attrib.items():
                if first.get(name) == value:
                    self.consumed_attributes.add((node, name))

    def problem(self, code: str, message: str, node: etree._Element | None = None, bt: str | None = None,
                severity: str = "warning") -> None:
        self.problems.append(Problem(code, message, severity, bt=bt,
                                     location=self.location(node) if node is not None else None))

    # -- typed values ------------------------------------------------------------------------

    def _decimal_of(self, node: etree._Element | None, bt: str | None) -> Decimal | None:
        text = self.take(node)
        if text is None:
            return None
        if not _DECIMAL.match(text):
            self.problem("FORMAT-VALUE", f"{bt or 'value'}: {text!r} ist keine Dezimalzahl / is not a decimal number",
                         node, bt)
            return None
        try:
            return Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern already excludes this
            return None

    def decimal(self, context: etree._Element | None, path: str, bt: str | None = None) -> Decimal | None:
        return self._decimal_of(self.one(context, path), bt)

    def amount_of(self, node: etree._Element | None, bt: str | None = None) -> Amount | None:
        value = self._decimal_of(node, bt)
        if value is None:
            return None
        currency = self.attribute(node, "currencyID") or self.currency or ""
        return Amount(value, currency)

    def amount(self, context: etree._Element | None, path: str, bt: str | None = None) -> Amount | None:
        return self.amount_of(self.one(context, path), bt)

    def quantity(self, context: etree._Element | None, path: str, bt: str | None = None) -> Quantity | None:
        node = self.one(context, path)
        value = self._decimal_of(node, bt)
        if value is None:
            return None
        return Quantity(value, self.attribute(node, "unitCode"))

    def identifier_of(self, node: etree._Element | None, scheme_attribute: str | None = "schemeID") -> Identifier | None:
        value = self.take(node)
        scheme = self.attribute(node, scheme_attribute) if scheme_attribute else None
        return Identifier(value, scheme) if value is not None else None  # a scheme alone says nothing

    def identifier(self, context: etree._Element | None, path: str,
                   scheme_attribute: str | None = "schemeID") -> Identifier | None:
        return self.identifier_of(self.one(context, path), scheme_attribute)

    def binary_of(self, node: etree._Element | None, bt: str = "BT-125") -> bytes:
        """Base64 content (xs:base64Binary may contain line breaks and spaces)."""
        text = self.take(node)
        if not text:
            return b""
        try:
            return base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            self.problem("FORMAT-VALUE", f"{bt}: Anhang ist kein gültiges Base64 / attachment is not valid base64",
                         node, bt)
            return b""

    def iso_date(self, context: etree._Element | None, path: str, bt: str | None = None) -> date | None:
        """A UBL xs:date (YYYY-MM-DD, an optional time zone is ignored)."""
        node = self.one(context, path)
        text = self.take(node)
        if text is None:
            return None
        match = _ISO_DATE.match(text)
        return self._date(match, text, node, bt, "YYYY-MM-DD")

    def cii_date(self, context: etree._Element | None, path: str, bt: str | None = None) -> date | None:
        """A CII udt:DateTimeString / udt:DateString / qdt:DateTimeString with format 102 (YYYYMMDD)."""
        node = self.one(context, path)
        text = self.take(node)
        if text is None:
            return None
        date_format = self.attribute(node, "format")
        if date_format not in (None, "102"):
            self.problem("FORMAT-VALUE", f"{bt or 'date'}: Datumsformat {date_format!r} wird nicht gelesen, nur 102 "
                         f"(JJJJMMTT) / only date format 102 is read", node, bt)
            return None
        return self._date(_DATE_102.match(text), text, node, bt, "YYYYMMDD")

    def _date(self, match, text: str, node, bt: str | None, shape: str) -> date | None:
        if match:
            try:
                return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
            except ValueError:
                pass
        self.problem("FORMAT-VALUE", f"{bt or 'date'}: {text!r} ist kein gültiges Datum ({shape}) / is not a valid date",
                     node, bt)
        return None
