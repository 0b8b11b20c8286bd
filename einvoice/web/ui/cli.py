"""``einvoice users password USERNAME`` and ``einvoice users list``.

``password`` sets a user's web-UI password (argon2) and unlocks the account: read from stdin when stdin
is not a terminal (one line), else prompted twice without echo; at least 10 characters. ``list``
prints username, name, roles, units, active, whether a password is set, lock and last login.
Database: ``EINVOICE_DATABASE_URL`` (default SQLite in the data dir), migrated (``einvoice db upgrade``).
"""

from __future__ import annotations

import argparse
import getpass
import sys


def _password(args) -> int:
    from ...store.db import Database
    from .passwords import set_password

    if sys.stdin.isatty():
        first = getpass.getpass(f"Neues Passwort für {args.username}: ")
        if first != getpass.getpass("Passwort wiederholen: "):
            print("einvoice: die Passwörter stimmen nicht überein", file=sys.stderr)
            return 1
    else:
        first = sys.stdin.readline().rstrip("\r\n")
    db = Database()
    try:
        set_password(db, args.username, first)
    except LookupError:
        print(f"einvoice: unbekannter Benutzer {args.username!r}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"einvoice: {exc}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    print(f"einvoice: Passwort für {args.username} gesetzt", file=sys.stderr)
    return 0


def _list(args) -> int:
    from sqlalchemy import select

    from ...store.db import Database
    from ...store.masterdata_models import OrgUnit, User, UserUnit

    db = Database()
    try:
        with db.read() as session:
            codes = dict(session.execute(select(OrgUnit.id, OrgUnit.code)).all())
            units: dict[int, list[str]] = {}
            for user_id, unit_id in session.execute(select(UserUnit.user_id, UserUnit.unit_id)):
                units.setdefault(user_id, []).append(codes.get(unit_id, "?"))
            users = list(session.scalars(select(User).order_by(User.username)))
    finally:
        db.dispose()
    for user in users:
        print("\t".join([user.username, user.display_name, ",".join(user.roles or []) or "-",
                         ",".join(sorted(units.get(user.id, []))) or "-", "aktiv" if user.active else "inaktiv",
                         "Passwort gesetzt" if user.password_hash else "kein Passwort",
                         f"gesperrt bis {user.locked_until:%Y-%m-%d %H:%M} UTC" if user.locked_until else "-",
                         f"letzte Anmeldung {user.last_login_at:%Y-%m-%d %H:%M} UTC" if user.last_login_at else "-"]))
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    users = subparsers.add_parser("users", help="web UI users: passwords, list")
    commands = users.add_subparsers(dest="users_command", required=True)
    password = commands.add_parser("password", help="set a user's web UI password (stdin or prompt)")
    password.add_argument("username")
    password.set_defaults(func=_password)
    listing = commands.add_parser("list", help="list the users with roles, units and login state")
    listing.set_defaults(func=_list)
    return users
