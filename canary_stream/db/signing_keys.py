"""The application keyring of webhook signature keys (``app.webhook_signing_keys``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from canary_stream.evidence.crypto import KeyRing

SECRET_COLUMN = "app.webhook_signing_keys.secret_enc"


@dataclass(frozen=True)
class SigningKey:
    """One signature key with the notification URL it signs for and its active period."""

    key_id: str
    notification_url: str
    secret: bytes
    active_from: datetime
    active_until: datetime | None

    def active_at(self, when: datetime) -> bool:
        """Whether the key verifies webhooks at ``when``."""
        return self.active_from <= when and (self.active_until is None or when < self.active_until)


async def add_key(
    conn: AsyncConnection,
    ring: KeyRing,
    key_id: str,
    notification_url: str,
    secret: bytes,
    active_from: datetime,
) -> None:
    """Store a signature key, encrypted and bound to its row."""
    blob = ring.encrypt(secret, column=SECRET_COLUMN, merchant_id="", row_id=key_id)
    await conn.execute(
        text(
            "INSERT INTO app.webhook_signing_keys (key_id, notification_url, secret_enc, "
            "active_from) VALUES (:k, :u, :s, :f)"
        ),
        {"k": key_id, "u": notification_url, "s": blob, "f": active_from},
    )


async def retire_key(conn: AsyncConnection, key_id: str, until: datetime) -> None:
    """End a key's active period at ``until`` (rotation overlap)."""
    await conn.execute(
        text("UPDATE app.webhook_signing_keys SET active_until = :u WHERE key_id = :k"),
        {"u": until, "k": key_id},
    )


async def load_keys(conn: AsyncConnection, ring: KeyRing) -> list[SigningKey]:
    """Every stored key, decrypted, oldest first."""
    rows = await conn.execute(
        text(
            "SELECT key_id, notification_url, secret_enc, active_from, active_until "
            "FROM app.webhook_signing_keys ORDER BY active_from, key_id"
        )
    )
    return [
        SigningKey(
            key_id=r.key_id,
            notification_url=r.notification_url,
            secret=ring.decrypt(
                bytes(r.secret_enc), column=SECRET_COLUMN, merchant_id="", row_id=r.key_id
            ),
            active_from=r.active_from,
            active_until=r.active_until,
        )
        for r in rows
    ]


async def reencrypt_secrets(conn: AsyncConnection, ring: KeyRing) -> int:
    """Re-encrypt every stored secret under the ring's newest key; the number of keys.

    A secret under a key the ring lacks raises ``DecryptError`` and the caller rolls back.
    """
    rows = (
        await conn.execute(
            text(
                "SELECT key_id, secret_enc FROM app.webhook_signing_keys ORDER BY key_id FOR UPDATE"
            )
        )
    ).all()
    for r in rows:
        secret = ring.decrypt(
            bytes(r.secret_enc), column=SECRET_COLUMN, merchant_id="", row_id=r.key_id
        )
        await conn.execute(
            text("UPDATE app.webhook_signing_keys SET secret_enc = :s WHERE key_id = :k"),
            {
                "k": r.key_id,
                "s": ring.encrypt(secret, column=SECRET_COLUMN, merchant_id="", row_id=r.key_id),
            },
        )
    return len(rows)
