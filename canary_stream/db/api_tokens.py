"""Bearer tokens (``app.api_tokens``): created once, stored as SHA-256, merchant-scoped.

A token is ``cst_`` + 43 characters of URL-safe base64 (32 random bytes); only its SHA-256
is stored, so the database cannot give it back. ``merchant_id`` NULL is an operator token
(every merchant); ``mcp`` tokens always name a merchant (a CHECK constraint).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from canary_stream.errors import CanaryError, NotFound

TOKEN_PREFIX = "cst_"
SCOPES = ("proofs", "mcp", "status")
#: The shortest hash prefix ``tokens revoke`` accepts.
MIN_HASH_PREFIX = 8


class TokenError(CanaryError):
    """A token command was given an invalid scope, merchant or token reference."""


@dataclass(frozen=True)
class TokenIdentity:
    """Who a valid token speaks for: a merchant, or the operator (``merchant_id`` None)."""

    scope: str
    merchant_id: UUID | None

    @property
    def operator(self) -> bool:
        """An operator token reads every merchant."""
        return self.merchant_id is None


@dataclass(frozen=True)
class TokenRow:
    """A stored token, as ``tokens list`` shows it (never the token itself)."""

    hash_prefix: str
    scope: str
    merchant_id: UUID | None
    created_at: datetime
    revoked_at: datetime | None


def token_hash(token: str) -> bytes:
    """SHA-256 of the token's UTF-8 bytes (what the table stores)."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def new_token() -> str:
    """A fresh random token."""
    return TOKEN_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


async def create_token(conn: AsyncConnection, scope: str, merchant_id: UUID | None) -> str:
    """Store a new token's hash and return the token (shown once, never stored)."""
    if scope not in SCOPES:
        raise TokenError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    if scope == "mcp" and merchant_id is None:
        raise TokenError("an mcp token must name a merchant (--merchant)")
    token = new_token()
    await conn.execute(
        text("INSERT INTO app.api_tokens (token_hash, merchant_id, scope) VALUES (:h, :m, :s)"),
        {"h": token_hash(token), "m": merchant_id, "s": scope},
    )
    return token


async def authenticate(conn: AsyncConnection, token: str, scope: str) -> TokenIdentity | None:
    """The identity of an unrevoked token of ``scope``, or None (unknown, revoked, other scope)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = (
        await conn.execute(
            text(
                "SELECT scope, merchant_id FROM app.api_tokens "
                "WHERE token_hash = :h AND revoked_at IS NULL AND scope = :s"
            ),
            {"h": token_hash(token), "s": scope},
        )
    ).first()
    return TokenIdentity(row.scope, row.merchant_id) if row is not None else None


async def revoke_token(conn: AsyncConnection, reference: str) -> TokenRow:
    """Revoke by the token itself or by a hex prefix of its hash (>= 8 chars, unambiguous)."""
    reference = reference.strip()
    params: dict[str, object]
    if reference.startswith(TOKEN_PREFIX):
        where, params = "token_hash = :h", {"h": token_hash(reference)}
    else:
        prefix = reference.lower()
        if len(prefix) < MIN_HASH_PREFIX or any(c not in "0123456789abcdef" for c in prefix):
            raise TokenError(
                f"give the token ({TOKEN_PREFIX}…) or at least {MIN_HASH_PREFIX} hex characters "
                "of its hash (see 'canary-stream tokens list')"
            )
        where, params = "encode(token_hash, 'hex') LIKE :p", {"p": prefix + "%"}
    rows = (
        await conn.execute(
            text(
                "UPDATE app.api_tokens SET revoked_at = coalesce(revoked_at, now()) "
                f"WHERE {where} AND (SELECT count(*) FROM app.api_tokens WHERE {where}) = 1 "
                "RETURNING token_hash, scope, merchant_id, created_at, revoked_at"
            ),
            params,
        )
    ).all()
    if not rows:
        count = (
            await conn.execute(text(f"SELECT count(*) FROM app.api_tokens WHERE {where}"), params)
        ).scalar_one()
        if count > 1:
            raise TokenError(f"{count} tokens match {reference!r}: give more characters")
        raise NotFound(f"no token matches {reference!r}")
    return _row(rows[0])


async def list_tokens(conn: AsyncConnection) -> list[TokenRow]:
    """Every token, newest first."""
    rows = await conn.execute(
        text(
            "SELECT token_hash, scope, merchant_id, created_at, revoked_at FROM app.api_tokens "
            "ORDER BY created_at DESC"
        )
    )
    return [_row(r) for r in rows]


def _row(row: object) -> TokenRow:
    m = row._mapping  # type: ignore[attr-defined]
    return TokenRow(
        hash_prefix=bytes(m["token_hash"]).hex()[:12],
        scope=m["scope"],
        merchant_id=m["merchant_id"],
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
    )
