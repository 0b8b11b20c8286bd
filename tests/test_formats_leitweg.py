"""Leitweg-ID parsing and check digits (examples of shared/spec/leitweg-id.md §2.1)."""

from __future__ import annotations

import pytest

from einvoice.formats.leitweg import LeitwegId, expected_check_digits
from einvoice.formats.read import read_invoice
from einvoice.samples.generate import BUYER_LEITWEG_ID, ubl_invoice


@pytest.mark.parametrize("text,coarse,fine,check,state", [
    ("04011000-1234512345-06", "04011000", "1234512345", "06", "Bremen"),  # KoSIT spec example
    ("991-33333TEST-33", "991", "33333TEST", "33", "Bund"),
    ("09564000-NUE0001-49", "09564000", "NUE0001", "49", "Bayern"),
    ("992-90009-96", "992", "90009", "96", "Bund"),
    ("04011000-45", "04011000", None, "45", "Bremen"),  # coarse only
    ("991-99012-32", "991", "99012", "32", "Bund"),
    ("99661-WEBSERVICEOZG-28", "99661", "WEBSERVICEOZG", "28", "Bund"),
    ("04011000-900X999-08", "04011000", "900X999", "08", "Bremen"),
    ("991-03730-19", "991", "03730", "19", "Bund"),
])
def test_valid_examples(text, coarse, fine, check, state):
    lid = LeitwegId.parse(text)
    assert lid.is_valid and lid.reason is None
    assert (lid.coarse, lid.fine, lid.check_digits, lid.state_name) == (coarse, fine, check, state)
    assert lid.state_code == text[:2] and lid.expected_check_digits == check
    assert expected_check_digits(coarse, fine or "") == check


@pytest.mark.parametrize("text,code", [
    ("04011000-1234512345-07", "check-digits"),  # negative check of the spec
    ("04011000--45", "empty-fine"),  # python-stdnum accepts this, the spec does not
    ("90000000-03083-72", "state"),  # XRechnung test-suite dummy: check digits fine, state 90 unknown
    ("", "empty"),
    ("   ", "empty"),
    ("1-03730-19", "format"),
    ("Max Mustermann", "format"),
    ("991-33333TEST-3", "format"),
    ("991-" + "A" * 31 + "-00", "format"),  # fine part longer than 30
    ("0" * 12 + "-" + "A" * 31 + "-00", "length"),  # 47 characters
    ("12-3", "length"),
])
def test_invalid_examples_name_the_reason(text, code):
    lid = LeitwegId.parse(text)
    assert not lid.is_valid and lid.reason_code == code and lid.reason


def test_wrong_check_digits_name_the_expected_ones():
    lid = LeitwegId.parse("04011000-1234512345-07")
    assert lid.expected_check_digits == "06" and "06" in lid.reason


def test_intake_normalisation_is_case_and_space_insensitive():
    lid = LeitwegId.parse(" 991-33333test-33 ")
    assert lid.is_valid and lid.normalized == "991-33333TEST-33" and lid.fine == "33333TEST"


def test_generated_invoice_buyer_reference_is_a_valid_leitweg_id():
    invoice = read_invoice(ubl_invoice()).invoice
    lid = LeitwegId.parse(invoice.buyer_reference)
    assert lid.is_valid and str(lid) == BUYER_LEITWEG_ID and lid.state_name == "Nordrhein-Westfalen"
