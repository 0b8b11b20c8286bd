"""CEN's EN 16931 code lists for CII (rules/en16931-cii/codelists.xml) and the BR-CL rules that read them.

The expected sizes are CEN's (validation artefacts 1.3.16), from ../shared/spec/en16931-cii-alignment.md
section 6; a new CEN release that changes a list must change the size here too.
"""

from __future__ import annotations

import collections
import re
from pathlib import Path

import pytest
from lxml import etree

from einvoice.validation import artefacts

RULES = Path(__file__).resolve().parent.parent / "rules" / "en16931-cii"
CL = "urn:einvoice:codelists"
SCH = "http://purl.oclc.org/dsdl/schematron"

# list id -> number of codes in CEN 1.3.16 (rules using the list)
CEN_SIZES = {
    "UNTDID-1001-invoice": 62,  # BR-CL-01
    "ISO-4217": 178,  # BR-CL-03, -04, -05
    "UNTDID-2475-subset": 3,  # BR-CL-06
    "UNTDID-1153": 818,  # BR-CL-07
    "UNTDID-4451-subset": 401,  # BR-CL-08
    "ISO-6523-ICD": 243,  # BR-CL-10, -11, -21, -26
    "UNTDID-7143": 185,  # BR-CL-13
    "ISO-3166-1-alpha-2": 251,  # BR-CL-14, -15
    "UNTDID-4461": 84,  # BR-CL-16
    "UNTDID-5305-subset": 10,  # BR-CL-17, -18
    "UNTDID-5189": 19,  # BR-CL-19
    "UNTDID-7161": 178,  # BR-CL-20
    "VATEX": 88,  # BR-CL-22
    "UNECE-Rec20-Rec21": 2162,  # BR-CL-23
    "MIME": 6,  # BR-CL-24
    "CEF-EAS": 104,  # BR-CL-25
}
LIST_REF = re.compile(r"""cl:list\[\s*@id\s*=\s*['"]([^'"]+)['"]\s*\]""")


def _lists() -> dict[str, list[str]]:
    root = etree.parse(str(RULES / "codelists.xml")).getroot()
    assert root.tag == f"{{{CL}}}codelists"
    lists: dict[str, list[str]] = {}
    for el in root.iter(f"{{{CL}}}list"):
        assert el.get("id") not in lists, f"list {el.get('id')} declared twice"
        assert el.get("name") and el.get("source") and el.get("version"), f"list {el.get('id')}: name/source/version missing"
        lists[el.get("id")] = [code.text or "" for code in el.iter(f"{{{CL}}}code")]
    return lists


def _used_list_ids() -> dict[str, set[str]]:
    """list id -> ids of the asserts/reports that read it (directly or through a sch:let)."""
    used: dict[str, set[str]] = collections.defaultdict(set)
    for sch in sorted(RULES.glob("*.sch")):
        root = etree.parse(str(sch)).getroot()
        let_lists = {let.get("name"): set(LIST_REF.findall(let.get("value") or "")) for let in root.iter(f"{{{SCH}}}let")}
        for check in [*root.iter(f"{{{SCH}}}assert"), *root.iter(f"{{{SCH}}}report")]:
            rule = check.getparent()
            texts = [check.get("test") or ""] + [let.get("value") or "" for let in rule.iter(f"{{{SCH}}}let")]
            for text in texts:
                for list_id in LIST_REF.findall(text):
                    used[list_id].add(check.get("id"))
                for name in re.findall(r"\$([\w.-]+)", text):
                    for list_id in let_lists.get(name, ()):
                        used[list_id].add(check.get("id"))
    return used


def test_every_list_has_cens_size():
    lists = _lists()
    assert sorted(lists) == sorted(CEN_SIZES)
    assert {k: len(v) for k, v in lists.items()} == CEN_SIZES


