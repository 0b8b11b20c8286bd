"""Installing and using rule packs in the KoSIT validator-configuration layout (`einvoice rules ...`).

Every test builds its own small pack in tmp_path (written here, nothing copied from third parties):

    scenarios.xml                       three scenarios + noScenarioReport
    resources/test-invoice.xsd          permissive XSD, root Invoice (UBL Invoice namespace)
    resources/test-creditnote.xsd       permissive XSD, root CreditNote (UBL CreditNote namespace)
    resources/test-rules.xsl            XSLT 2.0 emitting SVRL:
                                          TEST-01 flag="fatal"   when the document has no cbc:Note
                                          TEST-02 flag="warning" always
    resources/report.xsl                trivial report stylesheet (named by createReport, never run)

Scenarios (first match wins):
    "Test CIUS (UBL Invoice)"           Invoice with TEST_CIUS        no custom levels
    "Test CIUS lenient (UBL Invoice)"   Invoice with TEST_CIUS_LENIENT  TEST-01 lowered to warning
    "Test CIUS (UBL CreditNote)"        CreditNote with TEST_CIUS     TEST-02 raised to error

Each test points EINVOICE_DATA_DIR at its own folder (so tests are independent) and uses fresh paths
(compiled artefacts are cached per process by path).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from lxml import etree

from einvoice import cli
from einvoice.samples.generate import ubl_invoice

TEST_CIUS = "urn:cen.eu:en16931:2017#compliant#urn:example.org:test-cius_1.0"
TEST_CIUS_LENIENT = "urn:cen.eu:en16931:2017#compliant#urn:example.org:test-cius-lenient_1.0"
XRECHNUNG_30 = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDITNOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CBC_NS = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

# ---------------------------------------------------------------------------------------------------
# the test pack
# ---------------------------------------------------------------------------------------------------


def _scenario(name: str, root_prefix: str, root_ns: str, root: str, spec_id: str, xsd: str,
              custom_levels: str = "", xslt: str = "resources/test-rules.xsl") -> str:
    return f"""
  <scenario>
    <name>{name}</name>
    <description>{root} documents claiming {spec_id}</description>
    <namespace prefix="{root_prefix}">{root_ns}</namespace>
    <namespace prefix="cbc">{CBC_NS}</namespace>
    <match>exists(/{root_prefix}:{root}[cbc:CustomizationID = '{spec_id}'])</match>
    <validateWithXmlSchema>
      <resource><name>Permissive {root} schema</name><location>{xsd}</location></resource>
    </validateWithXmlSchema>
    <validateWithSchematron>
      <resource><name>Test rules</name><location>{xslt}</location></resource>
    </validateWithSchematron>
    <createReport>
      <resource><name>Test report</name><location>resources/report.xsl</location></resource>{custom_levels}
    </createReport>
    <acceptMatch>/*:report/@valid = 'true'</acceptMatch>
  </scenario>"""


def scenarios_xml(xslt: str = "resources/test-rules.xsl") -> str:
    scenarios = "".join([
        _scenario("Test CIUS (UBL Invoice)", "invoice", INVOICE_NS, "Invoice", TEST_CIUS,
                  "resources/test-invoice.xsd", xslt=xslt),
        _scenario("Test CIUS lenient (UBL Invoice)", "invoice", INVOICE_NS, "Invoice", TEST_CIUS_LENIENT,
                  "resources/test-invoice.xsd", xslt=xslt,
                  custom_levels='\n      <customLevel level="warning">TEST-01</customLevel>'),
        _scenario("Test CIUS (UBL CreditNote)", "cn", CREDITNOTE_NS, "CreditNote", TEST_CIUS,
                  "resources/test-creditnote.xsd", xslt=xslt,
                  custom_levels='\n      <customLevel level="error">TEST-02</customLevel>'),
    ])
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenarios xmlns="http://www.xoev.de/de/validator/framework/1/scenarios" frameworkVersion="1.0.0">
  <name>Test configuration 1.2.0</name>
  <author>einvoice tests</author>
  <date>2026-01-31</date>
  <description>A tiny configuration written by the einvoice test suite.</description>{scenarios}
  <noScenarioReport>
    <resource><name>Test report</name><location>resources/report.xsl</location></resource>
  </noScenarioReport>
</scenarios>
"""


def permissive_xsd(namespace: str, root: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="{namespace}"
           elementFormDefault="qualified">
  <xs:element name="{root}">
    <xs:complexType>
      <xs:sequence>
        <xs:any namespace="##any" processContents="skip" minOccurs="0" maxOccurs="unbounded"/>
      </xs:sequence>
      <xs:anyAttribute processContents="skip"/>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""


RULES_XSL = f"""<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="2.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:svrl="http://purl.oclc.org/dsdl/svrl" xmlns:cbc="{CBC_NS}">
  <xsl:output method="xml" indent="yes"/>
  <xsl:template match="/">
    <svrl:schematron-output title="einvoice test rules" schemaVersion="iso">
      <svrl:active-pattern id="test"/>
      <svrl:fired-rule context="/*"/>
      <xsl:if test="not(/*/cbc:Note[normalize-space()])">
        <svrl:failed-assert id="TEST-01" flag="fatal" location="/*[1]" test="cbc:Note">
          <svrl:text>[TEST-01] The document must have a note (cbc:Note).</svrl:text>
        </svrl:failed-assert>
      </xsl:if>
      <svrl:failed-assert id="TEST-02" flag="warning" location="/*[1]" test="false()">
        <svrl:text>[TEST-02] This document was checked by a test rule pack.</svrl:text>
      </svrl:failed-assert>
    </svrl:schematron-output>
  </xsl:template>
