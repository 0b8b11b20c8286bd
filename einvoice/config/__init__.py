"""Process-wide settings read from the environment (a full settings object comes with deployment)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

MB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    max_xml_bytes: int = 20 * MB
    max_pdf_bytes: int = 50 * MB
    # storage and jobs (einvoice.store, einvoice.jobs)
    database_url: str | None = None  # EINVOICE_DATABASE_URL; None: SQLite file in data_dir
    job_max_attempts: int = 5  # EINVOICE_JOB_MAX_ATTEMPTS: a job failing this often is dead
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


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number of bytes, got {raw!r}") from exc


def _number_env(name: str, default, kind=float, minimum=None):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def load_settings() -> Settings:
    data_dir = os.environ.get("EINVOICE_DATA_DIR") or platformdirs.user_data_dir("einvoice")
    return Settings(
        data_dir=Path(data_dir),
        max_xml_bytes=_int_env("EINVOICE_MAX_XML_BYTES", 20 * MB),
        max_pdf_bytes=_int_env("EINVOICE_MAX_PDF_BYTES", 50 * MB),
        database_url=os.environ.get("EINVOICE_DATABASE_URL") or None,
        job_max_attempts=_number_env("EINVOICE_JOB_MAX_ATTEMPTS", 5, int, 1),
        job_lease_seconds=_number_env("EINVOICE_JOB_LEASE_SECONDS", 300.0, float, 0.1),
        job_retry_seconds=_number_env("EINVOICE_JOB_RETRY_SECONDS", 30.0, float, 0.0),
        worker_poll_seconds=_number_env("EINVOICE_WORKER_POLL_SECONDS", 2.0, float, 0.01),
        match_min_confidence=_number_env("EINVOICE_MATCH_MIN_CONFIDENCE", 50, int, 0),
        bundesland=(os.environ.get("EINVOICE_BUNDESLAND") or "NW").strip().upper(),
        payment_days=_number_env("EINVOICE_PAYMENT_DAYS", 30, int, 0),
        payment_run_lead_days=_number_env("EINVOICE_PAYMENT_RUN_LEAD_DAYS", 1, int, 0),
        skonto_reminder_days=_number_env("EINVOICE_SKONTO_REMINDER_DAYS", 3, int, 0),
        escalation_days=_number_env("EINVOICE_ESCALATION_DAYS", 5, int, 1),
        debtor_name=(os.environ.get("EINVOICE_DEBTOR_NAME") or "").strip() or None,
        debtor_iban=(os.environ.get("EINVOICE_DEBTOR_IBAN") or "").strip() or None,
        debtor_bic=(os.environ.get("EINVOICE_DEBTOR_BIC") or "").strip() or None,
        archive_target=os.environ.get("EINVOICE_ARCHIVE_TARGET", "").strip() or None,
        archive_aktenzeichen=os.environ.get("EINVOICE_ARCHIVE_AKTENZEICHEN", "").strip() or None,
        retention_years=_number_env("EINVOICE_RETENTION_YEARS", 10, int, 1),
    )
