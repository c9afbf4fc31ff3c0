"""The token vault's pure parts: the refresh rule, Square's ``expires_at``, error shapes, and
the column encryption of :mod:`canary_stream.db.oauth_tokens` (no database, no network)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import SecretStr

from canary_stream.db.oauth_tokens import ACCESS_COLUMN, REFRESH_COLUMN, OAuthTokens, _open, _seal
from canary_stream.errors import CanaryError, TransientError
from canary_stream.evidence.crypto import KeyRing, associated_data, key_id_of
from canary_stream.evidence.errors import DecryptError
from canary_stream.settings import Settings
from canary_stream.square.vault import (
    MerchantRef,
    NoTokens,
    TokenRefreshError,
    TokenRefreshUnavailable,
    TokenVault,
    TokenVaultError,
    _scrub,
    merchant_uuid,
    needs_refresh,
    parse_expires_at,
)

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
MARGIN = timedelta(minutes=5)
M1 = uuid.UUID("6f1c2a5e-0000-4000-8000-000000000001")
M2 = uuid.UUID("6f1c2a5e-0000-4000-8000-000000000002")
RING = KeyRing({"k1": bytes(range(32))})


@pytest.mark.parametrize(
    ("expires_in", "refresh"),
    [
        (timedelta(seconds=-1), True),  # already expired
        (timedelta(0), True),
        (timedelta(seconds=299), True),
        (timedelta(seconds=300), True),  # exactly the margin: refresh
        (timedelta(seconds=301), False),
        (timedelta(days=30), False),
    ],
)
def test_refresh_within_the_margin(expires_in, refresh):
    assert needs_refresh(T0 + expires_in, T0, MARGIN) is refresh


def test_default_margin_is_five_minutes():
    assert Settings(_env_file=None).square_token_refresh_margin_seconds == 300.0


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2026-12-30T12:00:00Z", T0 + timedelta(days=30)),
        ("2026-12-30T13:00:00+01:00", T0 + timedelta(days=30)),
        ("2026-12-30T12:00:00.250Z", T0 + timedelta(days=30, milliseconds=250)),
    ],
)
def test_parse_expires_at(text, want):
    got = parse_expires_at(text)
    assert got == want and got.utcoffset() is not None


def test_parse_expires_at_refuses_a_naive_time():
    with pytest.raises(ValueError, match="has no time zone"):
        parse_expires_at("2026-12-30T12:00:00")


def test_tokens_repr_leaves_the_tokens_out():
    pair = OAuthTokens(M1, "EAAAsecret-access", "EQAAsecret-refresh", T0, ("ORDERS_READ",))
    text = repr(pair)
    assert "secret" not in text
    assert text == (
        "OAuthTokens(merchant_id=UUID('6f1c2a5e-0000-4000-8000-000000000001'), "
        "expires_at=datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.timezone.utc), "
        "scopes=('ORDERS_READ',))"
    )


def test_token_columns_are_bound_to_column_merchant_and_row():
    assert associated_data(ACCESS_COLUMN, str(M1), str(M1)) == (
        b"app.square_oauth_tokens.access_token_enc|6f1c2a5e-0000-4000-8000-000000000001|"
        b"6f1c2a5e-0000-4000-8000-000000000001"
    )
    blob = _seal(RING, ACCESS_COLUMN, M1, "EAAAtoken")
    assert key_id_of(blob) == "k1"
    assert _open(RING, ACCESS_COLUMN, M1, blob) == "EAAAtoken"
    with pytest.raises(DecryptError, match="authentication failed"):
        _open(RING, ACCESS_COLUMN, M2, blob)  # another merchant's row
    with pytest.raises(DecryptError, match="authentication failed"):
        _open(RING, REFRESH_COLUMN, M1, blob)  # the other column


def test_rotated_ring_decrypts_old_blobs_and_encrypts_with_the_newest():
    old = _seal(RING, REFRESH_COLUMN, M1, "EQAAtoken")
    ring2 = KeyRing({"k1": bytes(range(32)), "k2": bytes(range(32, 64))})
    new = _seal(ring2, REFRESH_COLUMN, M1, _open(ring2, REFRESH_COLUMN, M1, old))
    assert (key_id_of(old), key_id_of(new)) == ("k1", "k2")
    assert _open(ring2, REFRESH_COLUMN, M1, new) == "EQAAtoken"
    with pytest.raises(DecryptError, match="unknown key id 'k2'"):
        _open(RING, REFRESH_COLUMN, M1, new)


def test_error_classes_and_their_retry_policy():
    assert issubclass(NoTokens, TokenVaultError) and issubclass(TokenVaultError, CanaryError)
    assert TokenRefreshError.retriable is False
    assert issubclass(TokenRefreshUnavailable, TokenRefreshError)
    assert issubclass(TokenRefreshUnavailable, TransientError)
    assert TokenRefreshUnavailable.retriable is True
    err = TokenRefreshError("x", merchant_id=M1, status=401, code="UNAUTHORIZED")
    assert (err.merchant_id, err.status, err.code, str(err)) == (M1, 401, "UNAUTHORIZED", "x")


def test_scrub_replaces_every_secret():
    text = "Square said EQAAold is bad; also EAAAacc and EAAAacc"
    assert _scrub(text, ("EQAAold", "EAAAacc", "")) == (
        "Square said [redacted] is bad; also [redacted] and [redacted]"
    )


def test_expires_at_offsets_compare_as_instants():
    paris = timezone(timedelta(hours=1))
    assert needs_refresh(datetime(2026, 11, 30, 13, 5, tzinfo=paris), T0, MARGIN) is True


class _CountingVault(TokenVault):
    """A vault whose store and Square are stubs: ``tokens`` is near expiry, ``_refresh``
    counts its calls and waits on ``gate``."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__(
            None,  # type: ignore[arg-type]
            RING,
            None,  # type: ignore[arg-type]
            client_id="c",
            client_secret=SecretStr("s"),
            clock=lambda: T0,
        )
        self.calls = 0
        self.fail = fail
        self.gate = asyncio.Event()

    async def tokens(self, merchant: MerchantRef) -> OAuthTokens:
        expires = T0 + timedelta(seconds=10)
        return OAuthTokens(merchant_uuid(merchant), "EAAAold", "EQAAold", expires)

    async def _refresh(self, merchant_id: uuid.UUID) -> str:
        self.calls += 1
        n = self.calls
        await self.gate.wait()
        if self.fail:
            raise TokenRefreshError("refused", merchant_id=merchant_id, status=401, code=None)
        return f"EAAAnew{n}"


