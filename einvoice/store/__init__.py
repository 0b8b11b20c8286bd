"""Storage: database (SQLAlchemy 2 + Alembic), blob store and the intake/job tables.

`Database` (db.py) is the handle service functions take; `BlobStore` (blobs.py) keeps raw inputs
by SHA-256; `models.py` has the tables; `migrate.upgrade(url)` creates or updates the schema.
"""

from ..lazy import lazy_exports

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


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "AuditEvent", "Blob", "BlobCorruptError", "BlobNotFoundError", "BlobStore", "Channel", "Database", "DuplicateKey",
    "IntakeItem", "ItemState", "Job", "JobState", "ParsedInvoice", "ValidationReport", "make_engine", "open_database",
]
