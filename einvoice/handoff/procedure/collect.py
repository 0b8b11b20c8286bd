"""The actual configuration of this installation, gathered for the Verfahrensdokumentation.

`collect(db, clock=...)` reads the settings (environment), the installed rule packs, the database
(units, matching rules, workflows, roles, substitutions, archive packages, item counts) and the
export mapping files, and returns plain data (dicts, lists, strings). No secrets: passwords, tokens
and keys are reported only as "gesetzt"/"nicht gesetzt"; the database only by kind, host and name.

Personal data: the document names **no persons**. Roles are given as the number of active users per
role and unit, Anordnung limits as "limit → number of persons", substitutions as counts. Who holds
which role is in the master data (``einvoice masterdata export users``), which is itself part of the
records an auditor may inspect; a document meant to be printed and kept for ten years should not
repeat it.
"""

from __future__ import annotations

import platform
import tomllib
from collections import Counter
from importlib import metadata
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...config import setting
from ...paths import rules_dir
from ...routing.clock import SYSTEM_CLOCK, Clock, today
from ...routing.workflow.definitions import workflow_dict
from ...store.db import Database
from ...store.handoff_models import ArchivePackage
from ...store.masterdata_models import ROLES, CostCentre, LeitwegId, OrgUnit, Substitution, User, UserUnit
from ...store.models import IntakeItem
from ...store.routing_models import MatchingRule, Workflow


def _version() -> str:
    try:
        return metadata.version("einvoice")
    except metadata.PackageNotFoundError:
        return "unbekannt"


def _database(db: Database) -> dict[str, Any]:
    url = db.url
    if url.get_backend_name() == "sqlite":
        return {"kind": "SQLite", "where": url.database or "(im Speicher)"}
    return {"kind": "PostgreSQL", "where": f"{url.host or 'localhost'}:{url.port or 5432}/{url.database}"}


def _channels() -> list[dict[str, Any]]:
    from ...handoff.mail import RelayNotConfigured, RelaySettings
    from ...intake.mail.imap import ImapNotConfigured, ImapSettings
    from ...intake.mail.smtpd import SmtpdNotConfigured, SmtpdSettings

    token = bool(setting("EINVOICE_API_TOKEN", "").strip())
    channels = [
        {"channel": "upload", "name": "Hochladeseite", "active": True,
         "details": "öffentliche Seite /upload; sofortige Prüfung, Eingangsbestätigung mit Statuslink"},
        {"channel": "api", "name": "Programmschnittstelle (API)", "active": token,
         "details": "POST /api/v1/invoices mit Bearer-Token" + ("" if token else " (kein Token gesetzt: gesperrt)")},
    ]
    try:
        imap = ImapSettings.from_env()
        channels.append({"channel": "imap", "name": "E-Mail-Postfach (IMAP)", "active": True,
                         "details": f"{imap.account}, Ordner {', '.join(imap.folders)}; verarbeitet → "
                                    f"{imap.done_folder}, Fehler → {imap.error_folder}; alle {imap.poll_seconds:g} s; "
                                    "nichts wird gelöscht"})
    except (ImapNotConfigured, ValueError, OSError):
        channels.append({"channel": "imap", "name": "E-Mail-Postfach (IMAP)", "active": False,
                         "details": "nicht konfiguriert (EINVOICE_IMAP_HOST/_USER/_PASSWORD)"})
    try:
        smtpd = SmtpdSettings.from_env()
        peers = ", ".join(str(p) for p in smtpd.allowed_peers) or "alle"
        channels.append({"channel": "smtp", "name": "E-Mail-Empfang (SMTP)", "active": True,
                         "details": f"Domänen {', '.join(smtpd.domains)}, {smtpd.host}:{smtpd.port}, "
                                    f"zugelassene Absender-Server: {peers}"})
    except (SmtpdNotConfigured, ValueError):
        channels.append({"channel": "smtp", "name": "E-Mail-Empfang (SMTP)", "active": False,
                         "details": "nicht konfiguriert (EINVOICE_SMTPD_DOMAINS)"})
    try:
        relay = RelaySettings.from_env()
        notices = {"active": True, "details": f"über {relay.host}:{relay.port} ({relay.tls}), Absender {relay.sender}"}
    except (RelayNotConfigured, ValueError):
        notices = {"active": False, "details": "nicht konfiguriert (EINVOICE_SMTP_RELAY_HOST/_FROM)"}
    channels.append({"channel": "notices", "name": "Benachrichtigungen an Lieferanten", **notices})
    return channels


def _packs(db: Database) -> dict[str, Any]:
    from ...validation.packs import PackRegistry

    registry = PackRegistry(db.settings)
    active = registry.active_name()
    return {"packs": [{"rank": rank, "name": p.name, "version": p.version, "description": p.description,
                       "origin": "mitgeliefert" if p.origin == "builtin" else p.origin,
                       "window": "unbegrenzt" if p.window == "always" else p.window.replace(" to ", " bis "),
                       "active": p.name == active, "scenarios": [s.name for s in p.scenarios if not s.triage_only]}
                      for rank, p in enumerate(registry.packs, start=1)],
            "problems": list(registry.problems)}


def _export_mappings() -> list[dict[str, Any]]:
    folder = rules_dir() / "export"
    mappings = []
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        entry: dict[str, Any] = {"file": f"rules/export/{path.name}", "name": path.stem}
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
            entry.update({k: str(raw[k]) for k in ("title", "description", "encoding") if k in raw})
            entry["columns"] = len(raw.get("columns") or [])
        except (OSError, tomllib.TOMLDecodeError) as exc:
            entry["error"] = str(exc)
        mappings.append(entry)
    return mappings


