"""Where settings come from: environment over TOML file over default; file errors name key, section and
line; secrets from files; services and `load_settings` read the file too."""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path

import pytest

from einvoice import config
from einvoice.config import ConfigError, Settings, load_settings, setting, value

pytest_plugins = ["config_env"]


def test_env_beats_file_and_file_beats_default(toml, monkeypatch):
    toml("""
        [jobs]
        max_attempts = 7
        lease_seconds = 12
    """)
    assert value("EINVOICE_JOB_MAX_ATTEMPTS") == 7  # file beats default (5)
    assert value("EINVOICE_JOB_LEASE_SECONDS") == 12.0 and isinstance(value("EINVOICE_JOB_LEASE_SECONDS"), float)
    assert value("EINVOICE_JOB_RETRY_SECONDS") == 30.0  # default
    monkeypatch.setenv("EINVOICE_JOB_MAX_ATTEMPTS", "9")
    assert value("EINVOICE_JOB_MAX_ATTEMPTS") == 9 and load_settings().job_max_attempts == 9  # env beats file
    monkeypatch.setenv("EINVOICE_JOB_MAX_ATTEMPTS", "  ")  # blank counts as unset
    assert load_settings().job_max_attempts == 7
    monkeypatch.delenv("EINVOICE_JOB_MAX_ATTEMPTS")
    assert setting("EINVOICE_JOB_MAX_ATTEMPTS") == "7" and setting("EINVOICE_JOB_RETRY_SECONDS") == "30.0"


def test_every_settings_field_can_come_from_the_file(toml, tmp_path, monkeypatch):
    monkeypatch.delenv("EINVOICE_DATA_DIR")
    toml("""
        [storage]
        data_dir = "store"
        [database]
        url = "postgresql://einvoice@db.example/einvoice"
        [intake]
        max_xml_bytes = 1000
        max_pdf_bytes = 2000
        [jobs]
        max_attempts = 2
        notice_max_attempts = 20
        lease_seconds = 10.5
        retry_seconds = 0
        poll_seconds = 0.5
        [matching]
        min_confidence = 70
        [deadlines]
        bundesland = "by"
        payment_days = 14
        payment_run_lead_days = 2
        skonto_reminder_days = 4
        escalation_days = 6
        [payments]
        debtor_name = " Stadt Musterstadt "
        debtor_iban = "DE02120300000000202051"
        debtor_bic = "BYLADEM1001"
        [archive]
        target = "hotfolder:/srv/dms"
        aktenzeichen = "902.41/{year}"
        retention_years = 11
    """)
    settings = load_settings()
    defaults = Settings(data_dir=Path("/nowhere"))
    for field in fields(Settings):  # each field differs from its default: the file really set it
        assert getattr(settings, field.name) != getattr(defaults, field.name), field.name
    assert settings.data_dir == tmp_path / "store"  # relative to the file's folder
    assert settings.bundesland == "BY" and settings.debtor_name == "Stadt Musterstadt"
    assert settings.job_retry_seconds == 0.0 and settings.effective_database_url.startswith("postgresql://")


@pytest.mark.parametrize("text,expected", [
    ("[mail.relay]\nhost = 'a'\nhots = 'b'\n", "unknown key 'hots' in [mail.relay] (line 3) — did you mean 'host'?"),
    ("[jobs]\nmax_attempts = 3\n\n[webb]\nbase_url = 'x'\n", "unknown section [webb] (line 4) — did you mean 'web'?"),
    ("base_url = 'https://x'\n", "key 'base_url' (line 1) is outside any section: put it under [web]"),
    ("[mail]\nimap = 3\n", "[mail.imap] (line 2) must be a section"),
    ("[jobs]\nmax_attempts = '5'\n", "[jobs] max_attempts (line 2) must be a whole number of at least 1 "
                                     "(without quotes), got the text '5'"),
    ("[jobs]\nmax_attempts = 0\n", "[jobs] max_attempts (line 2) must be a whole number of at least 1"),
    ("[mail.imap]\ntls_verify = 'no'\n", "[mail.imap] tls_verify (line 2) must be true or false"),
    ("[deadlines]\nbundesland = 'XX'\n", "[deadlines] bundesland (line 2) must be one of BB, BE"),
    ("[web]\nsecret_key_file = 5\n", "[web] secret_key_file (line 2) must be a file name in quotes"),
    ("[jobs\nmax_attempts = 5\n", "not a readable TOML file"),
])
def test_file_errors_name_the_key_section_and_line(toml, text, expected):
    path = toml(text)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert expected in str(caught.value) and str(path) in str(caught.value)
    with pytest.raises(ConfigError):  # every lookup refuses a wrong file, not only load_settings
        setting("EINVOICE_BASE_URL")


def test_wrong_environment_value_names_the_variable(clean_env, monkeypatch):
    monkeypatch.setenv("EINVOICE_MAX_XML_BYTES", "20MB")
    with pytest.raises(ConfigError, match=r"EINVOICE_MAX_XML_BYTES: must be a whole number of at least 1, got '20MB'"):
        load_settings()