def test_codes_are_clean_and_unique():
    for list_id, codes in _lists().items():
        duplicates = [c for c, n in collections.Counter(codes).items() if n > 1]
        assert duplicates == [], f"{list_id}: duplicate codes {duplicates}"
        assert all(c and c == c.strip() and " " not in c for c in codes), f"{list_id}: empty code or code with blanks"
    # BR-CL-22 upper-cases the value before comparing
    assert all(c == c.upper() for c in _lists()["VATEX"])


def test_every_list_is_used_by_a_rule_and_every_reference_exists():
    lists, used = _lists(), _used_list_ids()
    assert [l for l in lists if not used.get(l)] == [], "lists no rule reads"
    assert sorted(set(used) - set(lists)) == [], "rules read lists that codelists.xml does not declare"


def test_list_differences_to_factur_x_named_by_cen():
    """The codes where CEN 1.3.16 and the Factur-X code list differ (spec section 6), in CEN's direction."""
    lists = _lists()
    assert "STD" in lists["ISO-4217"] and "STN" not in lists["ISO-4217"]
    assert "AN" in lists["ISO-3166-1-alpha-2"] and "SS" not in lists["ISO-3166-1-alpha-2"]
    assert {"1A", "XI"} <= set(lists["ISO-3166-1-alpha-2"])
    assert "B" in lists["UNTDID-5305-subset"]
    assert {f"02{n}" for n in range(41, 49)} <= set(lists["ISO-6523-ICD"])
    assert {"0219", "0220"} <= set(lists["CEF-EAS"])


# --- the BR-CL rules on a small CII document (only BR-CL findings are looked at) -------------------

DOC = """<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
    xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
    xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
  <rsm:ExchangedDocument><ram:ID>1</ram:ID><ram:TypeCode>{type_code}</ram:TypeCode></rsm:ExchangedDocument>
  <rsm:SupplyChainTradeTransaction>
    <ram:IncludedSupplyChainTradeLineItem>
      <ram:SpecifiedTradeProduct>{product}<ram:Name>x</ram:Name></ram:SpecifiedTradeProduct>
      <ram:SpecifiedLineTradeDelivery><ram:BilledQuantity unitCode="{unit}">1</ram:BilledQuantity></ram:SpecifiedLineTradeDelivery>
      <ram:SpecifiedLineTradeSettlement>
        <ram:ApplicableTradeTax><ram:TypeCode>VAT</ram:TypeCode><ram:CategoryCode>{category}</ram:CategoryCode></ram:ApplicableTradeTax>
      </ram:SpecifiedLineTradeSettlement>
    </ram:IncludedSupplyChainTradeLineItem>
    <ram:ApplicableHeaderTradeAgreement>
      <ram:SellerTradeParty>{seller}<ram:Name>S</ram:Name>
        <ram:PostalTradeAddress><ram:CountryID>{country}</ram:CountryID></ram:PostalTradeAddress>
      </ram:SellerTradeParty>
      {document}
    </ram:ApplicableHeaderTradeAgreement>
    <ram:ApplicableHeaderTradeSettlement>
      <ram:InvoiceCurrencyCode>{currency}</ram:InvoiceCurrencyCode>
      <ram:ApplicableTradeTax><ram:TypeCode>VAT</ram:TypeCode><ram:CategoryCode>E</ram:CategoryCode>{exemption}</ram:ApplicableTradeTax>
      {allowance}
    </ram:ApplicableHeaderTradeSettlement>
  </rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>"""
CLEAN = dict(type_code="380", product="", unit="C62", category="S", seller="", country="DE", document="",
             currency="EUR", exemption="", allowance="")
ALLOWANCE = ("<ram:SpecifiedTradeAllowanceCharge><ram:ChargeIndicator><udt:Indicator>{}</udt:Indicator></ram:ChargeIndicator>"
             "<ram:ActualAmount>1</ram:ActualAmount><ram:ReasonCode>{}</ram:ReasonCode></ram:SpecifiedTradeAllowanceCharge>")
