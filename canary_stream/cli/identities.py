"""``canary-stream identities link|unlink``: operator-made external identity links, audited.

Each change writes one JSON audit line to stderr (``logger`` ``canary.audit``): the action,
merchant, customer, link id, source and the operator; nothing automatic ever links.
"""

from __future__ import annotations

import getpass
import json
import sys
import uuid
from datetime import UTC, datetime

import typer

from canary_stream.cli.common import database, one_line_errors, run, settings

app = typer.Typer(
    help="Link or unlink an external identity to a customer (operator only, audit-logged).",
    no_args_is_help=True,
)

MERCHANT = typer.Option(..., "--merchant", help="Our merchant UUID or Square's merchant id")
SYSTEM = typer.Option(..., "--source-system", help="The external system, e.g. shopify")
SOURCE_ID = typer.Option(..., "--source-id", help="The customer's id in that system")
NAMESPACE = typer.Option("", "--source-namespace", help="The system's namespace, if any")
BY = typer.Option(None, "--by", help="Operator id recorded as linked_by (default: login name)")


def audit(action: str, merchant_id: uuid.UUID, **fields: object) -> None:
    """One JSON audit line on stderr."""
    doc = {
        "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "level": "INFO",
        "logger": "canary.audit",
        "msg": action,
        "merchant_id": str(merchant_id),
        **{k: str(v) for k, v in fields.items()},
    }
    print(json.dumps(doc), file=sys.stderr)


@app.command()
@one_line_errors
def link(
    merchant: str = MERCHANT,
    customer: str = typer.Option(..., "--customer", help="Our customer UUID or Square's id"),
    source_system: str = SYSTEM,
    source_id: str = SOURCE_ID,
    source_namespace: str = NAMESPACE,
    by: str | None = BY,
) -> None:
    """Link an external customer id to a customer (manual link).

    Example: canary-stream identities link --merchant ML1 --customer C1
    --source-system shopify --source-id 42
    """
    from canary_stream.db import identity_links as links
    from canary_stream.db.merchants import resolve

    cfg = settings()
    operator = by or getpass.getuser()
    source = (source_system, source_namespace, source_id)

    async def go() -> tuple[uuid.UUID, links.Link]:
        async with database(cfg) as engine, engine.begin() as conn:
            m = (await resolve(conn, merchant)).merchant_id
            customer_id = await links.find_customer(conn, m, customer)
            return m, await links.link(conn, m, customer_id, source, operator)

    m, made = run(go())
    action = "identities.link" if made.created else "identities.link.unchanged"
    audit(
        action,
        m,
        customer_id=made.customer_id,
        link_id=made.link_id,
        source_system=source_system,
        source_namespace=source_namespace,
        source_customer_id=source_id,
        operator=operator,
    )
    print(
        f"{'linked' if made.created else 'already linked'}: {source_system}/{source_id} → "
        f"customer {made.customer_id}"
    )


@app.command()
@one_line_errors
def unlink(
    merchant: str = MERCHANT,
    source_system: str = SYSTEM,
    source_id: str = SOURCE_ID,
    source_namespace: str = NAMESPACE,
    by: str | None = BY,
) -> None:
    """Revoke the active link of an external customer id.

    Example: canary-stream identities unlink --merchant ML1 --source-system shopify --source-id 42
    """
    from canary_stream.db import identity_links as links
    from canary_stream.db.merchants import resolve

    cfg = settings()
    operator = by or getpass.getuser()

    async def go() -> tuple[uuid.UUID, links.Link]:
        async with database(cfg) as engine, engine.begin() as conn:
            m = (await resolve(conn, merchant)).merchant_id
            return m, await links.unlink(conn, m, (source_system, source_namespace, source_id))

    m, gone = run(go())
    audit(
        "identities.unlink",
        m,
        customer_id=gone.customer_id,
        link_id=gone.link_id,
        source_system=source_system,
        source_namespace=source_namespace,
        source_customer_id=source_id,
        operator=operator,
    )
    print(f"unlinked: {source_system}/{source_id} (was customer {gone.customer_id})")
