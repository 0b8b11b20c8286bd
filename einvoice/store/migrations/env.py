"""Alembic environment: the URL comes from the caller (`einvoice.store.migrate`) or the settings.

The engine is made with `einvoice.store.db.make_engine`, so SQLite gets the same pragmas as the
application (WAL, foreign keys). On PostgreSQL a transaction-scoped advisory lock lets several
processes call ``upgrade`` at once: one migrates, the others wait and then find nothing to do.
"""

from __future__ import annotations

from alembic import context

from einvoice.config import load_settings
from einvoice.store.db import make_engine
from einvoice.store.models import Base

config = context.config
target_metadata = Base.metadata
MIGRATION_LOCK_ID = 0x65696E76  # "einv"


def _url() -> str:
    return (config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
            or load_settings().effective_database_url)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})")
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
