"""Storage: database (SQLAlchemy 2 + Alembic), blob store and the intake/job tables.

`Database` (db.py) is the handle service functions take; `BlobStore` (blobs.py) keeps raw inputs
by SHA-256; `models.py` has the tables; `migrate.upgrade(url)` creates or updates the schema.
"""

# Loaded on first use (PEP 562), so `einvoice validate` does not import SQLAlchemy.
_LAZY = {
    "AuditEvent": ".models",
    "Blob": ".models",
    "BlobCorruptError": ".blobs",
    "BlobNotFoundError": ".blobs",
    "BlobStore": ".blobs",
    "Channel": ".models",
    "Database": ".db",
    "DuplicateKey": ".models",
    "IntakeItem": ".models",
    "ItemState": ".models",
    "Job": ".models",
    "JobState": ".models",
    "ParsedInvoice": ".models",
    "ValidationReport": ".models",
    "make_engine": ".db",
    "open_database": ".db",
}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AuditEvent", "Blob", "BlobCorruptError", "BlobNotFoundError", "BlobStore", "Channel", "Database", "DuplicateKey",
    "IntakeItem", "ItemState", "Job", "JobState", "ParsedInvoice", "ValidationReport", "make_engine", "open_database",
]
