"""The OAuth token vault (square.md): merchants' Square tokens, encrypted, refreshed in time.

Tokens live in ``app.square_oauth_tokens`` under the contracts.md column encryption
(:mod:`canary_stream.db.oauth_tokens`). :meth:`TokenVault.access_token` hands out a
merchant's access token and refreshes it first when it expires within the margin:

- in one process, one refresh per merchant is in flight; concurrent callers await the same
  future (a cancelled caller does not cancel the refresh);
- across processes, the refresh runs inside a transaction holding the row ``FOR UPDATE`` and
  re-reads the expiry after taking the lock, so a process that waited on another's refresh
  uses the new token instead of spending the (now rotated) refresh token again;
- the new pair replaces the old one in one ``UPDATE``; if Square answers without a refresh
  token (the code flow keeps it), the stored one is kept.

Tokens never reach logs or error messages: :class:`OAuthTokens` leaves them out of its
``repr`` and refresh errors carry Square's status, code and detail only, with any token
text scrubbed. A revoked authorisation (``oauth.authorization.revoked``) is handled by the
parse stage through :func:`canary_stream.db.merchants.deactivate`, which deletes the row:
the next :meth:`TokenVault.access_token` raises :class:`NoTokens`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine
from square import AsyncSquare

from canary_stream.db import oauth_tokens as tokens_db
from canary_stream.db.oauth_tokens import OAuthTokens
from canary_stream.errors import CanaryError, TransientError
from canary_stream.evidence.crypto import KeyRing
from canary_stream.models.wire import now_utc
from canary_stream.settings import Settings
from canary_stream.square.errors import SquareError, SquareUnavailable, square_errors

log = logging.getLogger(__name__)

#: ``grant_type`` of ObtainToken that trades a refresh token for a new access token.
REFRESH_GRANT = "refresh_token"
_REDACTED = "[redacted]"


class TokenVaultError(CanaryError):
    """Root of the vault's errors."""


class NoTokens(TokenVaultError):
    """The merchant has no tokens in the vault: never connected, or authorisation revoked."""


class TokenRefreshError(TokenVaultError):
    """Square did not renew the merchant's access token (refresh token revoked, bad client
    credentials, a malformed answer...). Nothing was stored; the old pair is unchanged.

    The message names the merchant and Square's status and error code, never a token.
    Reconnect the merchant (OAuth authorisation) if the status is 401.
    """

    def __init__(
        self, message: str, *, merchant_id: uuid.UUID, status: int | None, code: str | None
    ) -> None:
        super().__init__(message)
        self.merchant_id = merchant_id
        self.status = status
        self.code = code


class TokenRefreshUnavailable(TokenRefreshError, TransientError):
    """The refresh failed on a 5xx, 429, timeout or lost connection: a later retry may work."""


def needs_refresh(expires_at: datetime, now: datetime, margin: timedelta) -> bool:
    """Whether a token expiring at ``expires_at`` must be refreshed at ``now``."""
    return expires_at - now <= margin


def parse_expires_at(value: str) -> datetime:
    """Square's ``expires_at`` (ISO 8601, ``Z`` or an offset) as an aware datetime."""
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError(f"expires_at {value!r} has no time zone")
    return when


#: Our merchant UUID, or its text (the Square client's token source passes a ``str``).
MerchantRef = uuid.UUID | str


def merchant_uuid(merchant: MerchantRef) -> uuid.UUID:
    """Our merchant UUID from either form; :class:`TokenVaultError` for anything else."""
    if isinstance(merchant, uuid.UUID):
        return merchant
    try:
        return uuid.UUID(merchant)
    except ValueError:
        raise TokenVaultError(
            f"the token vault is keyed by our merchant UUID, got {merchant!r} "
            "(resolve a Square merchant id with 'canary-stream merchants list')"
        ) from None


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return text


