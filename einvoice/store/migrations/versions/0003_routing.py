"""Routing: master data, matching rules and results, approval workflow, deadlines, reminders.

Revision ID: 0003
Revises: 0002
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
# 0002 named its check constraint twice over through the naming convention; 0003 gives it the plain name
OLD_KIND_CHECK, KIND_CHECK = "ck_mail_notifications_ck_mail_notifications_kind", "ck_mail_notifications_kind"
OLD_NOTICE_KINDS = ("receipt", "rejection", "duplicate", "no-invoice")
NOTICE_KINDS = OLD_NOTICE_KINDS + ("workflow-rejection",)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _notice_kinds(drop: str, create: str, values: tuple[str, ...]) -> None:
    with op.batch_alter_table("mail_notifications") as batch_op:
        batch_op.drop_constraint(op.f(drop), type_="check")
        batch_op.create_check_constraint(op.f(create), _in("kind", values))


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    _notice_kinds(OLD_KIND_CHECK, KIND_CHECK, NOTICE_KINDS)
    op.create_table('accounts',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_accounts'))
    )
    op.create_table('scheduler_runs',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('next_run_at', TIME, nullable=False),
    sa.Column('last_run_at', TIME, nullable=True),
    sa.Column('last_result', JSON, nullable=True),
    sa.Column('locked_by', sa.String(length=256), nullable=True),
    sa.Column('locked_until', TIME, nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_runs'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=128), nullable=False),
    sa.Column('display_name', sa.String(length=256), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('roles', JSON, nullable=False),
    sa.Column('approval_limit', MONEY, nullable=True),
    sa.Column('password_hash', sa.String(length=256), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', TIME, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('org_units',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('lead_user_id', sa.Integer(), nullable=True),
    sa.Column('bundesland', sa.String(length=2), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['lead_user_id'], ['users.id'], name=op.f('fk_org_units_lead_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_units')),
    sa.UniqueConstraint('code', name=op.f('uq_org_units_code'))
    )
    op.create_table('comments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('author', sa.String(length=256), nullable=False),
    sa.Column('at', TIME, nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['intake_items.id'], name=op.f('fk_comments_item_id_intake_items')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_comments_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comments'))
    )
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comments_item_id'), ['item_id'], unique=False)

    op.create_table('cost_centres',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('default_account', sa.String(length=32), nullable=True),
    sa.Column('budget_product', sa.String(length=64), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['default_account'], ['accounts.code'], name=op.f('fk_cost_centres_default_account_accounts')),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_cost_centres_unit_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cost_centres')),
    sa.UniqueConstraint('code', name=op.f('uq_cost_centres_code'))
    )
    with op.batch_alter_table('cost_centres', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cost_centres_unit_id'), ['unit_id'], unique=False)

    op.create_table('invoice_deadlines',
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('receipt_date', sa.Date(), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('legal_due_date', sa.Date(), nullable=False),
    sa.Column('pay_by', sa.Date(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('payable', MONEY, nullable=False),
    sa.Column('terms', JSON, nullable=True),
    sa.Column('skonto_deadline', sa.Date(), nullable=True),
    sa.Column('skonto_amount', MONEY, nullable=True),
    sa.Column('money_at_risk_cents', sa.BigInteger(), nullable=False),
    sa.Column('skonto_status', sa.String(length=16), nullable=False),
    sa.Column('offered_amount', MONEY, nullable=True),
    sa.Column('outcome_amount', MONEY, nullable=True),
    sa.Column('outcome_at', TIME, nullable=True),
    sa.Column('notes', JSON, nullable=True),
    sa.Column('updated_at', TIME, nullable=False),
    sa.CheckConstraint("skonto_status IN ('none', 'open', 'captured', 'lost', 'manual')", name=op.f('ck_invoice_deadlines_skonto_status')),
    sa.ForeignKeyConstraint(['item_id'], ['intake_items.id'], name=op.f('fk_invoice_deadlines_item_id_intake_items')),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_invoice_deadlines_unit_id_org_units')),
    sa.PrimaryKeyConstraint('item_id', name=op.f('pk_invoice_deadlines'))
    )
    with op.batch_alter_table('invoice_deadlines', schema=None) as batch_op:
        batch_op.create_index('ix_invoice_deadlines_priority', ['money_at_risk_cents'], unique=False)
        batch_op.create_index('ix_invoice_deadlines_skonto_deadline', ['skonto_deadline'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoice_deadlines_unit_id'), ['unit_id'], unique=False)

    op.create_table('reminders',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=256), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', TIME, nullable=False),
    sa.Column('sent_at', TIME, nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['item_id'], ['intake_items.id'], name=op.f('fk_reminders_item_id_intake_items')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_reminders_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminders')),
    sa.UniqueConstraint('key', name=op.f('uq_reminders_key'))
    )
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminders_item_id'), ['item_id'], unique=False)

    op.create_table('substitutions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('absent_user_id', sa.Integer(), nullable=False),
    sa.Column('substitute_user_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('created_by', sa.String(length=256), nullable=True),
    sa.Column('created_at', TIME, nullable=False),
    sa.CheckConstraint('starts_on <= ends_on', name=op.f('ck_substitutions_period')),
    sa.ForeignKeyConstraint(['absent_user_id'], ['users.id'], name=op.f('fk_substitutions_absent_user_id_users')),
    sa.ForeignKeyConstraint(['substitute_user_id'], ['users.id'], name=op.f('fk_substitutions_substitute_user_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_substitutions_unit_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_substitutions'))
    )
    with op.batch_alter_table('substitutions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_substitutions_absent_user_id'), ['absent_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_substitutions_substitute_user_id'), ['substitute_user_id'], unique=False)

    op.create_table('user_units',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_user_units_unit_id_org_units')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_units_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', 'unit_id', name=op.f('pk_user_units'))
    )
    op.create_table('leitweg_ids',
    sa.Column('leitweg_id', sa.String(length=64), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('cost_centre_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.String(length=256), nullable=True),
    sa.Column('central', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['cost_centre_id'], ['cost_centres.id'], name=op.f('fk_leitweg_ids_cost_centre_id_cost_centres')),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_leitweg_ids_unit_id_org_units')),
    sa.PrimaryKeyConstraint('leitweg_id', name=op.f('pk_leitweg_ids'))
    )
    with op.batch_alter_table('leitweg_ids', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_leitweg_ids_unit_id'), ['unit_id'], unique=False)

    op.create_table('match_results',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('created_at', TIME, nullable=False),
    sa.Column('actor', sa.String(length=256), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('cost_centre_id', sa.Integer(), nullable=True),
    sa.Column('account', sa.String(length=32), nullable=True),
    sa.Column('confidence', sa.Integer(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('splits', JSON, nullable=True),
    sa.Column('candidates', JSON, nullable=True),
    sa.CheckConstraint("status IN ('matched', 'manual')", name=op.f('ck_match_results_status')),
    sa.ForeignKeyConstraint(['cost_centre_id'], ['cost_centres.id'], name=op.f('fk_match_results_cost_centre_id_cost_centres')),
    sa.ForeignKeyConstraint(['item_id'], ['intake_items.id'], name=op.f('fk_match_results_item_id_intake_items')),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_match_results_unit_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_match_results'))
    )
    with op.batch_alter_table('match_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_match_results_item_id'), ['item_id'], unique=False)

    op.create_table('matching_rules',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('pattern', sa.String(length=256), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('cost_centre_id', sa.Integer(), nullable=True),
    sa.Column('account', sa.String(length=32), nullable=True),
    sa.Column('confidence', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('updated_at', TIME, nullable=False),
    sa.Column('updated_by', sa.String(length=256), nullable=True),
    sa.CheckConstraint("key IN ('leitweg', 'order', 'contract', 'buyer_reference', 'line_reference', 'supplier_vat', 'supplier_iban', 'supplier_name')", name=op.f('ck_matching_rules_key')),
    sa.ForeignKeyConstraint(['account'], ['accounts.code'], name=op.f('fk_matching_rules_account_accounts')),
    sa.ForeignKeyConstraint(['cost_centre_id'], ['cost_centres.id'], name=op.f('fk_matching_rules_cost_centre_id_cost_centres')),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_matching_rules_unit_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_matching_rules'))
    )
    with op.batch_alter_table('matching_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_matching_rules_position'), ['position'], unique=False)

    op.create_table('suppliers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('creditor_number', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=512), nullable=False),
    sa.Column('vat_id', sa.String(length=64), nullable=True),
    sa.Column('tax_number', sa.String(length=64), nullable=True),
    sa.Column('iban', sa.String(length=34), nullable=True),
    sa.Column('bic', sa.String(length=11), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('default_cost_centre_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['default_cost_centre_id'], ['cost_centres.id'], name=op.f('fk_suppliers_default_cost_centre_id_cost_centres')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suppliers')),
    sa.UniqueConstraint('creditor_number', name=op.f('uq_suppliers_creditor_number'))
    )
    with op.batch_alter_table('suppliers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suppliers_iban'), ['iban'], unique=False)
        batch_op.create_index(batch_op.f('ix_suppliers_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_suppliers_vat_id'), ['vat_id'], unique=False)

    op.create_table('workflows',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('cost_centre_id', sa.Integer(), nullable=True),
    sa.Column('min_amount', MONEY, nullable=True),
    sa.Column('steps', JSON, nullable=False),
    sa.Column('rules', JSON, nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['cost_centre_id'], ['cost_centres.id'], name=op.f('fk_workflows_cost_centre_id_cost_centres')),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_workflows_unit_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflows')),
    sa.UniqueConstraint('name', name=op.f('uq_workflows_name'))
    )
    op.create_table('approval_cases',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('workflow_id', sa.Integer(), nullable=True),
    sa.Column('workflow_snapshot', JSON, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('current_position', sa.Integer(), nullable=False),
    sa.Column('gross_amount', MONEY, nullable=False),
    sa.Column('payable_amount', MONEY, nullable=False),
    sa.Column('payable_reason', sa.Text(), nullable=True),
    sa.Column('payee_name', sa.String(length=512), nullable=True),
    sa.Column('payee_iban', sa.String(length=34), nullable=True),
    sa.Column('frozen_at', TIME, nullable=True),
    sa.Column('frozen_by', sa.String(length=256), nullable=True),
    sa.Column('iban_alert', sa.String(length=16), nullable=True),
    sa.Column('iban_alert_reason', sa.Text(), nullable=True),
    sa.Column('iban_alert_cleared_by', sa.String(length=256), nullable=True),
    sa.Column('parked_reason', sa.Text(), nullable=True),
    sa.Column('parked_at', TIME, nullable=True),
    sa.Column('created_at', TIME, nullable=False),
    sa.Column('closed_at', TIME, nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('open', 'parked', 'approved', 'rejected', 'cancelled')", name=op.f('ck_approval_cases_status')),
    sa.ForeignKeyConstraint(['item_id'], ['intake_items.id'], name=op.f('fk_approval_cases_item_id_intake_items')),
    sa.ForeignKeyConstraint(['workflow_id'], ['workflows.id'], name=op.f('fk_approval_cases_workflow_id_workflows')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_cases'))
    )
    with op.batch_alter_table('approval_cases', schema=None) as batch_op:
        batch_op.create_index('ix_approval_cases_item_status', ['item_id', 'status'], unique=False)

    op.create_table('assignments',
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('cost_centre_id', sa.Integer(), nullable=True),
    sa.Column('account', sa.String(length=32), nullable=True),
    sa.Column('budget_product', sa.String(length=64), nullable=True),
    sa.Column('supplier_id', sa.Integer(), nullable=True),
    sa.Column('splits', JSON, nullable=True),
    sa.Column('match_result_id', sa.Integer(), nullable=True),
    sa.Column('manual', sa.Boolean(), nullable=False),
    sa.Column('assigned_by', sa.String(length=256), nullable=False),
    sa.Column('assigned_at', TIME, nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('matched', 'manual')", name=op.f('ck_assignments_status')),
    sa.ForeignKeyConstraint(['cost_centre_id'], ['cost_centres.id'], name=op.f('fk_assignments_cost_centre_id_cost_centres')),
    sa.ForeignKeyConstraint(['item_id'], ['intake_items.id'], name=op.f('fk_assignments_item_id_intake_items')),
    sa.ForeignKeyConstraint(['match_result_id'], ['match_results.id'], name=op.f('fk_assignments_match_result_id_match_results')),
    sa.ForeignKeyConstraint(['supplier_id'], ['suppliers.id'], name=op.f('fk_assignments_supplier_id_suppliers')),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_assignments_unit_id_org_units')),
    sa.PrimaryKeyConstraint('item_id', name=op.f('pk_assignments'))
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_status_unit', ['status', 'unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_supplier_id'), ['supplier_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_unit_id'), ['unit_id'], unique=False)

    op.create_table('contracts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('number', sa.String(length=128), nullable=False),
    sa.Column('supplier_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('cost_centre_id', sa.Integer(), nullable=False),
    sa.Column('account', sa.String(length=32), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['account'], ['accounts.code'], name=op.f('fk_contracts_account_accounts')),
    sa.ForeignKeyConstraint(['cost_centre_id'], ['cost_centres.id'], name=op.f('fk_contracts_cost_centre_id_cost_centres')),
    sa.ForeignKeyConstraint(['supplier_id'], ['suppliers.id'], name=op.f('fk_contracts_supplier_id_suppliers')),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_contracts_unit_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contracts')),
    sa.UniqueConstraint('number', name=op.f('uq_contracts_number'))
    )
    with op.batch_alter_table('contracts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contracts_supplier_id'), ['supplier_id'], unique=False)

    op.create_table('purchase_orders',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('number', sa.String(length=128), nullable=False),
    sa.Column('supplier_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('cost_centre_id', sa.Integer(), nullable=False),
    sa.Column('account', sa.String(length=32), nullable=True),
    sa.Column('amount', MONEY, nullable=True),
    sa.Column('ordered_on', sa.Date(), nullable=True),
    sa.Column('open', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['account'], ['accounts.code'], name=op.f('fk_purchase_orders_account_accounts')),
    sa.ForeignKeyConstraint(['cost_centre_id'], ['cost_centres.id'], name=op.f('fk_purchase_orders_cost_centre_id_cost_centres')),
    sa.ForeignKeyConstraint(['supplier_id'], ['suppliers.id'], name=op.f('fk_purchase_orders_supplier_id_suppliers')),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_purchase_orders_unit_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase_orders')),
    sa.UniqueConstraint('number', name=op.f('uq_purchase_orders_number'))
    )
    with op.batch_alter_table('purchase_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_purchase_orders_supplier_id'), ['supplier_id'], unique=False)

    op.create_table('user_supplier_links',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('supplier_id', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['supplier_id'], ['suppliers.id'], name=op.f('fk_user_supplier_links_supplier_id_suppliers')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_supplier_links_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', 'supplier_id', name=op.f('pk_user_supplier_links'))
    )
    op.create_table('approval_steps',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('needs_limit', sa.Boolean(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('acting_for_id', sa.Integer(), nullable=True),
    sa.Column('decision', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('opened_at', TIME, nullable=True),
    sa.Column('decided_at', TIME, nullable=True),
    sa.CheckConstraint("kind IN ('sachlich', 'rechnerisch', 'anordnung')", name=op.f('ck_approval_steps_kind')),
    sa.CheckConstraint("state IN ('waiting', 'open', 'done', 'auto', 'returned', 'cancelled')", name=op.f('ck_approval_steps_state')),
    sa.ForeignKeyConstraint(['acting_for_id'], ['users.id'], name=op.f('fk_approval_steps_acting_for_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['approval_cases.id'], name=op.f('fk_approval_steps_case_id_approval_cases')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_approval_steps_decided_by_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_approval_steps_unit_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_steps'))
    )
    with op.batch_alter_table('approval_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_approval_steps_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_approval_steps_state_unit', ['state', 'unit_id'], unique=False)



def downgrade() -> None:
    _notice_kinds(KIND_CHECK, OLD_KIND_CHECK, OLD_NOTICE_KINDS)
    with op.batch_alter_table('approval_steps', schema=None) as batch_op:
        batch_op.drop_index('ix_approval_steps_state_unit')
        batch_op.drop_index(batch_op.f('ix_approval_steps_case_id'))

    op.drop_table('approval_steps')
    op.drop_table('user_supplier_links')
    with op.batch_alter_table('purchase_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_purchase_orders_supplier_id'))

    op.drop_table('purchase_orders')
    with op.batch_alter_table('contracts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contracts_supplier_id'))

    op.drop_table('contracts')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignments_unit_id'))
        batch_op.drop_index(batch_op.f('ix_assignments_supplier_id'))
        batch_op.drop_index('ix_assignments_status_unit')

    op.drop_table('assignments')
    with op.batch_alter_table('approval_cases', schema=None) as batch_op:
        batch_op.drop_index('ix_approval_cases_item_status')

    op.drop_table('approval_cases')
    op.drop_table('workflows')
    with op.batch_alter_table('suppliers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suppliers_vat_id'))
        batch_op.drop_index(batch_op.f('ix_suppliers_name'))
        batch_op.drop_index(batch_op.f('ix_suppliers_iban'))

    op.drop_table('suppliers')
    with op.batch_alter_table('matching_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_matching_rules_position'))

    op.drop_table('matching_rules')
    with op.batch_alter_table('match_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_match_results_item_id'))

    op.drop_table('match_results')
    with op.batch_alter_table('leitweg_ids', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_leitweg_ids_unit_id'))

    op.drop_table('leitweg_ids')
    op.drop_table('user_units')
    with op.batch_alter_table('substitutions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_substitutions_substitute_user_id'))
        batch_op.drop_index(batch_op.f('ix_substitutions_absent_user_id'))

    op.drop_table('substitutions')
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminders_item_id'))

    op.drop_table('reminders')
    with op.batch_alter_table('invoice_deadlines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_deadlines_unit_id'))
        batch_op.drop_index('ix_invoice_deadlines_skonto_deadline')
        batch_op.drop_index('ix_invoice_deadlines_priority')

    op.drop_table('invoice_deadlines')
    with op.batch_alter_table('cost_centres', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cost_centres_unit_id'))

    op.drop_table('cost_centres')
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comments_item_id'))

    op.drop_table('comments')
    op.drop_table('org_units')
    op.drop_table('users')
    op.drop_table('scheduler_runs')
    op.drop_table('accounts')
