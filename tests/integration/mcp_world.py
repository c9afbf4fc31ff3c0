"""Seed data and SDK clients of the identity MCP server tests (test_mcp_identity.py).

Rows are inserted directly as the owner role (the server only reads): two fresh merchants
A and B. The server processes get their own two-version card key ring (``RING``), so a
profile hashed with the older key must be found too.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx2
from harness import engine_for
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import text

from canary_stream.customers.registry import card_profile_uuid, customer_uuid
from canary_stream.db.api_tokens import create_token, revoke_token
from canary_stream.settings import Settings

T = [datetime(2026, 5, d, 12, tzinfo=UTC) for d in range(1, 10)]
OLD_KEY, NEW_KEY = b"o" * 32, b"n" * 32
RING = "k1:" + base64.b64encode(OLD_KEY).decode() + ",k2:" + base64.b64encode(NEW_KEY).decode()


def card_hash(key: bytes, m: uuid.UUID, fingerprint: str) -> bytes:
    return hmac.new(key, f"{m}:{fingerprint}".encode(), hashlib.sha256).digest()


@dataclass
class World:
    a: uuid.UUID
    b: uuid.UUID
    cust_a: uuid.UUID
    cust_b: uuid.UUID
    txns: list[uuid.UUID]  # A's customer's history, in (date, id) order
    token_a: str
    revoked: str
    proofs_token: str
    env: dict[str, str]


async def _merchant(conn: Any, label: str) -> uuid.UUID:
    m = uuid.uuid4()
    await conn.execute(
        text(
            "INSERT INTO app.merchants (id, provider, provider_merchant_id, status, currency, "
            "timezone, updated_at) VALUES (:id, 'square', :p, 'active', 'USD', 'UTC', now())"
        ),
        {"id": m, "p": f"MCP{label}-{m.hex[:12]}"},
    )
    return m


async def _txn(
    conn: Any, m: uuid.UUID, kind: str, cents: int, at: datetime, sq: str | None
) -> uuid.UUID:
    tid = uuid.uuid4()
    await conn.execute(
        text(
            "INSERT INTO sales.transactions (id, merchant_id, external_id, transaction_type, "
            "status, transaction_date, location_id, customer_id, amount_cents, currency, "
            "source_type, event_id) VALUES (:id, :m, :x, :k, 'COMPLETED', :at, 'L1', :sq, :c, "
            "'USD', 'WEBHOOK', :e)"
        ),
        {
            "id": tid,
            "m": m,
            "x": tid.hex,
            "k": kind,
            "at": at,
            "sq": sq,
            "c": cents,
            "e": uuid.uuid4(),
        },
    )
    return tid


async def _customer(conn: Any, m: uuid.UUID, sq: str, ltv: int, n: int) -> uuid.UUID:
    cid = customer_uuid(m, sq)
    await conn.execute(
        text(
            "INSERT INTO app.customers (id, merchant_id, square_customer_id, lifetime_value_cents, "
            "transaction_count, first_seen_at, last_seen_at, created_by, modified_by) "
            "VALUES (:id, :m, :sq, :ltv, :n, :f, :l, 'test', 'test')"
        ),
        {"id": cid, "m": m, "sq": sq, "ltv": ltv, "n": n, "f": T[0], "l": T[2]},
    )
    return cid


async def _ledger(
    conn: Any, m: uuid.UUID, c: uuid.UUID, t: uuid.UUID, kind: str, d: int, n: int
) -> None:
    await conn.execute(
        text(
            "INSERT INTO app.customer_ledger (merchant_id, customer_id, transaction_id, kind, "
            "ltv_delta_cents, count_delta, occurred_at) VALUES (:m, :c, :t, :k, :d, :n, :at)"
        ),
        {"m": m, "c": c, "t": t, "k": kind, "d": d, "n": n, "at": T[0]},
    )


async def _profile(
    conn: Any, m: uuid.UUID, digest: bytes, version: str, c: uuid.UUID | None
) -> None:
    await conn.execute(
        text(
            "INSERT INTO app.card_profiles (id, merchant_id, fingerprint_hash, "
            "fingerprint_key_version, card_brand, customer_id, first_seen_at, last_seen_at, "
            "use_count, failed_count) VALUES (:id, :m, :h, :v, 'VISA', :c, :f, :l, 2, 1)"
        ),
        {
            "id": card_profile_uuid(m, digest),
            "m": m,
            "h": digest,
            "v": version,
            "c": c,
            "f": T[0],
            "l": T[1],
        },
    )


async def _link(conn: Any, m: uuid.UUID, c: uuid.UUID, source_id: str, revoked: bool) -> None:
    await conn.execute(
        text(
            "INSERT INTO app.external_identities (merchant_id, customer_id, source_system, "
            "source_customer_id, linked_by, revoked_at) VALUES (:m, :c, 'shopify', :s, 'op', "
            + ("now()" if revoked else "NULL")
            + ")"
        ),
        {"m": m, "c": c, "s": source_id},
    )


async def seed(settings: Settings) -> World:
    """Two fresh merchants with customers, transactions, cards, links and tokens."""
    owner = engine_for(settings, owner=True)
    try:
        async with owner.begin() as conn:
            a, b = await _merchant(conn, "A"), await _merchant(conn, "B")
            cust_a = await _customer(conn, a, "CUST1", 9000, 2)
            cust_b = await _customer(conn, b, "CUSTB", 500, 1)
            p1 = await _txn(conn, a, "PAYMENT", 6000, T[0], "CUST1")
            p2 = await _txn(conn, a, "PAYMENT", 4000, T[1], "CUST1")
            v1 = await _txn(conn, a, "VOID", 500, T[1], "CUST1")  # same date as p2: keyset tie
            r1 = await _txn(conn, a, "REFUND", 1000, T[2], None)
            await conn.execute(
                text(
                    "INSERT INTO sales.refund_links (refund_transaction_id, merchant_id, "
                    "original_transaction_id, amount_cents) VALUES (:r, :m, :o, 1000)"
                ),
                {"r": r1, "m": a, "o": p1},
            )
            await _txn(conn, a, "PAYMENT", 700, T[3], "OTHER")
            bt = await _txn(conn, b, "PAYMENT", 500, T[0], "CUSTB")
            for t, kind, d, n in (
                (p1, "PAYMENT", 6000, 1),
                (p2, "PAYMENT", 4000, 1),
                (r1, "REFUND", -1000, 0),
            ):
                await _ledger(conn, a, cust_a, t, kind, d, n)
            await _ledger(conn, b, cust_b, bt, "PAYMENT", 500, 1)
            await _profile(conn, a, card_hash(OLD_KEY, a, "fp-A1"), "k1", cust_a)
            await _profile(conn, b, card_hash(NEW_KEY, b, "fp-B1"), "k2", cust_b)
            await _link(conn, a, cust_a, "S-1", revoked=False)
            await _link(conn, a, cust_a, "S-2", revoked=True)
            await _link(conn, b, cust_b, "S-B", revoked=False)
            token_a = await create_token(conn, "mcp", a)
            revoked = await create_token(conn, "mcp", a)
            proofs_token = await create_token(conn, "proofs", a)
            await revoke_token(conn, revoked)
    finally:
        await owner.dispose()
    txns = sorted([(T[0], p1), (T[1], p2), (T[1], v1), (T[2], r1)])
    env = {**os.environ, "CANARY_CARD_HASH_KEYS": RING}
    return World(a, b, cust_a, cust_b, [t for _, t in txns], token_a, revoked, proofs_token, env)


@contextlib.asynccontextmanager
async def http_client(url: str, token: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield client


@contextlib.asynccontextmanager
async def stdio_client(world: World, merchant: uuid.UUID) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "canary_stream.cli.main", "mcp", "identity", "--merchant", str(merchant)],
        env=world.env,
    )
    async with Client(params) as client:
        yield client


async def call(client: Client, tool: str, **args: Any) -> tuple[bool, dict[str, Any]]:
    result = await client.call_tool(tool, args)
    assert result.structured_content is not None
    # the text block carries exactly the structured payload (full payloads compare equal)
    assert [c.type for c in result.content] == ["text"]
    assert json.loads(result.content[0].text) == result.structured_content  # type: ignore[union-attr]
    return bool(result.is_error), result.structured_content


def customer_a(world: World) -> dict[str, Any]:
    return {
        "customer_id": str(world.cust_a),
        "square_customer_id": "CUST1",
        "status": "active",
        "lifetime_value_cents": 9000,
        "transaction_count": 2,
        "first_seen_at": T[0].isoformat(),
        "last_seen_at": T[2].isoformat(),
    }


NOT_FOUND = {"error": {"code": "not_found", "message": "not found"}}
