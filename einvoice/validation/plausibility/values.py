"""The few values the plausibility checks read, per syntax (paths from en16931-fields.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from ..kinds import CII_RAM_NS, CII_RSM_NS, UBL_CBC_NS, DocumentKind

NS = {
    "cbc": UBL_CBC_NS,
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "rsm": CII_RSM_NS,
    "ram": CII_RAM_NS,
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}

_UBL = {
    "buyer_reference": "cbc:BuyerReference",                                               # BT-10
    "issue_date": "cbc:IssueDate",                                                         # BT-2
    "due_date": "cbc:DueDate | cac:PaymentMeans/cbc:PaymentDueDate",                        # BT-9
    "payment_terms": "cac:PaymentTerms/cbc:Note",                                          # BT-20
    "seller_vat_ids": "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme"
                      "[cac:TaxScheme/cbc:ID = 'VAT']/cbc:CompanyID",                      # BT-31
    "payee_accounts": "cac:PaymentMeans[normalize-space(cbc:PaymentMeansCode) = ('30', '58')]"
                      "/cac:PayeeFinancialAccount/cbc:ID",                                 # BT-84
}
_CII_HTS = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
_CII = {
    "buyer_reference": "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:BuyerReference",
    "issue_date": "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString",
    "due_date": f"{_CII_HTS}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString",
    "payment_terms": f"{_CII_HTS}/ram:SpecifiedTradePaymentTerms/ram:Description",
    "seller_vat_ids": "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty"
                      "/ram:SpecifiedTaxRegistration/ram:ID[@schemeID = 'VA']",
    "payee_accounts": f"{_CII_HTS}/ram:SpecifiedTradeSettlementPaymentMeans[normalize-space(ram:TypeCode) = ('30', '58')]"
                      "/ram:PayeePartyCreditorFinancialAccount/ram:IBANID",
}


@dataclass
class CheckedValues:
    buyer_reference: str | None = None
    issue_date: str | None = None
    due_date: str | None = None
    payment_terms: str | None = None
    seller_vat_ids: list[str] = field(default_factory=list)
    payee_accounts: list[str] = field(default_factory=list)


def _xpath1(path: str) -> str:
    """lxml speaks XPath 1.0: rewrite "= ('a', 'b')" into an or-chain."""
    return re.sub(
        r"(normalize-space\([^)]*\)) = \(([^)]*)\)",
        lambda m: "(" + " or ".join(f"{m.group(1)} = {v.strip()}" for v in m.group(2).split(",")) + ")",
        path,
    )


# compiled once per process
_COMPILED = {
    kind: {name: etree.XPath(_xpath1(path), namespaces=NS) for name, path in paths.items()}
    for kind, paths in (("ubl", _UBL), ("cii", _CII))
}


def read_values(root, kind: DocumentKind) -> CheckedValues:
    paths = _COMPILED["cii" if kind is DocumentKind.CII else "ubl"]
    values = CheckedValues()
    for name, xpath in paths.items():
        nodes = xpath(root)
        if isinstance(getattr(values, name), list):
            setattr(values, name, [t for t in ((n.text or "").strip() for n in nodes) if t])
        elif nodes:
            raw = nodes[0].text or ""
            # BT-20 keeps its line breaks; the others are single tokens
            setattr(values, name, raw if name == "payment_terms" else raw.strip())
    return values
