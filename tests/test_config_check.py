"""``einvoice config check`` and ``show``: exit codes and messages on a good and on broken configurations,
secrets never printed, sources shown."""

from __future__ import annotations

import re
import sqlite3

import pytest
from sqlalchemy.engine import make_url

from einvoice.cli import main
from einvoice.config.show import render_example

pytest_plugins = ["pg", "config_env"]

SECRET_KEY = "k" * 20 + "0123456789abcdef0123456789abcdef"  # 52 characters
API_TOKEN = "api-token-VERY-SECRET-0987"
DB_PASSWORD = "Db-Pw-never-shown"


def _lines(out: str) -> dict[str, str]:
    """Setting name → its line (the first for repeated labels)."""
    found = {}
    for line in out.splitlines():
        match = re.match(r"^(OK|WARNING|ERROR)\s+(\S+(?: \S+)?)\s", line)
        if match:
            found.setdefault(match.group(2).strip(), line)
    return found


def _check(capsys, path) -> tuple[int, str, dict[str, str]]:
    code = main(["config", "check", "--config", str(path)])
    out = capsys.readouterr().out
    return code, out, _lines(out)


@pytest.fixture
def good(toml, tmp_path, db_url):
    """A complete configuration around the test's migrated database (SQLite and PostgreSQL)."""
    (tmp_path / "dms").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "secret-key").write_text(SECRET_KEY + "\n")
    url = make_url(db_url)
    if url.get_backend_name() == "postgresql":  # trust authentication: the password is only there to be hidden
        db_url = url.set(password=DB_PASSWORD).render_as_string(hide_password=False)
    return toml(f"""
        [storage]
        data_dir = "data"
        [database]
        url = "{db_url}"
        [web]
        base_url = "https://rechnung.musterstadt.de"
        secret_key_file = "secret-key"
        [payments]
        debtor_name = "Stadt Musterstadt"
        debtor_iban = "DE02 1203 0000 0000 2020 51"
        debtor_bic = "BYLADEM1001"
        [archive]
        target = "hotfolder:{tmp_path / 'dms'}"
        aktenzeichen = "902.41/{{year}}"
        [mail.relay]
        host = "mail.musterstadt.de"
        sender = "Rechnungseingang <rechnung@musterstadt.de>"
    """)


def test_a_good_configuration_passes(good, capsys, monkeypatch):
    monkeypatch.delenv("EINVOICE_DATA_DIR")
    monkeypatch.setenv("EINVOICE_API_TOKEN", API_TOKEN)
    code, out, lines = _check(capsys, good)
    assert code == 0, out
    assert not re.search(r"^(ERROR|WARNING) ", out, re.M)
    assert "reachable, schema at the newest revision" in lines["EINVOICE_DATABASE_URL"]
    assert "writable" in lines["EINVOICE_DATA_DIR"] and "(file line 3)" in lines["EINVOICE_DATA_DIR"]
    assert "usable: the folder exists and is writable" in lines["EINVOICE_ARCHIVE_TARGET"]
    assert lines["EINVOICE_SECRET_KEY"].startswith("OK") and "set (hidden) (file line 8, secret_key_file)" in out
    assert lines["EINVOICE_API_TOKEN"].startswith("OK") and "set (hidden) (env)" in lines["EINVOICE_API_TOKEN"]
    assert lines["EINVOICE_JOB_MAX_ATTEMPTS"].startswith("OK") and "5 (default)" in lines["EINVOICE_JOB_MAX_ATTEMPTS"]
    assert "export mapping(s) (beispiel-fibu, generic)" in lines["EINVOICE_RULES_DIR"]
    assert re.search(r"^\d+ OK, 0 warning\(s\), 0 error\(s\)$", out, re.M)
    for secret in (SECRET_KEY, API_TOKEN, DB_PASSWORD):
        assert secret not in out


def test_a_broken_configuration_fails_and_says_what_to_fix(toml, tmp_path, capsys, monkeypatch):
    (tmp_path / "not-a-folder").write_text("a file where the data folder should be")
    path = toml(f"""
        [storage]
        data_dir = "{tmp_path / 'not-a-folder' / 'data'}"
        [database]
        url = "postgresql://einvoice:{DB_PASSWORD}@127.0.0.1:1/einvoice"
        [payments]
        debtor_name = "Stadt Musterstadt"
        debtor_iban = "DE02120300000000202052"
        [web]
        base_url = "http://rechnung.musterstadt.de"
        secret_key = "too-short"
        [mail.imap]
        host = "imap.musterstadt.de"
        [mail.relay]
        port = "587"
        hots = "mail"
    """)
    monkeypatch.delenv("EINVOICE_DATA_DIR")
    monkeypatch.setenv("EINVOICE_JOB_LEASE_SECONDS", "soon")
    code, out, lines = _check(capsys, path)
    assert code == 1
    expected = {
        "EINVOICE_DATABASE_URL": "cannot connect to postgresql://einvoice:***@127.0.0.1:1/einvoice",
        "EINVOICE_DATA_DIR": "not-a-folder is not a folder; create",
        "EINVOICE_DEBTOR_IBAN": "not a valid IBAN",
        "EINVOICE_DEBTOR_BIC": "payment files need DEBTOR_NAME, DEBTOR_IBAN and DEBTOR_BIC together",
        "EINVOICE_BASE_URL": "must use https://",
        "EINVOICE_SECRET_KEY": "too short (9 characters, at least 32)",
        "EINVOICE_IMAP_USER": "required once any [mail.imap] setting is set",
        "EINVOICE_IMAP_PASSWORD": "required once any [mail.imap] setting is set",
        "EINVOICE_SMTP_RELAY_PORT": "[mail.relay] port (line 15) must be a whole number from 1 to 65535",
        "EINVOICE_JOB_LEASE_SECONDS": "EINVOICE_JOB_LEASE_SECONDS: must be a number of at least 0.1, got 'soon'",
        "config file": "unknown key 'hots' in [mail.relay] (line 16) — did you mean 'host'?",
    }
    for name, message in expected.items():
        assert lines[name].startswith("ERROR") and message in lines[name], (name, lines.get(name))
    assert lines["EINVOICE_RETENTION_YEARS"].startswith("OK")
    assert DB_PASSWORD not in out and "too-short" not in out
    assert f"{len(expected)} error(s)" in out


