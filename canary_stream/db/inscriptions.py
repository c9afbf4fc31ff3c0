"""Queries of the Merkle batches (``sales.inscription_pool``, ``sales.event_inscriptions``).

The closer's transaction: :func:`lock_merchant` (``merkle:{merchant}`` advisory lock, so
the agent and the leader timer never close the same range), :func:`open_states`,
:func:`read_leaves`, :func:`insert_batches`. Anchoring claims ``PENDING`` rows with
``FOR UPDATE SKIP LOCKED``. Proofs read an event with its inscription and batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from canary_stream.db.evidence import RAW_PAYLOAD_COLUMN, LogEntry, log_ingestion
from canary_stream.errors import CanaryError, NotFound
from canary_stream.evidence.batching import ClosedBatch, Leaf, OpenState
from canary_stream.evidence.bundle import ProofBundle, make_bundle
from canary_stream.evidence.checkpoint import ZERO_ROOT, Checkpoint, parse_checkpoint
from canary_stream.evidence.crypto import KeyRing
from canary_stream.evidence.note import split_note
from canary_stream.evidence.signing import CheckpointKey, SigningKeyError


class NotInscribed(CanaryError):
    """The event is sealed but its batch has not closed yet; ask again later."""


async def lock_merchant(conn: AsyncConnection, merchant_id: UUID) -> None:
    """The merchant's batching lock (transaction-level); sealing uses another key."""
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"merkle:{merchant_id}"},
    )


_OPEN_STATE = """
SELECT m.id AS merchant_id, coalesce(p.batch_no, 0) AS last_batch_no,
       coalesce(p.last_seq, 0) AS inscribed_seq, p.root_hash, h.seq AS head_seq,
       f.sealed_at AS oldest_open_at
FROM {driver}
LEFT JOIN LATERAL (SELECT batch_no, last_seq, root_hash FROM sales.inscription_pool
                   WHERE merchant_id = m.id ORDER BY batch_no DESC LIMIT 1) p ON true
JOIN LATERAL (SELECT seq FROM sales.evidence_records
              WHERE merchant_id = m.id ORDER BY seq DESC LIMIT 1) h ON true
LEFT JOIN LATERAL (SELECT sealed_at FROM sales.evidence_records
                   WHERE merchant_id = m.id AND seq = coalesce(p.last_seq, 0) + 1) f ON true
"""


async def open_states(
    conn: AsyncConnection, merchant_ids: Iterable[UUID] | None = None
) -> dict[UUID, OpenState]:
    """Each merchant's last batch, chain head and oldest open event (every merchant if None).

    Merchants without a sealed event are left out.
    """
    if merchant_ids is None:
        sql, params = _OPEN_STATE.format(driver="app.merchants m"), {}
    else:
        ids = sorted(set(merchant_ids), key=str)
        if not ids:
            return {}
        sql = _OPEN_STATE.format(driver="unnest(CAST(:ids AS uuid[])) AS m(id)")
        params = {"ids": ids}
    rows = await conn.execute(text(sql), params)
    return {
        r.merchant_id: OpenState(
            merchant_id=r.merchant_id,
            last_batch_no=r.last_batch_no,
            inscribed_seq=r.inscribed_seq,
            prev_root_hash=bytes(r.root_hash) if r.root_hash is not None else ZERO_ROOT,
            head_seq=r.head_seq,
            oldest_open_at=r.oldest_open_at,
        )
        for r in rows
    }


async def read_leaves(
    conn: AsyncConnection, merchant_id: UUID, first_seq: int, last_seq: int
) -> list[Leaf]:
    """The chain hashes of ``first_seq..last_seq``, in seq order."""
    rows = await conn.execute(
        text(
            "SELECT seq, event_id, chain_hash FROM sales.evidence_records "
            "WHERE merchant_id = :m AND seq BETWEEN :a AND :b ORDER BY seq"
        ),
        {"m": merchant_id, "a": first_seq, "b": last_seq},
    )
    return [Leaf(r.seq, r.event_id, bytes(r.chain_hash)) for r in rows]


