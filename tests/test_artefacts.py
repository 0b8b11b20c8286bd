"""Per-process artefact helpers: scenario match expressions (XPath 2.0+, compiled once)."""

from __future__ import annotations

import pytest

from einvoice.validation import artefacts

NS = {"i": "urn:i", "c": "urn:c"}


@pytest.fixture(scope="module")
def document():
    return artefacts.saxon().parse_xml(
        xml_text="<i:Invoice xmlns:i='urn:i' xmlns:c='urn:c'><c:ID>a'b\"c</c:ID></i:Invoice>")


@pytest.mark.parametrize("expression,expected", [
    ("exists(/i:Invoice[c:ID = 'a''b\"c'])", True),  # both quote kinds inside the expression
    ('exists(/i:Invoice[c:ID = "a\'b""c"])', True),
    ("exists(/i:Invoice[c:ID = 'other'])", False),
    ("/i:Invoice/c:ID", True),  # effective boolean value of a node sequence
])
def test_match_expressions(document, expression, expected):
    assert artefacts.xpath_is_true(expression, NS, document) is expected


def test_broken_match_expression_is_a_clear_error(document):
    with pytest.raises(artefacts.ArtefactError, match="does not compile"):
        artefacts.xpath_is_true("exists(/i:Invoice[", NS, document)
