"""Pure seal planning: given a batch of envelopes and what the database holds, decide each fate.

No I/O: the seal agent fetches the heads and existing rows under the merchants' advisory
locks, calls :func:`plan_batch`, and writes what it returns in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from canary_stream.evidence.chain import chain_hash
from canary_stream.models.envelope import Envelope, SealedEnvelope


@dataclass(frozen=True)
class ChainHead:
    """The last sealed link of a merchant's chain."""

    seq: int
    chain_hash: bytes


@dataclass(frozen=True)
class StoredEvent:
    """The chain fields of an already-sealed event (for republishing after a crash)."""

    event_id: UUID
    merchant_id: UUID
    source_event_id: str
    seq: int
    event_hash: bytes
    prev_chain_hash: bytes | None
    chain_hash: bytes
    sealed_at: datetime


@dataclass(frozen=True)
class SealPlan:
    """What to do with a batch: new links to insert, records to republish, duplicates."""

    new: list[SealedEnvelope]
    republish: list[SealedEnvelope]
    duplicates: list[Envelope]
    conflicts: list[tuple[Envelope, str]]


def sealed_from(envelope: Envelope, stored: StoredEvent) -> SealedEnvelope:
    """The sealed record of an envelope whose row already exists."""
    return SealedEnvelope(
        **envelope.model_dump(),
        seq=stored.seq,
        chain_hash=stored.chain_hash.hex(),
        prev_chain_hash=stored.prev_chain_hash.hex() if stored.prev_chain_hash else None,
        sealed_at=stored.sealed_at,
    )


def plan_batch(
    envelopes: Sequence[Envelope],
    heads: Mapping[UUID, ChainHead],
    by_event_id: Mapping[UUID, StoredEvent],
    by_source_event: Mapping[tuple[UUID, str], StoredEvent],
    sealed_at: datetime,
) -> SealPlan:
    """Assign gap-free ``seq`` and chain hashes to the envelopes that are new, in batch order.

    An envelope whose ``event_id`` is stored is republished from the stored row; one whose
    ``(merchant_id, source_event_id)`` is stored (or seen earlier in the batch) under another
    ``event_id`` is a duplicate delivery.
    """
    running = dict(heads)
    seen: dict[tuple[UUID, str], UUID] = {}
    plan = SealPlan(new=[], republish=[], duplicates=[], conflicts=[])
    for env in envelopes:
        stored = by_event_id.get(env.event_id)
        if stored is not None:
            if stored.event_hash.hex() != env.event_hash or stored.merchant_id != env.merchant_id:
                plan.conflicts.append((env, "event_id already sealed with other bytes"))
            else:
                plan.republish.append(sealed_from(env, stored))
            continue
        natural = (env.merchant_id, env.source_event_id)
        if seen.get(natural) == env.event_id:
            continue  # the same envelope twice in one batch: sealed once
        if natural in by_source_event or natural in seen:
            plan.duplicates.append(env)
            continue
        seen[natural] = env.event_id
        head = running.get(env.merchant_id)
        prev = head.chain_hash if head else None
        link = chain_hash(prev, bytes.fromhex(env.event_hash))
        seq = head.seq + 1 if head else 1
        running[env.merchant_id] = ChainHead(seq, link)
        plan.new.append(
            SealedEnvelope(
                **env.model_dump(),
                seq=seq,
                chain_hash=link.hex(),
                prev_chain_hash=prev.hex() if prev else None,
                sealed_at=sealed_at,
            )
        )
    return plan
