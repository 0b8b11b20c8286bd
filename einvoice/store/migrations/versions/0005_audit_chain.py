"""Audit chain: seq, prev_hash and hash on every audit event (one hash chain per item), existing events
chained in their order; INSERTs that do not continue the chain refused by a trigger.

The append-only triggers refuse the UPDATE the backfill needs: on PostgreSQL they are disabled for the
backfill inside this migration's transaction (no other session can write meanwhile: ALTER TABLE holds
an exclusive lock until the commit); on SQLite they are dropped and created again (the NOT NULL change
rebuilds the table anyway). The hashing is `einvoice.store.audit_verify_standalone` — format
``einvoice-audit-chain/1``, which never changes (a new format would come with a new revision).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from datetime import timezone

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from einvoice.store.audit_verify_standalone import event_hash, format_time, genesis

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
PAGE = 5000

SQLITE_APPEND_ONLY = (
    """CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END""",
)
SQLITE_LINK = """
    CREATE TRIGGER audit_events_chain_link BEFORE INSERT ON audit_events
    WHEN length(NEW.hash) <> 64 OR length(NEW.prev_hash) <> 64 OR NEW.seq < 1 OR (NEW.seq > 1 AND NOT EXISTS (
        SELECT 1 FROM audit_events WHERE item_id = NEW.item_id AND seq = NEW.seq - 1 AND hash = NEW.prev_hash))
    BEGIN SELECT RAISE(ABORT, 'audit chain: the event does not continue its item''s chain'); END"""
PG_LINK = (
    """CREATE FUNCTION einvoice_audit_chain_link() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.seq = 1 THEN
            IF NEW.prev_hash IS DISTINCT FROM
               encode(sha256(convert_to('einvoice-audit-genesis/1:' || NEW.item_id::text, 'UTF8')), 'hex') THEN
                RAISE EXCEPTION 'audit chain: event 1 of item % does not start from the genesis value', NEW.item_id;
            END IF;
        ELSIF NEW.seq < 1 OR NOT EXISTS (SELECT 1 FROM audit_events WHERE item_id = NEW.item_id
                                           AND seq = NEW.seq - 1 AND hash = NEW.prev_hash) THEN
            RAISE EXCEPTION 'audit chain: event % of item % does not continue its chain', NEW.seq, NEW.item_id;
        END IF;
        IF NEW.hash !~ '^[0-9a-f]{64}$' THEN
            RAISE EXCEPTION 'audit chain: hash of event % of item % is not a SHA-256', NEW.seq, NEW.item_id;
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER audit_events_chain_link BEFORE INSERT ON audit_events
       FOR EACH ROW EXECUTE FUNCTION einvoice_audit_chain_link()""",
)


def _backfill(bind) -> None:
    events = sa.table("audit_events", sa.column("id", sa.Integer), sa.column("item_id", sa.Integer),
                      sa.column("at", TIME), sa.column("actor", sa.String), sa.column("event", sa.String),
                      sa.column("from_state", sa.String), sa.column("to_state", sa.String),
                      sa.column("reason", sa.Text), sa.column("details", JSON), sa.column("seq", sa.Integer),
                      sa.column("prev_hash", sa.String), sa.column("hash", sa.String))
    update = events.update().where(events.c.id == sa.bindparam("b_id")).values(
        seq=sa.bindparam("b_seq"), prev_hash=sa.bindparam("b_prev"), hash=sa.bindparam("b_hash"))
    tails: dict[int, tuple[int, str]] = {}
    last_id = 0
    while True:  # in id order = the order the events were written; pages keep the memory small
        rows = bind.execute(sa.select(events).where(events.c.id > last_id).order_by(events.c.id).limit(PAGE)).all()
        if not rows:
            return
        params = []
        for row in rows:
            seq, prev = tails.get(row.item_id, (0, genesis(row.item_id)))
            at = row.at if row.at.tzinfo else row.at.replace(tzinfo=timezone.utc)  # SQLite: naive UTC
            digest = event_hash({"item_id": row.item_id, "seq": seq + 1, "at": format_time(at), "actor": row.actor,
                                 "event": row.event, "from_state": row.from_state, "to_state": row.to_state,
                                 "reason": row.reason, "details": row.details, "prev_hash": prev})
            tails[row.item_id] = (seq + 1, digest)
            params.append({"b_id": row.id, "b_seq": seq + 1, "b_prev": prev, "b_hash": digest})
        bind.execute(update, params)
        last_id = rows[-1].id


def upgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    if pg:
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
    else:
        op.execute("DROP TRIGGER audit_events_no_update")
        op.execute("DROP TRIGGER audit_events_no_delete")
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(64), nullable=True))
    _backfill(bind)
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(64), nullable=False)
        batch_op.drop_index("ix_audit_events_item_id")  # the unique (item_id, seq) index serves item lookups
        batch_op.create_index("uq_audit_events_item_id_seq", ["item_id", "seq"], unique=True)
    if pg:
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
        for statement in PG_LINK:
            op.execute(statement)
    else:
        for statement in (*SQLITE_APPEND_ONLY, SQLITE_LINK):
            op.execute(statement)


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    if pg:
        op.execute("DROP TRIGGER audit_events_chain_link ON audit_events")
        op.execute("DROP FUNCTION einvoice_audit_chain_link()")
    else:
        for name in ("audit_events_chain_link", "audit_events_no_update", "audit_events_no_delete"):
            op.execute(f"DROP TRIGGER {name}")
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.drop_index("uq_audit_events_item_id_seq")
        batch_op.create_index("ix_audit_events_item_id", ["item_id"], unique=False)
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
    if not pg:
        for statement in SQLITE_APPEND_ONLY:
            op.execute(statement)
