"""Card-profile counts through the real customers agent: each card observation (a captured
payment's use, a FAILED payment's failure) counts exactly once, however its canonical events
are cut into agent batches and however often they are delivered.

The two cases a per-sealed-event marker (``ingestion_log (event_id, CUSTOMERS, SUCCESS)``)
got wrong, before the counts were keyed on ``app.card_observations``:

* a POLLING / BATCH page (square.md: every list response of the reconciliation sweep and of
  onboarding is one envelope) fans out into many canonical events sharing one ``event_id``;
  when the agent takes them in two batches, the second batch finds the marker already
  inserted and drops its observations (undercount);
* a FAILED payment arrives as ``payment.created`` and again as ``payment.updated`` (two
  Square events, two sealed events); parse publishes a canonical event for each (a FAILED
  payment has no ledger row to deduplicate on) and, taken in two batches, the failure is
  counted twice (overcount).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from harness import produce, wait_for
from sqlalchemy import text
from test_customers import payment

from canary_stream.customers.registry import card_profile_uuid
from canary_stream.models.canonical import Card, TransactionEvent
from canary_stream.square.parse.base import canonical_id, transaction_id

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _page_record(
    merchant: uuid.UUID, event_id: uuid.UUID, n: int, digest: bytes, *, failed: bool = False
) -> TransactionEvent:
    """The canonical event parse would publish for payment ``n`` of a POLLING page."""
    external = f"pagepay{n}-{event_id.hex[:8]}"
    return TransactionEvent(
        canonical_id=canonical_id(merchant, "transaction", external, "PAYMENT"),
        event_id=event_id,
        merchant_id=merchant,
        source_type="POLLING",
        source_event_id=f"poll:payments:{event_id.hex}",
        source_event_type="square.payments.polled",
        event_hash="ab" * 32,
        received_at=T0 + timedelta(hours=1),
        occurred_at=T0 + timedelta(minutes=n),
        transaction_id=transaction_id(merchant, external, "PAYMENT"),
        external_id=external,
        transaction_type="PAYMENT",
        status="FAILED" if failed else "COMPLETED",
        ledger=not failed,
        amount_cents=1000 + n,
        currency="USD",
        card=Card(fingerprint_hash=digest.hex(), fingerprint_key_version="c1", brand="VISA"),
    )


async def _card(engine: Any, merchant: uuid.UUID, digest: bytes) -> Any:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                text("SELECT * FROM app.card_profiles WHERE id = :id"),
                {"id": card_profile_uuid(merchant, digest)},
            )
        ).first()


async def _sentinel(pipe: Any, engine: Any, merchant: uuid.UUID) -> None:
    """Produce one more observation and wait for it: everything produced before is applied."""
    digest = uuid.uuid4().bytes * 2
    record = _page_record(merchant, uuid.uuid4(), 99, digest)
    await produce(pipe.settings(), pipe.topic("detection"), [_wire(record)])
    await wait_for(lambda: _card(engine, merchant, digest), timeout=60)


def _wire(record: TransactionEvent) -> tuple[bytes, bytes]:
    return str(record.merchant_id).encode(), record.model_dump_json().encode()


async def test_a_page_split_across_batches_counts_every_card_observation(pipeline_factory, engine):
    pipe = pipeline_factory()
    merchant = uuid.UUID(pipe.add_merchant()[0])
    pipe.start("customers")
    digest = uuid.uuid4().bytes * 2
    page = uuid.uuid4()  # one POLLING envelope: three captured payments and a declined one
    records = [
        _page_record(merchant, page, 1, digest),
        _page_record(merchant, page, 2, digest),
        _page_record(merchant, page, 3, digest),
        _page_record(merchant, page, 4, digest, failed=True),
    ]
    topic = pipe.topic("detection")
    await produce(pipe.settings(), topic, [_wire(r) for r in records[:2]])

    async def both_applied() -> Any:  # the agent may take the two in one batch or in two
        row = await _card(engine, merchant, digest)
        return row if row is not None and row.use_count >= 2 else None

    first = await wait_for(both_applied, timeout=60)
    assert (first.use_count, first.failed_count) == (2, 0)
    await produce(pipe.settings(), topic, [_wire(r) for r in records[2:]])  # the next batch
    await _sentinel(pipe, engine, merchant)
    card = await _card(engine, merchant, digest)
    assert (card.use_count, card.failed_count) == (3, 1)
    assert (card.first_seen_at, card.last_seen_at) == (
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=4),
    )
    # the whole page delivered again (a replay, or the second batch's offsets never acked)
    await produce(pipe.settings(), topic, [_wire(r) for r in records])
    await _sentinel(pipe, engine, merchant)
    card = await _card(engine, merchant, digest)
    assert (card.use_count, card.failed_count) == (3, 1)


async def test_a_failed_payment_sent_in_two_versions_is_one_failure(pipeline_factory, engine):
    pipe = pipeline_factory()
    merchant_id, pmid = pipe.add_merchant()
    merchant = uuid.UUID(merchant_id)
    pipe.add_signature_key()
    for name in ("ingress", "seal", "parse", "customers"):
        pipe.start(name)
    fingerprint = f"sq-1-{uuid.uuid4().hex}"
    pid = f"pay{uuid.uuid4().hex[:16]}"
    created = payment(pmid, pid, 900, "2026-05-02T09:00:00Z", fingerprint, status="FAILED")
    updated = json.loads(json.dumps(created))  # Square's next version of the same payment
    updated["type"] = "payment.updated"
    updated["event_id"] = f"evt-{uuid.uuid4()}"
    updated["data"]["object"]["payment"]["updated_at"] = "2026-05-02T09:00:02Z"
    captured = payment(
        pmid, f"pay{uuid.uuid4().hex[:16]}", 700, "2026-05-02T09:05:00Z", fingerprint
    )

    assert pipe.post(json.dumps(created).encode())[0] == 200
    digest = await _digest_when_seen(engine, merchant)
    assert pipe.post(json.dumps(updated).encode())[0] == 200
    assert pipe.post(json.dumps(captured).encode())[0] == 200

    async def both_applied() -> Any:
        card = await _card(engine, merchant, digest)
        return card if card.use_count == 1 else None

    card = await wait_for(both_applied, timeout=90)
    assert (card.use_count, card.failed_count) == (1, 1)
    assert (card.first_seen_at, card.last_seen_at) == (
        datetime(2026, 5, 2, 9, 0, tzinfo=UTC),
        datetime(2026, 5, 2, 9, 5, tzinfo=UTC),
    )


async def _digest_when_seen(engine: Any, merchant: uuid.UUID) -> bytes:
    """The hash of the merchant's only card profile, once the agent has written it."""

    async def seen() -> Any:
        async with engine.connect() as conn:
            return (
                await conn.execute(
                    text(
                        "SELECT fingerprint_hash FROM app.card_profiles WHERE merchant_id = :m "
                        "AND failed_count > 0"
                    ),
                    {"m": merchant},
                )
            ).scalar()

    return bytes(await wait_for(seen, timeout=90))
