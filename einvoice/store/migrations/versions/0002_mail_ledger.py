"""Mail ledger: received messages (IMAP UIDVALIDITY/UID, Message-ID, SHA-256), their keys, sent notices.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# frozen here on purpose: a later change of the application's types must not change this revision
TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
MAIL_CHANNELS = ("imap", "smtp")
OUTCOMES = ("invoices", "no-invoice", "already-imported", "failing", "error")
NOTICE_KINDS = ("receipt", "rejection", "duplicate", "no-invoice")
NOTICE_STATES = ("sending", "sent", "failed", "unknown")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "mail_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("mailbox", sa.String(512), nullable=True),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("uid", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.String(998), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sender", sa.String(1024), nullable=True),
        sa.Column("reply_to", sa.String(1024), nullable=True),
        sa.Column("envelope_from", sa.String(1024), nullable=True),
        sa.Column("recipients", JSON, nullable=True),
        sa.Column("subject", sa.String(1024), nullable=True),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("stored_at", TIME, nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("first_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("details", JSON, nullable=True),
        sa.Column("moved_to", sa.String(512), nullable=True),
        sa.Column("moved_at", TIME, nullable=True),
        sa.CheckConstraint(_in("channel", MAIL_CHANNELS), name="ck_mail_messages_channel"),
        sa.CheckConstraint(_in("outcome", OUTCOMES), name="ck_mail_messages_outcome"),
        sa.ForeignKeyConstraint(["sha256"], ["blobs.sha256"], name="fk_mail_messages_sha256_blobs"),
        sa.ForeignKeyConstraint(["first_id"], ["mail_messages.id"], name="fk_mail_messages_first_id_mail_messages"),
        sa.PrimaryKeyConstraint("id", name="pk_mail_messages"),
        sa.UniqueConstraint("mailbox", "uidvalidity", "uid", name="uq_mail_messages_mailbox_uid"),
    )
    op.create_index("ix_mail_messages_message_id", "mail_messages", ["message_id"])
    op.create_index("ix_mail_messages_sha256", "mail_messages", ["sha256"])
    op.create_index("ix_mail_messages_mailbox_outcome", "mail_messages", ["mailbox", "outcome"])

    op.create_table(
        "mail_keys",
        sa.Column("key", sa.String(1100), nullable=False),
        sa.Column("mail_message_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["mail_message_id"], ["mail_messages.id"],
                                name="fk_mail_keys_mail_message_id_mail_messages"),
        sa.PrimaryKeyConstraint("key", name="pk_mail_keys"),
    )
    op.create_index("ix_mail_keys_mail_message_id", "mail_keys", ["mail_message_id"])

    op.create_table(
        "mail_notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("mail_message_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(1024), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(998), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("sent_at", TIME, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(_in("kind", NOTICE_KINDS), name="ck_mail_notifications_kind"),
        sa.CheckConstraint(_in("state", NOTICE_STATES), name="ck_mail_notifications_state"),
        sa.ForeignKeyConstraint(["item_id"], ["intake_items.id"], name="fk_mail_notifications_item_id_intake_items"),
        sa.ForeignKeyConstraint(["mail_message_id"], ["mail_messages.id"],
                                name="fk_mail_notifications_mail_message_id_mail_messages"),
        sa.PrimaryKeyConstraint("id", name="pk_mail_notifications"),
        sa.UniqueConstraint("subject", "kind", name="uq_mail_notifications_subject_kind"),
    )
    op.create_index("ix_mail_notifications_item_id", "mail_notifications", ["item_id"])
    op.create_index("ix_mail_notifications_mail_message_id", "mail_notifications", ["mail_message_id"])


def downgrade() -> None:
    for table in ("mail_notifications", "mail_keys", "mail_messages"):
        op.drop_table(table)
