"""``canary-stream webhooks register|rotate|add|list``: Square's subscription and the keyring.

``register`` creates (or adopts) the application's Square subscription for the notification
URL and stores its signature key; ``rotate`` replaces the key at Square and keeps the old
one valid for an overlap; ``add`` stores a key made in Square's dashboard. Keys are never
printed.
"""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import typer

from canary_stream.cli.common import database, fail, one_line_errors, run, settings

if TYPE_CHECKING:
    from rich.console import Console
    from square.types.webhook_subscription import WebhookSubscription

    from canary_stream.settings import Settings
    from canary_stream.square.subscriptions import StoredKey

app = typer.Typer(
    help="Square's webhook subscription and the application keyring of signature keys.",
    no_args_is_help=True,
)


@app.command()
@one_line_errors
def add(
    notification_url: str | None = typer.Option(
        None,
        "--notification-url",
        help="URL registered with Square (default: CANARY_NOTIFICATION_URL)",
    ),
    key_id: str | None = typer.Option(None, "--key-id", help="Name for the key (default: derived)"),
) -> None:
    """Store a signature key read from standard input (a subscription made in Square's dashboard).

    Example: printf '%s' "$SIGNATURE_KEY" | canary-stream webhooks add --notification-url https://example.com/webhooks/square
    """
    from canary_stream.db.signing_keys import add_key
    from canary_stream.evidence.crypto import KeyRing
    from canary_stream.settings import check_notification_url

    cfg = settings()
    if notification_url is None:
        notification_url = cfg.notification_url
    try:
        check_notification_url(notification_url)
    except ValueError as exc:
        raise fail(
            f"--notification-url {notification_url!r} {exc}: the exact URL of the subscription "
            "(leave the option out for CANARY_NOTIFICATION_URL)"
        ) from None
    secret = sys.stdin.buffer.read().strip()
    if not secret:
        raise fail(
            "no signature key on standard input; pipe it in, e.g. printf '%s' \"$KEY\" | ..."
        )
    name = (
        key_id
        or "sq-" + hashlib.sha256(notification_url.encode() + b"\n" + secret).hexdigest()[:12]
    )
    ring = KeyRing(cfg.encryption_ring())

    async def go() -> None:
        async with database(cfg) as engine, engine.begin() as conn:
            await add_key(conn, ring, name, notification_url, secret, datetime.now(UTC))

    try:
        run(go())
    except Exception as exc:
        if "duplicate key" in str(exc) or "UniqueViolation" in type(exc.__cause__ or exc).__name__:
            raise fail(f"key {name} is already in the keyring") from None
        raise
    print(f"added key {name} for {notification_url}")


@app.command("list")
@one_line_errors
def list_(
    remote: bool = typer.Option(
        False, "--remote", help="Also list Square's subscriptions (application token)"
    ),
) -> None:
    """List the keyring (ids, URLs, active periods; never the secrets); --remote adds Square's.

    Example: canary-stream webhooks list --remote
    """
    from rich.table import Table

    from canary_stream.db.signing_keys import SigningKey, load_keys
    from canary_stream.evidence.crypto import KeyRing

    cfg = settings()
    ring = KeyRing(cfg.encryption_ring())

    async def go() -> tuple[list[SigningKey], list[WebhookSubscription]]:
        async with database(cfg) as engine, engine.connect() as conn:
            keys = await load_keys(conn, ring)
        return keys, (await _remote_subscriptions(cfg) if remote else [])

    keys, subs = run(go())
    now = datetime.now(UTC)
    table = Table("key_id", "notification_url", "active_from", "active_until", "active")
    for k in keys:
        table.add_row(
            k.key_id,
            k.notification_url,
            k.active_from.isoformat(),
            k.active_until.isoformat() if k.active_until else "-",
            "yes" if k.active_at(now) else "no",
        )
    console = _console()
    console.print(table)
    if remote:
        from canary_stream.square.subscriptions import subscription_keys

        square = Table(
            "subscription_id",
            "notification_url",
            "enabled",
            "api_version",
            "event_types",
            "active keys",
            title=f"Square subscriptions ({cfg.square_base_url})",
        )
        for sub in subs:
            active = [k.key_id for k in subscription_keys(keys, sub.id or "") if k.active_at(now)]
            square.add_row(
                sub.id or "?",
                sub.notification_url or "-",
                "yes" if sub.enabled is not False else "no",
                sub.api_version or "-",
                str(len(sub.event_types or [])),
                ", ".join(active) or "none",
            )
        console.print(square)