async def insert_batches(
    conn: AsyncConnection, batches: Sequence[ClosedBatch], *, backend: str, closed_at: datetime
) -> None:
    """The batch rows (``PENDING``), one inscription per event, and ``(MERKLE, SUCCESS)``.

    Plain inserts: a conflict means someone closed the range without the lock, and the
    transaction must fail rather than hide it.
    """
    if not batches:
        return
    await conn.execute(
        text(
            "INSERT INTO sales.inscription_pool (merchant_id, batch_no, first_seq, last_seq, "
            "leaf_count, root_hash, prev_root_hash, checkpoint, signing_key_id, anchor_backend, "
            "anchor_status, closed_at) VALUES (:m, :batch_no, :first_seq, :last_seq, :leaf_count, "
            ":root_hash, :prev_root_hash, :checkpoint, :signing_key_id, :backend, 'PENDING', "
            ":closed_at)"
        ),
        [
            {
                "m": UUID(b.merchant_id),
                "batch_no": b.checkpoint.batch_no,
                "first_seq": b.checkpoint.first_seq,
                "last_seq": b.checkpoint.last_seq,
                "leaf_count": b.checkpoint.tree_size,
                "root_hash": b.checkpoint.root_hash,
                "prev_root_hash": b.checkpoint.prev_root_hash,
                "checkpoint": b.note,
                "signing_key_id": b.key_id.hex(),
                "backend": backend,
                "closed_at": closed_at,
            }
            for b in batches
        ],
    )
    await conn.execute(
        text(
            "INSERT INTO sales.event_inscriptions (event_id, merchant_id, seq, batch_no, "
            "leaf_index, audit_path) VALUES (:event_id, :m, :seq, :batch_no, :leaf_index, :path)"
        ),
        [
            {
                "event_id": leaf.event_id,
                "m": UUID(b.merchant_id),
                "seq": leaf.seq,
                "batch_no": b.checkpoint.batch_no,
                "leaf_index": index,
                "path": list(b.audit_paths[index]),
            }
            for b in batches
            for index, leaf in enumerate(b.leaves)
        ],
    )
    await log_ingestion(
        conn,
        [
            LogEntry(leaf.event_id, UUID(b.merchant_id), "MERKLE", "SUCCESS",
                     f"batch {b.checkpoint.batch_no}")
            for b in batches
            for leaf in b.leaves
        ],
    )  # fmt: skip


@dataclass(frozen=True)
class StoredBatch:
    """A batch row as anchoring and republishing need it."""

    merchant_id: UUID
    batch_no: int
    checkpoint: Checkpoint
    note: str
    closed_at: datetime


async def pending_batches(
    conn: AsyncConnection, *, backend: str, closed_before: datetime, limit: int
) -> list[tuple[UUID, int]]:
    """``PENDING`` batches of ``backend`` closed before ``closed_before``, oldest first.

    A batch is anchored by the backend it was closed for; after a change of backend, the
    old one's pending batches wait until it is configured again.
    """
    rows = await conn.execute(
        text(
            "SELECT merchant_id, batch_no FROM sales.inscription_pool "
            "WHERE anchor_status = 'PENDING' AND anchor_backend = :backend "
            "AND closed_at < :before ORDER BY closed_at, merchant_id, batch_no LIMIT :n"
        ),
        {"backend": backend, "before": closed_before, "n": limit},
    )
    return [(r.merchant_id, r.batch_no) for r in rows]


