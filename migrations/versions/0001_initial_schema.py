"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 13:42:44.880060
"""

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _stamp(name: str) -> sa.Column[object]:
    """A `timestamptz NOT NULL DEFAULT now()` column."""
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)


# The main application owns these; this service reads them and writes `workspaces.plan`.
MAIN_APPLICATION_COLUMNS = {
    "workspaces": ("id", "name", "plan"),
    "workspace_members": ("workspace_id", "user_id", "role"),
}


class MainApplicationSchemaError(RuntimeError):
    """The main application's tables are missing or lack a column this service needs."""


def _billing_env() -> str:
    # `billing migrate` passes its BILLING_ENV; a bare `alembic upgrade` reads the variable.
    configured = context.config.attributes.get("billing_env")
    return str(configured or os.environ.get("BILLING_ENV", "development"))


def _main_application_tables() -> None:
    """Check the main application's tables; create them only where they are absent and
    this is not production (local stack, tests). Production never creates or alters them."""
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for table, required in MAIN_APPLICATION_COLUMNS.items():
        if table not in existing:
            continue
        columns = {column["name"] for column in inspector.get_columns(table)}
        lacking = [name for name in required if name not in columns]
        if lacking:
            raise MainApplicationSchemaError(
                f"the main application's table {table} lacks the column(s) "
                f"{', '.join(lacking)} that billing needs; migrate the main application first"
            )
    absent = [table for table in MAIN_APPLICATION_COLUMNS if table not in existing]
    if absent and _billing_env() == "production":
        raise MainApplicationSchemaError(
            f"the main application's table(s) {', '.join(absent)} do not exist; billing never "
            "creates them in production: migrate the main application first"
        )
    if "workspaces" in absent:
        op.create_table(
            "workspaces",
            sa.Column("name", sa.String(), server_default=sa.text("''"), nullable=False),
            sa.Column("plan", sa.String(), server_default=sa.text("'free'"), nullable=False),
            sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
            _stamp("created_at"),
            sa.PrimaryKeyConstraint("id"),
        )
    if "workspace_members" in absent:
        op.create_table(
            "workspace_members",
            sa.Column("workspace_id", sa.Uuid(), nullable=False),
            sa.Column("user_id", sa.Uuid(), nullable=False),
            sa.Column("role", sa.String(), server_default=sa.text("'member'"), nullable=False),
            sa.CheckConstraint(
                "role IN ('owner', 'admin', 'member')", name="ck_workspace_members_role"
            ),
            sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("workspace_id", "user_id"),
        )
        op.create_index(
            op.f("ix_workspace_members_user_id"), "workspace_members", ["user_id"], unique=False
        )


