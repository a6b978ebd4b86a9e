"""versioned entitlement snapshots and their change-notice outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Workspaces already on a paid plan get version 1 as they stand, so the first read after the
# upgrade answers their plan (a workspace without a snapshot reads as the free plan). Written
# out here rather than imported: a migration keeps meaning what it meant when it shipped.
BACKFILL = """
INSERT INTO workspace_entitlements (workspace_id, version, plan, interval, status, grants,
    gating_bundle, effective_until, in_grace, cause)
SELECT s.workspace_id, 1, s.plan_slug, s.interval, s.status,
    COALESCE((SELECT jsonb_object_agg(g.grant_program_code, g.value) FROM workspace_grants g
              WHERE g.workspace_id = s.workspace_id), '{}'::jsonb),
    pv.gating_bundle,
    CASE WHEN s.grace_period_end IS NOT NULL AND s.cancel_at_period_end
             THEN LEAST(s.grace_period_end, s.current_period_end)
         WHEN s.grace_period_end IS NOT NULL THEN s.grace_period_end
         WHEN s.cancel_at_period_end THEN s.current_period_end END,
    s.grace_period_end IS NOT NULL,
    'migration'
FROM subscriptions s
LEFT JOIN plan_variants pv ON pv.stripe_price_id = s.stripe_price_id
WHERE s.status IN ('active', 'trialing', 'past_due') AND s.stripe_subscription_id IS NOT NULL
"""


def _stamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    default = None if nullable else sa.text("now()")
    return sa.Column(name, sa.DateTime(timezone=True), server_default=default, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "workspace_entitlements",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("previous_version", sa.Integer(), nullable=True),
        sa.Column("plan", sa.String(), nullable=False),
        sa.Column("interval", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column(
            "grants",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("gating_bundle", sa.String(), nullable=True),
        _stamp("effective_until", nullable=True),
        sa.Column("in_grace", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("cause", sa.String(), nullable=False),
        _stamp("computed_at"),
        sa.CheckConstraint("version > 0", name="ck_workspace_entitlements_version"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "version"),
    )
    op.create_table(
        "entitlement_notices",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("last_http_status", sa.Integer(), nullable=True),
        _stamp("created_at"),
        _stamp("window_started_at"),
        _stamp("next_attempt_at"),
        _stamp("last_attempt_at", nullable=True),
        _stamp("delivered_at", nullable=True),
        _stamp("lease_until", nullable=True),
        sa.Column("lease_token", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'superseded', 'failed')",
            name="ck_entitlement_notices_status",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id", "version"],
            ["workspace_entitlements.workspace_id", "workspace_entitlements.version"],
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_entitlement_notices_workspace_version",
        "entitlement_notices",
        ["workspace_id", "version"],
        unique=True,
    )
    op.create_index(
        "ix_entitlement_notices_due",
        "entitlement_notices",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_index("ix_entitlement_notices_due", table_name="entitlement_notices")
    op.drop_index("ix_entitlement_notices_workspace_version", table_name="entitlement_notices")
    op.drop_table("entitlement_notices")
    op.drop_table("workspace_entitlements")
