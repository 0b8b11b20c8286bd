"""Hand-off: booking export batches and records, payment runs and entries, archive packages; login
fields of users (failed logins, lockout, last login).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

# frozen here on purpose: a later change of the application's types must not change this revision
TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
MONEY = sa.Numeric(18, 2).with_variant(sa.String(32), "sqlite")  # SQLite keeps exact decimals as text


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('export_batches',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('created_at', TIME, nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=False),
    sa.Column('format', sa.String(length=32), nullable=False),
    sa.Column('mapping', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('file_name', sa.String(length=256), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('record_count', sa.Integer(), nullable=False),
    sa.Column('invoice_count', sa.Integer(), nullable=False),
    sa.Column('control_total', MONEY, nullable=False),
    sa.Column('totals', JSON, nullable=True),
    sa.Column('booked_at', TIME, nullable=True),
    sa.Column('booked_by', sa.String(length=256), nullable=True),
    sa.Column('cancelled_at', TIME, nullable=True),
    sa.Column('cancelled_by', sa.String(length=256), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('created', 'booked', 'cancelled')", name=op.f('ck_export_batches_status')),
    sa.ForeignKeyConstraint(['sha256'], ['blobs.sha256'], name=op.f('fk_export_batches_sha256_blobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_batches'))
    )
    op.create_table('payment_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('created_at', TIME, nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=False),
    sa.Column('execution_date', sa.Date(), nullable=False),
    sa.Column('message_id', sa.String(length=35), nullable=False),
    sa.Column('file_name', sa.String(length=256), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('transaction_count', sa.Integer(), nullable=False),
    sa.Column('control_sum', MONEY, nullable=False),
    sa.Column('skonto_total', MONEY, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('cancelled_at', TIME, nullable=True),
    sa.Column('cancelled_by', sa.String(length=256), nullable=True),
    sa.CheckConstraint("status IN ('created', 'cancelled')", name=op.f('ck_payment_runs_status')),
    sa.ForeignKeyConstraint(['sha256'], ['blobs.sha256'], name=op.f('fk_payment_runs_sha256_blobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_runs')),
    sa.UniqueConstraint('message_id', name=op.f('uq_payment_runs_message_id'))
    )
    op.create_table('archive_packages',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('created_at', TIME, nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=False),
    sa.Column('target', sa.String(length=64), nullable=False),
    sa.Column('location', sa.String(length=1024), nullable=False),
    sa.Column('package_name', sa.String(length=256), nullable=False),
    sa.Column('manifest_sha256', sa.String(length=64), nullable=False),
    sa.Column('file_count', sa.Integer(), nullable=False),
    sa.Column('retention_until', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('verified_at', TIME, nullable=True),
    sa.Column('verified_ok', sa.Boolean(), nullable=True),
    sa.CheckConstraint("status IN ('delivered', 'failed')", name=op.f('ck_archive_packages_status')),
    sa.ForeignKeyConstraint(['item_id'], ['intake_items.id'], name=op.f('fk_archive_packages_item_id_intake_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_archive_packages'))
    )
    with op.batch_alter_table('archive_packages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_archive_packages_item_id'), ['item_id'], unique=False)

    op.create_table('export_records',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('split_index', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('gross_amount', MONEY, nullable=False),
    sa.Column('record', JSON, nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['export_batches.id'], name=op.f('fk_export_records_batch_id_export_batches')),
    sa.ForeignKeyConstraint(['item_id'], ['intake_items.id'], name=op.f('fk_export_records_item_id_intake_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_records'))
    )
    with op.batch_alter_table('export_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_export_records_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_export_records_item_id'), ['item_id'], unique=False)
        batch_op.create_index('uq_export_records_active_item_split', ['item_id', 'split_index'], unique=True, postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))

    op.create_table('payment_entries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('end_to_end_id', sa.String(length=35), nullable=False),
    sa.Column('creditor_name', sa.String(length=140), nullable=False),
    sa.Column('creditor_iban', sa.String(length=34), nullable=False),
    sa.Column('creditor_bic', sa.String(length=11), nullable=True),
    sa.Column('amount', MONEY, nullable=False),
    sa.Column('skonto_deducted', MONEY, nullable=False),
    sa.Column('remittance', sa.String(length=140), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['intake_items.id'], name=op.f('fk_payment_entries_item_id_intake_items')),
    sa.ForeignKeyConstraint(['run_id'], ['payment_runs.id'], name=op.f('fk_payment_entries_run_id_payment_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_entries'))
    )
    with op.batch_alter_table('payment_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_entries_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_entries_run_id'), ['run_id'], unique=False)
        batch_op.create_index('uq_payment_entries_active_item', ['item_id'], unique=True, postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False, server_default=sa.text('0')))
        batch_op.add_column(sa.Column('locked_until', TIME, nullable=True))
        batch_op.add_column(sa.Column('last_login_at', TIME, nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('last_login_at')
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_logins')

    with op.batch_alter_table('payment_entries', schema=None) as batch_op:
        batch_op.drop_index('uq_payment_entries_active_item', postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
        batch_op.drop_index(batch_op.f('ix_payment_entries_run_id'))
        batch_op.drop_index(batch_op.f('ix_payment_entries_item_id'))

    op.drop_table('payment_entries')
    with op.batch_alter_table('export_records', schema=None) as batch_op:
        batch_op.drop_index('uq_export_records_active_item_split', postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
        batch_op.drop_index(batch_op.f('ix_export_records_item_id'))
        batch_op.drop_index(batch_op.f('ix_export_records_batch_id'))

    op.drop_table('export_records')
    with op.batch_alter_table('archive_packages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_archive_packages_item_id'))

    op.drop_table('archive_packages')
    op.drop_table('payment_runs')
    op.drop_table('export_batches')
