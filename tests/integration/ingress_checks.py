"""What the ingress tests observe: records on the topics, rows in the tables, the counters.

Shared by ``test_ingress.py`` and ``test_ingress_bad_input.py``; every helper reads the real
broker, database or ``/metrics`` of a running :class:`harness.Pipeline`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

from harness import Pipeline, b64, engine_for, read_topic, square_body, wait_for
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from canary_stream.db.evidence import RAW_PAYLOAD_COLUMN
from canary_stream.evidence.crypto import KeyRing

#: RFC 3339, UTC, exactly six fractional digits (contracts.md).
RFC3339_MICROS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
RECORD_HEADERS = {"content-type": b"application/json", "schema-version": b"1"}


@dataclass
class Deployment:
    """A started pipeline with one merchant and its signature key."""

    pipe: Pipeline
    merchant_id: str
    pmid: str
    key_id: str


async def deploy(factory: Any, *apps: str, **overrides: str) -> Deployment:
    """A module's pipeline: one merchant, one signature key, ``apps`` started side by side."""
    pipe = factory(**overrides)
    # The harness passes no card-hash keys to its processes; the parse stage needs them.
    pipe.overrides.setdefault(
        "CANARY_CARD_HASH_KEYS",
        pipe.base.card_hash_keys.get_secret_value() or f"t1:{b64(os.urandom(32))}",
    )
    merchant_id, pmid = pipe.add_merchant()
    engine = engine_for(pipe.settings())
    try:
        key_id = await add_key(pipe, engine)
    finally:
        await engine.dispose()
    procs = [pipe.start(app, wait=False) for app in apps]
    for proc in procs:
        pipe.wait_ready(proc)
    return Deployment(pipe, merchant_id, pmid, key_id)


async def add_key(pipe: Pipeline, engine: AsyncEngine, key: str | None = None) -> str:
    """Store a signature key for the pipeline's URL; returns its id.

    Keys of earlier runs may share the URL (ports are reused), hence the difference.
    """
    before = set(await key_ids(engine, pipe.notification_url))
    pipe.add_signature_key(key=key)
    (key_id,) = set(await key_ids(engine, pipe.notification_url)) - before
    return key_id


