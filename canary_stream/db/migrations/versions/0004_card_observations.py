"""Card observations: the per-observation marker that makes card-profile counts exact.

Revision ID: 0004
Revises: 0003

``app.card_observations`` holds one row per counted card observation (a captured payment's
use, a FAILED payment's failure), keyed by (transaction_id, outcome). The customers agent
moves ``card_profiles.use_count`` / ``failed_count`` only by the rows its insert returned,
as it moves the customer aggregates by ``customer_ledger``. Append-only like the ledger;
no personal data (ids, a closed enum and a time).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "app.card_observations"


def upgrade() -> None:
    op.create_table(
        "card_observations",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("card_profile_id", sa.Uuid(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "outcome IN ('USE', 'FAILURE')", name=op.f("ck_card_observations_outcome")
        ),
        sa.UniqueConstraint(
            "transaction_id", "outcome", name=op.f("uq_card_observations_transaction_id_outcome")
        ),
        schema="app",
    )
    op.create_index(
        op.f("ix_card_observations_merchant_id_card_profile_id"),
        "card_observations",
        ["merchant_id", "card_profile_id"],
        unique=False,
        schema="app",
    )
    op.execute(
        f"CREATE OR REPLACE TRIGGER append_only_row BEFORE UPDATE OR DELETE ON {TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION app.reject_row_change()"
    )
    op.execute(
        f"CREATE OR REPLACE TRIGGER append_only_truncate BEFORE TRUNCATE ON {TABLE} "
        "FOR EACH STATEMENT EXECUTE FUNCTION app.reject_truncate()"
    )
    preparer = op.get_context().dialect.identifier_preparer
    role = preparer.quote_identifier(context.config.attributes["app_role"])
    op.execute(f"GRANT SELECT, INSERT ON {TABLE} TO {role}")


def downgrade() -> None:
    op.drop_table("card_observations", schema="app")