async def claim_pending(
    conn: AsyncConnection, merchant_id: UUID, batch_no: int, *, backend: str
) -> StoredBatch | None:
    """Lock one ``PENDING`` batch of ``backend`` for this transaction, or None."""
    row = (
        await conn.execute(
            text(
                "SELECT merchant_id, batch_no, checkpoint, closed_at FROM sales.inscription_pool "
                "WHERE merchant_id = :m AND batch_no = :b AND anchor_status = 'PENDING' "
                "AND anchor_backend = :backend FOR UPDATE SKIP LOCKED"
            ),
            {"m": merchant_id, "b": batch_no, "backend": backend},
        )
    ).first()
    if row is None:
        return None
    body, _ = split_note(row.checkpoint)
    return StoredBatch(
        row.merchant_id, row.batch_no, parse_checkpoint(body), row.checkpoint, row.closed_at
    )


async def mark_anchored(conn: AsyncConnection, merchant_id: UUID, batch_no: int, ref: str) -> None:
    """Record the anchor reference (the only columns of the pool that may change)."""
    await conn.execute(
        text(
            "UPDATE sales.inscription_pool SET anchor_status = 'ANCHORED', anchor_ref = :ref "
            "WHERE merchant_id = :m AND batch_no = :b AND anchor_status = 'PENDING'"
        ),
        {"m": merchant_id, "b": batch_no, "ref": ref},
    )


_PROOF = """
SELECT e.event_id, e.merchant_id, e.seq, e.event_hash, e.prev_chain_hash, e.chain_hash,
       e.raw_payload_enc, i.batch_no, i.leaf_index, i.audit_path, p.last_seq, p.leaf_count,
       p.root_hash, p.checkpoint, p.signing_key_id
FROM sales.evidence_records e
LEFT JOIN sales.event_inscriptions i ON i.event_id = e.event_id AND i.merchant_id = e.merchant_id
LEFT JOIN sales.inscription_pool p ON p.merchant_id = i.merchant_id AND p.batch_no = i.batch_no
WHERE e.event_id = :e AND (CAST(:m AS uuid) IS NULL OR e.merchant_id = CAST(:m AS uuid))
"""


async def load_bundle(
    conn: AsyncConnection,
    ring: KeyRing,
    key: CheckpointKey,
    event_id: UUID,
    merchant_id: UUID | None = None,
) -> ProofBundle:
    """The proof bundle of an event, scoped to ``merchant_id`` when given.

    ``NotFound`` when there is no such event for that scope (a foreign event is missing),
    ``NotInscribed`` when its batch is still open.
    """
    row = (await conn.execute(text(_PROOF), {"e": event_id, "m": merchant_id})).first()
    if row is None:
        raise NotFound(f"no event {event_id}")
    if row.batch_no is None or row.checkpoint is None:
        raise NotInscribed(f"event {event_id} is sealed but its Merkle batch has not closed yet")
    if row.signing_key_id != key.key_id.hex():
        raise SigningKeyError(
            f"batch {row.batch_no} was signed by key id {row.signing_key_id}, but this "
            f"process has {key.name}+{key.key_id.hex()}"
        )
    later = await conn.execute(
        text(
            "SELECT event_hash FROM sales.evidence_records "
            "WHERE merchant_id = :m AND seq > :s AND seq <= :last ORDER BY seq"
        ),
        {"m": row.merchant_id, "s": row.seq, "last": row.last_seq},
    )
    raw = ring.decrypt(
        bytes(row.raw_payload_enc),
        column=RAW_PAYLOAD_COLUMN,
        merchant_id=str(row.merchant_id),
        row_id=str(row.event_id),
    )
    return make_bundle(
        merchant_id=str(row.merchant_id),
        seq=row.seq,
        raw=raw,
        event_hash=bytes(row.event_hash),
        prev_chain_hash=bytes(row.prev_chain_hash) if row.prev_chain_hash is not None else None,
        chain_hash=bytes(row.chain_hash),
        later_event_hashes=[bytes(r.event_hash) for r in later],
        batch_no=row.batch_no,
        leaf_index=row.leaf_index,
        tree_size=row.leaf_count,
        audit_path=[bytes(p) for p in row.audit_path],
        root_hash=bytes(row.root_hash),
        note=row.checkpoint,
        key_name=key.name,
        public_key=key.public_key,
    )
