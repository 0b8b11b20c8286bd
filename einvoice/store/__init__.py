"""Storage: database (SQLAlchemy 2 + Alembic), blob store and the intake/job tables.

`Database` (db.py) is the handle service functions take; `BlobStore` (blobs.py) keeps raw inputs
by SHA-256; `models.py` has the tables; `migrate.upgrade(url)` creates or updates the schema.
"""

from .blobs import BlobCorruptError, BlobNotFoundError, BlobStore
from .db import Database, make_engine, open_database
from .models import (
    AuditEvent, Blob, Channel, DuplicateKey, IntakeItem, ItemState, Job, JobState, ParsedInvoice, ValidationReport,
)

__all__ = [
    "AuditEvent", "Blob", "BlobCorruptError", "BlobNotFoundError", "BlobStore", "Channel", "Database", "DuplicateKey",
    "IntakeItem", "ItemState", "Job", "JobState", "ParsedInvoice", "ValidationReport", "make_engine", "open_database",
]
