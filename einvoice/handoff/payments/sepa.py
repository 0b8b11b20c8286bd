"""The SEPA credit transfer file: ISO 20022 ``pain.001.001.09``, validated against its XSD.

The document is built with `sepaxml` (``SepaTransfer(config, schema="pain.001.001.09")`` in batch
mode, amounts as integer cents): one ``PmtInf`` with the requested execution date
(``ReqdExctnDt/Dt``), service level SEPA, charges SLEV, batch booking, the municipality as debtor
(`Debtor`, from ``EINVOICE_DEBTOR_NAME``/``_IBAN``/``_BIC``), and one ``CdtTrfTxInf`` per invoice
(`Transfer`: EndToEndId, amount, creditor BIC if known, name, IBAN, unstructured remittance).
sepaxml makes a random MsgId, PmtInfId and a local CreDtTm; `build_pain001` then sets them from the
run (MsgId = the run's ``message_id``, PmtInfId = ``<message_id>-1``, CreDtTm = the run's time in
Europe/Berlin with offset), validates the final bytes against the ``pain.001.001.09.xsd`` shipped in
the sepaxml package (lxml) and checks that NbOfTxs and CtrlSum (group header and PmtInf) equal the
number and sum of the transfers — a file that fails any check is never returned.

Before anything is built, every IBAN — the debtor's and each creditor's — is checked with
``stdnum.iban`` (country format and check digits): `iban_problem` says what is wrong; `runs.py`
refuses an invoice with an invalid IBAN (reported, not written), an invalid debtor account refuses the
whole run. Names and remittance information are in the EPC character set (`charset.sepa_text`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from importlib.resources import files
from typing import Any

from lxml import etree
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError

from ...routing.clock import BERLIN
from ...routing.workflow.facts import normalize_iban
from .charset import NAME_MAX, REMITTANCE_MAX, sepa_text
from .errors import DebtorNotConfigured

SCHEMA = "pain.001.001.09"
NS = f"urn:iso:std:iso:20022:tech:xsd:{SCHEMA}"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Debtor:
    name: str
    iban: str
    bic: str


@dataclass(frozen=True)
class Transfer:
    end_to_end_id: str
    creditor_name: str
    creditor_iban: str
    creditor_bic: str | None
    amount: Decimal
    remittance: str


def iban_problem(value: str | None) -> str | None:
    """None if ``value`` is a valid IBAN, else the German reason."""
    iban = normalize_iban(value)
    if iban is None:
        return "IBAN fehlt"
    try:
        stdnum_iban.validate(iban)
    except ValidationError as exc:
        return f"IBAN {iban} ist ungültig ({type(exc).__name__}: {exc})"
    return None


def valid_bic(value: str | None) -> str | None:
    """The BIC in upper case if valid, else None (a BIC is optional in SEPA: IBAN-only)."""
    bic = "".join(str(value or "").split()).upper()
    return bic if bic and stdnum_bic.is_valid(bic) else None


def debtor_from(settings: Any) -> Debtor:
    """The municipality's account from the settings; refuses (nothing written) when incomplete or invalid."""
    name = sepa_text(getattr(settings, "debtor_name", None), NAME_MAX)
    iban = normalize_iban(getattr(settings, "debtor_iban", None))
    bic_raw = (getattr(settings, "debtor_bic", None) or "").strip()
    missing = [env for env, value in (("EINVOICE_DEBTOR_NAME", name), ("EINVOICE_DEBTOR_IBAN", iban),
                                      ("EINVOICE_DEBTOR_BIC", bic_raw)) if not value]
    if missing:
        raise DebtorNotConfigured("Zahlungsdatei nicht erstellt: das Konto der Kommune ist nicht eingerichtet "
                                  f"(fehlt: {', '.join(missing)})")
    problem = iban_problem(iban)
    if problem:
        raise DebtorNotConfigured(f"Zahlungsdatei nicht erstellt: EINVOICE_DEBTOR_IBAN: {problem}")
    bic = valid_bic(bic_raw)
    if bic is None:
        raise DebtorNotConfigured(f"Zahlungsdatei nicht erstellt: EINVOICE_DEBTOR_BIC {bic_raw!r} ist ungültig")
    return Debtor(name=name, iban=iban, bic=bic)


def _german(amount: Decimal) -> str:
    return f"{amount.quantize(CENT):,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")


