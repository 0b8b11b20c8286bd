"""The checks of ``einvoice config check`` that look beyond a single value's type: the machine (database,
folders, rule files, archive target) and combinations (mail settings complete, keys long enough, base
URL https, debtor account valid). Each probe adds verdicts to setting lines of a `check.Context`;
``PROBES`` is the order they run in. No mail server or identity provider is contacted.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from .setting import hide_password

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
WEAK_KEYS = {"changeme", "change-me", "secret", "dev", "development", "test", "einvoice", "insecure", "password"}
MIN_SECRET_KEY = 32
MIN_TOKEN = 16
E = "EINVOICE_"


def _writable(folder: Path) -> str | None:
    """None if files can be created in ``folder`` (or it can be created), else why not."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is not a folder"
    try:
        fd, name = tempfile.mkstemp(prefix=".einvoice-check-", dir=probe)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        return f"cannot create files in {probe} ({exc.strerror or exc})"
    return None


def probe_storage(ctx) -> None:
    data_dir = Path(ctx.value(E + "DATA_DIR"))
    for folder, what in ((data_dir, "the data folder"), (data_dir / "blobs", "the blob store")):
        problem = _writable(folder)
        if problem:
            ctx.verdict(E + "DATA_DIR", "ERROR", f"{what}: {problem}; create {folder} and give the user running "
                        "einvoice write access (e.g. chown einvoice)")
            return
    ctx.verdict(E + "DATA_DIR", "OK", "writable (data folder and blobs/)" if data_dir.is_dir()
                else "does not exist yet; it can be created")


