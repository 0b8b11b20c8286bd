"""The project's own Schematron compiler on small schemas the tests write themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from einvoice.validation import artefacts
from einvoice.validation.schematron.compiler import compiled_path

SCH = 'xmlns:sch="http://purl.oclc.org/dsdl/schematron"'


def _run(sch: Path, xml: str) -> list[tuple]:
    executable = artefacts.xslt(sch)
    svrl = executable.transform_to_value(xdm_node=artefacts.saxon().parse_xml(xml_text=xml))
    return [row[:3] for row in artefacts.svrl_messages(svrl.head)]


@pytest.fixture
def schema(tmp_path):
    (tmp_path / "common.sch").write_text(f"""<sch:schema {SCH} xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
        xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:u="urn:u">
      <sch:ns prefix="u" uri="urn:u"/>
      <sch:let name="LIMIT" value="10"/>
      <xsl:function name="u:twice" as="xs:integer"><xsl:param name="n"/><xsl:sequence select="2 * xs:integer($n)"/></xsl:function>
    </sch:schema>""")
    (tmp_path / "included.sch").write_text(f"""<sch:pattern {SCH} id="included">
      <sch:rule context="b"><sch:report id="INC" flag="information" test="true()">b: <sch:name/></sch:report></sch:rule>
    </sch:pattern>""")
    main = tmp_path / "main.sch"
    main.write_text(f"""<sch:schema {SCH} queryBinding="xslt3">
      <sch:extends href="common.sch"/>
      <sch:phase id="first-only"><sch:active pattern="first"/></sch:phase>
      <sch:pattern id="first">
        <sch:let name="COUNT" value="count(//a)"/>
        <sch:rule context="a[@x]">
          <sch:let name="DOUBLE" value="u:twice(@x)"/>
          <sch:assert id="T-1" flag="fatal" test="$DOUBLE lt $LIMIT">x*2=<sch:value-of select="$DOUBLE"/> of <sch:value-of select="$COUNT"/></sch:assert>
        </sch:rule>
        <sch:rule context="a"><sch:assert id="T-2" test="false()">a without x</sch:assert></sch:rule>
        <sch:rule context="@y"><sch:report id="T-3" flag="warning" test=". = 'bad'">bad y</sch:report></sch:rule>
      </sch:pattern>
      <sch:pattern abstract="true" id="exactly-one">
        <sch:rule context="$parent"><sch:assert id="$rule" test="count($child) = 1">one $child</sch:assert></sch:rule>
      </sch:pattern>
      <sch:pattern is-a="exactly-one" id="second">
        <sch:param name="parent" value="root"/><sch:param name="child" value="b"/><sch:param name="rule" value="T-4"/>
      </sch:pattern>
      <sch:pattern id="third">
        <sch:rule abstract="true" id="non-empty"><sch:assert id="T-5" test="normalize-space(.)">empty <sch:name/></sch:assert></sch:rule>
        <sch:rule context="c"><sch:extends rule="non-empty"/></sch:rule>
      </sch:pattern>
      <sch:include href="included.sch"/>
    </sch:schema>""")
    return main


def test_rules_lets_functions_and_first_match(schema):
    rows = _run(schema, '<root><a x="7" y="bad"/><a/><b/><b/><c> </c></root>')
    assert ("failed-assert", "T-1", "fatal") in rows  # 14 >= 10; global, pattern and rule lets
    assert ("successful-report", "T-3", "warning") in rows  # attribute context
    assert [r for r in rows if r[1] == "T-2"] == [("failed-assert", "T-2", "")]  # a[@x] is shadowed by rule 1
    assert ("failed-assert", "T-4", "") in rows  # abstract pattern instance
    assert ("failed-assert", "T-5", "") in rows  # abstract rule
    assert [r for r in rows if r[1] == "INC"] == [("successful-report", "INC", "information")] * 2


def test_messages_carry_values(schema):
    executable = artefacts.xslt(schema)
    svrl = executable.transform_to_value(xdm_node=artefacts.saxon().parse_xml(xml_text='<root><a x="9"/><b/></root>'))
    texts = {row[1]: row[4] for row in artefacts.svrl_messages(svrl.head)}
    assert texts["T-1"] == "x*2=18 of 1"
    assert texts["INC"] == "b: b"


def test_compiled_xslt_is_cached_by_source_hash(schema):
    first = compiled_path(schema)
    assert compiled_path(schema) == first
    (schema.parent / "common.sch").write_text((schema.parent / "common.sch").read_text().replace("10", "11"))
    assert compiled_path(schema) != first  # an included file changed: new key


def test_broken_rule_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.sch"
    bad.write_text(f"""<sch:schema {SCH}>
  <sch:pattern>
    <sch:rule context="a">
      <sch:assert id="X" test="count(b) = = 1">broken</sch:assert>
    </sch:rule>
  </sch:pattern>
</sch:schema>""")
    with pytest.raises(artefacts.ArtefactError) as exc:
        artefacts.xslt(bad)
    assert f"{bad}:4" in str(exc.value) and "XPST0003" in str(exc.value)


@pytest.mark.parametrize("body,message", [
    ('<sch:pattern><sch:rule><sch:assert test="1">x</sch:assert></sch:rule></sch:pattern>', "needs a context"),
    ('<sch:include href="missing.sch"/>', "not found"),
    ('<sch:pattern is-a="nope"/>', "unknown abstract pattern"),
])
def test_structural_errors_are_clear(tmp_path, body, message):
    bad = tmp_path / "bad.sch"
    bad.write_text(f"<sch:schema {SCH}>\n{body}\n</sch:schema>")
    with pytest.raises(artefacts.ArtefactError) as exc:
        artefacts.xslt(bad)
    assert message in str(exc.value) and f"{bad}" in str(exc.value)


def test_phase_runs_only_its_patterns(schema):
    compiled = compiled_path(schema, phase="first-only")
    executable = artefacts.saxon().new_xslt30_processor().compile_stylesheet(stylesheet_file=str(compiled))
    svrl = executable.transform_to_value(xdm_node=artefacts.saxon().parse_xml(xml_text="<root><a/><c/></root>"))
    assert {row[1] for row in artefacts.svrl_messages(svrl.head)} == {"T-2"}


def test_relative_document_uris_resolve_against_the_rule_file(tmp_path):
    (tmp_path / "lists.xml").write_text("<lists><code>A</code><code>B</code></lists>")
    sch = tmp_path / "uses-list.sch"
    sch.write_text(f"""<sch:schema {SCH} queryBinding="xslt3">
      <sch:let name="CODES" value="document('lists.xml')//code/string()"/>
      <sch:pattern><sch:rule context="c"><sch:assert id="CL" test=". = $CODES">unknown code</sch:assert></sch:rule></sch:pattern>
    </sch:schema>""")
    rows = _run(sch, "<r><c>A</c><c>Z</c></r>")
    assert rows == [("failed-assert", "CL", "")]