def test_database_missing_or_behind_is_an_error(toml, tmp_path, capsys, clean_env):
    path = toml("[jobs]\nmax_attempts = 3\n")
    code, out, lines = _check(capsys, path)
    assert code == 1 and f"no database file at {clean_env / 'einvoice.db'}: run `einvoice db upgrade`" in out
    clean_env.mkdir()
    sqlite3.connect(clean_env / "einvoice.db").close()  # exists, never migrated
    code, out, lines = _check(capsys, path)
    assert code == 1
    assert re.search(r"schema at revision none, this einvoice needs \w+: run `einvoice db upgrade`",
                     lines["EINVOICE_DATABASE_URL"])


def test_warnings_alone_keep_exit_code_0(toml, tmp_path, capsys, clean_env):
    from einvoice.store.migrate import upgrade

    clean_env.mkdir()
    upgrade(f"sqlite:///{clean_env / 'einvoice.db'}")
    path = toml("""
        [web]
        secret_key = "changeme"
        [mail.smtp_in]
        domains = ["rechnung.musterstadt.de"]
    """)
    path.chmod(0o644)
    code, out, lines = _check(capsys, path)
    assert code == 0, out
    assert lines["EINVOICE_SECRET_KEY"].startswith("WARNING") and "well-known placeholder" in out
    assert "which everyone on this machine can read: chmod 640" in lines["EINVOICE_SECRET_KEY"]
    assert lines["EINVOICE_SMTP_RELAY_HOST"].startswith("WARNING") and "no relay" in out
    assert lines["EINVOICE_BASE_URL"].startswith("WARNING")
    assert "changeme" not in out


def test_show_gives_values_with_their_source_and_hides_secrets(toml, tmp_path, capsys, monkeypatch):
    (tmp_path / "pw").write_text("imap-password-hidden\n")
    path = toml(f"""
        [database]
        url = "postgresql://einvoice:{DB_PASSWORD}@db.example/einvoice"
        [jobs]
        max_attempts = 4
        [mail.imap]
        password_file = "pw"
        folders = ["INBOX", "Rechnungen"]
    """)
    monkeypatch.setenv("EINVOICE_API_TOKEN", API_TOKEN)
    monkeypatch.setenv("EINVOICE_BUNDESLAND", "be")
    assert main(["config", "show", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  max_attempts\s+= 4\s+EINVOICE_JOB_MAX_ATTEMPTS  \(file line 5\)$", out, re.M)
    assert re.search(r"^  bundesland\s+= BE\s+EINVOICE_BUNDESLAND  \(env\)$", out, re.M)
    assert re.search(r"^  payment_days\s+= 30\s+EINVOICE_PAYMENT_DAYS  \(default\)$", out, re.M)
    assert re.search(r"^  api_token\s+= set \(hidden\)\s+EINVOICE_API_TOKEN  \(env\)$", out, re.M)
    assert re.search(r"^  password\s+= set \(hidden\)\s+EINVOICE_IMAP_PASSWORD  \(file line 7, password_file\)$",
                     out, re.M)
    assert "postgresql://einvoice:***@db.example/einvoice" in out
    assert main(["config", "show", "--config", str(path), "--format", "env"]) == 0
    env = capsys.readouterr().out
    assert "\nEINVOICE_JOB_MAX_ATTEMPTS=4\n" in env and "\nEINVOICE_BUNDESLAND=be\n" in env
    assert "\nEINVOICE_IMAP_FOLDERS=INBOX,Rechnungen\n" in env
    assert "# EINVOICE_API_TOKEN: set (hidden), from env" in env and "# EINVOICE_PAYMENT_DAYS=30  (default)" in env
    for text in (out, env):
        assert API_TOKEN not in text and DB_PASSWORD not in text and "imap-password-hidden" not in text


def test_show_reports_a_wrong_file_and_toml_prints_the_example(toml, capsys):
    path = toml("[jobs]\nmax_atempts = 3\n")
    assert main(["config", "show", "--config", str(path)]) == 1
    assert "unknown key 'max_atempts' in [jobs] (line 2) — did you mean 'max_attempts'?" in capsys.readouterr().err
    assert main(["config", "show", "--format", "toml"]) == 0
    assert capsys.readouterr().out == render_example()


def test_other_commands_stop_with_a_pointer_to_the_check(toml, capsys):
    path = toml("[database]\nurll = 'x'\n")
    assert main(["--config", str(path), "db", "current"]) == 1
    err = capsys.readouterr().err
    assert "unknown key 'urll' in [database] (line 2)" in err and "einvoice config check" in err
