"""Queries of ``app.square_oauth_tokens``: a merchant's Square OAuth tokens, encrypted.

Both token columns use the contracts.md layout, bound to their column and to the row
(row id = ``merchant_id``, the primary key), so a blob copied to another merchant's row or to
the other column fails to decrypt. The caller owns the transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from canary_stream.evidence.crypto import KeyRing

ACCESS_COLUMN = "app.square_oauth_tokens.access_token_enc"
REFRESH_COLUMN = "app.square_oauth_tokens.refresh_token_enc"


@dataclass(frozen=True)
class OAuthTokens:
    """One merchant's decrypted token pair; ``repr`` leaves the tokens out."""

    merchant_id: uuid.UUID
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime
    scopes: tuple[str, ...] = ()


def _seal(ring: KeyRing, column: str, merchant_id: uuid.UUID, token: str) -> bytes:
    mid = str(merchant_id)
    return ring.encrypt(token.encode("utf-8"), column=column, merchant_id=mid, row_id=mid)


def _open(ring: KeyRing, column: str, merchant_id: uuid.UUID, blob: bytes) -> str:
    mid = str(merchant_id)
    return ring.decrypt(bytes(blob), column=column, merchant_id=mid, row_id=mid).decode("utf-8")


async def save_tokens(conn: AsyncConnection, ring: KeyRing, tokens: OAuthTokens) -> None:
    """Insert or replace the merchant's pair (both tokens in one statement, newest key)."""
    await conn.execute(
        text(
            "INSERT INTO app.square_oauth_tokens (merchant_id, access_token_enc, "
            "refresh_token_enc, expires_at, scopes, updated_at) "
            "VALUES (:m, :a, :r, :e, :s, now()) "
            "ON CONFLICT (merchant_id) DO UPDATE SET access_token_enc = excluded.access_token_enc, "
            "refresh_token_enc = excluded.refresh_token_enc, expires_at = excluded.expires_at, "
            "scopes = excluded.scopes, updated_at = now()"
        ),
        {
            "m": tokens.merchant_id,
            "a": _seal(ring, ACCESS_COLUMN, tokens.merchant_id, tokens.access_token),
            "r": _seal(ring, REFRESH_COLUMN, tokens.merchant_id, tokens.refresh_token),
            "e": tokens.expires_at,
            "s": list(tokens.scopes),
        },
    )


async def load_tokens(
    conn: AsyncConnection, ring: KeyRing, merchant_id: uuid.UUID, *, for_update: bool = False
) -> OAuthTokens | None:
    """The merchant's pair, decrypted; ``for_update`` locks the row until the transaction ends."""
    row = (
        await conn.execute(
            text(
                "SELECT access_token_enc, refresh_token_enc, expires_at, scopes "
                "FROM app.square_oauth_tokens WHERE merchant_id = :m"
                + (" FOR UPDATE" if for_update else "")
            ),
            {"m": merchant_id},
        )
    ).first()
    if row is None:
        return None
    return OAuthTokens(
        merchant_id=merchant_id,
        access_token=_open(ring, ACCESS_COLUMN, merchant_id, row.access_token_enc),
        refresh_token=_open(ring, REFRESH_COLUMN, merchant_id, row.refresh_token_enc),
        expires_at=row.expires_at,
        scopes=tuple(row.scopes or ()),
    )


async def delete_tokens(conn: AsyncConnection, merchant_id: uuid.UUID) -> bool:
    """Forget the merchant's pair; whether there was one."""
    result = await conn.execute(
        text("DELETE FROM app.square_oauth_tokens WHERE merchant_id = :m RETURNING merchant_id"),
        {"m": merchant_id},
    )
    return result.first() is not None


async def reencrypt_tokens(conn: AsyncConnection, ring: KeyRing) -> int:
    """Re-encrypt every stored pair under the ring's newest key; the number of rows.

    Rows are locked (``FOR UPDATE``) so a concurrent refresh waits for the rotation's commit.
    A blob under a key the ring lacks raises ``DecryptError`` and the caller rolls back.
    """
    rows = (
        await conn.execute(
            text(
                "SELECT merchant_id, access_token_enc, refresh_token_enc "
                "FROM app.square_oauth_tokens ORDER BY merchant_id FOR UPDATE"
            )
        )
    ).all()
    for row in rows:
        m: uuid.UUID = row.merchant_id
        access = _open(ring, ACCESS_COLUMN, m, row.access_token_enc)
        refresh = _open(ring, REFRESH_COLUMN, m, row.refresh_token_enc)
        await conn.execute(
            text(
                "UPDATE app.square_oauth_tokens SET access_token_enc = :a, "
                "refresh_token_enc = :r WHERE merchant_id = :m"
            ),
            {
                "m": m,
                "a": _seal(ring, ACCESS_COLUMN, m, access),
                "r": _seal(ring, REFRESH_COLUMN, m, refresh),
            },
        )
    return len(rows)