def sized_body(pmid: str, size: int, **fields: Any) -> bytes:
    """A Square-shaped body (``square_body`` with ``fields``) padded to exactly ``size`` bytes."""
    doc = {**json.loads(square_body(pmid)), **fields, "pad": ""}
    doc["pad"] = "p" * (size - len(json.dumps(doc).encode()))
    body = json.dumps(doc).encode()
    assert len(body) == size
    return body


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def b64decode(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


# Topics -------------------------------------------------------------------------------
async def topic_records(pipe: Pipeline, short: str) -> list[tuple[Any, dict[str, Any]]]:
    """Every record of ``{prefix}.{short}`` with its decoded JSON value."""
    return [(r, json.loads(r.value)) for r in await read_topic(pipe.settings(), pipe.topic(short))]


def _hash_of(letter: dict[str, Any]) -> str | None:
    part = letter.get("request") or letter.get("body") or {}
    return part.get("event_hash")


async def dead_letters_of(pipe: Pipeline, event_hash: str) -> list[tuple[Any, dict[str, Any]]]:
    """Dead-letter records of the ingress for the body with this hash."""
    return [
        (r, d) for r, d in await topic_records(pipe, "dead-letter") if _hash_of(d) == event_hash
    ]


async def dead_letter(pipe: Pipeline, event_hash: str) -> tuple[Any, dict[str, Any]]:
    """The one dead-letter record of a body (waits for it to arrive)."""
    found = await wait_for(lambda: dead_letters_of(pipe, event_hash), timeout=30)
    assert len(found) == 1, found
    record, letter = found[0]
    assert record.key == b"unknown"
    assert dict(record.headers) == {**RECORD_HEADERS, "record-type": b"dead-letter"}
    assert RFC3339_MICROS.match(letter["at"])
    return record, letter


async def envelopes_of(pipe: Pipeline, event_hash: str) -> list[tuple[Any, dict[str, Any]]]:
    return [(r, d) for r, d in await topic_records(pipe, "events") if d["event_hash"] == event_hash]


# Database -----------------------------------------------------------------------------
async def key_ids(engine: AsyncEngine, notification_url: str) -> list[str]:
    """Ids of the signature keys stored for a notification URL, oldest first."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT key_id FROM app.webhook_signing_keys WHERE notification_url = :u "
                "ORDER BY active_from, key_id"
            ),
            {"u": notification_url},
        )
        return [r.key_id for r in rows]


async def all_key_ids(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return {
            r.key_id
            for r in await conn.execute(text("SELECT key_id FROM app.webhook_signing_keys"))
        }


async def evidence(engine: AsyncEngine, event_id: str) -> Any:
    """The evidence row of one delivery, or None."""
    async with engine.connect() as conn:
        return (
            await conn.execute(
                text(
                    "SELECT event_id, merchant_id, seq, source_event_id, event_type, event_hash, "
                    "raw_size, parse_failed, oversize, source_type, signature_key_id, "
                    "raw_payload_enc FROM sales.evidence_records WHERE event_id = :e"
                ),
                {"e": uuid.UUID(event_id)},
            )
        ).first()


async def sealed(engine: AsyncEngine, event_id: str) -> Any:
    """The evidence row of one delivery, once the seal stage has written it."""
    return await wait_for(lambda: evidence(engine, event_id), timeout=60)


async def evidence_by_source(
    engine: AsyncEngine, merchant_id: str, source_event_id: str
) -> list[Any]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT event_id FROM sales.evidence_records "
                "WHERE merchant_id = :m AND source_event_id = :s"
            ),
            {"m": uuid.UUID(merchant_id), "s": source_event_id},
        )
        return [str(r.event_id) for r in rows]


def stored_bytes(pipe: Pipeline, row: Any) -> bytes:
    """The sealed raw payload of an evidence row, decrypted."""
    ring = KeyRing(pipe.settings().encryption_ring())
    return ring.decrypt(
        bytes(row.raw_payload_enc),
        column=RAW_PAYLOAD_COLUMN,
        merchant_id=str(row.merchant_id),
        row_id=str(row.event_id),
    )


async def ingestion(
    engine: AsyncEngine, event_ids: list[str]
) -> set[tuple[str, str, str, str | None]]:
    """``(event_id, step, status, detail)`` of the ingestion-log rows of these deliveries."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT event_id, step, status, detail FROM sales.ingestion_log "
                "WHERE event_id = ANY(:ids)"
            ),
            {"ids": [uuid.UUID(e) for e in event_ids]},
        )
        return {(str(r.event_id), r.step, r.status, r.detail) for r in rows}


async def logged(engine: AsyncEngine, event_id: str, step: str) -> set[tuple[str, str | None]]:
    """``(status, detail)`` of one delivery at one step, once there is at least one."""
    found = await wait_for(lambda: _at_step(engine, event_id, step), timeout=60)
    return {(status, detail) for _, _, status, detail in found}


async def _at_step(engine: AsyncEngine, event_id: str, step: str) -> set[Any]:
    return {row for row in await ingestion(engine, [event_id]) if row[1] == step}


# Metrics ------------------------------------------------------------------------------
def counter(pipe: Pipeline, name: str, **labels: str) -> float:
    """A counter of the ingress process (0 before its first increment)."""
    ingress = next(p for p in pipe.procs if p.name == "ingress")
    with urllib.request.urlopen(f"{ingress.url}/metrics", timeout=5) as r:
        exposition = r.read().decode()
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == f"{name}_total" and sample.labels == labels:
                return float(sample.value)
    return 0.0
