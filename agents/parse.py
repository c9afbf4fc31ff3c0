"""Parse (app ``canary-parse``): sealed events → ``sales.*`` ledger → ``canary.detection``.

Per batch: decode; route each event through the parser registry (pure parsers); in one
transaction insert every ledger row idempotently, fill voids and refunds with their
original's time and employee from the ledger, queue thin events for fetching, and log each
outcome; then publish one canonical event per record that was new, and dead letters.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import faust
from pydantic import ValidationError

from agents._runner import batch_agent, one_line
from agents._stage import dead_letter, key_hint, merchant_key, publish, publish_dead
from canary_stream import topics
from canary_stream.apps import StageContext
from canary_stream.db import evidence as db
from canary_stream.db import ledger
from canary_stream.db import merchants as merchants_db
from canary_stream.errors import CanaryError, PermanentError
from canary_stream.models.dead_letter import DeadLetter
from canary_stream.models.envelope import SealedEnvelope
from canary_stream.observability import metrics
from canary_stream.settings import Settings, decode_key_ring
from canary_stream.square.parse.actions import MerchantRevoked, publishable
from canary_stream.square.parse.base import CardHasher, ParseContext, ParsedRecord
from canary_stream.square.registry import parser_for

STAGE = "parse"
log = logging.getLogger("canary.parse")
#: Square ``order.*`` events carry only an id; the order is fetched and sealed on its own.
THIN_EVENT_TYPES = frozenset({"order.created", "order.updated", "order.fulfillment.updated"})


@dataclass
class ParseOutcome:
    """What parsing one batch produced, before anything is written."""

    records: list[tuple[SealedEnvelope, ParsedRecord]] = field(default_factory=list)
    log: list[db.LogEntry] = field(default_factory=list)
    deferrals: list[tuple[UUID, UUID]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


def card_hasher(settings: Settings) -> CardHasher:
    """The card fingerprint hasher from ``CANARY_CARD_HASH_KEYS``."""
    keys = decode_key_ring(settings.card_hash_keys.get_secret_value(), what="CANARY_CARD_HASH_KEYS")
    if not keys:
        raise CanaryError(
            "CANARY_CARD_HASH_KEYS is empty: set it (or run 'canary-stream stack up')"
        )
    return CardHasher(keys)


def context_for(record: SealedEnvelope, currency: str, hasher: CardHasher) -> ParseContext:
    """The parse context of one sealed record."""
    return ParseContext(
        merchant_id=record.merchant_id,
        currency=currency,
        event_id=record.event_id,
        source_type=record.source_type,
        source_event_id=record.source_event_id,
        event_type=record.event_type,
        event_hash=record.event_hash,
        received_at=record.received_at,
        card_hash=hasher,
        mode="backfill" if record.source_type == "BATCH" else "live",
    )


def parse_one(record: SealedEnvelope, currency: str, hasher: CardHasher, out: ParseOutcome) -> None:
    """Route one sealed record; append its records, log entry, deferral or dead letter."""

    def logged(status: str, detail: str | None = None) -> None:
        out.log.append(db.LogEntry(record.event_id, record.merchant_id, "PARSE", status, detail))

    if record.parse_failed or record.oversize:
        return logged("SKIPPED", "parse_failed" if record.parse_failed else "oversize")
    if record.event_type in THIN_EVENT_TYPES:
        out.deferrals.append((record.event_id, record.merchant_id))
        return logged("DEFERRED", "order fetch queued")
    parser = parser_for(record.source, record.event_type)
    if parser is None:
        return logged("IGNORED", f"no parser for {record.event_type}")
    try:
        parsed = parser(record.raw_payload, context_for(record, currency, hasher))
    except (
        PermanentError,
        ValidationError,
        ValueError,
        TypeError,
        KeyError,
        RecursionError,
    ) as exc:
        reason = exc.reason if isinstance(exc, PermanentError) and exc.reason else "parse_error"
        error = f"{getattr(parser, '__name__', 'parser')}: {one_line(exc)}"
        out.dead.append(dead_letter(STAGE, reason, error, envelope=_envelope_of(record)))
        return logged("FAILED", error[:300])
    out.records.extend((record, p) for p in parsed)
    logged("SUCCESS", f"{len(parsed)} record(s)")


def _envelope_of(record: SealedEnvelope) -> Any:
    from canary_stream.models.envelope import Envelope

    return Envelope.model_validate(record.model_dump(include=set(Envelope.model_fields)))


def enrich(canonical: Any, originals: dict[UUID, tuple[Any, str | None]]) -> Any:
    """Fill a void's or refund's original time and employee from the ledger when missing."""
    original_id = getattr(canonical, "original_transaction_id", None)
    if original_id is None or original_id not in originals:
        return canonical
    occurred, employee = originals[original_id]
    update = {}
    if getattr(canonical, "original_occurred_at", None) is None:
        update["original_occurred_at"] = occurred
    if getattr(canonical, "original_employee_id", None) is None and employee is not None:
        update["original_employee_id"] = employee
    return canonical.model_copy(update=update) if update else canonical


def first_observations(
    records: Sequence[tuple[SealedEnvelope, ParsedRecord]], inserted: set[tuple[str, Any]]
) -> list[Any]:
    """The canonical events to publish: each record without a primary row, and for a primary
    row this batch inserted, only the first record that carries it (the row's source: two
    versions of one payment in a batch insert one row and publish one event)."""
    events, claimed = [], set()
    for _, record in records:
        event = publishable(record)
        if event is None:
            continue
        if record.primary is not None:
            identity = ledger.row_identity(record.primary)
            if identity not in inserted or identity in claimed:
                continue
            claimed.add(identity)
        events.append(event)
    return events


class Parse:
    """Handles one batch of sealed records."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.hasher = card_hasher(ctx.settings)
        self.currencies: dict[UUID, str] = {}

    async def handle(self, events: Sequence[Any]) -> None:
        """Parse, write, publish; returns only when all of it is durable."""
        sealed: list[SealedEnvelope] = []
        out = ParseOutcome()
        for event in events:
            try:
                sealed.append(SealedEnvelope.model_validate_json(event.value))
            except (ValidationError, ValueError) as exc:
                out.dead.append(
                    dead_letter(STAGE, "decode_error", exc, merchant_id=key_hint(event))
                )
        async with self.ctx.engine.begin() as conn:
            missing = {r.merchant_id for r in sealed} - set(self.currencies)
            if missing:
                self.currencies.update(await ledger.merchant_currencies(conn, missing))
            for record in sealed:
                parse_one(record, self.currencies.get(record.merchant_id, ""), self.hasher, out)
            inserted = await ledger.insert_rows(
                conn, (row for _, p in out.records for row in p.rows)
            )
            originals = await ledger.original_transactions(
                conn,
                [
                    oid
                    for _, p in out.records
                    if (oid := getattr(p.canonical, "original_transaction_id", None)) is not None
                ],
            )
            await ledger.defer(conn, out.deferrals)
            await db.log_ingestion(conn, out.log)
        canonical = [
            enrich(event, originals) for event in first_observations(out.records, inserted)
        ]
        await publish(
            self.ctx, [(topics.DETECTION, merchant_key(c.merchant_id), c) for c in canonical]
        )
        revoked = [p.canonical for _, p in out.records if isinstance(p.canonical, MerchantRevoked)]
        if revoked:
            await self.revoke(revoked)
        await publish_dead(self.ctx, out.dead)
        metrics.record_parsed(out.log, len(canonical))
        metrics.record_canonical(canonical)

    async def revoke(self, revoked: Sequence[MerchantRevoked]) -> None:
        """``oauth.authorization.revoked``: merchant inactive, tokens deleted, config published.

        Later webhooks of the merchant then dead-letter as ``unknown_merchant`` (square.md).
        """
        async with self.ctx.engine.begin() as conn:
            configs = [await merchants_db.deactivate(conn, r.merchant_id) for r in revoked]
        await publish(
            self.ctx,
            [(topics.MERCHANT_CONFIG, merchant_key(c.merchant_id), c) for c in configs if c],
        )
        for config in configs:
            if config is not None:
                self.currencies.pop(config.merchant_id, None)
                log.warning(
                    "merchant authorization revoked: marked inactive, tokens deleted",
                    extra={"merchant_id": str(config.merchant_id), "stage": STAGE},
                )

    async def on_record_failure(self, event: Any, error: BaseException) -> None:
        """Quarantine a record that keeps failing."""
        letter = dead_letter(STAGE, "parse_error", one_line(error), merchant_id=key_hint(event))
        await publish_dead(self.ctx, [letter])


def register(app: faust.App, ctx: StageContext) -> None:
    """Declare the parse agent on ``canary.sealed``."""
    source = ctx.topic(topics.SEALED)
    ctx.topic(topics.DETECTION)
    ctx.topic(topics.DEAD_LETTER)
    ctx.topic(topics.MERCHANT_CONFIG)
    handler = Parse(ctx)

    batch_agent(app, source, "parse", handler, stage=STAGE)
