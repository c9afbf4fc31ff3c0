"""Customers (app ``canary-customers``): the customer registry kept from canonical events.

Per batch, in ONE database transaction: decode (undecodable → dead letter), resolve the
owners of refunded / disputed payments (``sales.refund_links`` → ``sales.transactions``),
compute each record's effects (:mod:`canary_stream.customers.registry`), then archive,
upsert customers, insert ledger rows moving the aggregates by what was actually inserted,
log ``(CUSTOMERS, SUCCESS | IGNORED)`` and upsert card profiles, whose counts move only by
the ``app.card_observations`` markers this transaction inserted (one per payment and
outcome, see :mod:`canary_stream.db.customers`). Commit, dead letters, ack.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import faust
from pydantic import ValidationError

from agents._runner import batch_agent, one_line
from agents._stage import dead_letter, key_hint, publish_dead
from canary_stream import topics
from canary_stream.apps import StageContext
from canary_stream.customers.registry import Effects, effects, owner_lookup
from canary_stream.db import customers as db
from canary_stream.models.canonical import CanonicalRecord, TransactionEvent, decode_canonical
from canary_stream.models.dead_letter import DeadLetter

STAGE = "customers"
log = logging.getLogger("canary.customers")


def _as_stored(record: CanonicalRecord, facts: dict[UUID, db.SalesFacts]) -> CanonicalRecord:
    """A ledger transaction with the time, amount and customer of its ``sales`` row.

    The row is what ``customers rebuild`` reads; a second canonical event for the same row
    (another version of the payment parsed in the same batch) then changes nothing.
    """
    if isinstance(record, TransactionEvent) and record.ledger:
        stored = facts.get(record.transaction_id)
        if stored is not None:
            return record.model_copy(
                update={
                    "occurred_at": stored.occurred_at,
                    "amount_cents": stored.amount_cents,
                    "customer_id": stored.customer_id,
                }
            )
    return record


def _with_linked_original(record: CanonicalRecord, links: dict[UUID, UUID]) -> CanonicalRecord:
    """A refund whose ``refund_links`` row names its original uses that original."""
    if isinstance(record, TransactionEvent) and record.transaction_id in links:
        original = links[record.transaction_id]
        if record.original_transaction_id != original:
            return record.model_copy(update={"original_transaction_id": original})
    return record


class Customers:
    """Handles one batch of canonical events."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx

    async def handle(self, events: Sequence[Any]) -> None:
        """Decode, apply in one transaction, then dead letters; returns once durable."""
        records: list[CanonicalRecord] = []
        dead: list[DeadLetter] = []
        for event in events:
            try:
                records.append(decode_canonical(event.value))
            except (ValidationError, ValueError) as exc:
                dead.append(dead_letter(STAGE, "decode_error", exc, merchant_id=key_hint(event)))
        if records:
            await self.apply(records)
        await publish_dead(self.ctx, dead)

    async def apply(self, records: Sequence[CanonicalRecord]) -> None:
        """Every effect of ``records`` and their log rows, in one database transaction."""
        async with self.ctx.engine.begin() as conn:
            refunds = [
                r.transaction_id
                for r in records
                if isinstance(r, TransactionEvent) and r.transaction_type == "REFUND"
            ]
            links = await db.refund_originals(conn, refunds)
            ledger_ids = [r.transaction_id for r in records if isinstance(r, TransactionEvent)]
            facts = await db.sales_facts(conn, ledger_ids)
            records = [_with_linked_original(_as_stored(r, facts), links) for r in records]
            lookups = [t for r in records if (t := owner_lookup(r)) is not None]
            owners = await db.owners(conn, lookups)
            total = Effects()
            logs: list[db.LogRow] = []
            for record in records:
                found = effects(record, owners)
                total.extend(found)
                status = "IGNORED" if found.empty else "SUCCESS"
                logs.append(db.LogRow(record.event_id, record.merchant_id, status))
            await db.archive(conn, total.archives)
            await db.touch(conn, total.touches)
            await db.add_ledger(conn, total.ledger)
            await db.log_new(conn, logs)
            await db.observe_cards(conn, total.cards)

    async def on_record_failure(self, event: Any, error: BaseException) -> None:
        """Dead-letter a record that keeps failing."""
        letter = dead_letter(STAGE, "decode_error", one_line(error), merchant_id=key_hint(event))
        await publish_dead(self.ctx, [letter])


def register(app: faust.App, ctx: StageContext) -> None:
    """Declare the customers agent on ``canary.detection``."""
    source = ctx.topic(topics.DETECTION)
    ctx.topic(topics.DEAD_LETTER)
    handler = Customers(ctx)

    batch_agent(app, source, STAGE, handler)
