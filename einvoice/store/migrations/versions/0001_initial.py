"""Initial schema: blobs, intake items, audit events (append-only), reports, parsed invoices, duplicate keys, jobs.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# frozen here on purpose: a later change of the application's types must not change this revision
TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ITEM_STATES = ("received", "validated", "rejected", "parsed", "matched", "in_approval", "approved", "exported",
               "archived", "duplicate", "failed")
CHANNELS = ("upload", "api", "imap", "smtp", "folder")
JOB_STATES = ("queued", "running", "done", "dead")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_blobs"),
    )
    op.create_table(
        "intake_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("sender", sa.String(1024), nullable=True),
        sa.Column("file_name", sa.String(1024), nullable=True),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("envelope_sha256", sa.String(64), nullable=True),
        sa.Column("extra", JSON, nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("state_changed_at", TIME, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(32), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=True),
        sa.Column("triage", sa.String(16), nullable=True),
        sa.Column("invoice_number", sa.String(256), nullable=True),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("seller_name", sa.String(512), nullable=True),
        sa.Column("seller_vat_id", sa.String(64), nullable=True),
        sa.Column("duplicate_of_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(_in("channel", CHANNELS), name="ck_intake_items_channel"),
        sa.CheckConstraint(_in("state", ITEM_STATES), name="ck_intake_items_state"),
        sa.ForeignKeyConstraint(["duplicate_of_id"], ["intake_items.id"],
                                name="fk_intake_items_duplicate_of_id_intake_items"),
        sa.ForeignKeyConstraint(["envelope_sha256"], ["blobs.sha256"], name="fk_intake_items_envelope_sha256_blobs"),
        sa.ForeignKeyConstraint(["sha256"], ["blobs.sha256"], name="fk_intake_items_sha256_blobs"),
        sa.PrimaryKeyConstraint("id", name="pk_intake_items"),
        sa.UniqueConstraint("uid", name="uq_intake_items_uid"),
    )
    op.create_index("ix_intake_items_duplicate_of_id", "intake_items", ["duplicate_of_id"])
    op.create_index("ix_intake_items_sha256", "intake_items", ["sha256"])
    op.create_index("ix_intake_items_state_received_at", "intake_items", ["state", "received_at"])

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(20), nullable=True),
        sa.Column("to_state", sa.String(20), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", JSON, nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["intake_items.id"], name="fk_audit_events_item_id_intake_items"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_item_id", "audit_events", ["item_id"])

    op.create_table(
        "duplicate_keys",
        sa.Column("key", sa.String(700), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["intake_items.id"], name="fk_duplicate_keys_item_id_intake_items"),
        sa.PrimaryKeyConstraint("key", name="pk_duplicate_keys"),
    )
    op.create_index("ix_duplicate_keys_item_id", "duplicate_keys", ["item_id"])

    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("payload", JSON, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", TIME, nullable=False),
        sa.Column("locked_by", sa.String(256), nullable=True),
        sa.Column("locked_until", TIME, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("started_at", TIME, nullable=True),
        sa.Column("finished_at", TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(_in("state", JOB_STATES), name="ck_jobs_state"),
        sa.ForeignKeyConstraint(["item_id"], ["intake_items.id"], name="fk_jobs_item_id_intake_items"),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_item_id", "jobs", ["item_id"])
    op.create_index("ix_jobs_state_run_after", "jobs", ["state", "run_after"])
    pending = sa.text("state IN ('queued', 'running')")
    op.create_index("ix_jobs_pending", "jobs", ["id"], postgresql_where=pending, sqlite_where=pending)

    op.create_table(
        "parsed_invoices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("model", JSON, nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["intake_items.id"], name="fk_parsed_invoices_item_id_intake_items"),
        sa.PrimaryKeyConstraint("id", name="pk_parsed_invoices"),
    )
    op.create_index("ix_parsed_invoices_item_id", "parsed_invoices", ["item_id"])

    op.create_table(
        "validation_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("triage", sa.String(16), nullable=False),
        sa.Column("pack", sa.String(256), nullable=True),
        sa.Column("report", JSON, nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["intake_items.id"], name="fk_validation_reports_item_id_intake_items"),
        sa.PrimaryKeyConstraint("id", name="pk_validation_reports"),
    )
    op.create_index("ix_validation_reports_item_id", "validation_reports", ["item_id"])

    # the audit trail is append-only in the database too, not only in the ORM
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION einvoice_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP;
            END $$""")
        op.execute("""
            CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
            FOR EACH ROW EXECUTE FUNCTION einvoice_audit_append_only()""")
        op.execute("""
            CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
            FOR EACH STATEMENT EXECUTE FUNCTION einvoice_audit_append_only()""")
    else:
        op.execute("""
            CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
            BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END""")
        op.execute("""
            CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
            BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION einvoice_audit_append_only()")
    for table in ("validation_reports", "parsed_invoices", "jobs", "duplicate_keys", "audit_events", "intake_items",
                  "blobs"):
        op.drop_table(table)
