"""Document kinds, recognised from the root element of the XML."""

from __future__ import annotations

from enum import Enum

UBL_INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDITNOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
UBL_CBC_NS = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CII_RSM_NS = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
CII_RAM_NS = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
ZF1_RSM_NS = "urn:ferd:CrossIndustryDocument:invoice:1p0"
ZF1_RAM_NS = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12"


class DocumentKind(str, Enum):
    UBL_INVOICE = "ubl-invoice"
    UBL_CREDITNOTE = "ubl-creditnote"
    CII = "cii"
    ZUGFERD1 = "zugferd1"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    DocumentKind.UBL_INVOICE: "UBL 2.1 Invoice",
    DocumentKind.UBL_CREDITNOTE: "UBL 2.1 CreditNote",
    DocumentKind.CII: "UN/CEFACT CII (CrossIndustryInvoice)",
    DocumentKind.ZUGFERD1: "ZUGFeRD 1.0 (CrossIndustryDocument)",
}

_ROOTS = {
    f"{{{UBL_INVOICE_NS}}}Invoice": DocumentKind.UBL_INVOICE,
    f"{{{UBL_CREDITNOTE_NS}}}CreditNote": DocumentKind.UBL_CREDITNOTE,
    f"{{{CII_RSM_NS}}}CrossIndustryInvoice": DocumentKind.CII,
    f"{{{ZF1_RSM_NS}}}CrossIndustryDocument": DocumentKind.ZUGFERD1,
}

# Where BT-24 (specification identifier) lives, per kind.
_SPEC_ID_PATHS = {
    DocumentKind.UBL_INVOICE: ("cbc:CustomizationID", {"cbc": UBL_CBC_NS}),
    DocumentKind.UBL_CREDITNOTE: ("cbc:CustomizationID", {"cbc": UBL_CBC_NS}),
    DocumentKind.CII: (
        "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID",
        {"rsm": CII_RSM_NS, "ram": CII_RAM_NS},
    ),
    DocumentKind.ZUGFERD1: (
        "rsm:SpecifiedExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID",
        {"rsm": ZF1_RSM_NS, "ram": ZF1_RAM_NS},
    ),
}


def kind_of_root(tag: str) -> DocumentKind | None:
    return _ROOTS.get(tag)


def specification_id(root, kind: DocumentKind) -> str | None:
    """The text of BT-24 exactly as written (KoSIT matches the untrimmed text)."""
    path, namespaces = _SPEC_ID_PATHS[kind]
    found = root.find(path, namespaces)
    if found is None:
        return None
    return found.text or ""