class TokenVault:
    """Stores merchants' OAuth tokens and hands out fresh access tokens.

    ``square`` is an SDK client on Square's base URL; its own bearer token does not matter
    to ObtainToken, which authenticates with ``client_id`` and ``client_secret``. The vault
    does not own it (see :func:`open_token_vault`). ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        ring: KeyRing,
        square: AsyncSquare,
        *,
        client_id: str,
        client_secret: SecretStr,
        refresh_margin: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self._engine = engine
        self._ring = ring
        self._square = square
        self._client_id = client_id
        self._client_secret = client_secret
        self._margin = refresh_margin
        self._clock = clock
        self._in_flight: dict[uuid.UUID, asyncio.Future[str]] = {}

    def __repr__(self) -> str:
        return f"TokenVault(client_id={self._client_id!r}, margin={self._margin})"

    @property
    def refresh_margin(self) -> timedelta:
        """How long before expiry a token is refreshed."""
        return self._margin

    async def store(
        self,
        merchant: MerchantRef,
        access_token: str,
        refresh_token: str,
        expires_at: datetime,
        scopes: Sequence[str],
    ) -> None:
        """Store (or replace) the merchant's pair, encrypted under the newest key."""
        merchant_id = merchant_uuid(merchant)
        if expires_at.tzinfo is None:
            raise TokenVaultError("expires_at must be timezone-aware")
        if not access_token or not refresh_token:
            raise TokenVaultError(f"merchant {merchant_id}: both tokens must be non-empty")
        pair = OAuthTokens(merchant_id, access_token, refresh_token, expires_at, tuple(scopes))
        async with self._engine.begin() as conn:
            await tokens_db.save_tokens(conn, self._ring, pair)

    async def connect(self, merchant: MerchantRef, code: str, scopes: Sequence[str]) -> datetime:
        """Exchange an authorization ``code`` (ObtainToken) and store the pair; its expiry."""
        merchant_id = merchant_uuid(merchant)
        secrets = (code, self._client_secret.get_secret_value())
        try:
            with square_errors("ObtainToken"):
                resp = await self._square.o_auth.obtain_token(
                    client_id=self._client_id,
                    client_secret=self._client_secret.get_secret_value(),
                    grant_type="authorization_code",
                    code=code,
                )
        except SquareError as exc:
            raise TokenRefreshError(
                f"connecting merchant {merchant_id} failed: " + _scrub(str(exc), secrets),
                merchant_id=merchant_id,
                status=exc.status,
                code=exc.code,
            ) from None
        if not resp.access_token or not resp.refresh_token or not resp.expires_at:
            raise TokenRefreshError(
                f"connecting merchant {merchant_id} failed: ObtainToken answered no token pair",
                merchant_id=merchant_id,
                status=200,
                code=None,
            )
        expires_at = parse_expires_at(resp.expires_at)
        await self.store(merchant_id, resp.access_token, resp.refresh_token, expires_at, scopes)
        return expires_at

    async def tokens(self, merchant: MerchantRef) -> OAuthTokens:
        """The merchant's stored pair as it is (no refresh); :class:`NoTokens` if none."""
        merchant_id = merchant_uuid(merchant)
        async with self._engine.connect() as conn:
            pair = await tokens_db.load_tokens(conn, self._ring, merchant_id)
        if pair is None:
            raise self._none(merchant_id)
        return pair

    async def access_token(self, merchant: MerchantRef) -> str:
        """A bearer token for the merchant, refreshed first if it expires within the margin.

        Raises :class:`NoTokens` when the merchant has none and :class:`TokenRefreshError`
        when a needed refresh fails. Usable as the Square client's token source.
        """
        merchant_id = merchant_uuid(merchant)
        pair = await self.tokens(merchant_id)
        if not needs_refresh(pair.expires_at, self._clock(), self._margin):
            return pair.access_token
        future = self._in_flight.get(merchant_id)
        if future is None:
            future = asyncio.ensure_future(self._refresh(merchant_id))
            self._in_flight[merchant_id] = future
            future.add_done_callback(lambda done: self._forget(merchant_id, done))
        return await asyncio.shield(future)

    def _forget(self, merchant_id: uuid.UUID, done: asyncio.Future[str]) -> None:
        if self._in_flight.get(merchant_id) is done:
            del self._in_flight[merchant_id]
        if not done.cancelled():
            done.exception()  # retrieved: every waiter already got it, or none is left

    async def _refresh(self, merchant_id: uuid.UUID) -> str:
        """Refresh under the row lock; another process may have done it while we waited."""
        async with self._engine.begin() as conn:
            pair = await tokens_db.load_tokens(conn, self._ring, merchant_id, for_update=True)
            if pair is None:
                raise self._none(merchant_id)
            if not needs_refresh(pair.expires_at, self._clock(), self._margin):
                return pair.access_token
            fresh = await self._obtain(pair)
            await tokens_db.save_tokens(conn, self._ring, fresh)
        log.info(
            "refreshed the Square OAuth token",
            extra={"merchant_id": str(merchant_id), "expires_at": fresh.expires_at.isoformat()},
        )
        return fresh.access_token

    async def _obtain(self, pair: OAuthTokens) -> OAuthTokens:
        """ObtainToken with the refresh grant; the new pair, or :class:`TokenRefreshError`."""
        secrets = (pair.access_token, pair.refresh_token, self._client_secret.get_secret_value())
        try:
            with square_errors("ObtainToken"):
                resp = await self._square.o_auth.obtain_token(
                    client_id=self._client_id,
                    client_secret=self._client_secret.get_secret_value(),
                    grant_type=REFRESH_GRANT,
                    refresh_token=pair.refresh_token,
                )
        except SquareError as exc:
            transient = isinstance(exc, SquareUnavailable)
            raise (TokenRefreshUnavailable if transient else TokenRefreshError)(
                f"refreshing the Square OAuth token of merchant {pair.merchant_id} failed: "
                + _scrub(str(exc), secrets),
                merchant_id=pair.merchant_id,
                status=exc.status,
                code=exc.code,
            ) from None
        try:
            if not resp.access_token or not resp.expires_at:
                raise ValueError("no access_token or expires_at")
            expires_at = parse_expires_at(resp.expires_at)
        except ValueError as exc:
            raise TokenRefreshError(
                f"refreshing the Square OAuth token of merchant {pair.merchant_id} failed: "
                f"Square ObtainToken answered {_scrub(str(exc), secrets)}",
                merchant_id=pair.merchant_id,
                status=200,
                code=None,
            ) from None
        return OAuthTokens(
            merchant_id=pair.merchant_id,
            access_token=resp.access_token,
            refresh_token=resp.refresh_token or pair.refresh_token,
            expires_at=expires_at,
            scopes=pair.scopes,
        )

    @staticmethod
    def _none(merchant_id: uuid.UUID) -> NoTokens:
        return NoTokens(
            f"merchant {merchant_id} has no Square OAuth tokens in the vault "
            "(never connected, or its authorization was revoked)"
        )


@contextlib.asynccontextmanager
async def open_token_vault(
    settings: Settings, engine: AsyncEngine, *, clock: Callable[[], datetime] = now_utc
) -> AsyncIterator[TokenVault]:
    """A vault configured from settings whose SDK client's connections close on exit."""
    from canary_stream.square.client import square_client

    # ObtainToken authenticates with client_id / client_secret in the body: the SDK client's
    # own bearer is never looked at, so the vault does not need the application token.
    async with square_client(settings, token="oauth-uses-client-credentials") as square:
        yield TokenVault(
            engine,
            KeyRing(settings.encryption_ring()),
            square,
            client_id=settings.square_application_id,
            client_secret=settings.square_application_secret,
            refresh_margin=timedelta(seconds=settings.square_token_refresh_margin_seconds),
            clock=clock,
        )
