"""The catalogue is complete and consistent: every EINVOICE_ name in the code is in it, nothing reads
settings past it, defaults agree with `Settings`, and the example file covers every key."""

from __future__ import annotations

import ast
import re
from dataclasses import fields
from pathlib import Path

import pytest

from einvoice.config import FIELDS, Settings
from einvoice.config.catalogue import BY_ENV, BY_FILE_ENV, SECTIONS, SETTINGS
from einvoice.config.show import render_example
from einvoice.config.source import CONFIG_ENV, read_file

ROOT = Path(__file__).resolve().parent.parent
CODE = ROOT / "einvoice"
EXAMPLE = ROOT / "deploy" / "einvoice.toml.example"
NAME = re.compile(r"EINVOICE_[A-Z0-9_]*")
META = {CONFIG_ENV, "EINVOICE_X", "EINVOICE_X_FILE"}  # the settings file; placeholders in docstrings


def _python_files():
    return sorted(CODE.rglob("*.py"))


def test_every_einvoice_name_in_the_code_is_in_the_catalogue():
    unknown = set()
    for path in _python_files():
        for name in NAME.findall(path.read_text(encoding="utf-8")):
            if name.endswith("_"):  # a prefix: EINVOICE_IMAP_{name}, ``EINVOICE_SMTP_RELAY_*``
                if not any(env.startswith(name) for env in BY_ENV):
                    unknown.add(f"{name}* ({path.relative_to(ROOT)})")
            elif name not in BY_ENV and name not in BY_FILE_ENV and name not in META:
                unknown.add(f"{name} ({path.relative_to(ROOT)})")
    assert not unknown, "add these to einvoice/config/catalogue.py: " + ", ".join(sorted(unknown))


def _environment_reads(tree: ast.AST):
    """Lines where os.environ / os.getenv is read (calls of .get / getenv, subscripts that load)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func
            if target.attr == "get" and ast.unparse(target.value) == "os.environ":
                yield node.lineno
            elif target.attr == "getenv" and ast.unparse(target.value) == "os":
                yield node.lineno
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and \
                ast.unparse(node.value) == "os.environ":
            yield node.lineno


def test_settings_are_read_only_through_the_catalogue():
    """One lookup for every setting: no module reads os.environ itself (einvoice.config does; the demo
    reads back the token it put into its own environment for the server it starts)."""
    offenders = []
    for path in _python_files():
        relative = path.relative_to(CODE).as_posix()
        if relative.startswith("config/"):
            continue
        for line in _environment_reads(ast.parse(path.read_text(encoding="utf-8"))):
            text = path.read_text(encoding="utf-8").splitlines()[line - 1].strip()
            if relative == "demo/cli.py" and "os.environ['EINVOICE_API_TOKEN']" in text:
                continue
            offenders.append(f"einvoice/{relative}:{line}: {text}")
    assert not offenders, "use einvoice.config.setting(...) instead:\n" + "\n".join(offenders)


def test_names_and_keys_are_unique_and_sections_described():
    assert len(BY_ENV) == len(SETTINGS) == len({(s.section, s.key) for s in SETTINGS})
    assert {s.section for s in SETTINGS} == set(SECTIONS)
    assert not set(BY_FILE_ENV) & set(BY_ENV)
    assert len(SETTINGS) >= 60
    for setting in SETTINGS:
        assert setting.help and not setting.help.endswith(".") and len(setting.help) <= 110, setting.env
        if setting.secret:
            assert setting.default is None, f"{setting.env}: a secret has no default"


def test_settings_fields_and_catalogue_agree():
    assert set(FIELDS) == {f.name for f in fields(Settings)} - {"data_dir"}
    for field in fields(Settings):
        if field.name == "data_dir":
            continue
        assert BY_ENV[FIELDS[field.name]].default == field.default, field.name


def test_bundesland_choices_are_the_holiday_calendars_lands():
    from einvoice.routing.deadlines.calendar import LANDS

    assert set(BY_ENV["EINVOICE_BUNDESLAND"].choices) == set(LANDS)


def test_the_example_file_documents_every_setting_and_loads_when_uncommented(tmp_path):
    text = render_example()
    assert read_file(_write(tmp_path / "as-is.toml", text)).values == {}  # all commented out: changes nothing
    for setting in SETTINGS:
        assert f"Env: {setting.env}" in text, setting.env
    uncommented = re.sub(r"(?m)^# ([a-z_]+ = )", r"\1", text)
    loaded = read_file(_write(tmp_path / "uncommented.toml", uncommented))
    assert loaded.problems == ()
    keys = {(s.section, s.file_key if s.secret else s.key) for s in SETTINGS}
    assert set(loaded.values) == keys
    assert render_example() == text  # deterministic, independent of this machine's settings


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.skipif(not EXAMPLE.exists(), reason="deploy/einvoice.toml.example is not shipped yet (the deploy part "
                    "generates it with `einvoice config show --format toml`)")
def test_the_shipped_example_equals_the_generated_one():
    assert EXAMPLE.read_text(encoding="utf-8") == render_example(), (
        "regenerate: einvoice config show --format toml > deploy/einvoice.toml.example")
