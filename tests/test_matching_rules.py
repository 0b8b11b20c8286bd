"""The matching rule set: the default file rules/routing/matching.toml, its checks with clear
errors, seeding (replaces the set, logged, summary returned) and the `einvoice matching` CLI."""

from __future__ import annotations

import logging

import pytest

from einvoice.cli import main
from einvoice.routing.matching import load_rules, seed_rules
from einvoice.routing.matching.rules import RuleError, default_rules_file, parse_rules_toml, replace_rules, rule_dicts
from einvoice.store.routing_models import MatchKey
from matching_data import LW_10, master_data, model, parsed_item

pytest_plugins = ["pg"]  # tests/pg.py: the db / db_url fixtures over SQLite and PostgreSQL


def test_default_file_has_the_documented_order():
    rules = parse_rules_toml(default_rules_file().read_text(encoding="utf-8"))
    assert [r["key"] for r in rules] == [MatchKey.ORDER, MatchKey.CONTRACT, MatchKey.LEITWEG, MatchKey.BUYER_REFERENCE,
                                         MatchKey.LINE_REFERENCE, MatchKey.LEITWEG, MatchKey.SUPPLIER_VAT,
                                         MatchKey.SUPPLIER_IBAN, MatchKey.SUPPLIER_NAME]
    assert all(r["pattern"] is None and r["active"] for r in rules)


@pytest.mark.parametrize("text,message", [
    ("[[rule]\nname = 1", "not valid TOML"),
    ("version = 1\n", "no rules"),
    ("[[rules]]\nname = 'x'\nkey = 'order'\n", "unknown top-level entry rules"),
    ("[[rule]]\nname = 'A'\nkey = 'order'\nconfidense = 90\n", "rule 1 „A“: unknown field(s) confidense"),
    ("[[rule]]\nname = 'A'\nkey = 'postcode'\n", "'key' must be one of leitweg, order"),
    ("[[rule]]\nkey = 'order'\n", "'name' is required"),
    ("[[rule]]\nname = 'A'\nkey = 'order'\nconfidence = 101\n", "whole number from 0 to 100"),
    ("[[rule]]\nname = 'A'\nkey = 'order'\nconfidence = 0.9\n", "whole number from 0 to 100"),
    ("[[rule]]\nname = 'A'\nkey = 'order'\npattern = 'B-*'\n", "give 'cost_centre' and/or 'unit'"),
    ("[[rule]]\nname = 'A'\nkey = 'order'\ncost_centre = '1100'\n", "takes its target from master data"),
    ("[[rule]]\nname = 'A'\nkey = 'line_reference'\npattern = '1*'\nunit = 'FB10'\n", "needs a 'cost_centre'"),
    ("[[rule]]\nname = 'A'\nkey = 'order'\n[[rule]]\nname = 'B'\nkey = 'order'\n", "rule 2 „B“: more than 1 active"),
    ("[[rule]]\nname = 'A'\nkey = 'order'\nactive = 'yes'\n", "'active' must be true or false"),
], ids=lambda value: value[:24] if isinstance(value, str) else None)
def test_rule_file_errors_are_clear(text, message):
    with pytest.raises(RuleError) as error:
        parse_rules_toml(text, "matching.toml")
    assert str(error.value).startswith("matching.toml") and message in str(error.value)


def test_seeding_replaces_the_set_logs_and_returns_a_summary(db, caplog):
    with db.transaction() as session:
        master_data(session)
        replace_rules(session, [{"name": "Alt", "key": "order", "confidence": 10}], actor="user:admin")
    with caplog.at_level(logging.INFO, logger="einvoice.routing.matching"), db.transaction() as session:
        summary = seed_rules(session, actor="user:admin")
    assert summary["replaced"] == 1 and summary["count"] == 9 and len(summary["sha256"]) == 64
    assert summary["rules"][0] == {"position": 1, "name": "Bestellung", "key": "order", "confidence": 95}
    assert any("seeded by user:admin" in r.getMessage() and "1 rule(s) replaced by 9" in r.getMessage()
               for r in caplog.records)
    with db.read() as session:
        rules = load_rules(session)
        rows = rule_dicts(session)
    assert [r.position for r in rules] == list(range(1, 10)) and rules[0].name == "Bestellung"
    assert rows[0]["updated_by"] == "user:admin" and rows[0]["key"] == "order"


def test_codes_are_resolved_against_master_data(db, tmp_path):
    with db.transaction() as session:
        master_data(session)
    cases = [("cost_centre = '7777'", "cost centre '7777' is not in the master data"),
             ("cost_centre = '6610'\nunit = 'FB40'", "does not belong to unit 'FB40'"),
             ("cost_centre = '6610'\naccount = '0000'", "account '0000' is not in the master data"),
             ("unit = 'FB99'", "unit 'FB99' is not in the master data")]
    for target, message in cases:
        path = tmp_path / "rules.toml"
        path.write_text(f"[[rule]]\nname = 'Muster'\nkey = 'supplier_name'\npattern = 'X*'\n{target}\n",
                        encoding="utf-8")
        with db.transaction() as session, pytest.raises(RuleError, match=message):
            seed_rules(session, path, actor="user:admin")
    with db.transaction() as session:
        replace_rules(session, [{"name": "Muster", "key": "supplier_name", "pattern": "X*", "cost_centre": "6610"}],
                      actor="user:admin")
        [rule] = load_rules(session)
    assert rule.cost_centre_id is not None and rule.unit_id is None and rule.regex.fullmatch("x Y")
    with db.transaction() as session, pytest.raises(RuleError, match="cannot read"):
        seed_rules(session, tmp_path / "missing.toml", actor="user:admin")


def test_cli_seed_rerun_explain(db, monkeypatch, capsys):
    monkeypatch.setenv("EINVOICE_DATABASE_URL", db.url.render_as_string(hide_password=False))
    with db.transaction() as session:
        ids = master_data(session)
        item_id = parsed_item(session, model(leitweg_id=LW_10)).id
    assert main(["matching", "seed"]) == 0
    assert "Bestellung" in capsys.readouterr().out
    assert main(["matching", "explain", str(item_id)]) == 0
    out = capsys.readouterr().out
    assert f"Rechnung #{item_id} (parsed): matched, Konfidenz 95" in out and "KSt 1100" in out
    assert main(["matching", "rerun", "--actor", "user:admin"]) == 0
    assert '"to_matched": 1' in capsys.readouterr().out
    with db.read() as session:
        from einvoice.routing.matching import current_assignment

        assert current_assignment(session, item_id).cost_centre_id == ids["KSt 1100"]
    assert main(["matching", "explain", "999999"]) == 1
    bad = db.settings.data_dir / "bad.toml"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text("[[rule]]\nname = 'x'\n", encoding="utf-8")
    assert main(["matching", "seed", str(bad)]) == 1
    assert "'key' must be one of" in capsys.readouterr().err
