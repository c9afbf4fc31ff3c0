"""The ``canary-identity`` MCP server: six read-only tools over the customer registry.

Every call is scoped to one merchant by a :data:`MerchantScope` (the stdio flag, or the
bearer token of the HTTP request). Failures are MCP tool errors (``is_error``) whose
structured content is ``{"error": {"code", "message"[, "detail"]}}`` with a fixed message
per code (a detail names only an argument, never its value), so nothing of the input or of
the server's internals is echoed, and an id of another merchant answers exactly like an id
that does not exist. Each call reads in a ``READ ONLY`` transaction.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from canary_stream.db import identity as q

SERVER_NAME = "canary-identity"
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MESSAGES = {
    "not_found": "not found",
    "invalid_argument": "invalid argument",
    "unauthorized": "unauthorized",
}


class IdentityError(Exception):
    """A tool failure with a stable code (``not_found``, ``invalid_argument``, ``unauthorized``)."""

    def __init__(self, code: str, detail: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


#: Resolves the merchant of a call (raises ``IdentityError('unauthorized')`` when it cannot).
MerchantScope = Callable[[Context], Awaitable[UUID]]


def _result(payload: dict[str, Any], *, error: bool = False) -> CallToolResult:
    body = json.dumps(payload, sort_keys=True)
    return CallToolResult(
        content=[TextContent(type="text", text=body)], structured_content=payload, is_error=error
    )


def error_result(exc: IdentityError) -> CallToolResult:
    """The tool error of ``exc``: its code, a fixed message and at most a fixed detail."""
    err: dict[str, Any] = {"code": exc.code, "message": MESSAGES[exc.code]}
    if exc.detail is not None:
        err["detail"] = exc.detail
    return _result({"error": err}, error=True)


def fingerprint_hashes(
    keys: Mapping[str, bytes], merchant_id: UUID, fingerprint: str
) -> list[bytes]:
    """The card hash of ``fingerprint`` under every key version (customers.md)."""
    message = f"{merchant_id}:{fingerprint}".encode()
    return [hmac.new(key, message, hashlib.sha256).digest() for key in keys.values()]


def encode_cursor(at: datetime, row_id: UUID) -> str:
    """An opaque keyset cursor: the last row's date and id."""
    raw = json.dumps([at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """The keyset position of a cursor, or ``invalid_argument``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, row_id = json.loads(raw)
        return datetime.fromisoformat(at), UUID(row_id)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise IdentityError("invalid_argument", "cursor") from None


def parse_time(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 time (UTC when it names no offset), or ``invalid_argument``."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise IdentityError("invalid_argument", name) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def _customer(
    conn: AsyncConnection, m: UUID, customer_id: str | None, square_customer_id: str | None
) -> Any:
    """The customer named by exactly one of the two ids, or an error."""
    if (customer_id is None) == (square_customer_id is None):
        raise IdentityError(
            "invalid_argument", "give exactly one of customer_id, square_customer_id"
        )
    if square_customer_id is not None:
        row = await q.customer_by_square_id(conn, m, square_customer_id)
    else:
        try:
            uid = UUID(str(customer_id))
        except ValueError:
            raise IdentityError("not_found") from None
        row = await q.customer_by_id(conn, m, uid)
    if row is None:
        raise IdentityError("not_found")
    return row


class IdentityTools:
    """The six tools, bound to an engine, the card key ring and a merchant scope."""

    def __init__(self, engine: AsyncEngine, card_keys: Mapping[str, bytes], scope: MerchantScope):
        self.engine = engine
        self.card_keys = dict(card_keys)
        self.scope = scope

    async def _run(
        self, ctx: Context, body: Callable[[AsyncConnection, UUID], Awaitable[dict[str, Any]]]
    ) -> CallToolResult:
        try:
            merchant_id = await self.scope(ctx)
            async with self.engine.connect() as conn:
                await conn.execute(text("SET TRANSACTION READ ONLY"))
                payload = await body(conn, merchant_id)
        except IdentityError as exc:
            return error_result(exc)
        return _result(payload)

    async def lookup_customer_by_square_id(
        self, square_customer_id: str, ctx: Context
    ) -> CallToolResult:
        """The customer with this Square customer id: ids, status and aggregates."""

        async def body(conn: AsyncConnection, m: UUID) -> dict[str, Any]:
            row = await _customer(conn, m, None, square_customer_id)
            return {"customer": q.customer_dict(row)}

        return await self._run(ctx, body)

    async def lookup_customer_by_card_fingerprint(
        self, card_fingerprint: str, ctx: Context
    ) -> CallToolResult:
        """Customers seen with this card (raw Square fingerprint, never echoed) and its profile."""

        async def body(conn: AsyncConnection, m: UUID) -> dict[str, Any]:
            hashes = fingerprint_hashes(self.card_keys, m, card_fingerprint)
            profiles = await q.profiles_by_hashes(conn, m, hashes)
            if not profiles:
                raise IdentityError("not_found")
            ids = sorted({p.customer_id for p in profiles if p.customer_id is not None})
            customers = await q.customers_by_ids(conn, m, ids)
            return {
                "customers": [q.customer_dict(c) for c in customers],
                "card_profiles": [q.profile_dict(p) for p in profiles],
            }

        return await self._run(ctx, body)

    async def customer_transaction_history(
        self,
        ctx: Context,
        customer_id: str | None = None,
        square_customer_id: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> CallToolResult:
        """The customer's transactions (either id), oldest first, paged by an opaque cursor.

        ``since`` inclusive, ``until`` exclusive (ISO 8601); ``limit`` 1..1000.
        """

        async def body(conn: AsyncConnection, m: UUID) -> dict[str, Any]:
            if not 1 <= limit <= MAX_LIMIT:
                raise IdentityError("invalid_argument", "limit must be 1..1000")
            start, end = parse_time(since, "since"), parse_time(until, "until")
            after = decode_cursor(cursor) if cursor is not None else None
            row = await _customer(conn, m, customer_id, square_customer_id)
            rows = await q.history(
                conn,
                m,
                row.square_customer_id,
                since=start,
                until=end,
                after=after,
                limit=limit + 1,
            )
            page = rows[:limit]
            more = len(rows) > limit
            return {
                "customer_id": str(row.id),
                "transactions": [q.transaction_dict(r) for r in page],
                "next_cursor": (
                    encode_cursor(page[-1].transaction_date, page[-1].id) if more else None
                ),
            }

        return await self._run(ctx, body)

    async def customer_value_summary(
        self, ctx: Context, customer_id: str | None = None, square_customer_id: str | None = None
    ) -> CallToolResult:
        """LTV, count, first / last seen, and the payments, refunds, voids and lost disputes."""

        async def body(conn: AsyncConnection, m: UUID) -> dict[str, Any]:
            row = await _customer(conn, m, customer_id, square_customer_id)
            parts = await q.value_parts(conn, m, row.id, row.square_customer_id)
            return {"customer": q.customer_dict(row), "value": parts}

        return await self._run(ctx, body)

    async def customer_card_profiles(
        self, ctx: Context, customer_id: str | None = None, square_customer_id: str | None = None
    ) -> CallToolResult:
        """The customer's card profiles: brand, first / last seen, use and failure counts."""

        async def body(conn: AsyncConnection, m: UUID) -> dict[str, Any]:
            row = await _customer(conn, m, customer_id, square_customer_id)
            profiles = await q.profiles_of(conn, m, row.id)
            return {
                "customer_id": str(row.id),
                "card_profiles": [q.profile_dict(p) for p in profiles],
            }

        return await self._run(ctx, body)

    async def resolve_external_identity(
        self,
        source_system: str,
        source_customer_id: str,
        ctx: Context,
        source_namespace: str | None = None,
    ) -> CallToolResult:
        """The customer an operator linked to this external identity (active manual link)."""

        async def body(conn: AsyncConnection, m: UUID) -> dict[str, Any]:
            row = await q.external_link(
                conn, m, source_system, source_namespace or "", source_customer_id
            )
            if row is None:
                raise IdentityError("not_found")
            return {
                "customer": q.customer_dict(row),
                "link": {"method": "manual", "linked_at": row.linked_at.isoformat()},
            }

        return await self._run(ctx, body)


TOOL_NAMES = (
    "lookup_customer_by_square_id",
    "lookup_customer_by_card_fingerprint",
    "customer_transaction_history",
    "customer_value_summary",
    "customer_card_profiles",
    "resolve_external_identity",
)


class IdentityServer(MCPServer):
    """``MCPServer`` whose argument-validation failures are ``invalid_argument`` tool errors."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        """Call a tool; arguments failing the input schema name only the fields at fault."""
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if not isinstance(cause, ValidationError):
                raise
            fields = sorted({".".join(str(p) for p in e["loc"]) for e in cause.errors()})
            return error_result(IdentityError("invalid_argument", ", ".join(fields)))


READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True)


def build_server(
    engine: AsyncEngine, card_keys: Mapping[str, bytes], scope: MerchantScope
) -> MCPServer:
    """The ``canary-identity`` server with its six read-only tools."""
    server = IdentityServer(SERVER_NAME, log_level="WARNING")
    tools = IdentityTools(engine, card_keys, scope)
    for name in TOOL_NAMES:
        server.add_tool(getattr(tools, name), name=name, annotations=READ_ONLY)
    return server
