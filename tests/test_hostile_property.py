"""Property-based test (hypothesis, derandomized, bounded): mutated valid samples never crash anything
and are never accepted against the validator's verdict.

Samples: the project's generated UBL and CII invoices and a Factur-X PDF (`einvoice.samples.generate`).
Mutations: delete an element, duplicate one, replace its text (random text, numbers, dates, values
known to be awkward), swap two siblings, truncate the bytes, flip a byte; a mutated CII can also be
embedded as ``factur-x.xml`` in a PDF. For every mutant:

1. ENGINE: `ValidationEngine.validate` returns a verdict (valid, or invalid with an error finding),
   never raises and never reports EINVOICE-INTERNAL;
2. PIPELINE: on a fresh SQLite database of the example town, `receive` + the ``process`` job (and the
   ``route`` job when parsed) never raise; an item the validator rejects is ``rejected`` and never in
   an accepted state (validated/parsed/matched/in_approval/…);
3. the pipeline's stored verdict (valid, triage, error rule ids) equals the engine's for the same bytes.

Prints nothing; on failure hypothesis shows the minimal mutant.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from einvoice.intake.process import process_item
from einvoice.intake.receive import receive
from einvoice.routing.masterdata import import_folder
from einvoice.routing.matching.rules import seed_rules
from einvoice.routing.route import route_item
from einvoice.routing.workflow.definitions import load_file, replace_workflows
from einvoice.samples.generate import EN16931, cii_invoice, facturx_pdf, ubl_invoice
from einvoice.store import Database, IntakeItem, ValidationReport
from einvoice.store.migrate import upgrade

from hostile_data import pdf_with
from pg import make_settings

ROOT = Path(__file__).resolve().parent.parent
ACCEPTED = {"validated", "parsed", "matched", "in_approval", "approved", "exported", "archived"}
AWKWARD = ["", " ", "NaN", "-0", "1e309", "1,00", "9" * 40, "-550", "0.000000001", "2026-02-30", "20260230",
           "0000-01-01", "9999-12-31", "yesterday", "#SKONTO#TAGE=99999999999#PROZENT=2.00#\n",
           "#SKONTO#TAGE=14#PROZENT=" + "9" * 30 + ".00#\n", "DE00000000000000000000", "ÄÖÜß€", "<>&\"'",
           "urn:cen.eu:en16931:2017", "EUR", "XXX", "S", "Z", "380", "381"]

SAMPLES = {
    "ubl": ubl_invoice(number="PROP-1", issue_date=date.today()),
    "cii": cii_invoice(number="PROP-2", customization=EN16931, issue_date=date.today()),
}
SAMPLES["pdf"] = facturx_pdf(SAMPLES["cii"])

xml_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40)
values = st.one_of(st.sampled_from(AWKWARD), xml_text, st.integers().map(str),
                   st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
                   st.dates().map(date.isoformat))


@st.composite
def mutants(draw) -> bytes:
    name = draw(st.sampled_from(["ubl", "cii", "pdf", "cii-in-pdf"]))
    if name == "pdf":  # byte mutations only: the PDF structure itself
        return _bytes_mutation(draw, SAMPLES["pdf"])
    source = "cii" if name == "cii-in-pdf" else name
    if draw(st.integers(0, 6)) == 0:  # a byte mutation of the XML
        data = _bytes_mutation(draw, SAMPLES[source])
    else:  # one to three element mutations
        tree = etree.fromstring(SAMPLES[source])
        for _ in range(draw(st.integers(1, 3))):
            _mutate_element(draw, tree)
        data = etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
    return pdf_with([("factur-x.xml", data)]) if name == "cii-in-pdf" else data


def _mutate_element(draw, tree) -> None:
    elements = list(tree.iter())
    target = elements[draw(st.integers(1, len(elements) - 1))]  # never the root itself
    parent = target.getparent()
    kind = draw(st.sampled_from(["delete", "duplicate", "text", "text", "swap"]))
    if kind == "delete":
        parent.remove(target)
    elif kind == "duplicate":
        parent.insert(parent.index(target), etree.fromstring(etree.tostring(target)))
    elif kind == "text":
        target.text = draw(values)
    else:  # swap with a sibling
        siblings = list(parent)
        other = siblings[draw(st.integers(0, len(siblings) - 1))]
        i, j = parent.index(target), parent.index(other)
        if i != j:
            parent.remove(target)
            parent.insert(j, target)


def _bytes_mutation(draw, data: bytes, kind: str | None = None) -> bytes:
    kind = kind or draw(st.sampled_from(["truncate", "flip"]))
    at = draw(st.integers(0, len(data) - 1))
    if kind == "truncate":
        return data[:at]
    return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]


@pytest.fixture(scope="module")
def town_template(tmp_path_factory) -> Path:
    """A migrated SQLite file with the example town's master data, matching rules and workflows."""
    path = tmp_path_factory.mktemp("property-town") / "town.db"
    upgrade(f"sqlite:///{path}")
    template = Database(settings=make_settings(path.parent / "data", f"sqlite:///{path}"))
    with template.transaction() as session:
        import_folder(session, ROOT / "rules/routing/example-masterdata", actor="system:test")
        seed_rules(session, actor="system:test")
        replace_workflows(session, load_file())
    template.dispose()
    return path


def _errors(findings) -> list[str]:
    return sorted({f["rule_id"] for f in findings if f["severity"] == "error"})


@settings(max_examples=120, deadline=None, derandomize=True, database=None, print_blob=False,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=mutants())
def test_mutants_never_crash_and_never_pass_the_validator(engine, town_template, data):
    result = engine.validate(data, "mutant")  # 1. ENGINE
    expected = result.to_dict()
    assert isinstance(result.valid, bool) and result.triage in ("accept", "review", "reject")
    assert result.valid == (result.triage == "accept")
    assert result.valid or _errors(expected["findings"]), expected
    assert "EINVOICE-INTERNAL" not in _errors(expected["findings"]), expected

    folder = Path(tempfile.mkdtemp(prefix="einvoice-property-"))
    try:  # 2. PIPELINE on a fresh database: no duplicates of earlier examples
        shutil.copyfile(town_template, folder / "einvoice.db")
        db = Database(settings=make_settings(folder / "data", f"sqlite:///{folder / 'einvoice.db'}"))
        try:
            item = receive(db, data, channel="upload", sender="property@example.com", file_name="mutant")
            state = process_item(db, item.id, engine=engine)
            if state == "parsed":
                state = route_item(db, item.id)
            with db.read() as session:
                stored = session.get(IntakeItem, item.id)
                report = session.scalars(sa.select(ValidationReport)
                                         .where(ValidationReport.item_id == item.id)).one()
                assert stored.state == state
                assert db.blobs.get(stored.sha256) == data
            if not result.valid:
                assert state == "rejected" and state not in ACCEPTED
            else:
                # valid but not readable into the model: failed at once with the reader's code, no retry loop
                assert state in ACCEPTED or (state == "failed" and (stored.error or "").startswith("EINVOICE-"))
            # 3. the pipeline's verdict is the engine's
            assert (report.valid, report.triage) == (result.valid, result.triage)
            assert _errors(report.report["findings"]) == _errors(expected["findings"])
        finally:
            db.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