def upgrade() -> None:
    _main_application_tables()
    op.create_table(
        "billing_cursors",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        _stamp("updated_at"),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "plan_variants",
        sa.Column("plan_slug", sa.String(), nullable=False),
        sa.Column("interval", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("stripe_price_id", sa.String(), nullable=True),
        sa.Column("stripe_product_id", sa.String(), nullable=True),
        sa.Column("unit_amount", sa.Integer(), nullable=True),
        sa.Column("lookup_key", sa.String(), nullable=True),
        sa.Column("gating_bundle", sa.String(), nullable=True),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "grants",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_slug", "interval", "currency", name="uq_plan_variants_plan"),
        sa.UniqueConstraint("stripe_price_id"),
    )
    op.create_table(
        "stripe_webhook_events",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column(
            "payload",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("stripe_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("workspace_id", sa.Uuid(), nullable=True),
        sa.Column("stripe_object_id", sa.String(), nullable=True),
        _stamp("received_at"),
        sa.Column("processing_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'processing', 'completed', 'failed', 'ignored')",
            name="ck_stripe_webhook_events_status",
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_stripe_webhook_events_status_received",
        "stripe_webhook_events",
        ["status", "received_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_stripe_webhook_events_type"), "stripe_webhook_events", ["type"], unique=False
    )
    op.create_index(
        op.f("ix_stripe_webhook_events_workspace_id"),
        "stripe_webhook_events",
        ["workspace_id"],
        unique=False,
    )
    op.create_table(
        "workspace_billing_customer_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(), nullable=False),
        sa.Column("old_stripe_customer_id", sa.String(), nullable=True),
        sa.Column("new_stripe_customer_id", sa.String(), nullable=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("stripe_event_id", sa.String(), nullable=True),
        _stamp("created_at"),
        sa.CheckConstraint(
            "event_type IN ('validated', 'invalidated', 'recreated', 'webhook_deleted')",
            name="ck_customer_events_type",
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_workspace_billing_customer_events_workspace_id"),
        "workspace_billing_customer_events",
        ["workspace_id"],
        unique=False,
    )
    op.create_table(
        "checkout_sessions",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.Uuid(), nullable=True),
        sa.Column("stripe_customer_id", sa.String(), nullable=True),
        sa.Column("plan_slug", sa.String(), nullable=False),
        sa.Column("interval", sa.String(), nullable=False),
        sa.Column("stripe_price_id", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("url", sa.String(), nullable=True),
        sa.Column("stripe_subscription_id", sa.String(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        _stamp("created_at"),
        sa.Column("finalized_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reconcile_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'confirmed', 'expired')", name="ck_checkout_sessions_status"
        ),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_checkout_sessions_stripe_subscription_id"),
        "checkout_sessions",
        ["stripe_subscription_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_checkout_sessions_workspace_id"),
        "checkout_sessions",
        ["workspace_id"],
        unique=False,
    )
    op.create_table(
        "stripe_checkout_idempotency",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.Uuid(), nullable=False),
        sa.Column("request_hash", sa.String(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("checkout_session_id", sa.String(), nullable=True),
        sa.Column(
            "response",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        _stamp("created_at"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "idempotency_key", name="uq_checkout_idempotency_key"),
    )
    op.create_index(
        op.f("ix_stripe_checkout_idempotency_expires_at"),
        "stripe_checkout_idempotency",
        ["expires_at"],
        unique=False,
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("plan_slug", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("stripe_subscription_id", sa.String(), nullable=True),
        sa.Column("stripe_customer_id", sa.String(), nullable=True),
        sa.Column("stripe_price_id", sa.String(), nullable=True),
        sa.Column("interval", sa.String(), nullable=True),
        sa.Column("current_period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "cancel_at_period_end", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("grace_period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("canceled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_event_created", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_stripe_event_id", sa.String(), nullable=True),
        _stamp("created_at"),
        _stamp("updated_at"),
        sa.CheckConstraint(
            "status IN ('trialing', 'active', 'past_due', 'unpaid', 'paused', 'canceled', 'incomplete', 'incomplete_expired')",
            name="ck_subscriptions_status",
        ),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("stripe_subscription_id"),
    )
    op.create_index(
        op.f("ix_subscriptions_grace_period_end"),
        "subscriptions",
        ["grace_period_end"],
        unique=False,
    )
    op.create_index(
        op.f("ix_subscriptions_stripe_customer_id"),
        "subscriptions",
        ["stripe_customer_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_subscriptions_workspace_id"), "subscriptions", ["workspace_id"], unique=False
    )
    op.create_index(
        "uq_subscriptions_one_entitled_per_workspace",
        "subscriptions",
        ["workspace_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('active', 'trialing', 'past_due')"),
    )
    op.create_table(
        "workspace_billing_customers",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("stripe_customer_id", sa.String(), nullable=False),
        _stamp("created_at"),
        _stamp("updated_at"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id"),
        sa.UniqueConstraint("stripe_customer_id"),
    )
    op.create_table(
        "subscription_items",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("stripe_subscription_item_id", sa.String(), nullable=True),
        sa.Column("stripe_price_id", sa.String(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("current_period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("current_period_end", sa.DateTime(timezone=True), nullable=True),
        _stamp("updated_at"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "subscription_id", "stripe_price_id", name="uq_subscription_items_price"
        ),
    )
    op.create_table(
        "workspace_grants",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("grant_program_code", sa.String(), nullable=False),
        sa.Column(
            "value",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'null'::jsonb"),
            nullable=True,
        ),
        sa.Column("source_subscription_id", sa.Uuid(), nullable=True),
        _stamp("granted_at"),
        sa.ForeignKeyConstraint(
            ["source_subscription_id"], ["subscriptions.id"], ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "grant_program_code"),
    )


def downgrade() -> None:
    # Billing's own tables only: workspaces and workspace_members stay, whoever made them.
    op.drop_table("workspace_grants")
    op.drop_table("subscription_items")
    op.drop_table("workspace_billing_customers")
    op.drop_index(
        "uq_subscriptions_one_entitled_per_workspace",
        table_name="subscriptions",
        postgresql_where=sa.text("status IN ('active', 'trialing', 'past_due')"),
    )
    op.drop_index(op.f("ix_subscriptions_workspace_id"), table_name="subscriptions")
    op.drop_index(op.f("ix_subscriptions_stripe_customer_id"), table_name="subscriptions")
    op.drop_index(op.f("ix_subscriptions_grace_period_end"), table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_index(
        op.f("ix_stripe_checkout_idempotency_expires_at"), table_name="stripe_checkout_idempotency"
    )
    op.drop_table("stripe_checkout_idempotency")
    op.drop_index(op.f("ix_checkout_sessions_workspace_id"), table_name="checkout_sessions")
    op.drop_index(
        op.f("ix_checkout_sessions_stripe_subscription_id"), table_name="checkout_sessions"
    )
    op.drop_table("checkout_sessions")
    op.drop_index(
        op.f("ix_workspace_billing_customer_events_workspace_id"),
        table_name="workspace_billing_customer_events",
    )
    op.drop_table("workspace_billing_customer_events")
    op.drop_index(op.f("ix_stripe_webhook_events_workspace_id"), table_name="stripe_webhook_events")
    op.drop_index(op.f("ix_stripe_webhook_events_type"), table_name="stripe_webhook_events")
    op.drop_index("ix_stripe_webhook_events_status_received", table_name="stripe_webhook_events")
    op.drop_table("stripe_webhook_events")
    op.drop_table("plan_variants")
    op.drop_table("billing_cursors")
