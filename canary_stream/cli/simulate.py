"""``canary-stream simulate``: signed, realistic Square webhooks POSTed to the ingress."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from canary_stream.cli.common import database, fail, one_line_errors, run, settings
from canary_stream.settings import Settings

if TYPE_CHECKING:
    from canary_stream.simulate.patterns import Injection

app = typer.Typer(help="Send simulated Square webhooks to the ingress.")

KEY_ENV = "CANARY_SIMULATOR_SIGNATURE_KEY"


class RateColumn(ProgressColumn):
    """Requests per second, as rich estimates it."""

    def render(self, task: Task) -> Text:
        """``123 req/s`` (or ``- req/s`` before the first estimate)."""
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} req/s" if speed else "- req/s", style="progress.data.speed")


def _signature_key(given: str | None) -> str:
    """The option or environment value, else one line from a non-tty stdin, else one error line."""
    if given:
        return given
    if not sys.stdin.isatty():
        piped = sys.stdin.readline().strip()
        if piped:
            return piped
    raise fail(f"no signature key: set {KEY_ENV}, pass --signature-key, or pipe it on stdin")


def _weights(value: str | None, option: str) -> dict[str, float] | None:
    """``name=weight,name=weight`` as a dict (None when not given); one error line otherwise."""
    if not value:
        return None
    result: dict[str, float] = {}
    for part in value.split(","):
        name, sep, weight = part.strip().partition("=")
        try:
            result[name.strip()] = float(weight)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise fail(f"{option} {value!r}: expected name=weight[,name=weight...]")
    return result


def _start(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise fail(
            f"--start {value!r} is not an RFC 3339 time (e.g. 2025-01-06T15:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        raise fail("--start needs a time zone (e.g. 2025-01-06T15:00:00Z)")
    return parsed


async def _onboard(cfg: Settings, square_merchant_ids: list[str], currency: str) -> int:
    """Add each merchant (if missing) and publish its config, as ``merchants add`` does."""
    from canary_stream import topics
    from canary_stream.db.merchants import add_merchant
    from canary_stream.kafka import publish

    async with database(cfg) as engine, engine.begin() as conn:
        added = [await add_merchant(conn, mid, currency, "UTC") for mid in square_merchant_ids]
    for config, _ in added:
        await publish(
            cfg, cfg.topic(topics.MERCHANT_CONFIG), str(config.merchant_id).encode(), [config]
        )
    return sum(created for _, created in added)


def _injections(
    value: str, seed: int, square_merchant_ids: list[str], currency: str, start: datetime
) -> list[Injection]:
    """The patterns ``--inject`` asks for, laid out over the run's merchants from ``start``."""
    from canary_stream.simulate.patterns import inject, parse_ids
    from canary_stream.simulate.world import new_merchant

    try:
        ids = parse_ids(value)
    except ValueError as exc:
        raise fail(f"--inject: {exc}") from None
    world = [new_merchant(mid, currency, seed, start.year) for mid in square_merchant_ids]
    return inject(ids, world, start, seed)


async def _produce_drawer(cfg: Settings, injections: Sequence[Injection], currency: str) -> int:
    """Produce the record patterns (NO_SALEs, split-tender SALEs) to ``canary.detection``."""
    from canary_stream import topics
    from canary_stream.db.merchants import by_provider_id
    from canary_stream.kafka import publish

    wanted = {i.merchant_id for i in injections if i.drawer}
    async with database(cfg) as engine, engine.connect() as conn:
        known = {mid: await by_provider_id(conn, mid) for mid in sorted(wanted)}
    sent = 0
    for injection in injections:
        config = known.get(injection.merchant_id)
        if not injection.drawer:
            continue
        if config is None:
            raise fail(f"merchant {injection.merchant_id} is not onboarded (try --onboard)")
        records = injection.records(config.merchant_id, currency)
        key = str(config.merchant_id).encode()
        await publish(cfg, cfg.topic(topics.DETECTION), key, records)
        sent += len(records)
    return sent


def _print_injections(injections: Sequence[Injection]) -> None:
    for i in injections:
        what = f"{len(i.webhooks)} webhooks" if i.webhooks else f"{len(i.drawer)} drawer records"
        alerts = "; ".join(f"{e.rule_id} L{e.level} {e.mode} {e.subject}" for e in i.expected)
        print(f"injected {i.rule_id} for {i.merchant_id}: {what}; expect {alerts}", file=sys.stderr)


