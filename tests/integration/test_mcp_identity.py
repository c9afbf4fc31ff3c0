"""The identity MCP server driven by the SDK's own client over stdio and streamable HTTP.

Each tool's happy path with exact values; B's ids answer A's calls exactly like ids that do
not exist (full payloads compared); bad tokens are unauthorized; limits and cursors are
checked; pagination returns every transaction once. Seed data: :mod:`mcp_world`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from harness import free_port
from mcp import Client
from mcp_world import (
    NOT_FOUND,
    OLD_KEY,
    T,
    World,
    call,
    card_hash,
    customer_a,
    http_client,
    seed,
    stdio_client,
)

from canary_stream.customers.registry import card_profile_uuid
from canary_stream.db.api_tokens import create_token
from canary_stream.readiness import is_ready
from canary_stream.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def world(stack_settings: Settings) -> World:
    return await seed(stack_settings)


@pytest.fixture(scope="module")
def http_url(world: World) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "canary_stream.cli.main", "mcp", "serve", "--port", str(port)],
        env=world.env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "mcp serve exited"
            if is_ready(f"http://127.0.0.1:{port}"):
                break
            assert time.monotonic() < deadline, "mcp serve did not become ready"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp/identity"
    finally:
        proc.terminate()
        proc.wait(10)


Connect = Callable[[], AbstractAsyncContextManager[Client]]


@pytest.fixture(params=["stdio", "http"])
def connect(request: pytest.FixtureRequest, world: World) -> Connect:
    """A client of merchant A over either transport (entered inside the test's own task)."""
    if request.param == "stdio":
        return lambda: stdio_client(world, world.a)
    url = request.getfixturevalue("http_url")
    return lambda: http_client(url, world.token_a)


async def test_lookup_by_square_id_and_isolation(connect: Connect, world: World) -> None:
    async with connect() as client:
        assert await call(client, "lookup_customer_by_square_id", square_customer_id="CUST1") == (
            False,
            {"customer": customer_a(world)},
        )
        foreign = await call(client, "lookup_customer_by_square_id", square_customer_id="CUSTB")
        missing = await call(client, "lookup_customer_by_square_id", square_customer_id="NOPE")
        assert foreign == missing == (True, NOT_FOUND)


async def test_lookup_by_fingerprint_with_an_older_key_and_isolation(
    connect: Connect, world: World
) -> None:
    async with connect() as client:
        error, body = await call(
            client, "lookup_customer_by_card_fingerprint", card_fingerprint="fp-A1"
        )
        assert not error
        assert body["customers"] == [customer_a(world)]
        assert body["card_profiles"] == [
            {
                "card_profile_id": str(
                    card_profile_uuid(world.a, card_hash(OLD_KEY, world.a, "fp-A1"))
                ),
                "card_brand": "VISA",
                "customer_id": str(world.cust_a),
                "first_seen_at": T[0].isoformat(),
                "last_seen_at": T[1].isoformat(),
                "use_count": 2,
                "failed_count": 1,
            }
        ]
        assert "fp-A1" not in str(body)
        foreign = await call(
            client, "lookup_customer_by_card_fingerprint", card_fingerprint="fp-B1"
        )
        missing = await call(client, "lookup_customer_by_card_fingerprint", card_fingerprint="fp-x")
        assert foreign == missing == (True, NOT_FOUND)


async def test_value_summary_and_card_profiles(connect: Connect, world: World) -> None:
    async with connect() as client:
        error, body = await call(client, "customer_value_summary", customer_id=str(world.cust_a))
        assert not error
        assert body == {
            "customer": customer_a(world),
            "value": {
                "gross_payments_cents": 10000,
                "payment_count": 2,
                "refunds_cents": 1000,
                "refund_count": 1,
                "lost_disputes_cents": 0,
                "lost_dispute_count": 0,
                "voids_cents": 500,
                "void_count": 1,
            },
        }
        error, body = await call(client, "customer_card_profiles", square_customer_id="CUST1")
        assert not error
        assert [p["card_brand"] for p in body["card_profiles"]] == ["VISA"]
        assert all("fingerprint" not in k for p in body["card_profiles"] for k in p)
        for tool in (
            "customer_value_summary",
            "customer_card_profiles",
            "customer_transaction_history",
        ):
            foreign = await call(client, tool, customer_id=str(world.cust_b))
            missing = await call(client, tool, customer_id=str(uuid.uuid4()))
            assert foreign == missing == (True, NOT_FOUND)


async def test_history_pages_every_transaction_once(connect: Connect, world: World) -> None:
    async with connect() as client:
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            args: dict[str, Any] = {"square_customer_id": "CUST1", "limit": 3}
            if cursor is not None:
                args["cursor"] = cursor
            error, body = await call(client, "customer_transaction_history", **args)
            assert not error
            seen += [t["transaction_id"] for t in body["transactions"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert pages == 2
        assert seen == [str(t) for t in world.txns]
        error, body = await call(
            client,
            "customer_transaction_history",
            customer_id=str(world.cust_a),
            limit=1000,
            since=T[2].isoformat(),
        )
        assert not error
        assert body["transactions"] == [
            {
                "transaction_id": str(world.txns[-1]),
                "type": "REFUND",
                "status": "COMPLETED",
                "amount_cents": 1000,
                "currency": "USD",
                "date": T[2].isoformat(),
                "location_id": "L1",
                "refund_of": str(world.txns[0]),
            }
        ]


async def test_invalid_arguments(connect: Connect, world: World) -> None:
    async with connect() as client:
        for args in (
            {"square_customer_id": "CUST1", "limit": 1001},
            {"square_customer_id": "CUST1", "limit": 0},
            {"square_customer_id": "CUST1", "cursor": "not-a-cursor"},
            {"square_customer_id": "CUST1", "since": "yesterday"},
            {},
            {"square_customer_id": "CUST1", "limit": "many"},
        ):
            error, body = await call(client, "customer_transaction_history", **args)
            assert error and body["error"]["code"] == "invalid_argument", args
        missing = {"code": "invalid_argument", "message": "invalid argument"}
        missing["detail"] = "square_customer_id"
        error, body = await call(client, "lookup_customer_by_square_id")
        assert (error, body) == (True, {"error": missing})


async def test_resolve_external_identity(connect: Connect, world: World) -> None:
    async with connect() as client:
        error, body = await call(
            client, "resolve_external_identity", source_system="shopify", source_customer_id="S-1"
        )
        assert not error and body["customer"] == customer_a(world)
        revoked = await call(
            client, "resolve_external_identity", source_system="shopify", source_customer_id="S-2"
        )
        foreign = await call(
            client, "resolve_external_identity", source_system="shopify", source_customer_id="S-B"
        )
        missing = await call(
            client, "resolve_external_identity", source_system="shopify", source_customer_id="S-9"
        )
        assert revoked == foreign == missing == (True, NOT_FOUND)


async def test_http_bad_tokens_are_unauthorized(http_url: str, world: World) -> None:
    unauthorized = (True, {"error": {"code": "unauthorized", "message": "unauthorized"}})
    for token in (None, "cst_unknown", world.revoked, world.proofs_token):
        async with http_client(http_url, token) as c:
            got = await call(c, "lookup_customer_by_square_id", square_customer_id="CUST1")
            assert got == unauthorized, token


async def test_tools_are_the_six_read_only_ones(connect: Connect) -> None:
    async with connect() as client:
        tools = (await client.list_tools()).tools
        assert sorted(t.name for t in tools) == sorted(
            [
                "lookup_customer_by_square_id",
                "lookup_customer_by_card_fingerprint",
                "customer_transaction_history",
                "customer_value_summary",
                "customer_card_profiles",
                "resolve_external_identity",
            ]
        )
        assert all(t.annotations is not None and t.annotations.read_only_hint for t in tools)


def _cli(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "canary_stream.cli.main", "identities", *args],
        env=world.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_identities_link_unlink_are_audited_and_seen_by_the_tool(world: World) -> None:
    source = ["--merchant", str(world.a), "--source-system", "crm", "--source-id", "Z-1"]
    linked = _cli(world, "link", *source, "--customer", "CUST1", "--by", "op-7")
    assert linked.returncode == 0, linked.stderr
    line = json.loads(linked.stderr.strip().splitlines()[-1])
    assert line["msg"] == "identities.link" and line["logger"] == "canary.audit"
    assert (line["merchant_id"], line["customer_id"]) == (str(world.a), str(world.cust_a))
    assert (line["source_customer_id"], line["operator"]) == ("Z-1", "op-7")
    again = _cli(world, "link", *source, "--customer", str(world.cust_a))
    assert again.returncode == 0 and "already linked" in again.stdout
    # B's customer is not A's: it cannot be linked at A
    foreign = _cli(
        world,
        "link",
        *source[:2],
        "--source-system",
        "crm",
        "--source-id",
        "Z-2",
        "--customer",
        "CUSTB",
    )
    assert foreign.returncode == 1 and "no customer" in foreign.stderr
    async with stdio_client(world, world.a) as client:
        error, body = await call(
            client, "resolve_external_identity", source_system="crm", source_customer_id="Z-1"
        )
        assert not error and body["customer"]["customer_id"] == str(world.cust_a)
        unlinked = _cli(world, "unlink", *source)
        assert unlinked.returncode == 0, unlinked.stderr
        assert json.loads(unlinked.stderr.strip().splitlines()[-1])["msg"] == "identities.unlink"
        gone = await call(
            client, "resolve_external_identity", source_system="crm", source_customer_id="Z-1"
        )
        assert gone == (True, NOT_FOUND)
    assert _cli(world, "unlink", *source).returncode == 1


async def test_http_token_scopes_calls_to_its_merchant(http_url: str, world: World, engine) -> None:
    async with engine.begin() as conn:
        token_b = await create_token(conn, "mcp", world.b)
    async with http_client(http_url, token_b) as c:
        error, body = await call(c, "lookup_customer_by_square_id", square_customer_id="CUSTB")
        assert not error and body["customer"]["customer_id"] == str(world.cust_b)
        got = await call(c, "lookup_customer_by_square_id", square_customer_id="CUST1")
        assert got == (True, NOT_FOUND)
