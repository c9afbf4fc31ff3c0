"""``verify chain``: walk a merchant's chain from seq 1, decrypt, recompute every hash and link."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from canary_stream.db.evidence import RAW_PAYLOAD_COLUMN
from canary_stream.evidence.chain import ChainBreak, walk_chain
from canary_stream.evidence.crypto import KeyRing
from canary_stream.evidence.errors import CryptoError

CHUNK = 2000


@dataclass(frozen=True)
class ChainVerdict:
    """The outcome of a walk: links checked and the first break (a line for a person)."""

    merchant_id: UUID
    checked: int
    head_seq: int
    first_break: str | None

    @property
    def ok(self) -> bool:
        """True when every link held."""
        return self.first_break is None


async def verify_chain(
    engine: AsyncEngine,
    ring: KeyRing,
    merchant_id: UUID,
    progress: Callable[[int], None] | None = None,
) -> ChainVerdict:
    """Check every link of the merchant's chain, in chunks, stopping at the first break."""
    start_seq, prev, checked = 1, None, 0
    async with engine.connect() as conn:
        while True:
            rows = (
                await conn.execute(
                    text(
                        "SELECT event_id, seq, event_hash, prev_chain_hash, chain_hash, "
                        "raw_payload_enc FROM sales.evidence_records "
                        "WHERE merchant_id = :m AND seq >= :s ORDER BY seq LIMIT :n"
                    ),
                    {"m": merchant_id, "s": start_seq, "n": CHUNK},
                )
            ).all()
            if not rows:
                return ChainVerdict(merchant_id, checked, start_seq - 1, None)
            records: list[tuple[int, bytes, bytes, bytes | None, bytes]] = []
            for row in rows:
                try:
                    raw = ring.decrypt(
                        bytes(row.raw_payload_enc),
                        column=RAW_PAYLOAD_COLUMN,
                        merchant_id=str(merchant_id),
                        row_id=str(row.event_id),
                    )
                except CryptoError:
                    report = walk_chain(records, start_seq=start_seq, start_prev_chain_hash=prev)
                    if report.first_break is not None:
                        return _broken(merchant_id, checked + report.checked, report.first_break)
                    return ChainVerdict(
                        merchant_id,
                        checked + report.checked,
                        row.seq - 1,
                        f"seq {row.seq}: stored payload does not decrypt (altered or wrong key)",
                    )
                records.append(
                    (
                        row.seq,
                        raw,
                        bytes(row.event_hash),
                        bytes(row.prev_chain_hash) if row.prev_chain_hash is not None else None,
                        bytes(row.chain_hash),
                    )
                )
            report = walk_chain(records, start_seq=start_seq, start_prev_chain_hash=prev)
            checked += report.checked
            if report.first_break is not None:
                return _broken(merchant_id, checked, report.first_break)
            start_seq, prev = report.head_seq + 1, report.head_chain_hash
            if progress is not None:
                progress(checked)


def _broken(merchant_id: UUID, checked: int, brk: ChainBreak) -> ChainVerdict:
    return ChainVerdict(merchant_id, checked, brk.seq - 1, brk.describe())