def _cell(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    return "-" if value is None else str(value)


def _print_report(report: dict[str, object], console: Console) -> None:
    table = Table("metric", "value", title="simulation")
    for name, value in report.items():
        table.add_row(name, _cell(value))
    console.print(table)


@app.callback(invoke_without_command=True)
@one_line_errors
def simulate(
    rate: float = typer.Option(50.0, min=0.001, help="Webhooks per second"),
    merchants: int = typer.Option(3, min=1, help="Number of simulated merchants"),
    duration: float = typer.Option(10.0, min=0.001, help="Seconds to send for"),
    seed: int = typer.Option(1, help="Seed of merchant ids and traffic"),
    url: str | None = typer.Option(None, help="Webhook URL (default: the configured ingress)"),
    signature_key: str | None = typer.Option(
        None, envvar=KEY_ENV, help="Square signature key (else read from stdin)"
    ),
    notification_url: str | None = typer.Option(
        None, help="URL the signature covers (default: CANARY_NOTIFICATION_URL)"
    ),
    onboard: bool = typer.Option(False, help="Add the simulated merchants first"),
    currency: str = typer.Option("USD", help="Currency of every simulated merchant"),
    concurrency: int = typer.Option(16, min=1, help="Requests in flight at most"),
    start: str | None = typer.Option(
        None, help="Business time of the first event (default now); fixed → identical bytes"
    ),
    mix: str | None = typer.Option(
        None, help="Story weights to change, e.g. 'refund=20,dispute=0' (see simulate/stories.py)"
    ),
    fraud: str | None = typer.Option(
        None,
        help="Fraud patterns by weight: card_testing, refund_burst (e.g. 'card_testing=2')",
    ),
    inject: str | None = typer.Option(
        None,
        help="Detection patterns to inject, by rule id (e.g. 'C-005,C-502', or 'all'); "
        "see docs/detection.md",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
) -> None:
    """Post signed Square webhooks of every family to the ingress.

    Payments (delayed captures, voids, keyed entries, declines), refunds, split-tender
    orders, customers, loyalty, gift cards, disputes and payouts, as Square sends them.

    Example: canary-stream simulate --rate 200 --merchants 5 --duration 60 --seed 7
    """
    from canary_stream.simulate.payloads import merchant_ids
    from canary_stream.simulate.runner import simulate as run_simulation

    cfg = settings()
    key = _signature_key(signature_key)
    first = _start(start)
    mix_weights, fraud_weights = _weights(mix, "--mix"), _weights(fraud, "--fraud")
    if mix_weights is not None or fraud_weights is not None:
        from canary_stream.simulate.stories import weights

        try:
            weights(mix_weights, fraud_weights)
        except ValueError as exc:
            raise fail(str(exc)) from None
    currency = currency.upper()
    injections: list[Injection] = []
    if inject:
        first = first or datetime.now(UTC).replace(microsecond=0)
        injections = _injections(inject, seed, merchant_ids(seed, merchants), currency, first)
    if onboard:
        created = run(_onboard(cfg, merchant_ids(seed, merchants), currency))
        print(f"onboarded {created} new of {merchants} merchants", file=sys.stderr)
    if any(i.drawer for i in injections):
        produced = run(_produce_drawer(cfg, injections, currency))
        print(f"produced {produced} drawer records to canary.detection", file=sys.stderr)
    _print_injections(injections)

    err = Console(stderr=True)
    with Progress(
        TextColumn("simulate"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err,
    ) as progress:
        extra = sum(len(i.webhooks) for i in injections)
        task = progress.add_task("send", total=max(1, math.ceil(rate * duration)) + extra)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = run(
            run_simulation(
                cfg,
                rate=rate,
                merchants=merchants,
                duration=duration,
                seed=seed,
                url=url,
                signature_key=key,
                notification_url=notification_url or cfg.notification_url,
                concurrency=concurrency,
                on_progress=advance,
                start=first,
                currency=currency,
                mix=mix_weights,
                fraud=fraud_weights,
                injections=injections,
            )
        )
    summary = report.as_dict()
    if as_json:
        print(json.dumps(summary))
    else:
        _print_report(summary, Console())
    problem = report.failure()
    if problem:
        raise fail(problem)