def _archive(db: Database, session: Session) -> dict[str, Any]:
    from ..archive.targets import TargetError, target_from_setting

    settings = db.settings
    try:
        target = target_from_setting(settings.archive_target).describe() if settings.archive_target else None
    except TargetError as exc:
        target = f"ungültig: {exc}"
    counts = dict(session.execute(select(ArchivePackage.status, func.count()).group_by(ArchivePackage.status)).all())
    verified = dict(session.execute(select(ArchivePackage.verified_ok, func.count())
                                    .group_by(ArchivePackage.verified_ok)).all())
    return {"target": target, "aktenzeichen": settings.archive_aktenzeichen, "retention_years": settings.retention_years,
            "delivered": counts.get("delivered", 0), "failed": counts.get("failed", 0),
            "verified_ok": verified.get(True, 0), "verified_bad": verified.get(False, 0),
            "last_verified": session.scalar(select(func.max(ArchivePackage.verified_at)))}


def _codes(session: Session, model) -> dict[int, str]:
    return dict(session.execute(select(model.id, model.code)).all())


def _organisation(session: Session) -> dict[str, Any]:
    units = list(session.scalars(select(OrgUnit).order_by(OrgUnit.code)))
    centres = Counter(session.scalars(select(CostCentre.unit_id).where(CostCentre.active.is_(True))))
    leitweg = Counter(session.scalars(select(LeitwegId.unit_id)))
    users = list(session.scalars(select(User).where(User.active.is_(True))))
    unit_code = {u.id: u.code for u in units}
    memberships: dict[int, list[str]] = {}
    for user_id, unit_id in session.execute(select(UserUnit.user_id, UserUnit.unit_id)):
        memberships.setdefault(user_id, []).append(unit_code.get(unit_id, "?"))
    roles = []
    for role in ROLES:
        holders = [u for u in users if u.has_role(role)]
        per_unit = Counter(code for u in holders for code in memberships.get(u.id, ["(alle)"]))
        roles.append({"role": role, "count": len(holders), "per_unit": dict(sorted(per_unit.items()))})
    limits = Counter(str(u.approval_limit) if u.approval_limit is not None else "keine"
                     for u in users if u.has_role("approver"))
    return {"units": [{"code": u.code, "name": u.name, "bundesland": u.bundesland, "active": u.active,
                       "cost_centres": centres.get(u.id, 0), "leitweg_ids": leitweg.get(u.id, 0),
                       "has_lead": u.lead_user_id is not None} for u in units],
            "roles": roles, "limits": dict(sorted(limits.items(), key=lambda kv: (kv[0] == "keine", len(kv[0]), kv[0]))),
            "users": len(users)}


def collect(db: Database, *, clock: Clock = SYSTEM_CLOCK) -> dict[str, Any]:
    """Everything the Verfahrensdokumentation states about this installation (see the module doc)."""
    settings = db.settings
    on = today(clock)
    with db.read() as session:
        units, centres = _codes(session, OrgUnit), _codes(session, CostCentre)
        rules = [{"position": r.position, "name": r.name, "key": r.key, "pattern": r.pattern,
                  "unit": units.get(r.unit_id), "cost_centre": centres.get(r.cost_centre_id), "account": r.account,
                  "confidence": r.confidence, "active": r.active, "note": r.note}
                 for r in session.scalars(select(MatchingRule).order_by(MatchingRule.position, MatchingRule.id))]
        workflows = [workflow_dict(session, w) for w in
                     session.scalars(select(Workflow).order_by(Workflow.active.desc(), Workflow.position, Workflow.id))]
        substitutions = list(session.scalars(select(Substitution)))
        states = dict(session.execute(select(IntakeItem.state, func.count()).group_by(IntakeItem.state)).all())
        organisation = _organisation(session)
        archive = _archive(db, session)
    return {
        "generated_at": clock.now(), "date": on, "version": _version(), "python": platform.python_version(),
        "database": _database(db), "data_dir": str(settings.data_dir),
        "api_token": bool(setting("EINVOICE_API_TOKEN", "").strip()),
        "secret_key": bool(setting("EINVOICE_SECRET_KEY", "").strip()),
        "base_url": setting("EINVOICE_BASE_URL") or None,
        "limits": {"max_xml_bytes": settings.max_xml_bytes, "max_pdf_bytes": settings.max_pdf_bytes},
        "jobs": {"max_attempts": settings.job_max_attempts, "lease_seconds": settings.job_lease_seconds,
                 "retry_seconds": settings.job_retry_seconds},
        "channels": _channels(), "validation": _packs(db),
        "matching": {"min_confidence": settings.match_min_confidence, "rules": rules},
        "workflows": workflows,
        "deadlines": {"bundesland": settings.bundesland, "payment_days": settings.payment_days,
                      "payment_run_lead_days": settings.payment_run_lead_days,
                      "skonto_reminder_days": settings.skonto_reminder_days,
                      "escalation_days": settings.escalation_days},
        "organisation": organisation,
        "substitutions": {"total": len(substitutions),
                          "active": sum(s.starts_on <= on <= s.ends_on for s in substitutions)},
        "export_mappings": _export_mappings(), "archive": archive,
        "payments": {"debtor_name": getattr(settings, "debtor_name", None),
                     "debtor_iban": getattr(settings, "debtor_iban", None)},
        "items": dict(sorted(states.items())),
    }
