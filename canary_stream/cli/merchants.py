"""``canary-stream merchants add|list``."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from canary_stream.cli.common import database, one_line_errors, run, settings

app = typer.Typer(help="Onboard and list merchants.", no_args_is_help=True)


@app.command()
@one_line_errors
def add(
    square_merchant_id: str = typer.Option(
        ..., "--square-merchant-id", help="Square's merchant id"
    ),
    currency: str = typer.Option("USD", help="ISO 4217 currency of the merchant"),
    timezone: str = typer.Option("UTC", help="IANA time zone, e.g. America/New_York"),
) -> None:
    """Add a merchant and print its UUID.

    Example: canary-stream merchants add --square-merchant-id ML123
    """
    from canary_stream import topics
    from canary_stream.db.merchants import add_merchant
    from canary_stream.kafka import publish

    cfg = settings()

    async def go() -> str:
        async with database(cfg) as engine, engine.begin() as conn:
            config, _ = await add_merchant(conn, square_merchant_id, currency.upper(), timezone)
        await publish(
            cfg, cfg.topic(topics.MERCHANT_CONFIG), str(config.merchant_id).encode(), [config]
        )
        return str(config.merchant_id)

    print(run(go()))


@app.command("list")
@one_line_errors
def list_() -> None:
    """List every merchant.  Example: canary-stream merchants list"""
    from canary_stream.db.merchants import all_merchants

    cfg = settings()

    async def go() -> list:
        async with database(cfg) as engine, engine.connect() as conn:
            return await all_merchants(conn)

    table = Table("merchant_id", "square_merchant_id", "status", "currency", "timezone")
    for m in run(go()):
        table.add_row(str(m.merchant_id), m.provider_merchant_id, m.status, m.currency, m.timezone)
    Console().print(table)


#: Scopes the pipeline's calls need (orders, payments, drawers, locations, team, customers...).
CONNECT_SCOPES = (
    "MERCHANT_PROFILE_READ", "PAYMENTS_READ", "ORDERS_READ", "CUSTOMERS_READ",
    "EMPLOYEES_READ", "LOYALTY_READ", "GIFTCARDS_READ", "DISPUTES_READ", "PAYOUTS_READ",
)  # fmt: skip


@app.command()
@one_line_errors
def connect(
    merchant: str = typer.Option(..., "--merchant", help="Merchant UUID or Square merchant id"),
    code: str | None = typer.Option(None, "--code", help="OAuth authorization code from Square"),
    fake: bool = typer.Option(
        False, "--fake", help="Get the code from the local fake Square (CANARY_SQUARE_BASE_URL)"
    ),
) -> None:
    """Store a merchant's OAuth tokens in the vault (authorization-code exchange).

    Example: canary-stream merchants connect --merchant ML123 --fake
    """
    import httpx

    from canary_stream.db.merchants import resolve
    from canary_stream.errors import ConfigError
    from canary_stream.square.client import resolve_base_url
    from canary_stream.square.vault import open_token_vault

    if (code is None) == (not fake):
        raise ConfigError("give exactly one of --code CODE or --fake")
    cfg = settings()

    async def go() -> tuple[str, str]:
        async with database(cfg) as engine:
            async with engine.connect() as conn:
                found = await resolve(conn, merchant)
            grant = code
            if grant is None:
                url = resolve_base_url(cfg.square_base_url) + "/_fake/oauth/codes"
                token = cfg.square_access_token.get_secret_value()
                async with httpx.AsyncClient(timeout=10) as http:
                    answer = await http.post(
                        url,
                        json={
                            "merchant_id": found.provider_merchant_id,
                            "scopes": list(CONNECT_SCOPES),
                        },
                        headers={"Authorization": f"Bearer {token}"},
                    )
                if answer.status_code != 200:
                    raise ConfigError(
                        f"the fake Square at {url} answered {answer.status_code}; "
                        "is 'canary-stream fake-square' running with this merchant seeded?"
                    )
                grant = str(answer.json()["code"])
            async with open_token_vault(cfg, engine) as vault:
                expires = await vault.connect(found.merchant_id, grant, CONNECT_SCOPES)
        return str(found.merchant_id), expires.isoformat()

    merchant_id, expires = run(go())
    print(f"merchant {merchant_id} connected; access token valid until {expires}")
