"""Run the Alembic migrations programmatically (no alembic.ini needed).

    from einvoice.store.migrate import upgrade
    upgrade()                      # EINVOICE_DATABASE_URL or the default SQLite file
    upgrade("postgresql://...")

`check_current` tells whether a database is at the newest revision (the worker refuses to start
on an old schema). For a new revision during development::

    python -m einvoice.store.migrate revision -m "what changed"   # autogenerate against a fresh SQLite
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL

from ..config import load_settings
from .db import make_engine, normalize_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class SchemaNotCurrentError(RuntimeError):
    pass


def alembic_config(url: str | URL | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # passed as an attribute, not an ini option: a password with % would break interpolation
    config.attributes["url"] = normalize_url(url or load_settings().effective_database_url)
    return config


def upgrade(url: str | URL | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | URL | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(url: str | URL | None = None) -> str | None:
    engine = make_engine(url or load_settings().effective_database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def check_current(url: str | URL | None = None) -> None:
    current, head = current_revision(url), head_revision()
    if current != head:
        raise SchemaNotCurrentError(
            f"the database schema is at revision {current or 'none'}, this einvoice needs {head}: "
            f"run `einvoice db upgrade` first")


def open_current(url: str | URL | None = None):
    """A `Database` (of the settings, or ``url``) whose schema is at the newest revision; otherwise
    `SchemaNotCurrentError` telling to run ``einvoice db upgrade`` (the command line prints it)."""
    from .db import Database

    db = Database(url)
    try:
        check_current(db.url)
    except SchemaNotCurrentError:
        db.dispose()
        raise
    return db


def _revision(message: str) -> None:  # development helper
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/autogen.db"
        upgrade(url)
        command.revision(alembic_config(url), message=message, autogenerate=True)


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "revision" and sys.argv[2] == "-m":
        _revision(sys.argv[3])
    else:
        print("usage: python -m einvoice.store.migrate revision -m MESSAGE", file=sys.stderr)
        sys.exit(2)
