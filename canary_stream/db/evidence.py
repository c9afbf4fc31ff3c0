"""Queries of the evidence store (``sales.evidence_records``, ``sales.ingestion_log``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from canary_stream.evidence.crypto import KeyRing
from canary_stream.evidence.sealing import ChainHead, StoredEvent
from canary_stream.models.envelope import SealedEnvelope

RAW_PAYLOAD_COLUMN = "sales.evidence_records.raw_payload_enc"


async def lock_merchants(conn: AsyncConnection, merchant_ids: Iterable[UUID]) -> None:
    """Take each merchant's transaction-level advisory lock, in sorted order (no deadlocks)."""
    keys = sorted(f"chain:{m}" for m in {str(m) for m in merchant_ids})
    if keys:  # one round trip; the subquery's order is the order the locks are taken in
        await conn.execute(
            text(
                "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
                "FROM (SELECT k FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k) AS ordered"
            ),
            {"keys": keys},
        )


async def chain_heads(conn: AsyncConnection, merchant_ids: Iterable[UUID]) -> dict[UUID, ChainHead]:
    """The last ``seq`` and chain hash of each merchant that has one."""
    ids = list({m for m in merchant_ids})
    rows = await conn.execute(  # one index probe per merchant on UNIQUE (merchant_id, seq)
        text(
            "SELECT m.id AS merchant_id, h.seq, h.chain_hash "
            "FROM unnest(CAST(:ids AS uuid[])) AS m(id) CROSS JOIN LATERAL ("
            "SELECT seq, chain_hash FROM sales.evidence_records e WHERE e.merchant_id = m.id "
            "ORDER BY seq DESC LIMIT 1) AS h"
        ),
        {"ids": ids},
    )
    return {r.merchant_id: ChainHead(r.seq, bytes(r.chain_hash)) for r in rows}


_STORED_COLUMNS = (
    "event_id, merchant_id, source_event_id, seq, event_hash, prev_chain_hash, chain_hash, "
    "sealed_at"
)


def _stored(row: object) -> StoredEvent:
    r = row
    return StoredEvent(
        event_id=r.event_id,  # type: ignore[attr-defined]
        merchant_id=r.merchant_id,  # type: ignore[attr-defined]
        source_event_id=r.source_event_id,  # type: ignore[attr-defined]
        seq=r.seq,  # type: ignore[attr-defined]
        event_hash=bytes(r.event_hash),  # type: ignore[attr-defined]
        prev_chain_hash=bytes(r.prev_chain_hash) if r.prev_chain_hash else None,  # type: ignore[attr-defined]
        chain_hash=bytes(r.chain_hash),  # type: ignore[attr-defined]
        sealed_at=r.sealed_at,  # type: ignore[attr-defined]
    )


async def existing_events(
    conn: AsyncConnection, event_ids: Sequence[UUID], natural_keys: Sequence[tuple[UUID, str]]
) -> tuple[dict[UUID, StoredEvent], dict[tuple[UUID, str], StoredEvent]]:
    """Stored rows matching the batch by ``event_id`` and by ``(merchant_id, source_event_id)``."""
    by_id: dict[UUID, StoredEvent] = {}
    by_natural: dict[tuple[UUID, str], StoredEvent] = {}
    if not event_ids:
        return by_id, by_natural
    rows = await conn.execute(  # two index lookups (PK, natural key), never a scan
        text(
            f"SELECT {_STORED_COLUMNS} FROM sales.evidence_records "
            "WHERE event_id = ANY(CAST(:ids AS uuid[])) UNION "
            f"SELECT {_STORED_COLUMNS} FROM sales.evidence_records e JOIN "
            "unnest(CAST(:mids AS uuid[]), CAST(:sids AS text[])) AS k(mid, sid) "
            "ON e.merchant_id = k.mid AND e.source_event_id = k.sid"
        ),
        {
            "ids": list(event_ids),
            "mids": [m for m, _ in natural_keys],
            "sids": [s for _, s in natural_keys],
        },
    )
    for row in rows:
        stored = _stored(row)
        by_id[stored.event_id] = stored
        by_natural[(stored.merchant_id, stored.source_event_id)] = stored
    return by_id, by_natural