def probe_database(ctx) -> None:
    from sqlalchemy import create_engine
    from alembic.runtime.migration import MigrationContext

    from ..store.db import normalize_url
    from ..store.migrate import head_revision

    name = E + "DATABASE_URL"
    url = ctx.value(name) or f"sqlite:///{Path(ctx.value(E + 'DATA_DIR')) / 'einvoice.db'}"
    if ctx.lines[name].level == "ERROR":
        return
    parsed = normalize_url(url)
    ctx.lines[name].shown = hide_password(str(url))
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or not Path(parsed.database).is_file():
            ctx.verdict(name, "ERROR", f"no database file at {parsed.database}: run `einvoice db upgrade`")
            return
        engine = create_engine(parsed)
    else:
        engine = create_engine(parsed, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except Exception as exc:  # driver errors differ per database
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        if parsed.password:
            text = text.replace(parsed.password, "***")
        ctx.verdict(name, "ERROR", f"cannot connect to {hide_password(str(url))}: {text}; check host, port, user, "
                    "password and that the database server runs")
        return
    finally:
        engine.dispose()
    head = head_revision()
    if current != head:
        ctx.verdict(name, "ERROR", f"schema at revision {current or 'none'}, this einvoice needs {head}: "
                    "run `einvoice db upgrade`")
    else:
        ctx.verdict(name, "OK", f"reachable, schema at the newest revision {head}")


def probe_rules(ctx) -> None:
    from ..handoff.bookings.mapping import parse_mapping
    from ..routing.matching.rules import parse_rules_toml
    from ..routing.workflow.definitions import validate_workflows

    name, root = E + "RULES_DIR", Path(ctx.value(E + "RULES_DIR"))
    if not root.is_dir():
        ctx.verdict(name, "ERROR", f"{root} is not a folder: point it to a copy of einvoice's rules/ folder")
        return
    missing = [f"{sub}/*.sch" for sub in ("xrechnung", "en16931-cii") if not list((root / sub).glob("*.sch"))]
    if missing:
        ctx.verdict(name, "ERROR", f"validation rules missing in {root}: {', '.join(missing)}")
    mappings = sorted((root / "export").glob("*.toml"))
    if not mappings:
        ctx.verdict(name, "ERROR", f"no export mapping in {root / 'export'} (copy generic.toml from einvoice's rules)")
    for path in mappings:
        try:
            parse_mapping(path.read_text(encoding="utf-8"), path.stem)
        except Exception as exc:  # MappingError, OSError, UnicodeError
            ctx.verdict(name, "ERROR", f"export mapping {path.name}: {exc}")
    routing = {"matching.toml": lambda text: parse_rules_toml(text, "matching.toml"),
               "workflows.toml": lambda text: validate_workflows(tomllib.loads(text).get("workflow"))}
    for file, parse in routing.items():
        path = root / "routing" / file
        if not path.is_file():
            ctx.verdict(name, "WARNING", f"{path} missing: `einvoice matching seed` / `workflow seed` need it")
            continue
        try:
            parse(path.read_text(encoding="utf-8"))
        except Exception as exc:  # RuleError, DefinitionError, TOMLDecodeError
            ctx.verdict(name, "ERROR", f"{path}: {exc}")
    if ctx.lines[name].level == "OK":
        ctx.verdict(name, "OK", f"validation rules, {len(mappings)} export mapping(s) "
                    f"({', '.join(p.stem for p in mappings)}), routing files parse")
    schemas = Path(ctx.value(E + "SCHEMAS_DIR"))
    if not list(schemas.glob("*/pack.toml")):
        ctx.verdict(E + "SCHEMAS_DIR", "ERROR", f"no rule pack (*/pack.toml) in {schemas}")


def probe_rule_packs(ctx) -> None:
    from . import Settings
    from ..validation.packs import PackRegistry

    if ctx.lines[E + "SCHEMAS_DIR"].level == "ERROR" or ctx.config.problems:
        ctx.add("WARNING", "rule packs", "not checked: fix the errors above first")
        return
    registry = PackRegistry(Settings(data_dir=Path(ctx.value(E + "DATA_DIR"))))
    for problem in registry.problems:
        ctx.add("ERROR", "rule packs", problem)
    active = registry.active_name()
    if active and active not in {p.name for p in registry.packs}:
        ctx.add("ERROR", "rule packs", f"the active pack {active!r} is not installed: `einvoice rules list`")
    if not registry.problems:
        ctx.add("OK", "rule packs", "available: " + ", ".join(p.name for p in registry.packs)
                + (f" (active: {active})" if active else ""))


def probe_archive(ctx) -> None:
    from ..handoff.archive.metadata import aktenzeichen
    from ..handoff.archive.targets import HotFolderTarget, TargetError, target_from_setting

    name, spec = E + "ARCHIVE_TARGET", ctx.value(E + "ARCHIVE_TARGET")
    if not spec:
        ctx.verdict(name, "OK", "no archive hand-off (`einvoice archive` refuses)")
    else:
        try:
            target = target_from_setting(spec)
        except TargetError as exc:
            ctx.verdict(name, "ERROR", str(exc))
        else:
            root = target.root if isinstance(target, HotFolderTarget) else None
            problem = _writable(root) if root is not None and root.is_dir() else None
            if root is not None and not root.is_dir():
                ctx.verdict(name, "ERROR", f"the hot folder {root} does not exist: create it (the DMS imports from it)")
            elif problem:
                ctx.verdict(name, "ERROR", f"{problem}: give the einvoice user write access")
            else:
                ctx.verdict(name, "OK", "usable: the folder exists and is writable")
    template = ctx.value(E + "ARCHIVE_AKTENZEICHEN")
    if template:
        try:
            aktenzeichen(template, {})
        except ValueError as exc:
            ctx.verdict(E + "ARCHIVE_AKTENZEICHEN", "ERROR", str(exc))


def probe_payments(ctx) -> None:
    from stdnum import bic, iban
    from stdnum.exceptions import ValidationError

    names = [E + "DEBTOR_NAME", E + "DEBTOR_IBAN", E + "DEBTOR_BIC"]
    given = [n for n in names if ctx.value(n)]
    if not given:
        ctx.verdict(names[0], "OK", "no SEPA payment files without the account")
        return
    for missing in (n for n in names if n not in given):
        ctx.verdict(missing, "ERROR", "payment files need DEBTOR_NAME, DEBTOR_IBAN and DEBTOR_BIC together: set it")
    checks = ((names[1], iban, "IBAN"), (names[2], bic, "BIC"))
    for name, module, label in checks:
        if ctx.value(name):
            try:
                module.validate(ctx.value(name))
            except ValidationError as exc:
                ctx.verdict(name, "ERROR", f"not a valid {label} ({exc}): copy it again from the bank's documents")


def _any_set(ctx, prefix: str) -> bool:
    return any(name.startswith(prefix) for name in ctx.found)


def probe_mail(ctx) -> None:
    imap, smtpd, relay = E + "IMAP_", E + "SMTPD_", E + "SMTP_RELAY_"
    if _any_set(ctx, imap):
        for part in ("HOST", "USER", "PASSWORD"):
            if not ctx.value(imap + part):
                ctx.verdict(imap + part, "ERROR", "required once any [mail.imap] setting is set")
        polled = set(ctx.value(imap + "FOLDERS") or ())
        if polled & {ctx.value(imap + "DONE_FOLDER"), ctx.value(imap + "ERROR_FOLDER")}:
            ctx.verdict(imap + "FOLDERS", "ERROR", "the done and error folders must not be polled")
        ca = ctx.value(imap + "CA_FILE")
        if ca and not Path(ca).is_file():
            ctx.verdict(imap + "CA_FILE", "ERROR", f"{ca} does not exist")
        _cleartext(ctx, imap, "the mailbox password")
    if _any_set(ctx, smtpd) and not ctx.value(smtpd + "DOMAINS"):
        ctx.verdict(smtpd + "DOMAINS", "ERROR", "required to run `einvoice smtpd`: the recipient domain(s) accepted")
    for peer in ctx.value(smtpd + "ALLOWED_PEERS") or ():
        try:
            ipaddress.ip_network(peer, strict=False)
        except ValueError:
            ctx.verdict(smtpd + "ALLOWED_PEERS", "ERROR", f"{peer!r} is not an IP address or network (10.0.0.0/8)")
    if _any_set(ctx, relay):
        for part in ("HOST", "FROM"):
            if not ctx.value(relay + part):
                ctx.verdict(relay + part, "ERROR", "required to send notices once any [mail.relay] setting is set")
        sender = ctx.value(relay + "FROM") or ""
        if sender and "@" not in sender:
            ctx.verdict(relay + "FROM", "ERROR", "must contain a mail address, e.g. Name <rechnung@stadt.de>")
        if ctx.value(relay + "USER") and not ctx.value(relay + "PASSWORD"):
            ctx.verdict(relay + "PASSWORD", "WARNING", "a relay user without a password: set it if the relay needs one")
        _cleartext(ctx, relay, "the relay password")
    elif ctx.value(imap + "HOST") or ctx.value(smtpd + "DOMAINS"):
        ctx.verdict(relay + "HOST", "WARNING", "mail intake is set up but no relay: suppliers get no receipts "
                    "or rejection notices by mail")


def _cleartext(ctx, prefix: str, what: str) -> None:
    host = ctx.value(prefix + "HOST") or ""
    if ctx.value(prefix + "TLS") == "none" and host not in LOCAL_HOSTS:
        ctx.verdict(prefix + "TLS", "WARNING", f"no TLS to {host}: {what} and the mails travel unencrypted")
    if ctx.value(prefix + "TLS_VERIFY") is False:
        ctx.verdict(prefix + "TLS_VERIFY", "WARNING", "certificates are not verified: set a CA file instead")


def _url_problem(url: str, what: str) -> tuple[str, str] | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "ERROR", f"{what} must be an http(s) address like https://rechnung.stadt.de"
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        return "ERROR", f"{what} must use https:// (only localhost may use http)"
    return None


def probe_web(ctx) -> None:
    key, name = ctx.value(E + "SECRET_KEY"), E + "SECRET_KEY"
    if not key:
        ctx.verdict(name, "WARNING", "fine for one machine; set one shared key when several servers or machines "
                    "run einvoice (each would generate its own)")
    elif key.lower() in WEAK_KEYS:
        ctx.verdict(name, "WARNING", "a well-known placeholder: generate one with "
                    "`python3 -c 'import secrets; print(secrets.token_hex(32))'`")
    elif len(key) < MIN_SECRET_KEY:
        ctx.verdict(name, "ERROR", f"too short ({len(key)} characters, at least {MIN_SECRET_KEY}): generate one with "
                    "`python3 -c 'import secrets; print(secrets.token_hex(32))'`")
    for token, unset in (("API_TOKEN", "the JSON API answers 503"), ("METRICS_TOKEN", "/metrics only from localhost")):
        value = ctx.value(E + token)
        if not value:
            ctx.verdict(E + token, "OK", unset)
        elif len(value) < MIN_TOKEN:
            ctx.verdict(E + token, "WARNING", f"short ({len(value)} characters): use at least {MIN_TOKEN} random ones")
    base = ctx.value(E + "BASE_URL")
    if not base:
        ctx.verdict(E + "BASE_URL", "WARNING", "receipts by mail carry no status link")
    elif _url_problem(base, "the base URL"):
        ctx.verdict(E + "BASE_URL", *_url_problem(base, "the base URL"))
    for proxy in ctx.value(E + "TRUSTED_PROXIES") or ():
        try:
            ipaddress.ip_address(proxy)
        except ValueError:
            ctx.verdict(E + "TRUSTED_PROXIES", "ERROR", f"{proxy!r} is not an IP address (the proxy's address)")
    issuer, client = ctx.value(E + "OIDC_ISSUER"), ctx.value(E + "OIDC_CLIENT_ID")
    if bool(issuer) != bool(client):
        missing = E + ("OIDC_CLIENT_ID" if issuer else "OIDC_ISSUER")
        ctx.verdict(missing, "ERROR", "OpenID Connect login needs both issuer and client_id: set it")
    for name, what in (("OIDC_ISSUER", "the issuer"), ("OIDC_REDIRECT_URL", "the redirect URL")):
        if ctx.value(E + name) and _url_problem(ctx.value(E + name), what):
            ctx.verdict(E + name, *_url_problem(ctx.value(E + name), what))


def probe_file_permissions(ctx) -> None:
    path = ctx.config.path
    inline = [f.setting for f in ctx.found.values() if f.origin == "file" and f.setting.secret]
    if path is not None and inline and path.exists() and path.stat().st_mode & 0o004:
        for setting in inline:
            ctx.verdict(setting.env, "WARNING", f"written into {path}, which everyone on this machine can read: "
                        f"chmod 640 {path}, or put it into a file of its own and use {setting.file_key}")


PROBES = (probe_storage, probe_database, probe_rules, probe_rule_packs, probe_archive, probe_payments, probe_mail,
          probe_web, probe_file_permissions)
