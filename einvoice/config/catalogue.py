"""The settings catalogue: every setting of einvoice with its environment variable, its TOML key, type,
default and a one-line explanation. Nothing reads an ``EINVOICE_…`` variable that is not listed here
(a test greps the code for them; `einvoice.config.setting` refuses unknown names).

Each TOML key maps to exactly one environment variable: ``[section] key`` ↔ ``EINVOICE_…`` as listed
(``einvoice config show --format toml`` prints the whole mapping as a commented example file).
Secrets also accept ``EINVOICE_X_FILE`` / ``x_file`` naming a file that holds the value.
``EINVOICE_CONFIG`` (the file itself) is not a setting: see `einvoice.config.source`.
"""

from __future__ import annotations

from pathlib import Path

from .setting import Setting

MB = 1024 * 1024
PROJECT_ROOT = Path(__file__).resolve().parents[2]
LANDS = ("BB", "BE", "BW", "BY", "HB", "HE", "HH", "MV", "NI", "NW", "RP", "SH", "SL", "SN", "ST", "TH")
TLS_MODES = ("tls", "starttls", "none")

# Section order and titles (the example file and `config show` follow it).
SECTIONS = {
    "storage": "Where einvoice keeps its files (blob store, rule packs, generated keys).",
    "database": "The database: PostgreSQL for production, else a SQLite file in the data folder.",
    "intake": "Limits for received files (upload, API, mail).",
    "jobs": "Background jobs (`einvoice worker`).",
    "rules": "Rule files: validation rules, export mappings (<dir>/export/*.toml), routing (<dir>/routing/).",
    "matching": "Matching invoices to cost centres.",
    "deadlines": "Payment and Skonto deadlines.",
    "payments": "The municipality's account that SEPA payment files pay from.",
    "archive": "Hand-off of finished invoices to the DMS archive.",
    "web": "Web server (`einvoice serve`): addresses, keys, login.",
    "oidc": "Single sign-on with OpenID Connect (off while issuer and client_id are unset).",
    "mail.imap": "Invoices by mail: IMAP mailbox polled by `einvoice imap-poll`.",
    "mail.smtp_in": "Invoices by mail: SMTP receiver `einvoice smtpd` (mail forwarded by the mail server).",
    "mail.relay": "Outgoing notices to suppliers (receipts, rejections) through the SMTP relay.",
    "mail.limits": "Limits for received mail (both mail channels).",
}


def _s(env: str, where: str, kind: str, help: str, default=None, **options) -> Setting:
    section, _, key = where.rpartition(".")
    return Setting(env=f"EINVOICE_{env}", section=section, key=key, kind=kind, help=help, default=default, **options)


def _data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("einvoice"))