async def insert_sealed(
    conn: AsyncConnection, records: Sequence[SealedEnvelope], ring: KeyRing
) -> None:
    """Insert the new chain links, raw payloads encrypted and bound to their row."""
    if not records:
        return
    await conn.execute(
        text(
            "INSERT INTO sales.evidence_records (event_id, merchant_id, seq, source, source_type, "
            "source_event_id, event_type, event_hash, prev_chain_hash, chain_hash, "
            "raw_payload_enc, raw_size, parse_failed, oversize, signature_key_id, received_at, "
            "sealed_at) VALUES (:event_id, :merchant_id, :seq, :source, :source_type, "
            ":source_event_id, :event_type, :event_hash, :prev_chain_hash, :chain_hash, "
            ":raw_payload_enc, :raw_size, :parse_failed, :oversize, :signature_key_id, "
            ":received_at, :sealed_at)"
        ),
        [
            {
                "event_id": r.event_id,
                "merchant_id": r.merchant_id,
                "seq": r.seq,
                "source": r.source,
                "source_type": r.source_type,
                "source_event_id": r.source_event_id,
                "event_type": r.event_type,
                "event_hash": bytes.fromhex(r.event_hash),
                "prev_chain_hash": bytes.fromhex(r.prev_chain_hash) if r.prev_chain_hash else None,
                "chain_hash": bytes.fromhex(r.chain_hash),
                "raw_payload_enc": ring.encrypt(
                    r.raw_payload,
                    column=RAW_PAYLOAD_COLUMN,
                    merchant_id=str(r.merchant_id),
                    row_id=str(r.event_id),
                ),
                "raw_size": len(r.raw_payload),
                "parse_failed": r.parse_failed,
                "oversize": r.oversize,
                "signature_key_id": r.signature_key_id,
                "received_at": r.received_at,
                "sealed_at": r.sealed_at,
            }
            for r in records
        ],
    )


@dataclass(frozen=True)
class LogEntry:
    """One ``sales.ingestion_log`` row."""

    event_id: UUID
    merchant_id: UUID | None
    step: str
    status: str
    detail: str | None = None


async def log_ingestion(conn: AsyncConnection, entries: Sequence[LogEntry]) -> None:
    """Append ingestion-log rows; a row that already exists is left as it is."""
    if not entries:
        return
    await conn.execute(
        text(
            "INSERT INTO sales.ingestion_log (event_id, merchant_id, step, status, detail) "
            "VALUES (:event_id, :merchant_id, :step, :status, :detail) "
            "ON CONFLICT (event_id, step, status) DO NOTHING"
        ),
        [e.__dict__ for e in entries],
    )


@dataclass(frozen=True)
class EvidenceRow:
    """A stored chain link with its encrypted payload, as ``verify chain`` walks it."""

    event_id: UUID
    seq: int
    event_hash: bytes
    prev_chain_hash: bytes | None
    chain_hash: bytes
    raw_payload_enc: bytes
    sealed_at: datetime


def sealed_from_row(row: Any, ring: KeyRing) -> SealedEnvelope:
    """A stored evidence row (joined with ``provider_merchant_id``) as the sealed envelope
    the parse stage received: payload decrypted, hashes as hex."""
    raw = ring.decrypt(
        bytes(row.raw_payload_enc),
        column=RAW_PAYLOAD_COLUMN,
        merchant_id=str(row.merchant_id),
        row_id=str(row.event_id),
    )
    return SealedEnvelope(
        event_id=row.event_id,
        merchant_id=row.merchant_id,
        provider_merchant_id=row.provider_merchant_id,
        source=row.source,
        source_event_id=row.source_event_id,
        event_type=row.event_type,
        event_hash=bytes(row.event_hash).hex(),
        raw_payload=raw,
        received_at=row.received_at,
        parse_failed=row.parse_failed,
        oversize=row.oversize,
        source_type=row.source_type,
        signature_key_id=row.signature_key_id,
        seq=row.seq,
        chain_hash=bytes(row.chain_hash).hex(),
        prev_chain_hash=bytes(row.prev_chain_hash).hex() if row.prev_chain_hash else None,
        sealed_at=row.sealed_at,
    )
