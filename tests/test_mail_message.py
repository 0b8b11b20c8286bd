"""Splitting an e-mail into invoice candidates: attachments, pairing XML + PDF, zip archives, limits."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from einvoice.intake.mail.message import MailLimits, MailTooLarge, clean_name, parse_mail
from einvoice.samples.generate import EN16931, _minimal_pdf, cii_invoice, facturx_pdf, ubl_invoice

pytest.register_assert_rewrite("mailservers")
from mailservers import build_mail, make_zip  # noqa: E402  (tests/mailservers.py: mail servers and test mails)


def _facturx(number: str, **kwargs) -> bytes:
    return facturx_pdf(cii_invoice(number=number, customization=EN16931, **kwargs))


def _names(parsed):
    return [(c.file_name, c.companion.file_name if c.companion else None, c.pairing) for c in parsed.candidates]


def test_mail_without_attachment_has_no_candidate_and_an_invoice_in_the_body_is_noticed():
    parsed = parse_mail(build_mail(body="Rechnung RE-1 über 100 EUR, bitte überweisen."))
    assert parsed.candidates == [] and not parsed.body_has_invoice
    assert parsed.notify_to == "buchhaltung@musterbau.example"

    pasted = parse_mail(build_mail(body=ubl_invoice(number="RE-2026-0001").decode("utf-8")))
    assert pasted.candidates == [] and pasted.body_has_invoice  # never an invoice, but the notice says why


def test_an_xml_sent_as_the_whole_mail_is_the_body_not_an_invoice():
    message = EmailMessage()
    message["From"] = "erp@musterbau.example"
    message["Subject"] = "Rechnung"
    message.set_content(ubl_invoice(number="RE-1"), maintype="application", subtype="xml")
    del message["Content-Disposition"]
    parsed = parse_mail(message.as_bytes())
    assert parsed.candidates == [] and parsed.body_has_invoice


def test_one_three_and_mixed_syntaxes():
    one = parse_mail(build_mail([("re-1.xml", ubl_invoice(number="RE-1"))]))
    assert _names(one) == [("re-1.xml", None, None)]
    assert one.candidates[0].data == ubl_invoice(number="RE-1")  # the bytes exactly as attached

    three = parse_mail(build_mail([("a.xml", ubl_invoice(number="RE-A")), ("b.xml", cii_invoice(number="RE-B")),
                                   ("c.pdf", _facturx("RE-C"))]))
    assert _names(three) == [("a.xml", None, None), ("b.xml", None, None), ("c.pdf", None, None)]
    assert {p.status for p in three.parts} == {"invoice", "hybrid"}


def test_xml_and_facturx_of_the_same_invoice_are_one_candidate_with_the_xml_as_original():
    xml = cii_invoice(number="RE-2026-0100", customization=EN16931)
    parsed = parse_mail(build_mail([("re.xml", xml), ("re.pdf", facturx_pdf(xml))]))
    assert _names(parsed) == [("re.xml", "re.pdf", "facturx")]
    assert parsed.candidates[0].data == xml
    roles = {p.file_name: p.role for p in parsed.parts}
    assert roles == {"re.xml": "invoice", "re.pdf": "companion"}


def test_xml_and_facturx_of_different_invoices_stay_two():
    parsed = parse_mail(build_mail([("a.xml", ubl_invoice(number="RE-1")), ("b.pdf", _facturx("RE-2"))]))
    assert _names(parsed) == [("a.xml", None, None), ("b.pdf", None, None)]


def test_plain_visual_copy_is_paired_by_number_and_seller_other_pdfs_are_kept():
    xml = ubl_invoice(number="RE-2026-0200")
    copy = _minimal_pdf(["Rechnung RE-2026-0200", "Musterbau GmbH, Hauptstraße 1", "Zahlbetrag 1.119,96 EUR"])
    terms = _minimal_pdf(["Allgemeine Geschäftsbedingungen", "Musterbau GmbH"])
    other = _minimal_pdf(["Rechnung RE-2026-02001", "Musterbau GmbH"])  # a longer number is another invoice
    parsed = parse_mail(build_mail([("re.xml", xml), ("agb.pdf", terms), ("kopie.pdf", copy), ("x.pdf", other)]))
    assert _names(parsed) == [("re.xml", "kopie.pdf", "visual-copy")]
    roles = {p.file_name: p.role for p in parsed.parts}
    assert roles == {"re.xml": "invoice", "agb.pdf": "other", "kopie.pdf": "companion", "x.pdf": "other"}
    assert {n["file"] for n in parsed.notes if n["code"] == "pdf-kept"} == {"agb.pdf", "x.pdf"}


def test_visual_copy_of_another_seller_is_not_paired():
    xml = ubl_invoice(number="RE-2026-0300")
    copy = _minimal_pdf(["Rechnung RE-2026-0300", "Ganz Andere GmbH"])
    parsed = parse_mail(build_mail([("re.xml", xml), ("kopie.pdf", copy)]))
    assert _names(parsed) == [("re.xml", None, None)]


def test_a_plain_pdf_alone_is_a_candidate_so_the_sender_learns_it_is_no_e_invoice():
    parsed = parse_mail(build_mail([("rechnung.pdf", _minimal_pdf(["Rechnung 4711"]))]))
    assert _names(parsed) == [("rechnung.pdf", None, None)]
    assert parsed.parts[0].status == "plain"


def test_broken_and_non_invoice_xml():
    broken = ubl_invoice(number="RE-9")[:300]
    parsed = parse_mail(build_mail([("broken.xml", broken), ("lieferschein.xml", b"<Lieferschein/>")]))
    # the broken one may be a broken invoice: candidate; a non-invoice XML next to it is kept only
    assert _names(parsed) == [("broken.xml", None, None)]
    assert {p.file_name: p.role for p in parsed.parts}["lieferschein.xml"] == "other"
    alone = parse_mail(build_mail([("lieferschein.xml", b"<Lieferschein/>")]))
    assert _names(alone) == [("lieferschein.xml", None, None)]  # alone: rejected by validation, with the reason


def test_zip_is_unpacked_safely_with_one_level_of_nesting():
    inner = make_zip([("tief/re-3.xml", ubl_invoice(number="RE-3")),
                      ("noch-tiefer.zip", make_zip([("re-4.xml", ubl_invoice(number="RE-4"))]))])
    archive = make_zip([
        ("../../etc/re-1.xml", ubl_invoice(number="RE-1")),
        ("C:\\Windows\\re-2.xml", cii_invoice(number="RE-2")),
        ("ordner/", b""),
        ("anschreiben.txt", b"Sehr geehrte Damen und Herren"),
        ("inner.zip", inner),
    ])
    parsed = parse_mail(build_mail([("rechnungen.zip", archive)]))
    assert [c.file_name for c in parsed.candidates] == ["re-1.xml", "re-2.xml", "re-3.xml"]
    origins = [c.part.origin for c in parsed.candidates]
    assert origins == ["rechnungen.zip!../../etc/re-1.xml", "rechnungen.zip!C:\\Windows\\re-2.xml",
                       "rechnungen.zip!inner.zip!tief/re-3.xml"]
    assert any(n["code"] == "zip-nested-too-deep" for n in parsed.notes)  # RE-4 is two levels down
    stored = {p.file_name for p in parsed.stored_parts()}
    assert stored == {"rechnungen.zip", "inner.zip", "re-1.xml", "re-2.xml", "re-3.xml"}


def _encrypted_zip(name: str, data: bytes) -> bytes:
    """A zip whose entry is flagged as encrypted (zipfile cannot write encrypted entries: set the bit)."""
    raw = bytearray(make_zip([(name, data)]))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.index(signature) + offset
        raw[at] |= 0x1
    return bytes(raw)


@pytest.mark.parametrize("archive,code", [
    (make_zip([(f"f{i}.xml", b"<x/>") for i in range(6)]), "zip-too-many-entries"),
    (make_zip([("bomb.xml", b"0" * 1_500_000)]), "zip-ratio"),
    (make_zip([("a.xml", bytes(range(256)) * 5000), ("b.xml", bytes(range(256)) * 5000)]), "zip-too-large"),
    (b"PK\x03\x04 this is not really a zip", "zip-unreadable"),
    (_encrypted_zip("secret.xml", b"<x/>"), "zip-encrypted-entry"),
], ids=["entries", "ratio", "total-size", "unreadable", "encrypted"])
def test_zip_limits(archive, code):
    limits = MailLimits(zip_max_entries=5, zip_max_bytes=2_000_000, zip_max_ratio=100)
    parsed = parse_mail(build_mail([("x.zip", archive)]), limits)
    assert parsed.candidates == []
    assert code in {n["code"] for n in parsed.notes}
    assert [p.file_name for p in parsed.stored_parts()] == ["x.zip"]  # the archive itself is kept


def test_message_size_limit():
    raw = build_mail([("re.xml", ubl_invoice(number="RE-1"))])
    with pytest.raises(MailTooLarge):
        parse_mail(raw, MailLimits(max_message_bytes=len(raw) - 1))


def test_notices_go_to_reply_to_and_never_to_automatic_mail():
    reply = parse_mail(build_mail(headers={"Reply-To": "rechnungswesen@musterbau.example"}))
    assert reply.notify_to == "rechnungswesen@musterbau.example" and reply.sender == "buchhaltung@musterbau.example"
    for headers in ({"Auto-Submitted": "auto-replied"}, {"Precedence": "bulk"}, {"List-Id": "<news.example>"},
                    {"X-Auto-Response-Suppress": "All"}):
        parsed = parse_mail(build_mail(headers=headers))
        assert parsed.notify_to is None and parsed.no_notify_reason
    assert parse_mail(build_mail(sender="MAILER-DAEMON@musterbau.example")).notify_to is None
    assert parse_mail(build_mail(), envelope_from="").notify_to is None  # a bounce


@pytest.mark.parametrize("encoded", [False, True], ids=["inline", "base64"])
def test_encoded_file_names_and_forwarded_messages(encoded):
    forwarded = EmailMessage()
    forwarded["From"] = "Kämmerei <kaemmerei@musterstadt.example>"
    forwarded["Subject"] = "WG: Rechnung"
    forwarded.set_content("Zur Kenntnis, die Rechnung hängt an der weitergeleiteten Nachricht.")
    original = build_mail([("Rechnung Müller & Söhne.xml", ubl_invoice(number="RE-77"))])  # RFC 2231 name
    if encoded:
        forwarded.add_attachment(original, maintype="message", subtype="rfc822")  # sent base64-encoded
    else:
        forwarded.add_attachment(email.message_from_bytes(original, policy=email.policy.default))
    parsed = parse_mail(forwarded.as_bytes())
    assert [c.file_name for c in parsed.candidates] == ["Rechnung Müller & Söhne.xml"]
    assert parsed.candidates[0].data == ubl_invoice(number="RE-77")


def test_clean_name():
    assert clean_name("../../etc/passwd", "x") == "passwd"
    assert clean_name("C:\\a\\b.xml", "x") == "b.xml"
    assert clean_name("..", "fallback.xml") == "fallback.xml"
    assert clean_name("re\x00\n.xml", "x") == "re.xml"
    assert len(clean_name("a" * 1000 + ".xml", "x")) == 200