</xsl:stylesheet>
"""

REPORT_XSL = """<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="2.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:template match="/"><xsl:copy-of select="."/></xsl:template>
</xsl:stylesheet>
"""

# does not compile: an incomplete XPath expression (well-formed XML)
BAD_XPATH_XSL = RULES_XSL.replace('test="not(/*/cbc:Note[normalize-space()])"', 'test="not(/*/cbc:Note"')
# does not compile: not even well-formed XML
MALFORMED_XSL = RULES_XSL.replace("</xsl:stylesheet>", "")


def write_pack(folder: Path, *, rules_xsl: str = RULES_XSL, scenarios: str | None = None) -> Path:
    """Write the test pack into folder (created) and return folder."""
    resources = folder / "resources"
    resources.mkdir(parents=True)
    (folder / "scenarios.xml").write_text(scenarios or scenarios_xml(), encoding="utf-8")
    (resources / "test-invoice.xsd").write_text(permissive_xsd(INVOICE_NS, "Invoice"), encoding="utf-8")
    (resources / "test-creditnote.xsd").write_text(permissive_xsd(CREDITNOTE_NS, "CreditNote"), encoding="utf-8")
    (resources / "test-rules.xsl").write_text(rules_xsl, encoding="utf-8")
    (resources / "report.xsl").write_text(REPORT_XSL, encoding="utf-8")
    return folder


def zip_folder(folder: Path, zip_path: Path, top: str | None = "test-config-1.2.0") -> Path:
    """Zip folder's files, below a top-level folder `top` like the official releases (or at the root)."""
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                rel = path.relative_to(folder).as_posix()
                archive.write(path, f"{top}/{rel}" if top else rel)
    return zip_path


def pack_zip(tmp_path: Path, file_name: str = "test-config-1.2.0.zip", **kwargs) -> Path:
    return zip_folder(write_pack(tmp_path / "pack-src", **kwargs), tmp_path / file_name)


