"""`einvoice show FILE [--format json|text|html] [-o OUT] [--coverage]`."""

from __future__ import annotations

import json

import pytest

from einvoice.cli import main
from einvoice.samples.generate import BUYER_LEITWEG_ID, facturx_pdf, ubl_invoice


@pytest.fixture()
def invoice_file(tmp_path):
    path = tmp_path / "rechnung.xml"
    path.write_bytes(ubl_invoice())
    return path


def test_show_json_holds_the_model_and_flat_terms(invoice_file, capsys):
    assert main(["show", str(invoice_file), "--format", "json", "--coverage"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "ubl-invoice" and data["specification"]["family"] == "xrechnung"
    assert data["invoice"]["buyer_reference"] == BUYER_LEITWEG_ID
    assert data["invoice"]["totals"]["amount_due"]["currency"] == "EUR"
    assert data["terms"]["BT-10"] == BUYER_LEITWEG_ID and data["terms"]["BT-126"] == ["1", "2", "3"]
    assert data["terms"]["BT-2"] == "2026-11-02" and isinstance(data["terms"]["BT-115"], str)
    assert data["buyer_reference"]["is_valid"] and data["direction"]["sign"] == 1
    assert data["payment_terms"]["skonto_terms"][0]["deadline"] == "2026-11-16"
    assert data["coverage"] == [] and data["problems"] == []


def test_show_text(invoice_file, capsys):
    assert main(["show", str(invoice_file)]) == 0
    out = capsys.readouterr().out
    assert "BT-10      Käuferreferenz (Leitweg-ID): " + BUYER_LEITWEG_ID in out
    assert "Skonto 2.00 %" in out and "gültig / valid" in out


def test_show_pdf_with_attachment_summary(tmp_path, capsys):
    path = tmp_path / "rechnung.pdf"
    path.write_bytes(facturx_pdf())
    assert main(["show", str(path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "cii" and data["embedded_file"] == "factur-x.xml"


def test_show_html_writes_the_view(invoice_file, tmp_path, capsys):
    out = tmp_path / "view.html"
    assert main(["show", str(invoice_file), "--format", "html", "--no-validate", "-o", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<html lang="de">' in page
    assert "RE-2026-0001" in page and BUYER_LEITWEG_ID in page and "<script" not in page
    assert main(["show", str(invoice_file), "--format", "html"]) == 0  # to stdout, with validation
    assert "Formal gültig" in capsys.readouterr().out


def test_show_unreadable_and_missing_files(tmp_path, capsys):
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<order/>")
    assert main(["show", str(bad)]) == 1
    assert "EINVOICE-NOT-INVOICE" in capsys.readouterr().err
    assert main(["show", str(tmp_path / "missing.xml")]) == 2
