"""Alembic environment of the einvoice database (run with `einvoice.store.migrate.upgrade`)."""
