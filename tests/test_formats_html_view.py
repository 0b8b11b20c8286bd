"""The readable invoice view (einvoice.formats.html_view): the page as text, then in real headless Chromium.

The browser part needs Debian's ``chromium`` (``apt-get install -y chromium``) and the ``playwright`` Python
package (test extra; its own browser download is not used). It skips with a message when either is missing.
Screenshots go to ``/tmp/einvoice-html-view/`` (override with ``EINVOICE_SCREENSHOT_DIR``).
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import pytest

from browser import chromium
from einvoice.formats.html_view import render_html
from einvoice.formats.read import read_invoice
from einvoice.samples import generate as g
from einvoice.validation import ValidationEngine

SCREENSHOTS = Path(os.environ.get("EINVOICE_SCREENSHOT_DIR", "/tmp/einvoice-html-view"))
TODAY = date(2026, 11, 5)


def _samples() -> dict[str, bytes]:
    return {
        "ubl-invoice": g.ubl_invoice(6, number="GL-2026-0412", issue_date=date(2026, 10, 27), supplier="gruenpflege",
                                     buyer="landkreis", skonto=(g.Skonto(10, g.Decimal("3.00")),
                                                                g.Skonto(20, g.Decimal("2.00"))),
                                     attachments=(g._attachments()["timesheet"],)),
        "credit-note": g.ubl_invoice(2, number="GS-2026-0001", credit_note=True),
        "facturx-pdf": g.facturx_pdf(g.cii_invoice(4, number="SW-26-10388", issue_date=date(2026, 10, 30),
                                                   customization=g.EN16931, supplier="schreibwerk",
                                                   buyer="musterdorf")),
    }


@pytest.fixture(scope="module")
def pages(engine) -> dict[str, tuple[str, object]]:
    out = {}
    for name, data in _samples().items():
        result = read_invoice(data, f"{name}.{'pdf' if name.endswith('pdf') else 'xml'}")
        out[name] = (render_html(result, engine.validate(data, name), today=TODAY), result)
    return out


# --- the page as text -------------------------------------------------------------------------


def test_page_is_self_contained_and_accessible(pages):
    for name, (page, _) in pages.items():
        assert page.startswith("<!DOCTYPE html>") and '<html lang="de">' in page, name
        assert "<script" not in page and "<link" not in page and "<img" not in page, name
        assert not re.search(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", page), name
        assert "@import" not in page and "url(" not in page, name
        assert re.search(r"<th scope=\"col\"", page) and re.search(r"<th scope=\"row\"", page), name
        assert all('scope="' in th for th in re.findall(r"<th\b[^>]*>", page)), name
        assert "<caption>" in page, name
        assert 'title="BT-1: Rechnungsnummer / Invoice number"' in page, name


def test_invoice_page_shows_terms_payment_and_attachment(pages):
    page, result = pages["ubl-invoice"]
    invoice = result.invoice
    assert "GL-2026-0412" in page and "09571000-BAUHOF-34" in page and "gültige Leitweg-ID" in page
    assert "Grünpflege Lindner GmbH &amp; Co. KG" in page and "Landkreis Beispielhausen" in page
    assert re.search(r"DE\d\d \d{4} \d{4} \d{4} \d{4} \d\d", page)  # IBAN in groups of four
    assert "06.11.2026" in page and "16.11.2026" in page  # Skonto deadlines (10 and 20 days)
    assert "3\u00a0%" in page and "2\u00a0%" in page
    total = invoice.totals.amount_due.value
    assert f"{total:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".") + "\u00a0€" in page
    assert 'download="stundennachweis-2026-10.csv"' in page and 'href="data:text/csv;base64,' in page
    assert "Formal gültig" in page and "rechnerisch" in page
    assert 'data-bt="BT-131"' in page and 'data-bt="BT-116"' in page


def test_credit_note_is_marked(pages):
    page, _ = pages["credit-note"]
    assert "Gutschrift — Betrag zugunsten des Käufers" in page
    assert "Gutschriftsbetrag (zugunsten des Käufers)" in page


def test_hybrid_pdf_offers_the_original_and_the_xml(pages):
    page, result = pages["facturx-pdf"]
    assert result.pdf is not None
    assert 'href="data:application/pdf;base64,' in page and 'download="factur-x.xml"' in page


def test_broken_amounts_are_shown_as_not_arithmetically_correct():
    data = g.ubl_invoice(3, defect="amount-due")
    page = render_html(read_invoice(data), ValidationEngine().validate(data, "x.xml"))
    assert "rechnerisch nicht richtig" in page and "BR-CO-16" in page and "Formal ungültig" in page


def test_values_are_escaped():
    result = read_invoice(g.ubl_invoice(1))
    result.invoice.seller.name = '<script>alert("x")</script>'
    result.invoice.attachments = []
    page = render_html(result)
    assert "<script>alert" not in page and "&lt;script&gt;" in page


# --- in the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    with chromium("the invoice view") as launched:
        yield launched


def _open(browser, page_html: str, name: str, tmp_path: Path):
    path = tmp_path / f"{name}.html"
    path.write_text(page_html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    leaving: list[str] = []

    def route(route_):
        url = route_.request.url
        if url.startswith(("data:", "file:")):
            route_.continue_()
        else:
            leaving.append(url)
            route_.abort()

    page.route("**/*", route)
    page.on("request", lambda request: None if request.url.startswith(("data:", "file:"))
            else leaving.append(request.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, leaving


@pytest.mark.parametrize("name", ["ubl-invoice", "credit-note", "facturx-pdf"])
def test_view_in_headless_chromium(browser, pages, name, tmp_path):
    html, result = pages[name]
    invoice = result.invoice
    page, leaving = _open(browser, html, name, tmp_path)
    try:
        text = page.inner_text("body")
        assert invoice.number in text
        due = invoice.totals.amount_due.value
        assert f"{due:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".") in text
        net = invoice.totals.tax_exclusive.value
        assert f"{net:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".") in text
        assert page.locator("h1").first.is_visible()
        assert page.get_attribute("html", "lang") == "de"
        terms = result.payment_terms()
        if name == "credit-note":
            assert page.get_by_text("Gutschrift — Betrag zugunsten des Käufers").first.is_visible()
        else:
            for term in terms.skonto_terms:
                cell = page.locator(f'[data-skonto-deadline="{term.deadline:%d.%m.%Y}"]')
                assert cell.first.is_visible() and f"{term.deadline:%d.%m.%Y}" in text
            assert terms.skonto_terms
        # hover text: the BT id of the amount due
        assert "BT-115" in page.get_attribute('[data-bt="BT-115"]', "title")
        # downloads are data: URIs with a file name
        for link in page.locator("a[download]").all():
            assert link.get_attribute("href").startswith("data:") and link.get_attribute("download")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        assert leaving == [], f"the page tried to load {leaving}"
    finally:
        page.close()


def test_the_request_guard_catches_a_foreign_resource(browser, tmp_path):
    """The guard above works: a page that loads an external image is caught (the request is aborted, nothing
    leaves the machine)."""
    page, leaving = _open(browser, '<!DOCTYPE html><html lang="de"><body><img src="https://example.invalid/x.png" '
                                   'alt="x"></body></html>', "foreign", tmp_path)
    try:
        assert leaving and leaving[0].startswith("https://example.invalid/")
    finally:
        page.close()
