"""Operator-made links of ``app.external_identities`` (customers.md: manual only, never automatic).

A link is unique per (merchant, source system, namespace, source customer id). Linking a
revoked link again re-activates it (possibly to another customer); an active link to
another customer must be unlinked first. Unlinking sets ``revoked_at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from canary_stream.errors import CanaryError, NotFound


class LinkConflict(CanaryError):
    """The external identity is already linked (actively) to another customer."""


@dataclass(frozen=True)
class Link:
    """One link as the command reports it."""

    link_id: UUID
    customer_id: UUID
    created: bool


async def find_customer(conn: AsyncConnection, merchant_id: UUID, customer: str) -> UUID:
    """The merchant's customer by our UUID or Square's customer id; ``NotFound`` otherwise."""
    try:
        as_uuid: UUID | None = UUID(customer)
    except ValueError:
        as_uuid = None
    row = (
        await conn.execute(
            text(
                "SELECT id FROM app.customers WHERE merchant_id = :m "
                "AND (square_customer_id = :sq OR id = CAST(:id AS uuid))"
            ),
            {"m": merchant_id, "sq": customer, "id": as_uuid},
        )
    ).first()
    if row is None:
        raise NotFound(f"no customer {customer!r} at this merchant")
    return UUID(str(row.id))


async def link(
    conn: AsyncConnection,
    merchant_id: UUID,
    customer_id: UUID,
    source: tuple[str, str, str],
    linked_by: str,
) -> Link:
    """Link (system, namespace, source id) to the customer; idempotent for the same customer."""
    system, namespace, source_id = source
    params = {
        "m": merchant_id,
        "c": customer_id,
        "s": system,
        "ns": namespace,
        "x": source_id,
        "by": linked_by,
    }
    row = (
        await conn.execute(
            text(
                "INSERT INTO app.external_identities AS e (merchant_id, customer_id, "
                "source_system, source_namespace, source_customer_id, link_method, linked_by) "
                "VALUES (:m, :c, :s, :ns, :x, 'manual', :by) "
                "ON CONFLICT (merchant_id, source_system, source_namespace, source_customer_id) "
                "DO UPDATE SET customer_id = EXCLUDED.customer_id, linked_by = EXCLUDED.linked_by, "
                "linked_at = now(), revoked_at = NULL WHERE e.revoked_at IS NOT NULL "
                "RETURNING id"
            ),
            params,
        )
    ).first()
    if row is not None:
        return Link(UUID(str(row.id)), customer_id, True)
    active = (
        await conn.execute(
            text(
                "SELECT id, customer_id FROM app.external_identities WHERE merchant_id = :m "
                "AND source_system = :s AND source_namespace = :ns AND source_customer_id = :x"
            ),
            params,
        )
    ).one()
    if active.customer_id != customer_id:
        raise LinkConflict(
            f"{system}/{source_id} is already linked to customer {active.customer_id}: "
            "unlink it first"
        )
    return Link(UUID(str(active.id)), customer_id, False)


async def unlink(conn: AsyncConnection, merchant_id: UUID, source: tuple[str, str, str]) -> Link:
    """Revoke the active link of (system, namespace, source id); ``NotFound`` if none."""
    system, namespace, source_id = source
    row = (
        await conn.execute(
            text(
                "UPDATE app.external_identities SET revoked_at = now() WHERE merchant_id = :m "
                "AND source_system = :s AND source_namespace = :ns AND source_customer_id = :x "
                "AND revoked_at IS NULL RETURNING id, customer_id"
            ),
            {"m": merchant_id, "s": system, "ns": namespace, "x": source_id},
        )
    ).first()
    if row is None:
        raise NotFound(f"no active link of {system}/{source_id} at this merchant")
    return Link(UUID(str(row.id)), UUID(str(row.customer_id)), False)
