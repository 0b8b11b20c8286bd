"""The settings of einvoice: one catalogue, read from the environment and an optional TOML file.

- `value(name)`: the typed value of a setting (``value("EINVOICE_JOB_MAX_ATTEMPTS") == 5``), from the
  environment, else the file, else the catalogue default; `ConfigError` names the variable or the file's
  key and line when a value is wrong.
- `setting(name, default)`: the same lookup as text, like ``os.environ.get`` (used where code parses
  settings itself; ``environ.get`` is the same for code that held ``os.environ``).
- `Settings` / `load_settings()`: the frozen object most code gets (``Settings(data_dir=...)`` and
  ``dataclasses.replace`` in tests), filled by `value`.

The catalogue (every setting, its TOML key, type, default, help) is `catalogue`; where values come from
and the file format is `source`; ``einvoice config check|show`` is `check`, `show` and `cli`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .catalogue import MB, find
from .source import CONFIG_ENV, ConfigError, ConfigFile, current, lookup

__all__ = ["CONFIG_ENV", "MB", "ConfigError", "Settings", "environ", "load_settings", "setting", "value"]


def value(name: str, config: ConfigFile | None = None) -> Any:
    """The typed value of the setting ``name`` (environment, file, default); ``config``: a file already read."""
    found = lookup(name, config)
    return find(name).default_value() if found is None else found.parsed()


def setting(name: str, default: str | None = None) -> str | None:
    """The setting's text as the environment would carry it; if unset: ``default``, else the default's text."""
    found = lookup(name)
    if found is not None:
        return found.text
    if default is not None:
        return default
    fallback = find(name).default_value()
    if fallback is None:
        return None
    return ",".join(fallback) if isinstance(fallback, tuple) else str(fallback)


class _Environ:
    """For code that used ``env = os.environ``: ``environ.get(name, default)`` is `setting`."""

    @staticmethod
    def get(name: str, default: str | None = None) -> str | None:
        return setting(name, default)


environ = _Environ()


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    max_xml_bytes: int = 20 * MB
    max_pdf_bytes: int = 50 * MB
    # storage and jobs (einvoice.store, einvoice.jobs)
    database_url: str | None = None  # EINVOICE_DATABASE_URL; None: SQLite file in data_dir
    job_max_attempts: int = 5  # EINVOICE_JOB_MAX_ATTEMPTS: a job failing this often is dead
    notice_max_attempts: int = 16  # EINVOICE_NOTICE_MAX_ATTEMPTS: mail notices outlast a relay outage (~9 h)
    job_lease_seconds: float = 300.0  # EINVOICE_JOB_LEASE_SECONDS: claim lease, renewed while a job runs
    job_retry_seconds: float = 30.0  # EINVOICE_JOB_RETRY_SECONDS: first retry delay, doubled per attempt
    worker_poll_seconds: float = 2.0  # EINVOICE_WORKER_POLL_SECONDS: idle worker polls this often
    # routing (einvoice.routing.matching)
    match_min_confidence: int = 50  # EINVOICE_MATCH_MIN_CONFIDENCE: below this a match goes to the manual queue
    # deadlines (einvoice.routing.deadlines)
    bundesland: str = "NW"  # EINVOICE_BUNDESLAND: public holidays for working days (a unit's own Land wins)
    payment_days: int = 30  # EINVOICE_PAYMENT_DAYS: legal payment period, calendar days after receipt
    payment_run_lead_days: int = 1  # EINVOICE_PAYMENT_RUN_LEAD_DAYS: working days from Anordnung to payment
    skonto_reminder_days: int = 3  # EINVOICE_SKONTO_REMINDER_DAYS: remind approvers this many working days before
    escalation_days: int = 5  # EINVOICE_ESCALATION_DAYS: escalate a step open longer than this (working days)
    # payment file (einvoice.handoff.payments): the municipality's account the transfers are paid from
    debtor_name: str | None = None  # EINVOICE_DEBTOR_NAME: account holder (Auftraggeber), e.g. "Stadt Musterstadt"
    debtor_iban: str | None = None  # EINVOICE_DEBTOR_IBAN
    debtor_bic: str | None = None  # EINVOICE_DEBTOR_BIC
    # archive (einvoice.handoff.archive)
    archive_target: str | None = None  # EINVOICE_ARCHIVE_TARGET: hotfolder:/path or hotfolder+zip:/path
    archive_aktenzeichen: str | None = None  # EINVOICE_ARCHIVE_AKTENZEICHEN: template, e.g. "902.41/{year}"
    retention_years: int = 10  # EINVOICE_RETENTION_YEARS: kept until 31 Dec of (receipt year + this)

    @property
    def rule_packs_dir(self) -> Path:
        return self.data_dir / "rule-packs"

    @property
    def blobs_dir(self) -> Path:
        """The content-addressed store of every raw input (einvoice.store.blobs)."""
        return self.data_dir / "blobs"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'einvoice.db'}"


# Settings field → catalogue name (every field but data_dir, which is first)
FIELDS = {
    "max_xml_bytes": "EINVOICE_MAX_XML_BYTES", "max_pdf_bytes": "EINVOICE_MAX_PDF_BYTES",
    "database_url": "EINVOICE_DATABASE_URL", "job_max_attempts": "EINVOICE_JOB_MAX_ATTEMPTS",
    "notice_max_attempts": "EINVOICE_NOTICE_MAX_ATTEMPTS",
    "job_lease_seconds": "EINVOICE_JOB_LEASE_SECONDS", "job_retry_seconds": "EINVOICE_JOB_RETRY_SECONDS",
    "worker_poll_seconds": "EINVOICE_WORKER_POLL_SECONDS", "match_min_confidence": "EINVOICE_MATCH_MIN_CONFIDENCE",
    "bundesland": "EINVOICE_BUNDESLAND", "payment_days": "EINVOICE_PAYMENT_DAYS",
    "payment_run_lead_days": "EINVOICE_PAYMENT_RUN_LEAD_DAYS", "skonto_reminder_days": "EINVOICE_SKONTO_REMINDER_DAYS",
    "escalation_days": "EINVOICE_ESCALATION_DAYS", "debtor_name": "EINVOICE_DEBTOR_NAME",
    "debtor_iban": "EINVOICE_DEBTOR_IBAN", "debtor_bic": "EINVOICE_DEBTOR_BIC",
    "archive_target": "EINVOICE_ARCHIVE_TARGET", "archive_aktenzeichen": "EINVOICE_ARCHIVE_AKTENZEICHEN",
    "retention_years": "EINVOICE_RETENTION_YEARS",
}


def load_settings() -> Settings:
    """The settings of this process now (environment, configuration file, defaults); `ConfigError` if wrong."""
    config = current().strict()  # read once for all fields
    return Settings(data_dir=Path(value("EINVOICE_DATA_DIR", config)),
                    **{name: value(env, config) for name, env in FIELDS.items()})
