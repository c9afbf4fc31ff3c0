"""Idempotent writes of parsed ledger rows (``sales.*``) and the lookups parse needs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Table, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from canary_stream.db.append_only import APPEND_ONLY_TABLES
from canary_stream.db.models import Base
from canary_stream.errors import CanaryError
from canary_stream.square.parse.base import LedgerRow

#: Tables a parser may write: the append-only ``sales`` tables other than the evidence,
#: its log and the Merkle inscriptions (anything else is a programming error, not data).
LEDGER_TABLES = frozenset(
    t
    for t in APPEND_ONLY_TABLES
    if t.startswith("sales.")
    and t
    not in {
        "sales.evidence_records",
        "sales.ingestion_log",
        "sales.inscription_pool",
        "sales.event_inscriptions",
    }
)
#: Insert order: parents before the rows that refer to them.
_ORDER = {
    name: i for i, name in enumerate(sorted(LEDGER_TABLES, key=lambda t: t != "sales.transactions"))
}


def _table(name: str) -> Table:
    if name not in LEDGER_TABLES:
        raise CanaryError(f"parsers may not write {name}")
    return Base.metadata.tables[name]


def row_identity(row: LedgerRow) -> tuple[str, tuple[Any, ...]]:
    """The table and natural-key values that identify a row."""
    return row.table, tuple(row.values[c] for c in row.key)


async def insert_rows(
    conn: AsyncConnection, rows: Iterable[LedgerRow]
) -> set[tuple[str, tuple[Any, ...]]]:
    """Insert rows with ``ON CONFLICT DO NOTHING``; return the identities actually inserted."""
    by_table: dict[tuple[str, tuple[str, ...]], dict[tuple[Any, ...], LedgerRow]] = defaultdict(
        dict
    )
    for row in rows:
        by_table[(row.table, row.key)].setdefault(row_identity(row)[1], row)
    inserted: set[tuple[str, tuple[Any, ...]]] = set()
    for (name, key), unique_rows in sorted(by_table.items(), key=lambda kv: _ORDER[kv[0][0]]):
        table = _table(name)
        statement = (
            insert(table)
            .values([r.values for r in unique_rows.values()])
            .on_conflict_do_nothing(index_elements=list(key))
            .returning(*[table.c[c] for c in key])
        )
        for returned in await conn.execute(statement):
            inserted.add((name, tuple(returned)))
    return inserted


async def original_transactions(
    conn: AsyncConnection, ids: Sequence[UUID]
) -> dict[UUID, tuple[datetime, str | None]]:
    """``transaction_id`` → (business time, employee) of the originals of voids and refunds."""
    if not ids:
        return {}
    table = Base.metadata.tables["sales.transactions"]
    rows = await conn.execute(
        table.select()
        .with_only_columns(table.c.id, table.c.transaction_date, table.c.employee_id)
        .where(tuple_(table.c.id).in_([(i,) for i in ids]))
    )
    return {r.id: (r.transaction_date, r.employee_id) for r in rows}


async def merchant_currencies(
    conn: AsyncConnection, merchant_ids: Iterable[UUID]
) -> dict[UUID, str]:
    """Each merchant's currency."""
    rows = await conn.execute(
        text("SELECT id, currency FROM app.merchants WHERE id = ANY(:ids)"),
        {"ids": list(set(merchant_ids))},
    )
    return {r.id: r.currency.strip() for r in rows}


async def defer(conn: AsyncConnection, deferrals: Sequence[tuple[UUID, UUID]]) -> None:
    """Queue thin events (``order.*``) for the fetch loop: ``(event_id, merchant_id)`` pairs."""
    if not deferrals:
        return
    await conn.execute(
        text(
            "INSERT INTO sales.parse_deferrals (event_id, merchant_id, attempts, next_attempt_at) "
            "VALUES (:e, :m, 0, now()) ON CONFLICT (event_id) DO NOTHING"
        ),
        [{"e": e, "m": m} for e, m in deferrals],
    )
