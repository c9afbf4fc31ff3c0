"""``canary-stream fake-square``: run the local fake Square API in the foreground."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import typer

from canary_stream.cli.common import fail, one_line_errors, settings

app = typer.Typer()

DEFAULT_PORT = 8091


@app.callback(invoke_without_command=True)
@one_line_errors
def fake_square(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on"),
    port: int | None = typer.Option(
        None, "--port", help="Port (default: the port of CANARY_SQUARE_BASE_URL, else 8091)"
    ),
    seed: int = typer.Option(1, help="Seed of the sellers and their history (as 'simulate')"),
    merchants: int = typer.Option(3, min=0, help="Sellers to seed (as 'simulate --merchants')"),
    events: int = typer.Option(
        3000, min=0, help="Simulated webhooks whose objects make up the seeded history"
    ),
    start: str | None = typer.Option(
        None,
        help="Business time of the seeded history's first event (as 'simulate --start'; "
        "default 2025-01-06T15:00:00Z)",
    ),
    rate: float | None = typer.Option(
        None, min=0.0001, help="Events per second of business time (default 0.05)"
    ),
    ingress_url: str | None = typer.Option(
        None,
        "--ingress-url",
        help="POST created objects' webhooks here (default: each subscription's URL)",
    ),
) -> None:
    """Run the local fake Square API in the foreground (tests, 'make run', benchmarks).

    Serves, from memory until interrupted, Square's webhook-subscription API (callers use
    CANARY_SQUARE_ACCESS_TOKEN, written by 'canary-stream stack up') and the seller APIs
    (orders, payments, refunds, cash drawers, locations, team, customers, loyalty,
    disputes, payouts) of the sellers 'canary-stream simulate --seed S --merchants N'
    sends webhooks for. GET /_fake/merchants lists their access tokens; POST /_fake/orders
    makes a sale and sends its signed webhooks. See docs/fake-square.md.

    With --start and --rate as given to 'simulate' (same --seed, --merchants, and --events =
    rate x duration), the seeded history is that simulation's: every order its thin order
    events name is served ('make run' does this).

    Example: canary-stream fake-square --port 8091 --seed 1 --merchants 3
    """
    from datetime import datetime

    from canary_stream.square.fake import FakeSquareState, serve
    from canary_stream.square.fake.merchants import seed_merchants

    cfg = settings()
    token = cfg.square_access_token.get_secret_value()
    if not token:
        raise fail(
            "CANARY_SQUARE_ACCESS_TOKEN is empty: run 'canary-stream stack up' (it writes one) "
            "or set it; the fake accepts only that token",
            2,
        )
    if port is None:
        port = urlsplit(cfg.square_base_url).port or DEFAULT_PORT
    state = FakeSquareState(access_token=token, ingress_url=ingress_url)
    if merchants:
        history: dict[str, Any] = {"events": events}
        if start is not None:
            try:
                history["start"] = datetime.fromisoformat(start.replace("Z", "+00:00"))
            except ValueError:
                raise fail(f"--start {start!r} is not an RFC 3339 time", 2) from None
            if history["start"].tzinfo is None:
                raise fail("--start needs a time zone (e.g. 2025-01-06T15:00:00Z)", 2)
        if rate is not None:
            history["rate"] = rate
        for merchant in seed_merchants(seed, merchants, **history):
            state.add_merchant(merchant)
        print(f"fake Square seeded {merchants} sellers (seed {seed}, {events} events)", flush=True)
    try:
        serve(state, host, port)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