def hashes(path: Path) -> dict[str, str]:
    """sha256 of a file, or of every file below a folder (by relative path)."""
    if path.is_file():
        return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()}
    return {p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------------------
# documents
# ---------------------------------------------------------------------------------------------------


def document(customization: str = TEST_CIUS, *, note: bool = True, credit_note: bool = False) -> bytes:
    """A generated UBL document with the given BT-24; note=False removes the top-level cbc:Note."""
    data = ubl_invoice(customization=customization, credit_note=credit_note)
    if note:
        return data
    root = etree.fromstring(data)
    for el in root.findall(f"{{{CBC_NS}}}Note"):
        root.remove(el)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def write_document(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------------------------------------------
# running einvoice
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """A data directory of this test only."""
    path = tmp_path / "data"
    monkeypatch.setenv("EINVOICE_DATA_DIR", str(path))
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # drop earlier output
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def install(capsys, source: Path, *options: str) -> tuple[int, str, str]:
    return run(capsys, "rules", "install", source, *options)


def validate_json(capsys, path: Path, *options: str) -> tuple[int, dict]:
    code, out, err = run(capsys, "validate", "--format", "json", *options, path)
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, (out, err)
    return code, json.loads(lines[0])


def engine():
    from einvoice.validation import ValidationEngine

    return ValidationEngine()  # reads EINVOICE_DATA_DIR now


def levels(findings, prefix: str = "TEST-") -> dict[str, str]:
    """rule id -> severity of the findings whose id starts with prefix (dicts or Finding objects)."""
    rows = [(f["rule_id"], f["severity"]) if isinstance(f, dict) else (f.rule_id, f.severity.value) for f in findings]
    return {rule: severity for rule, severity in rows if rule.startswith(prefix)}


def installed_folders(data_dir: Path) -> list[str]:
    packs = data_dir / "rule-packs"
    return sorted(p.name for p in packs.iterdir() if p.is_dir()) if packs.is_dir() else []


def active(data_dir: Path) -> str | None:
    marker = data_dir / "rule-packs" / "active"
    return marker.read_text(encoding="utf-8").strip() if marker.is_file() else None


# ---------------------------------------------------------------------------------------------------
# 1. installing from a zip and from a folder
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("top", ["test-config-1.2.0", None], ids=["zip-with-top-folder", "zip-flat"])
def test_install_from_zip(tmp_path, data_dir, capsys, top):
    source = zip_folder(write_pack(tmp_path / "src"), tmp_path / "test-config-1.2.0.zip", top=top)
    before = hashes(source)

    code, out, err = install(capsys, source)
    assert code == 0, err
    assert "test-config-1.2.0" in out and "3 scenarios" in out

    assert hashes(source) == before  # the zip is untouched
    assert installed_folders(data_dir) == ["test-config-1.2.0"]  # no staging folder left behind
    folder = data_dir / "rule-packs" / "test-config-1.2.0"
    assert (folder / "scenarios.xml").is_file() and (folder / "resources" / "test-rules.xsl").is_file()
    assert active(data_dir) == "test-config-1.2.0"

    code, out, _ = run(capsys, "rules", "list")
    assert code == 0
    line = next(line for line in out.splitlines() if "test-config-1.2.0" in line.split())
    assert line.startswith("*"), out  # marked active
    assert "1.2.0" in line.split()[2:], line  # the version column
    assert "3 scenarios" in line
    default = next(line for line in out.splitlines() if line.split()[:1] == ["default"])
    assert not default.startswith("*")


def test_install_from_folder(tmp_path, data_dir, capsys):
    source = write_pack(tmp_path / "my-config")
    before = hashes(source)

    code, out, err = install(capsys, source, "--name", "folderpack")
    assert code == 0, err
    assert hashes(source) == before  # nothing written into the source folder (no metadata file)
    assert sorted(p.name for p in source.iterdir()) == ["resources", "scenarios.xml"]
    assert installed_folders(data_dir) == ["folderpack"]
    assert active(data_dir) == "folderpack"

    code, out, _ = run(capsys, "rules", "list", "-v")
    assert code == 0
    line = next(line for line in out.splitlines() if "folderpack" in line.split())
    assert line.startswith("*")
    # the folder name has no version: the version comes from scenarios.xml (name 1.2.0, date 2026-01-31)
    assert "1.2.0" in line, line
    for name in ("Test CIUS (UBL Invoice)", "Test CIUS lenient (UBL Invoice)", "Test CIUS (UBL CreditNote)"):
        assert f"- {name}" in out


def test_install_without_activating_keeps_the_active_pack(tmp_path, data_dir, capsys):
    source = write_pack(tmp_path / "src")
    assert install(capsys, source, "--name", "first")[0] == 0
    assert install(capsys, source, "--name", "second", "--no-activate")[0] == 0
    assert active(data_dir) == "first"
    out = run(capsys, "rules", "list")[1]
    assert next(l for l in out.splitlines() if "first" in l.split()).startswith("*")
    assert not next(l for l in out.splitlines() if "second" in l.split()).startswith("*")


# ---------------------------------------------------------------------------------------------------
# 2. documents of the test CIUS are validated by the installed pack
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def test_pack(tmp_path, data_dir, capsys) -> str:
    code, _, err = install(capsys, write_pack(tmp_path / "src"), "--name", "testpack")
    assert code == 0, err
    return "testpack"


def test_engine_routes_test_cius_to_installed_pack(test_pack):
    result = engine().validate(document(note=False), "no-note.xml")
    assert result.pack is not None and result.pack.split()[0] == "testpack"
    assert result.scenario == "Test CIUS (UBL Invoice)"
    assert levels(result.findings) == {"TEST-01": "error", "TEST-02": "warning"}
    assert result.valid is False

    result = engine().validate(document(note=True), "with-note.xml")
    assert result.scenario == "Test CIUS (UBL Invoice)"
    assert levels(result.findings) == {"TEST-02": "warning"}
    assert result.valid is True, [f.to_dict() for f in result.errors()]
    assert result.triage == "accept"


def test_custom_levels_lower_and_raise(test_pack):
    validator = engine()
    # lenient scenario: TEST-01 (fatal in the SVRL) lowered to warning -> valid without a note
    result = validator.validate(document(TEST_CIUS_LENIENT, note=False), "lenient.xml")
    assert result.scenario == "Test CIUS lenient (UBL Invoice)"
    assert levels(result.findings) == {"TEST-01": "warning", "TEST-02": "warning"}
    assert result.valid is True

    # credit-note scenario: TEST-02 (warning in the SVRL) raised to error -> invalid even with a note
    result = validator.validate(document(note=True, credit_note=True), "credit-note.xml")
    assert result.kind == "ubl-creditnote"
    assert result.scenario == "Test CIUS (UBL CreditNote)"
    assert levels(result.findings) == {"TEST-02": "error"}
    assert result.valid is False


def test_cli_validates_with_installed_pack(tmp_path, test_pack, capsys):
    docs = tmp_path / "docs"
    code, result = validate_json(capsys, write_document(docs, "no-note.xml", document(note=False)))
    assert code == 1
    assert result["pack"].split()[0] == "testpack" and result["scenario"] == "Test CIUS (UBL Invoice)"
    assert levels(result["findings"]) == {"TEST-01": "error", "TEST-02": "warning"}
    assert result["valid"] is False

    code, result = validate_json(capsys, write_document(docs, "with-note.xml", document(note=True)))
    assert code == 0
    assert result["valid"] is True
    assert levels(result["findings"]) == {"TEST-02": "warning"}


# ---------------------------------------------------------------------------------------------------
# 3. other documents fall through to the built-in pack; --pack restricts routing
# ---------------------------------------------------------------------------------------------------


def test_xrechnung_still_uses_default_pack_while_test_pack_is_active(tmp_path, test_pack, capsys, data_dir):
    assert active(data_dir) == "testpack"
    result = engine().validate(ubl_invoice(), "xrechnung.xml")
    assert result.pack is not None and result.pack.split()[0] == "default"
    assert result.scenario == "EN16931 XRechnung (UBL Invoice)"
    assert not levels(result.findings)  # the test rules did not run
    assert result.valid is True, [f.to_dict() for f in result.errors()]

    path = write_document(tmp_path / "docs", "xrechnung.xml", ubl_invoice())
    code, data = validate_json(capsys, path)
    assert code == 0 and data["valid"] is True and data["pack"].split()[0] == "default"

    code, data = validate_json(capsys, path, "--pack", "default")
    assert code == 0 and data["valid"] is True
    assert data["scenario"] == "EN16931 XRechnung (UBL Invoice)"


def test_pack_option_without_matching_scenario_says_so(tmp_path, test_pack, capsys):
    path = write_document(tmp_path / "docs", "xrechnung.xml", ubl_invoice())
    code, data = validate_json(capsys, path, "--pack", "testpack")
    assert code == 1 and data["valid"] is False
    assert data["scenario"] is None
    routing = [f for f in data["findings"] if f["rule_id"] in ("EINVOICE-NO-SCENARIO", "EINVOICE-VERSION-UNSUPPORTED")]
    assert len(routing) == 1, data["findings"]
    message = routing[0]["message"]
    assert "XRechnung 3.0" in message
    assert TEST_CIUS in message and TEST_CIUS_LENIENT in message  # the versions the pack accepts
    assert not levels(data["findings"])

    result = engine().validate(ubl_invoice(), "xrechnung.xml", pack="testpack")
    assert result.valid is False and result.scenario is None


def test_unknown_pack_name_is_a_clear_error(tmp_path, test_pack, capsys):
    path = write_document(tmp_path / "docs", "xrechnung.xml", ubl_invoice())
    code, out, err = run(capsys, "validate", "--format", "json", "--pack", "nosuchpack", path)
    assert code == 2 and out == ""  # a usage error, before any document is read
    assert "no rule pack named 'nosuchpack'" in err and "testpack" in err


# ---------------------------------------------------------------------------------------------------
# 4. validity windows
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "option, day",
    [("--valid-until", date(2000, 1, 31)), ("--valid-from", date.today() + timedelta(days=400))],
    ids=["expired", "not-yet-valid"],
)
def test_pack_outside_its_window_is_not_used(tmp_path, data_dir, capsys, option, day):
    code, _, err = install(capsys, write_pack(tmp_path / "src"), "--name", "windowed", option, day.isoformat())
    assert code == 0, err
    window = f"… to {day}" if option == "--valid-until" else f"{day} to …"
    assert f"valid: {window}" in run(capsys, "rules", "list")[1]

    path = write_document(tmp_path / "docs", "test-cius.xml", document(note=True))
    code, data = validate_json(capsys, path)
    assert code == 1 and data["valid"] is False and data["scenario"] is None
    unsupported = [f for f in data["findings"] if f["rule_id"] == "EINVOICE-VERSION-UNSUPPORTED"]
    assert len(unsupported) == 1, data["findings"]
    message = unsupported[0]["message"]
    assert "windowed" in message and day.isoformat() in message  # names the pack and its window
    assert date.today().isoformat() in message
    assert not levels(data["findings"])

    # other documents still validate with the built-in pack
    result = engine().validate(ubl_invoice(), "xrechnung.xml")
    assert result.valid is True and result.pack.split()[0] == "default"


def test_pack_inside_its_window_is_used(tmp_path, data_dir, capsys):
    today = date.today()
    code, _, err = install(capsys, write_pack(tmp_path / "src"), "--name", "windowed",
                           "--valid-from", (today - timedelta(days=1)).isoformat(),
                           "--valid-until", (today + timedelta(days=1)).isoformat())
    assert code == 0, err
    listing = run(capsys, "rules", "list")[1]
    assert f"{today - timedelta(days=1)} to {today + timedelta(days=1)}" in listing

    code, data = validate_json(capsys, write_document(tmp_path / "docs", "ok.xml", document(note=True)))
    assert code == 0 and data["valid"] is True
    assert data["scenario"] == "Test CIUS (UBL Invoice)"


def test_receipt_date_decides_the_window(tmp_path, data_dir, capsys):
    code, _, err = install(capsys, write_pack(tmp_path / "src"), "--name", "y2020",
                           "--valid-from", "2020-01-01", "--valid-until", "2020-12-31")
    assert code == 0, err
    validator = engine()
    inside = validator.validate(document(), "a.xml", receipt_date=date(2020, 12, 31))
    assert inside.scenario == "Test CIUS (UBL Invoice)" and inside.valid is True
    after = validator.validate(document(), "a.xml", receipt_date=date(2021, 1, 1))
    assert after.scenario is None and after.valid is False
    assert [f.rule_id for f in after.findings if f.source == "router"] == ["EINVOICE-VERSION-UNSUPPORTED"]
    before = validator.validate(document(), "a.xml", receipt_date=date(2019, 12, 31))
    assert before.scenario is None and before.valid is False


# ---------------------------------------------------------------------------------------------------
# 5. broken packs are refused and leave nothing behind
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def installed_first(tmp_path, data_dir, capsys) -> str:
    """A good pack installed (and active) before the broken one is tried."""
    code, _, err = install(capsys, write_pack(tmp_path / "good"), "--name", "good")
    assert code == 0, err
    return "good"


def assert_refused(capsys, data_dir: Path, source: Path, *expected_in_message: str) -> str:
    folders_before, active_before = installed_folders(data_dir), active(data_dir)
    before = hashes(source)
    code, out, err = install(capsys, source, "--name", "broken")
    assert code != 0
    assert "Traceback" not in err and err.startswith("einvoice: "), err
    for text in expected_in_message:
        assert text in err, err
    assert installed_folders(data_dir) == folders_before  # no pack, no staging folder
    assert active(data_dir) == active_before
    assert hashes(source) == before
    return err


def test_refuses_pack_naming_a_missing_xslt(tmp_path, data_dir, capsys, installed_first):
    source = write_pack(tmp_path / "src", scenarios=scenarios_xml(xslt="resources/missing-rules.xsl"))
    assert_refused(capsys, data_dir, source, "resources/missing-rules.xsl")
    assert_refused(capsys, data_dir, zip_folder(source, tmp_path / "missing.zip"), "resources/missing-rules.xsl")


@pytest.mark.parametrize("xsl", [BAD_XPATH_XSL, MALFORMED_XSL], ids=["bad-xpath", "not-well-formed"])
def test_refuses_pack_whose_xslt_does_not_compile(tmp_path, data_dir, capsys, installed_first, xsl):
    source = write_pack(tmp_path / "src", rules_xsl=xsl)
    assert_refused(capsys, data_dir, source, "test-rules.xsl")
    assert_refused(capsys, data_dir, zip_folder(source, tmp_path / "bad.zip"), "test-rules.xsl")


def test_refuses_pack_whose_xsd_does_not_load(tmp_path, data_dir, capsys, installed_first):
    source = write_pack(tmp_path / "src")
    (source / "resources" / "test-creditnote.xsd").write_text("<xs:schema", encoding="utf-8")
    assert_refused(capsys, data_dir, source, "test-creditnote.xsd")


def test_refuses_zip_with_path_traversal(tmp_path, data_dir, capsys, installed_first):
    source = pack_zip(tmp_path / "z")
    with zipfile.ZipFile(source, "a") as archive:
        archive.writestr("../evil.txt", "should never be written")
        archive.writestr("test-config-1.2.0/../../evil2.txt", "should never be written")
    err = assert_refused(capsys, data_dir, source, "evil")
    assert "unsafe" in err
    assert list(tmp_path.rglob("evil*.txt")) == []  # data dir, staging folder and source all below tmp_path


def test_refuses_zip_with_absolute_path(tmp_path, data_dir, capsys, installed_first):
    source = pack_zip(tmp_path / "z")
    with zipfile.ZipFile(source, "a") as archive:
        archive.writestr("/tmp/einvoice-test-evil.txt", "should never be written")
    assert_refused(capsys, data_dir, source, "einvoice-test-evil.txt")


def test_refuses_zip_without_scenarios_xml(tmp_path, data_dir, capsys, installed_first):
    source = tmp_path / "no-scenarios.zip"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("config/resources/test-rules.xsl", RULES_XSL)
        archive.writestr("config/readme.txt", "no scenarios here")
    assert_refused(capsys, data_dir, source, "scenarios.xml")


def test_refuses_folder_without_scenarios_xml(tmp_path, data_dir, capsys, installed_first):
    source = write_pack(tmp_path / "src")
    (source / "scenarios.xml").unlink()
    assert_refused(capsys, data_dir, source, "scenarios.xml")


def test_refuses_non_zip_file(tmp_path, data_dir, capsys, installed_first):
    source = tmp_path / "config.zip"
    source.write_bytes(b"this is not a zip archive\n" * 10)
    assert_refused(capsys, data_dir, source, "not a zip")


def test_refuses_missing_source(tmp_path, data_dir, capsys, installed_first):
    code, _, err = install(capsys, tmp_path / "nowhere.zip")
    assert code != 0 and "nowhere.zip" in err
    assert installed_folders(data_dir) == ["good"]


def test_refuses_scenarios_xml_that_is_not_a_configuration(tmp_path, data_dir, capsys, installed_first):
    source = write_pack(tmp_path / "src", scenarios="<scenarios><scenario/></scenarios>")
    assert_refused(capsys, data_dir, source, "scenarios.xml")


def test_refuses_match_expression_that_does_not_compile(tmp_path, data_dir, capsys, installed_first):
    # an undeclared prefix: installed, this would break the routing of every document
    scenarios = scenarios_xml().replace("exists(/invoice:Invoice[", "exists(/nope:Invoice[", 1)
    err = assert_refused(capsys, data_dir, write_pack(tmp_path / "src", scenarios=scenarios),
                         "Test CIUS (UBL Invoice)", "nope")
    assert "scenarios.xml" in err


def test_refuses_resource_outside_the_pack(tmp_path, data_dir, capsys, installed_first):
    (tmp_path / "shared-rules.xsl").write_text(RULES_XSL, encoding="utf-8")
    source = write_pack(tmp_path / "src", scenarios=scenarios_xml(xslt="../shared-rules.xsl"))
    err = assert_refused(capsys, data_dir, source, "../shared-rules.xsl")
    assert "outside the pack" in err


def test_refuses_the_reserved_name_active(tmp_path, data_dir, capsys, installed_first):
    for source, options in [(write_pack(tmp_path / "active"), ()),  # the default name, from the folder
                            (write_pack(tmp_path / "src"), ("--name", "active", "--no-activate"))]:
        code, _, err = install(capsys, source, *options)
        assert code != 0 and "'active' is reserved" in err, err
        assert active(data_dir) == "good" and installed_folders(data_dir) == ["good"]


def test_refuses_the_names_of_built_in_packs(tmp_path, data_dir, capsys, installed_first):
    code, _, err = install(capsys, write_pack(tmp_path / "src"), "--name", "default")
    assert code != 0 and "'default' is reserved" in err, err
    assert installed_folders(data_dir) == ["good"]


def test_refuses_symbolic_links_in_a_pack_folder(tmp_path, data_dir, capsys, installed_first):
    outside = tmp_path / "outside.txt"
    outside.write_text("not part of the pack", encoding="utf-8")
    source = write_pack(tmp_path / "src")
    (source / "resources" / "link.txt").symlink_to(outside)
    assert_refused(capsys, data_dir, source, "symbolic link", "link.txt")


def test_refuses_an_empty_validity_window(tmp_path, data_dir, capsys, installed_first):
    code, _, err = install(capsys, write_pack(tmp_path / "src"), "--name", "x",
                           "--valid-from", "2027-01-01", "--valid-until", "2026-01-01")
    assert code != 0 and "after --valid-until" in err, err
    assert installed_folders(data_dir) == ["good"]


def test_a_damaged_installed_pack_is_skipped_not_fatal(tmp_path, data_dir, capsys, installed_first):
    (data_dir / "rule-packs" / "good" / "scenarios.xml").write_text("<broken", encoding="utf-8")
    result = engine().validate(ubl_invoice(), "xrechnung.xml")
    assert result.valid and result.pack.startswith("default")
    code, out, err = run(capsys, "rules", "list")
    assert code == 0 and "rule pack good skipped" in err and "default" in out


def test_source_file_name_with_quotes_and_backslashes(tmp_path, data_dir, capsys):
    source = pack_zip(tmp_path, file_name='odd "name" \\ 1.2.0.zip')
    code, out, err = install(capsys, source)
    assert code == 0, err
    (name,) = installed_folders(data_dir)
    assert active(data_dir) == name
    assert run(capsys, "rules", "list")[0] == 0
    assert engine().validate(document(), "a.xml").scenario == "Test CIUS (UBL Invoice)"


def test_refused_pack_does_not_break_validation(tmp_path, data_dir, capsys, installed_first):
    assert_refused(capsys, data_dir, write_pack(tmp_path / "src", rules_xsl=BAD_XPATH_XSL), "test-rules.xsl")
    result = engine().validate(document(note=True), "a.xml")
    assert result.pack.split()[0] == "good" and result.valid is True


# ---------------------------------------------------------------------------------------------------
# 6. installing the same name twice
# ---------------------------------------------------------------------------------------------------


def test_second_install_with_same_name_needs_replace(tmp_path, data_dir, capsys):
    source = pack_zip(tmp_path)
    assert install(capsys, source)[0] == 0
    installed = hashes(data_dir / "rule-packs" / "test-config-1.2.0")

    code, _, err = install(capsys, source)
    assert code != 0
    assert "test-config-1.2.0" in err and "--replace" in err
    assert installed_folders(data_dir) == ["test-config-1.2.0"]
    assert hashes(data_dir / "rule-packs" / "test-config-1.2.0") == installed

    # a second pack under another name is fine
    assert install(capsys, source, "--name", "other", "--no-activate")[0] == 0
    assert installed_folders(data_dir) == ["other", "test-config-1.2.0"]

    # --replace swaps in the new content (here: a lenient rule set without TEST-01)
    lenient = pack_zip(tmp_path / "v2", rules_xsl=RULES_XSL.replace('flag="fatal"', 'flag="information"'))
    code, _, err = install(capsys, lenient, "--name", "test-config-1.2.0", "--replace")
    assert code == 0, err
    assert installed_folders(data_dir) == ["other", "test-config-1.2.0"]
    assert active(data_dir) == "test-config-1.2.0"
    rules = (data_dir / "rule-packs" / "test-config-1.2.0" / "resources" / "test-rules.xsl").read_text(encoding="utf-8")
    assert 'flag="information"' in rules
