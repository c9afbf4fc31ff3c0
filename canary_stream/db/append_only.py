"""Which tables are append-only, defined once for the models, the migrations and the tests.

data-model.md: the application role may only ``SELECT`` and ``INSERT`` these tables; a row
trigger rejects ``UPDATE`` / ``DELETE`` and a statement trigger rejects ``TRUNCATE``, for
every role including the owner. ``sales.inscription_pool`` is the one exception: its
anchor columns may be updated (the anchor backend reports back), nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Schema-qualified names of every append-only table, in data-model.md / customers.md order.
APPEND_ONLY_TABLES: tuple[str, ...] = (
    "app.alerts",
    "app.cases",
    "app.case_alerts",
    "app.customer_ledger",
    "app.card_observations",
    "sales.evidence_records",
    "sales.ingestion_log",
    "sales.transactions",
    "sales.transaction_fees",
    "sales.transaction_line_items",
    "sales.transaction_tenders",
    "sales.refund_links",
    "sales.cash_drawer_shifts",
    "sales.cash_drawer_events",
    "sales.loyalty_events",
    "sales.disputes",
    "sales.gift_card_activities",
    "sales.payouts",
    "sales.inscription_pool",
    "sales.event_inscriptions",
)

#: Append-only tables whose listed columns may still be updated (and nothing else).
UPDATABLE_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "sales.inscription_pool": ("anchor_status", "anchor_ref"),
}

#: The schemas the migrations own; a downgrade to base drops them.
SCHEMAS: tuple[str, ...] = ("app", "sales")


def is_append_only(qualified_name: str) -> bool:
    """Whether ``schema.table`` is append-only."""
    return qualified_name in APPEND_ONLY_TABLES