def remittance(invoice_number: str, skonto: Decimal) -> str:
    """Unstructured remittance: the invoice number, plus ``Skonto x EUR`` when deducted (≤ 140 characters)."""
    suffix = f" Skonto {_german(skonto)} EUR" if skonto > 0 else ""
    return sepa_text(invoice_number, REMITTANCE_MAX - len(suffix)) + suffix


def cents(amount: Decimal) -> int:
    value = amount * 100
    if value != value.to_integral_value() or value <= 0:
        raise ValueError(f"amount {amount} is not a positive amount in whole cents")
    return int(value)


@lru_cache(maxsize=1)
def _schema() -> etree.XMLSchema:
    path = files("sepaxml") / "schemas" / f"{SCHEMA}.xsd"
    return etree.XMLSchema(etree.parse(str(path), _parser()))


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def xsd_errors(xml: bytes) -> list[str]:
    """The pain.001.001.09 XSD errors of ``xml`` (empty: valid)."""
    schema = _schema()
    if schema.validate(etree.fromstring(xml, _parser())):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


def _set(root: etree._Element, path: str, text: str) -> None:
    nodes = root.findall(path, {"p": NS})
    if len(nodes) != 1:
        raise RuntimeError(f"sepaxml output has {len(nodes)} {path} elements, expected one")
    nodes[0].text = text


def build_pain001(debtor: Debtor, transfers: list[Transfer], *, message_id: str, execution_date: date,
                  created_at: datetime) -> bytes:
    """The pain.001.001.09 document (UTF-8 bytes); raises if it fails the XSD or the sums."""
    from sepaxml import SepaTransfer

    if not transfers:
        raise ValueError("a payment file needs at least one transfer")
    for account in [debtor.iban, *(t.creditor_iban for t in transfers)]:
        if iban_problem(account):  # runs.py refuses these first: this is the last line of defence
            raise ValueError(iban_problem(account))
    sepa = SepaTransfer({"name": debtor.name, "IBAN": debtor.iban, "BIC": debtor.bic, "batch": True,
                         "currency": "EUR"}, schema=SCHEMA, clean=False)
    for t in transfers:
        payment = {"name": t.creditor_name, "IBAN": t.creditor_iban, "amount": cents(t.amount),
                   "execution_date": execution_date, "description": t.remittance, "endtoend_id": t.end_to_end_id}
        if t.creditor_bic:
            payment["BIC"] = t.creditor_bic
        sepa.add_payment(payment)
    root = etree.fromstring(sepa.export(validate=False), _parser())
    _set(root, "p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId", message_id)
    _set(root, "p:CstmrCdtTrfInitn/p:GrpHdr/p:CreDtTm", created_at.astimezone(BERLIN).isoformat(timespec="seconds"))
    _set(root, "p:CstmrCdtTrfInitn/p:PmtInf/p:PmtInfId", f"{message_id}-1")
    xml = b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="UTF-8", xml_declaration=False,
                                                                      pretty_print=True)
    errors = xsd_errors(xml)
    if errors:
        raise RuntimeError("the payment file fails the pain.001.001.09 XSD: " + "; ".join(errors[:5]))
    check_totals(xml, len(transfers), sum((t.amount for t in transfers), Decimal("0.00")))
    return xml


def totals(xml: bytes) -> dict[str, Any]:
    """NbOfTxs and CtrlSum of the group header and of each PmtInf, and the sum of the transactions."""
    root = etree.fromstring(xml, _parser())
    ns = {"p": NS}
    amounts = [Decimal(a.text) for a in root.iterfind(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", ns)]

    def pair(node: etree._Element) -> tuple[int, Decimal]:
        return int(node.findtext("p:NbOfTxs", namespaces=ns)), Decimal(node.findtext("p:CtrlSum", namespaces=ns))

    return {"group": pair(root.find("p:CstmrCdtTrfInitn/p:GrpHdr", ns)),
            "payment_infos": [pair(p) for p in root.iterfind("p:CstmrCdtTrfInitn/p:PmtInf", ns)],
            "transactions": (len(amounts), sum(amounts, Decimal("0.00")))}


def check_totals(xml: bytes, count: int, total: Decimal) -> None:
    """Raise unless every NbOfTxs/CtrlSum of the file equals ``count``/``total`` and the transactions."""
    found = totals(xml)
    expected = (count, total)
    if found["group"] != expected or found["transactions"] != expected or found["payment_infos"] != [expected]:
        raise RuntimeError(f"payment file totals {found} do not match {count} transfers of {total}")