def test_named_file_must_exist_but_the_default_may_be_missing(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("EINVOICE_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="missing.toml: cannot read the file"):
        load_settings()
    monkeypatch.delenv("EINVOICE_CONFIG")
    monkeypatch.setattr("einvoice.config.source.DEFAULT_PATH", tmp_path / "absent" / "einvoice.toml")
    assert load_settings().job_max_attempts == 5


def test_secrets_from_files(toml, monkeypatch, tmp_path):
    (tmp_path / "relay-password").write_text("from-the-toml-file\n")
    (tmp_path / "env-password").write_text("  from-the-env-file \n")
    toml("[mail.relay]\npassword_file = 'relay-password'\n")
    assert setting("EINVOICE_SMTP_RELAY_PASSWORD") == "from-the-toml-file"
    monkeypatch.setenv("EINVOICE_SMTP_RELAY_PASSWORD_FILE", str(tmp_path / "env-password"))
    assert setting("EINVOICE_SMTP_RELAY_PASSWORD") == "from-the-env-file"  # env (file) beats the TOML file
    monkeypatch.setenv("EINVOICE_SMTP_RELAY_PASSWORD", "direct")
    assert setting("EINVOICE_SMTP_RELAY_PASSWORD") == "direct"
    monkeypatch.delenv("EINVOICE_SMTP_RELAY_PASSWORD")
    monkeypatch.setenv("EINVOICE_SMTP_RELAY_PASSWORD_FILE", str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="EINVOICE_SMTP_RELAY_PASSWORD_FILE: cannot read the file .*nope"):
        setting("EINVOICE_SMTP_RELAY_PASSWORD")
    assert setting("EINVOICE_SMTP_RELAY_PASSWORD_FILE") == str(tmp_path / "nope")


def test_an_edited_file_is_read_again_and_env_changes_apply_at_once(toml, monkeypatch):
    path = toml("[web]\nsession_minutes = 30\n")
    from einvoice.web.ui.session import idle_seconds

    assert idle_seconds() == 30 * 60
    path.write_text("[web]\nsession_minutes = 45\n# longer now\n")
    os.utime(path, ns=(1, 1))  # a new mtime even on a coarse clock
    assert idle_seconds() == 45 * 60
    monkeypatch.setenv("EINVOICE_SESSION_MINUTES", "5")
    assert idle_seconds() == 5 * 60


def test_unknown_names_are_refused(clean_env):
    with pytest.raises(KeyError, match="EINVOICE_NOT_A_SETTING is not in the settings catalogue"):
        setting("EINVOICE_NOT_A_SETTING")
    with pytest.raises(KeyError):
        value("EINVOICE_DATABASE_URLS")


def test_relay_settings_of_the_mail_notices_come_from_the_file(toml, tmp_path):
    from einvoice.handoff.mail import RelaySettings

    (tmp_path / "relay.pw").write_text("s3cret\n")
    toml("""
        [mail.relay]
        host = "mail.musterstadt.de"
        sender = "Rechnungseingang <rechnung@musterstadt.de>"
        tls = "tls"
        tls_verify = false
        user = "rechnung"
        password_file = "relay.pw"
        timeout = 12
    """)
    relay = RelaySettings.from_env()
    assert (relay.host, relay.port, relay.tls, relay.verify, relay.user, relay.password, relay.timeout) == (
        "mail.musterstadt.de", 465, "tls", False, "rechnung", "s3cret", 12.0)
    assert relay.sender_address == "rechnung@musterstadt.de"


def test_other_services_read_the_file(toml, tmp_path):
    from einvoice.intake.mail.imap import ImapSettings
    from einvoice.intake.mail.message import MailLimits
    from einvoice.intake.mail.smtpd import SmtpdSettings
    from einvoice.paths import rules_dir
    from einvoice.web.auth import configured_api_token

    (tmp_path / "imap.pw").write_text("imap-pass\n")
    toml("""
        [rules]
        dir = "/srv/rules"
        [web]
        api_token = "a-token-from-the-file-1234"
        [mail.imap]
        host = "imap.musterstadt.de"
        user = "rechnung"
        password_file = "imap.pw"
        folders = ["INBOX", "Rechnungen"]
        [mail.smtp_in]
        domains = ["rechnung.musterstadt.de"]
        allowed_peers = ["10.0.0.0/8"]
        port = 2526
        [mail.limits]
        max_bytes = 1000
        zip_max_entries = 7
    """)
    imap = ImapSettings.from_env()
    assert (imap.host, imap.password, imap.folders, imap.port) == (
        "imap.musterstadt.de", "imap-pass", ("INBOX", "Rechnungen"), 993)
    smtpd = SmtpdSettings.from_env()
    assert smtpd.domains == ("rechnung.musterstadt.de",) and smtpd.port == 2526 and smtpd.max_bytes == 1000
    assert str(smtpd.allowed_peers[0]) == "10.0.0.0/8"
    assert MailLimits.from_env().zip_max_entries == 7
    assert rules_dir() == Path("/srv/rules")
    assert configured_api_token() == "a-token-from-the-file-1234"


def test_environ_object_reads_like_os_environ(clean_env, monkeypatch):
    monkeypatch.setenv("EINVOICE_SMTPD_HOST", "0.0.0.0")
    assert config.environ.get("EINVOICE_SMTPD_HOST", "x") == "0.0.0.0"
    assert config.environ.get("EINVOICE_SMTPD_HOSTNAME", "") == ""  # caller's default wins over "not set"
    assert config.environ.get("EINVOICE_SMTPD_PORT") == "2525"  # without one: the catalogue default
    assert config.environ.get("EINVOICE_SMTP_RELAY_USER") is None