ATTACHMENT = ("<ram:AdditionalReferencedDocument><ram:IssuerAssignedID>a</ram:IssuerAssignedID><ram:TypeCode>916</ram:TypeCode>"
              '<ram:AttachmentBinaryObject mimeCode="{}" filename="a">QQ==</ram:AttachmentBinaryObject></ram:AdditionalReferencedDocument>')

CASES = [
    ("clean", {}, {}),
    ("type code padded", {"type_code": " 380 "}, {}),
    ("type code blanks only", {"type_code": "   "}, {"BR-CL-01": 1}),
    ("type code with inner blank", {"type_code": "380 381"}, {"BR-CL-01": 1}),
    ("country SS (not in CEN 1.3.16)", {"country": "SS"}, {"BR-CL-14": 1}),
    ("country AN (still in CEN 1.3.16)", {"country": "AN"}, {}),
    ("country empty", {"country": ""}, {"BR-CL-14": 1}),
    ("currency STN", {"currency": "STN"}, {"BR-CL-04": 1}),
    ("currency STD", {"currency": "STD"}, {}),
    ("category B", {"category": "B"}, {}),
    ("category empty", {"category": ""}, {"BR-CL-18": 1}),
    ("unit code lower case", {"unit": "c62"}, {"BR-CL-23": 1}),
    ("exemption code lower case and padded", {"exemption": "<ram:ExemptionReasonCode> vatex-eu-o </ram:ExemptionReasonCode>"}, {}),
    ("exemption code unknown", {"exemption": "<ram:ExemptionReasonCode>VATEX-EU-XX</ram:ExemptionReasonCode>"}, {"BR-CL-22": 1}),
    ("seller global id 0245", {"seller": '<ram:GlobalID schemeID="0245">1</ram:GlobalID>'}, {}),
    ("seller global id scheme empty", {"seller": '<ram:GlobalID schemeID="">1</ram:GlobalID>'}, {"BR-CL-10": 1}),
    ("seller id with unknown scheme", {"seller": '<ram:ID schemeID="XX">1</ram:ID>'}, {"BR-CL-11": 1}),
    ("tax registration scheme not checked", {"seller": '<ram:SpecifiedTaxRegistration><ram:ID schemeID="XX">1</ram:ID></ram:SpecifiedTaxRegistration>'}, {}),
    ("product global id scheme blank", {"product": '<ram:GlobalID schemeID=" ">1</ram:GlobalID>'}, {"BR-CL-21": 1}),
    ("origin country with scheme: ICD rule wins", {"product": '<ram:OriginTradeCountry><ram:ID schemeID="0088">XX</ram:ID></ram:OriginTradeCountry>'}, {}),
    ("origin country unknown", {"product": "<ram:OriginTradeCountry><ram:ID>XX</ram:ID></ram:OriginTradeCountry>"}, {"BR-CL-15": 1}),
    ("mime code empty", {"document": ATTACHMENT.format("")}, {"BR-CL-24": 1}),
    ("mime code padded (exact comparison)", {"document": ATTACHMENT.format(" text/csv")}, {"BR-CL-24": 1}),
    ("allowance reason unknown, indicator 0", {"allowance": ALLOWANCE.format(" 0 ", "ZZZ")}, {"BR-CL-19": 1}),
    ("charge reason unknown, indicator 1", {"allowance": ALLOWANCE.format("1", "95")}, {"BR-CL-20": 1}),
    ("charge reason ZZZ, indicator true", {"allowance": ALLOWANCE.format("true", "ZZZ")}, {}),
]


@pytest.mark.parametrize("name,change,want", CASES, ids=[c[0] for c in CASES])
def test_br_cl_rules(name, change, want):
    executable = artefacts.xslt(RULES / "EN16931-CII.sch")
    doc = artefacts.saxon().parse_xml(xml_text=DOC.format(**{**CLEAN, **change}))
    svrl = executable.transform_to_value(xdm_node=doc)
    got = collections.Counter(row[1] for row in artefacts.svrl_messages(svrl.head) if row[1].startswith("BR-CL-"))
    assert dict(got) == want
