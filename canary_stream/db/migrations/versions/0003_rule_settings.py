"""Per-merchant rule settings and per-location business hours (rules.md).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "merchant_locations", sa.Column("business_hours", sa.Text(), nullable=True), schema="app"
    )
    op.create_table(
        "merchant_rule_settings",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("mode", sa.Text(), nullable=True),
        sa.Column(
            "thresholds",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "allow_lists",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "mode IS NULL OR mode IN ('alerting', 'dry_run')",
            name=op.f("ck_merchant_rule_settings_mode"),
        ),
        sa.PrimaryKeyConstraint("merchant_id", "rule_id", name=op.f("pk_merchant_rule_settings")),
        schema="app",
    )
    role = context.config.attributes["app_role"]
    op.execute(
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON app.merchant_rule_settings TO "{role}"'
    )


def downgrade() -> None:
    op.drop_table("merchant_rule_settings", schema="app")
    op.drop_column("merchant_locations", "business_hours", schema="app")
