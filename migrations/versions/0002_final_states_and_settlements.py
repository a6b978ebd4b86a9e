"""final ledger states, checkout payment states, duplicate settlements

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEDGER = "('pending', 'processing', 'completed', 'failed', 'ignored'{})"
CHECKOUT = "('pending', 'confirmed', 'expired'{})"


def upgrade() -> None:
    op.drop_constraint("ck_stripe_webhook_events_status", "stripe_webhook_events")
    op.create_check_constraint(
        "ck_stripe_webhook_events_status",
        "stripe_webhook_events",
        "status IN " + LEDGER.format(", 'dead'"),
    )
    op.add_column("stripe_webhook_events", sa.Column("reason", sa.String(), nullable=True))

    op.drop_constraint("ck_checkout_sessions_status", "checkout_sessions")
    op.create_check_constraint(
        "ck_checkout_sessions_status",
        "checkout_sessions",
        "status IN " + CHECKOUT.format(", 'failed'"),
    )
    op.add_column("checkout_sessions", sa.Column("payment_status", sa.String(), nullable=True))
    op.add_column("checkout_sessions", sa.Column("failure_reason", sa.String(), nullable=True))

    op.create_table(
        "billing_duplicate_settlements",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("winner_subscription_id", sa.String(), nullable=False),
        sa.Column("loser_subscription_id", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("amount_refunded", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("amount_credited", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("currency", sa.String(), nullable=True),
        sa.Column("stripe_event_id", sa.String(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "action IN ('refunded', 'credited', 'flagged')", name="ck_settlement_action"
        ),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("loser_subscription_id"),
    )
    op.create_index(
        op.f("ix_billing_duplicate_settlements_workspace_id"),
        "billing_duplicate_settlements",
        ["workspace_id"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_billing_duplicate_settlements_workspace_id"),
        table_name="billing_duplicate_settlements",
    )
    op.drop_table("billing_duplicate_settlements")
    op.drop_column("checkout_sessions", "failure_reason")
    op.drop_column("checkout_sessions", "payment_status")
    op.execute("UPDATE checkout_sessions SET status = 'expired' WHERE status = 'failed'")
    op.drop_constraint("ck_checkout_sessions_status", "checkout_sessions")
    op.create_check_constraint(
        "ck_checkout_sessions_status", "checkout_sessions", "status IN " + CHECKOUT.format("")
    )
    op.drop_column("stripe_webhook_events", "reason")
    op.execute("UPDATE stripe_webhook_events SET status = 'failed' WHERE status = 'dead'")
    op.drop_constraint("ck_stripe_webhook_events_status", "stripe_webhook_events")
    op.create_check_constraint(
        "ck_stripe_webhook_events_status",
        "stripe_webhook_events",
        "status IN " + LEDGER.format(""),
    )