SETTINGS: tuple[Setting, ...] = (
    _s("DATA_DIR", "storage.data_dir", "path", "data folder: blobs/ (every received file), rule-packs/, keys",
       _data_dir, default_text="the user's data folder, e.g. ~/.local/share/einvoice", example='"/var/lib/einvoice"'),
    _s("DATABASE_URL", "database.url", "url", "database URL, e.g. postgresql://einvoice@db.example/einvoice",
       from_file=True, default_text="sqlite:///<data_dir>/einvoice.db",
       example='"postgresql://einvoice@localhost/einvoice"'),
    _s("MAX_XML_BYTES", "intake.max_xml_bytes", "int", "largest XML invoice accepted, in bytes", 20 * MB, minimum=1),
    _s("MAX_PDF_BYTES", "intake.max_pdf_bytes", "int", "largest PDF invoice accepted, in bytes", 50 * MB, minimum=1),
    _s("JOB_MAX_ATTEMPTS", "jobs.max_attempts", "int", "a job failing this often is dead (its item: failed)", 5,
       minimum=1),
    _s("NOTICE_MAX_ATTEMPTS", "jobs.notice_max_attempts", "int",
       "a supplier mail notice is tried this often before it is dead (16 with the defaults: ~9 h of relay outage)",
       16, minimum=1),
    _s("JOB_LEASE_SECONDS", "jobs.lease_seconds", "float", "claim lease of a running job, renewed while it runs",
       300.0, minimum=0.1),
    _s("JOB_RETRY_SECONDS", "jobs.retry_seconds", "float", "first retry delay, doubled per attempt", 30.0, minimum=0),
    _s("WORKER_POLL_SECONDS", "jobs.poll_seconds", "float", "an idle worker looks for work this often", 2.0,
       minimum=0.01),
    _s("RULES_DIR", "rules.dir", "path", "rules folder (validation rules, export/ mappings, routing/)",
       lambda: PROJECT_ROOT / "rules", default_text="rules/ of the installed einvoice",
       example='"/etc/einvoice/rules"'),
    _s("SCHEMAS_DIR", "rules.schemas_dir", "path", "built-in rule packs (XSD, Schematron) of the validation",
       lambda: PROJECT_ROOT / "schemas", default_text="schemas/ of the installed einvoice",
       example='"/opt/einvoice/schemas"'),
    _s("MATCH_MIN_CONFIDENCE", "matching.min_confidence", "int", "below this a match goes to the manual queue", 50,
       minimum=0, maximum=100),
    _s("BUNDESLAND", "deadlines.bundesland", "choice", "public holidays for working days (a unit's own Land wins)",
       "NW", choices=LANDS, case="upper"),
    _s("PAYMENT_DAYS", "deadlines.payment_days", "int", "legal payment period, calendar days after receipt", 30,
       minimum=0),
    _s("PAYMENT_RUN_LEAD_DAYS", "deadlines.payment_run_lead_days", "int",
       "working days from Anordnung to the payment", 1, minimum=0),
    _s("SKONTO_REMINDER_DAYS", "deadlines.skonto_reminder_days", "int",
       "remind approvers this many working days before a Skonto deadline", 3, minimum=0),
    _s("ESCALATION_DAYS", "deadlines.escalation_days", "int", "escalate an approval step open longer (working days)",
       5, minimum=1),
    _s("DEBTOR_NAME", "payments.debtor_name", "str", "account holder (Auftraggeber) of payment files",
       example='"Stadt Musterstadt"'),
    _s("DEBTOR_IBAN", "payments.debtor_iban", "str", "IBAN the transfers are paid from",
       example='"DE02120300000000202051"'),
    _s("DEBTOR_BIC", "payments.debtor_bic", "str", "BIC of that account", example='"BYLADEM1001"'),
    _s("ARCHIVE_TARGET", "archive.target", "str", "DMS hand-off: hotfolder:/path (folders) or hotfolder+zip:/path",
       example='"hotfolder:/srv/dms/eingang"'),
    _s("ARCHIVE_AKTENZEICHEN", "archive.aktenzeichen", "str",
       "file reference template, placeholders {year} {unit} {cost_centre} {account} {creditor} {id}",
       example='"902.41/{year}"'),
    _s("RETENTION_YEARS", "archive.retention_years", "int", "kept until 31 Dec of (receipt year + this)", 10,
       minimum=1),
    _s("BASE_URL", "web.base_url", "url", "public address, for status links in receipts and OIDC",
       example='"https://rechnung.musterstadt.de"'),
    _s("SECRET_KEY", "web.secret_key", "str", "signs sessions and status links; the same on every server",
       secret=True, default_text="generated once into <data_dir>/web-secret-key",
       example='"/etc/einvoice/secret-key"'),
    _s("API_TOKEN", "web.api_token", "str", "Bearer token of the JSON API (unset: the API answers 503)", secret=True,
       example='"/etc/einvoice/api-token"'),
    _s("METRICS_TOKEN", "web.metrics_token", "str", "Bearer token for /metrics (unset: only from localhost)",
       secret=True, example='"/etc/einvoice/metrics-token"'),
    _s("SESSION_MINUTES", "web.session_minutes", "int", "a UI session ends after this many idle minutes", 480,
       minimum=1),
    _s("LOGIN_MAX_FAILURES", "web.login_max_failures", "int", "failed logins in a row that lock an account", 5,
       minimum=1),
    _s("LOGIN_LOCK_MINUTES", "web.login_lock_minutes", "int", "how long a locked account stays locked", 15, minimum=1),
    _s("TRUSTED_USER_HEADER", "web.trusted_user_header", "str",
       "single sign-on by a reverse proxy: the header naming the user (the proxy must strip it from clients)",
       example='"X-Remote-User"'),
    _s("TRUSTED_PROXIES", "web.trusted_proxies", "list", "addresses of the reverse proxies trusted for that header",
       ("127.0.0.1",)),
    _s("OIDC_ISSUER", "oidc.issuer", "url", "issuer (metadata from <issuer>/.well-known/openid-configuration)",
       example='"https://sso.musterstadt.de/realms/verwaltung"'),
    _s("OIDC_CLIENT_ID", "oidc.client_id", "str", "client id registered at the provider", example='"einvoice"'),
    _s("OIDC_CLIENT_SECRET", "oidc.client_secret", "str", "client secret (confidential client)", secret=True,
       example='"/etc/einvoice/oidc-secret"'),
    _s("OIDC_REDIRECT_URL", "oidc.redirect_url", "url", "redirect URL registered at the provider",
       default_text="<base_url>/login/oidc/callback",
       example='"https://rechnung.musterstadt.de/login/oidc/callback"'),
    _s("OIDC_USERNAME_CLAIM", "oidc.username_claim", "str", "ID token claim naming an einvoice user",
       "preferred_username"),
    _s("IMAP_HOST", "mail.imap.host", "str", "IMAP server of the invoice mailbox", example='"imap.musterstadt.de"'),
    _s("IMAP_PORT", "mail.imap.port", "int", "IMAP port", default_text="993 with tls, else 143", example="993",
       minimum=1, maximum=65535),
    _s("IMAP_USER", "mail.imap.user", "str", "mailbox user", example='"rechnungseingang"'),
    _s("IMAP_PASSWORD", "mail.imap.password", "str", "mailbox password", secret=True,
       example='"/etc/einvoice/imap-password"'),
    _s("IMAP_TLS", "mail.imap.tls", "choice", "tls, starttls or none", "tls", choices=TLS_MODES, case="lower"),
    _s("IMAP_TLS_VERIFY", "mail.imap.tls_verify", "bool", "verify the server's certificate", True),
    _s("IMAP_CA_FILE", "mail.imap.ca_file", "path", "CA certificates to verify the server with (PEM)",
       example='"/etc/ssl/certs/ca-certificates.crt"'),
    _s("IMAP_FOLDERS", "mail.imap.folders", "list", "folders polled", ("INBOX",)),
    _s("IMAP_DONE_FOLDER", "mail.imap.done_folder", "str", "processed mails are moved here", "einvoice-done"),
    _s("IMAP_ERROR_FOLDER", "mail.imap.error_folder", "str", "mails that failed are moved here", "einvoice-error"),
    _s("IMAP_POLL_SECONDS", "mail.imap.poll_seconds", "float", "poll interval", 60.0, minimum=1),
    _s("IMAP_MAX_ATTEMPTS", "mail.imap.max_attempts", "int", "a mail failing this often goes to the error folder", 5,
       minimum=1),
    _s("IMAP_BATCH", "mail.imap.batch", "int", "messages per folder and run", 200, minimum=1),
    _s("IMAP_TIMEOUT", "mail.imap.timeout", "float", "network timeout in seconds", 60.0, minimum=1),
    _s("SMTPD_DOMAINS", "mail.smtp_in.domains", "list", "recipient domains accepted (required to run smtpd)",
       example='["rechnung.musterstadt.de"]'),
    _s("SMTPD_HOST", "mail.smtp_in.host", "str", "address to listen on", "127.0.0.1"),
    _s("SMTPD_PORT", "mail.smtp_in.port", "int", "port to listen on", 2525, minimum=1, maximum=65535),
    _s("SMTPD_MAX_BYTES", "mail.smtp_in.max_bytes", "int", "largest message accepted, in bytes",
       default_text="[mail.limits] max_bytes", example="67108864", minimum=1),
    _s("SMTPD_ALLOWED_PEERS", "mail.smtp_in.allowed_peers", "list",
       "addresses or networks allowed to send (empty: any)",
       example='["10.0.0.25", "192.168.10.0/24"]'),
    _s("SMTPD_HOSTNAME", "mail.smtp_in.hostname", "str", "name in the SMTP greeting", default_text="the host name",
       example='"rechnung.musterstadt.de"'),
    _s("SMTP_RELAY_HOST", "mail.relay.host", "str", "SMTP relay (required to send notices)",
       example='"mail.musterstadt.de"'),
    _s("SMTP_RELAY_PORT", "mail.relay.port", "int", "relay port",
       default_text="465 with tls, 587 with starttls, else 25",
       example="587", minimum=1, maximum=65535),
    _s("SMTP_RELAY_TLS", "mail.relay.tls", "choice", "starttls, tls or none", "starttls", choices=TLS_MODES,
       case="lower"),
    _s("SMTP_RELAY_TLS_VERIFY", "mail.relay.tls_verify", "bool", "verify the relay's certificate", True),
    _s("SMTP_RELAY_USER", "mail.relay.user", "str", "relay login (unset: no login)", example='"rechnungseingang"'),
    _s("SMTP_RELAY_PASSWORD", "mail.relay.password", "str", "relay password", secret=True,
       example='"/etc/einvoice/relay-password"'),
    _s("SMTP_RELAY_FROM", "mail.relay.sender", "str", "sender of notices (required to send)",
       example='"Rechnungseingang Musterstadt <rechnungseingang@musterstadt.de>"'),
    _s("SMTP_RELAY_TIMEOUT", "mail.relay.timeout", "float", "network timeout in seconds", 30.0, minimum=1),
    _s("MAIL_MAX_BYTES", "mail.limits.max_bytes", "int", "larger messages are not taken", 64 * MB, minimum=1),
    _s("MAIL_MAX_PARTS", "mail.limits.max_parts", "int", "MIME parts looked at per message", 200, minimum=1),
    _s("MAIL_ZIP_MAX_ENTRIES", "mail.limits.zip_max_entries", "int", "entries unpacked per zip attachment", 200,
       minimum=1),
    _s("MAIL_ZIP_MAX_BYTES", "mail.limits.zip_max_bytes", "int", "uncompressed bytes per zip attachment", 100 * MB,
       minimum=1),
    _s("MAIL_ZIP_MAX_RATIO", "mail.limits.zip_max_ratio", "int", "largest compression ratio per zip entry", 100,
       minimum=1),
)

BY_ENV: dict[str, Setting] = {s.env: s for s in SETTINGS}
BY_FILE_ENV: dict[str, Setting] = {s.file_env: s for s in SETTINGS if s.file_capable}
BY_KEY: dict[tuple[str, str], Setting] = {(s.section, s.key): s for s in SETTINGS}


def find(name: str) -> Setting:
    """The setting of an environment name (``EINVOICE_X``, or ``EINVOICE_X_FILE`` of a secret)."""
    found = BY_ENV.get(name) or BY_FILE_ENV.get(name)
    if found is None:
        raise KeyError(f"{name} is not in the settings catalogue (einvoice/config/catalogue.py)")
    return found


def in_section(section: str) -> list[Setting]:
    return [s for s in SETTINGS if s.section == section]
