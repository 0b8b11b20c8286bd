"""Step 3: parse the XML safely (no DTD, no entities, no network)."""

from __future__ import annotations

from lxml import etree

from ..contract import Step
from ..findings import input_error
from ..safe_xml import UnsafeXmlError, parse_untrusted
from ..state import ValidationState


class ParseXml(Step):
    name = "parse"

    def run(self, state: ValidationState) -> None:
        try:
            state.tree = parse_untrusted(state.xml)
        except UnsafeXmlError as exc:
            state.findings.append(input_error("EINVOICE-XML-UNSAFE", str(exc)))
            state.stop("refused XML construct")
        except etree.XMLSyntaxError as exc:
            line = f" (line {exc.lineno}, column {exc.offset})" if exc.lineno else ""
            state.findings.append(
                input_error("EINVOICE-PARSE", f"the file is not well-formed XML{line}: {exc.msg}")
            )
            state.stop("malformed XML")
