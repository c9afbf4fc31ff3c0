"""``replay parse``: re-run the parsers over sealed bytes from the evidence store, never re-seal.

The stored payloads are decrypted and parsed exactly as the parse stage does
(:func:`agents.parse.parse_one`). A dry run compares the rows it would write with the rows
that exist; a real run inserts what is missing (``ON CONFLICT DO NOTHING``) and, with
``republish``, publishes every record's canonical event again (consumers dedupe on
``canonical_id``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from canary_stream import topics
from canary_stream.db import ledger
from canary_stream.db.evidence import sealed_from_row
from canary_stream.db.models import Base
from canary_stream.evidence.crypto import KeyRing
from canary_stream.kafka import publish
from canary_stream.models.envelope import SealedEnvelope
from canary_stream.settings import Settings
from canary_stream.square.parse.base import LedgerRow

CHUNK = 500


@dataclass
class ReplayReport:
    """What a replay saw and did."""

    events: int = 0
    records: int = 0
    rows: int = 0
    inserted: int = 0
    missing: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    republished: int = 0

    @property
    def unchanged(self) -> bool:
        """True when the ledger already holds exactly what the parsers produce."""
        return not self.missing and not self.different


async def sealed_events(
    engine: AsyncEngine,
    ring: KeyRing,
    merchant_id: UUID,
    since: datetime | None,
    until: datetime | None,
) -> AsyncIterator[SealedEnvelope]:
    """The merchant's sealed events in seq order, decrypted, as the parse stage received them."""
    after = 0
    async with engine.connect() as conn:
        while True:
            rows = (
                await conn.execute(
                    text(
                        "SELECT e.*, m.provider_merchant_id FROM sales.evidence_records e "
                        "JOIN app.merchants m ON m.id = e.merchant_id WHERE e.merchant_id = :m "
                        "AND e.seq > :after AND (CAST(:since AS timestamptz) IS NULL OR "
                        "e.received_at >= :since) AND (CAST(:until AS timestamptz) IS NULL OR "
                        "e.received_at < :until) ORDER BY e.seq LIMIT :n"
                    ),
                    {"m": merchant_id, "after": after, "since": since, "until": until, "n": CHUNK},
                )
            ).all()
            if not rows:
                return
            for r in rows:
                yield sealed_from_row(r, ring)
            after = rows[-1].seq


async def _compare(conn: AsyncConnection, row: LedgerRow, report: ReplayReport) -> None:
    table = Base.metadata.tables[row.table]
    where = and_(*[table.c[c] == row.values[c] for c in row.key])
    existing = (await conn.execute(table.select().where(where))).mappings().first()
    label = f"{row.table} {dict((c, str(row.values[c])) for c in row.key)}"
    if existing is None:
        report.missing.append(label)
        return
    changed = sorted(c for c, v in row.values.items() if c in existing and existing[c] != v)
    if changed:
        report.different.append(f"{label}: {', '.join(changed)}")


async def replay_parse(
    settings: Settings,
    engine: AsyncEngine,
    merchant_id: UUID,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    dry_run: bool = False,
    republish: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ReplayReport:
    """Re-parse a merchant's sealed events; see the module docstring."""
    from agents.parse import ParseOutcome, card_hasher, enrich, parse_one
    from canary_stream.square.parse.actions import publishable

    ring = KeyRing(settings.encryption_ring())
    hasher = card_hasher(settings)
    report = ReplayReport()
    async with engine.connect() as conn:
        currency = (await ledger.merchant_currencies(conn, [merchant_id]))[merchant_id]
    outcome = ParseOutcome()
    async for record in sealed_events(engine, ring, merchant_id, since, until):
        parse_one(record, currency, hasher, outcome)
        report.events += 1
        if progress is not None:
            progress(report.events)
    report.failed = [f"{e.event_id}: {e.detail}" for e in outcome.log if e.status == "FAILED"]
    report.records = len(outcome.records)
    unique = {ledger.row_identity(row): row for _, p in outcome.records for row in p.rows}
    rows = list(unique.values())
    report.rows = len(rows)
    async with engine.begin() as conn:
        for row in rows:
            await _compare(conn, row, report)
        if not dry_run:
            report.inserted = len(await ledger.insert_rows(conn, rows))
        originals = await ledger.original_transactions(
            conn,
            [
                oid
                for _, p in outcome.records
                if (oid := getattr(p.canonical, "original_transaction_id", None)) is not None
            ],
        )
    if republish and not dry_run:
        canonical: list[Any] = [
            enrich(event, originals)
            for _, p in outcome.records
            if (event := publishable(p)) is not None
        ]
        key = str(merchant_id).encode()
        await publish(settings, settings.topic(topics.DETECTION), key, canonical)
        report.republished = len(canonical)
    return report