async def test_concurrent_callers_share_one_refresh_per_merchant():
    vault = _CountingVault()
    waiters = [asyncio.ensure_future(vault.access_token(M1)) for _ in range(20)]
    other = asyncio.ensure_future(vault.access_token(M2))
    await asyncio.sleep(0.01)
    assert vault.calls == 2  # one per merchant
    vault.gate.set()
    assert await asyncio.gather(*waiters) == ["EAAAnew1"] * 20
    assert await other == "EAAAnew2"
    assert vault._in_flight == {}
    assert await vault.access_token(str(M1)) == "EAAAnew3"  # a later call refreshes anew


def test_merchant_uuid_takes_our_uuid_or_its_text():
    assert merchant_uuid(M1) is M1
    assert merchant_uuid("6f1c2a5e-0000-4000-8000-000000000002") == M2
    with pytest.raises(TokenVaultError) as caught:
        merchant_uuid("MLSQUARE123")
    assert str(caught.value) == (
        "the token vault is keyed by our merchant UUID, got 'MLSQUARE123' "
        "(resolve a Square merchant id with 'canary-stream merchants list')"
    )


async def test_a_cancelled_caller_does_not_cancel_the_refresh():
    vault = _CountingVault()
    first = asyncio.ensure_future(vault.access_token(M1))
    second = asyncio.ensure_future(vault.access_token(M1))
    await asyncio.sleep(0.01)
    first.cancel()
    await asyncio.sleep(0)
    vault.gate.set()
    assert await second == "EAAAnew1"
    assert first.cancelled() and vault.calls == 1


async def test_every_waiter_gets_the_one_refresh_error():
    vault = _CountingVault(fail=True)
    vault.gate.set()
    results = await asyncio.gather(
        *(vault.access_token(M1) for _ in range(3)), return_exceptions=True
    )
    assert vault.calls == 1
    assert [type(r) for r in results] == [TokenRefreshError] * 3
    assert results[0] is results[1] is results[2]