@app.command()
@one_line_errors
def register(
    notification_url: str | None = typer.Option(
        None, "--notification-url", help="Where Square delivers (default: CANARY_NOTIFICATION_URL)"
    ),
    name: str = typer.Option("canary-stream", "--name", help="Subscription name at Square"),
    api_version: str | None = typer.Option(
        None, "--api-version", help="Square API version of the payloads (default: the pinned one)"
    ),
    overlap_minutes: int = typer.Option(
        60, "--overlap-minutes", min=0, help="When adopting a changed key: old keys stay valid"
    ),
) -> None:
    """Create the application's Square subscription for the notification URL and store its key.

    Idempotent: when an enabled subscription already delivers to the URL it is adopted and
    its current key stored if the keyring lacks it (this also repairs an interrupted rotate).
    Example: canary-stream webhooks register
    """
    from canary_stream.square import client as sq
    from canary_stream.square.subscriptions import pick_subscription

    cfg = settings()
    url = notification_url or cfg.notification_url

    async def go() -> tuple[str, bool, StoredKey]:
        async with sq.square_client(cfg) as square:
            existing = pick_subscription(await sq.list_subscriptions(square), url)
            if existing is not None and existing.id:
                sub = await sq.retrieve_subscription(square, existing.id)
                created = False
            else:
                sub = await sq.create_subscription(
                    square,
                    url,
                    sq.SUBSCRIBED_EVENT_TYPES,
                    api_version or sq.SQUARE_API_VERSION,
                    name=name,
                )
                created = True
        sub_id = sub.id or ""
        if not sub.signature_key:
            raise fail(f"Square gave no signature key for subscription {sub_id}")
        stored = await _store_key(
            cfg, sub_id, sub.notification_url or url, sub.signature_key, overlap_minutes
        )
        return sub_id, created, stored

    sub_id, created, stored = run(go())
    what = "registered" if created else "adopted existing"
    print(f"{what} subscription {sub_id} for {url}")
    print(_describe(stored))


@app.command()
@one_line_errors
def rotate(
    subscription_id: str | None = typer.Option(
        None, "--subscription-id", help="Default: the one delivering to CANARY_NOTIFICATION_URL"
    ),
    overlap_minutes: int = typer.Option(
        60, "--overlap-minutes", min=0, help="Minutes the old key keeps verifying"
    ),
) -> None:
    """Replace the signature key at Square and store it; the old key stays valid for the overlap.

    Example: canary-stream webhooks rotate --overlap-minutes 60
    """
    from canary_stream.square import client as sq
    from canary_stream.square.subscriptions import pick_subscription

    cfg = settings()

    async def go() -> tuple[str, StoredKey]:
        async with sq.square_client(cfg) as square:
            if subscription_id is not None:
                sub = await sq.retrieve_subscription(square, subscription_id)
            else:
                found = pick_subscription(await sq.list_subscriptions(square), cfg.notification_url)
                if found is None or not found.id:
                    raise fail(
                        f"no Square subscription delivers to {cfg.notification_url}; "
                        "run 'canary-stream webhooks register' first"
                    )
                sub = found
            sub_id = sub.id or ""
            new_key = await sq.rotate_signature_key(square, sub_id)
        url = sub.notification_url or cfg.notification_url
        try:
            return sub_id, await _store_key(cfg, sub_id, url, new_key, overlap_minutes)
        except Exception as exc:
            raise fail(
                f"Square rotated the key of {sub_id} but storing it failed "
                f"({_one_line(exc)}); run 'canary-stream webhooks register' to store it"
            ) from None

    sub_id, stored = run(go())
    print(f"rotated the signature key of subscription {sub_id}")
    print(_describe(stored))


async def _remote_subscriptions(cfg: Settings) -> list[WebhookSubscription]:
    from canary_stream.square import client as sq

    async with sq.square_client(cfg) as square:
        return await sq.list_subscriptions(square)


async def _store_key(
    cfg: Settings, sub_id: str, url: str, secret: str, overlap_minutes: int
) -> StoredKey:
    from canary_stream.evidence.crypto import KeyRing
    from canary_stream.square.subscriptions import store_current_key

    ring = KeyRing(cfg.encryption_ring())
    async with database(cfg) as engine, engine.begin() as conn:
        return await store_current_key(
            conn,
            ring,
            sub_id,
            url,
            secret,
            now=datetime.now(UTC),
            overlap=timedelta(minutes=overlap_minutes),
        )


def _describe(stored: StoredKey) -> str:
    if not stored.added:
        return f"signature key already in the keyring as {stored.key_id}"
    line = f"signature key stored as {stored.key_id}"
    if stored.retired and stored.retired_until is not None:
        line += f"; {', '.join(stored.retired)} valid until {stored.retired_until.isoformat()}"
    return line


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _console() -> Console:
    """Rich output; when piped, wide enough that ids and URLs are never cut."""
    from rich.console import Console

    kwargs: dict[str, Any] = {} if sys.stdout.isatty() else {"width": 400}
    return Console(**kwargs)
