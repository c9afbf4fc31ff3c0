"""The OAuth token vault on the real PostgreSQL against the fake Square (in-process aiohttp on a
free loopback port): refresh once under concurrency (within and across "processes"), no
refresh for a fresh token, AAD binding, ``keys rotate``, one error class for a failed refresh,
revocation."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from harness import engine_for, free_port
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from square import AsyncSquare

from canary_stream.cli.keys import rotate_secrets
from canary_stream.db import merchants as merchants_db
from canary_stream.db.oauth_tokens import ACCESS_COLUMN, REFRESH_COLUMN
from canary_stream.db.signing_keys import SECRET_COLUMN, add_key, load_keys
from canary_stream.evidence.crypto import KeyRing, key_id_of
from canary_stream.evidence.errors import DecryptError
from canary_stream.settings import Settings
from canary_stream.square.fake import FakeSquareState, make_fake_square
from canary_stream.square.fake.oauth import OAUTH_KEY, OAuthStore
from canary_stream.square.vault import (
    NoTokens,
    TokenRefreshError,
    TokenRefreshUnavailable,
    TokenVault,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
APP_TOKEN = "vault-test-application-token"
CLIENT_ID = "sq0idp-vault-test"
CLIENT_SECRET = "sq0csp-vault-test-secret"
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
#: What the fake answers as ``expires_at`` for a token it issues at T0 (30 days).
RENEWED_UNTIL = T0 + timedelta(days=30)
SCOPES = ("ORDERS_READ", "PAYMENTS_READ")


@dataclass
class FakeSquare:
    url: str
    state: FakeSquareState
    oauth: OAuthStore


@pytest.fixture
async def fake_square() -> AsyncIterator[FakeSquare]:
    state = FakeSquareState(access_token=APP_TOKEN, clock=lambda: T0)
    app = make_fake_square(state)
    oauth = app[OAUTH_KEY] = OAuthStore(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield FakeSquare(f"http://127.0.0.1:{port}", state, oauth)
    await runner.cleanup()


@pytest.fixture
def ring(stack_settings: Settings) -> KeyRing:
    return KeyRing(stack_settings.encryption_ring())


@pytest.fixture
async def make_vault(
    stack_settings: Settings, fake_square: FakeSquare, ring: KeyRing
) -> AsyncIterator[object]:
    """Vaults with their own engine and SDK client each, like separate processes."""
    opened: list[tuple[AsyncEngine, httpx.AsyncClient]] = []

    def make(*, secret: str = CLIENT_SECRET, url: str | None = None) -> TokenVault:
        engine = engine_for(stack_settings)
        http = httpx.AsyncClient()
        opened.append((engine, http))
        square = AsyncSquare(token=APP_TOKEN, base_url=url or fake_square.url, httpx_client=http)
        return TokenVault(
            engine,
            ring,
            square,
            client_id=CLIENT_ID,
            client_secret=SecretStr(secret),
            refresh_margin=timedelta(minutes=5),
            clock=lambda: T0,
        )

    yield make
    for engine, http in opened:
        await http.aclose()
        await engine.dispose()


@pytest.fixture
async def merchant_ids(engine: AsyncEngine) -> AsyncIterator[list[uuid.UUID]]:
    """Merchant ids for a test; their token rows are deleted afterwards."""
    ids: list[uuid.UUID] = []
    yield ids
    async with engine.begin() as conn:
        for m in ids:
            await conn.execute(
                text("DELETE FROM app.square_oauth_tokens WHERE merchant_id = :m"), {"m": m}
            )


async def _connect(
    fake: FakeSquare, vault: TokenVault, merchant_id: uuid.UUID, expires_in: timedelta
) -> tuple[str, str]:
    """Onboard a seller through the code flow and store its pair expiring ``expires_in``."""
    code = fake.oauth.issue_code(f"ML{merchant_id.hex[:12].upper()}", list(SCOPES))
    async with httpx.AsyncClient() as http:
        square = AsyncSquare(token=APP_TOKEN, base_url=fake.url, httpx_client=http)
        resp = await square.o_auth.obtain_token(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            grant_type="authorization_code",
            code=code,
        )
    assert resp.access_token and resp.refresh_token
    await vault.store(
        merchant_id, resp.access_token, resp.refresh_token, T0 + expires_in, list(SCOPES)
    )
    return resp.access_token, resp.refresh_token


def _new(ids: list[uuid.UUID], n: int = 1) -> list[uuid.UUID]:
    fresh = [uuid.uuid4() for _ in range(n)]
    ids.extend(fresh)
    return fresh


async def test_near_expiry_token_is_refreshed_once_under_20_concurrent_calls(
    fake_square, make_vault, merchant_ids
):
    (m,) = _new(merchant_ids)
    vault = make_vault()
    old_access, old_refresh = await _connect(fake_square, vault, m, timedelta(seconds=60))

    got = await asyncio.gather(*(vault.access_token(m) for _ in range(20)))

    assert fake_square.oauth.grant_counts == {"authorization_code": 1, "refresh_token": 1}
    stored = await vault.tokens(m)
    assert set(got) == {stored.access_token}
    assert stored.access_token != old_access and stored.refresh_token != old_refresh
    grant = fake_square.oauth.grants[f"ML{m.hex[:12].upper()}"]
    assert stored.refresh_token == grant.refresh_token  # the rotated one, stored
    assert (stored.expires_at, stored.scopes) == (RENEWED_UNTIL, SCOPES)
    # now fresh: the next calls do not refresh again
    assert await vault.access_token(m) == stored.access_token
    assert fake_square.oauth.grant_counts["refresh_token"] == 1


async def test_two_processes_refresh_once_between_them(fake_square, make_vault, merchant_ids):
    """Two vaults with their own engines: the row lock and the re-check after it."""
    (m,) = _new(merchant_ids)
    first, second = make_vault(), make_vault()
    await _connect(fake_square, first, m, timedelta(seconds=10))

    got = await asyncio.gather(*(v.access_token(m) for _ in range(10) for v in (first, second)))

    assert fake_square.oauth.grant_counts["refresh_token"] == 1
    assert len(got) == 20 and set(got) == {(await first.tokens(m)).access_token}


@pytest.mark.parametrize("expires_in", [timedelta(seconds=301), timedelta(days=29)])
async def test_fresh_token_is_not_refreshed(fake_square, make_vault, merchant_ids, expires_in):
    (m,) = _new(merchant_ids)
    vault = make_vault()
    access, refresh = await _connect(fake_square, vault, m, expires_in)

    got = await asyncio.gather(*(vault.access_token(m) for _ in range(5)))

    assert got == [access] * 5
    assert fake_square.oauth.grant_counts["refresh_token"] == 0
    stored = await vault.tokens(m)
    assert (stored.access_token, stored.refresh_token, stored.expires_at) == (
        access,
        refresh,
        T0 + expires_in,
    )


async def test_ciphertext_copied_to_another_row_or_column_fails_to_decrypt(
    fake_square, make_vault, merchant_ids, owner_engine
):
    a, b = _new(merchant_ids, 2)
    vault = make_vault()
    await _connect(fake_square, vault, a, timedelta(days=1))
    await _connect(fake_square, vault, b, timedelta(days=1))
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE app.square_oauth_tokens SET access_token_enc = "
                "(SELECT access_token_enc FROM app.square_oauth_tokens WHERE merchant_id = :a) "
                "WHERE merchant_id = :b"
            ),
            {"a": a, "b": b},
        )
    with pytest.raises(DecryptError) as caught:
        await vault.access_token(b)
    assert str(caught.value).startswith(
        f"authentication failed for {ACCESS_COLUMN} merchant '{b}' row '{b}' (key "
    )
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE app.square_oauth_tokens SET refresh_token_enc = access_token_enc "
                "WHERE merchant_id = :a"
            ),
            {"a": a},
        )
    with pytest.raises(DecryptError, match=f"for {REFRESH_COLUMN} merchant '{a}'"):
        await vault.access_token(a)


async def test_refresh_failure_is_one_error_class_and_keeps_the_pair(
    fake_square, make_vault, merchant_ids, caplog
):
    (m,) = _new(merchant_ids)
    vault = make_vault()
    access, refresh = await _connect(fake_square, vault, m, timedelta(seconds=30))
    seller = f"ML{m.hex[:12].upper()}"
    del fake_square.oauth.grants[seller]  # Square no longer knows the refresh token

    caplog.set_level(logging.DEBUG)
    results = await asyncio.gather(
        *(vault.access_token(m) for _ in range(5)), return_exceptions=True
    )

    assert len({id(r) for r in results}) == 1  # the one refresh's error, shared
    err = results[0]
    assert type(err) is TokenRefreshError and not err.retriable
    assert (err.merchant_id, err.status, err.code) == (m, 401, "UNAUTHORIZED")
    assert str(err) == (
        f"refreshing the Square OAuth token of merchant {m} failed: Square ObtainToken failed: "
        "HTTP 401 UNAUTHORIZED: The refresh token is invalid, revoked or already used."
    )
    stored = await vault.tokens(m)
    assert (stored.access_token, stored.refresh_token) == (access, refresh)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert access not in logged and refresh not in logged and CLIENT_SECRET not in logged


async def test_wrong_client_secret_and_unreachable_square(fake_square, make_vault, merchant_ids):
    (m,) = _new(merchant_ids)
    good = make_vault()
    await _connect(fake_square, good, m, timedelta(seconds=30))

    with pytest.raises(TokenRefreshError) as caught:
        await make_vault(secret="sq0csp-wrong").access_token(m)
    assert str(caught.value) == (
        f"refreshing the Square OAuth token of merchant {m} failed: Square ObtainToken failed: "
        "HTTP 401 UNAUTHORIZED: Not Authorized: bad client_secret."
    )

    port = free_port()
    with pytest.raises(TokenRefreshUnavailable) as down:
        await make_vault(url=f"http://127.0.0.1:{port}").access_token(m)
    assert down.value.retriable is True and down.value.status is None
    assert str(down.value) == (
        f"refreshing the Square OAuth token of merchant {m} failed: Square ObtainToken got no "
        f"answer from http://127.0.0.1:{port} (ConnectError)"
    )
    assert fake_square.oauth.grant_counts["refresh_token"] == 0


async def test_revoked_merchant_is_inactive_and_has_no_tokens(
    fake_square, make_vault, merchant_ids, engine
):
    vault = make_vault()
    async with engine.begin() as conn:
        config, created = await merchants_db.add_merchant(
            conn, f"MLREVOKE{uuid.uuid4().hex[:10].upper()}", "USD", "America/New_York"
        )
    assert created
    merchant_ids.append(config.merchant_id)
    await _connect(fake_square, vault, config.merchant_id, timedelta(days=1))

    # what the parse stage does on oauth.authorization.revoked (agents/parse.py)
    async with engine.begin() as conn:
        after = await merchants_db.deactivate(conn, config.merchant_id)

    assert after is not None and after.status == "inactive"
    with pytest.raises(NoTokens) as caught:
        await vault.access_token(config.merchant_id)
    assert str(caught.value) == (
        f"merchant {config.merchant_id} has no Square OAuth tokens in the vault "
        "(never connected, or its authorization was revoked)"
    )


async def _all_blobs(conn) -> list[tuple[str, str, bytes]]:
    """(column, row, blob) of every stored secret."""
    out: list[tuple[str, str, bytes]] = []
    for r in await conn.execute(text("SELECT key_id, secret_enc FROM app.webhook_signing_keys")):
        out.append((SECRET_COLUMN, r.key_id, bytes(r.secret_enc)))
    rows = await conn.execute(
        text("SELECT merchant_id, access_token_enc, refresh_token_enc FROM app.square_oauth_tokens")
    )
    for r in rows:
        out.append((ACCESS_COLUMN, str(r.merchant_id), bytes(r.access_token_enc)))
        out.append((REFRESH_COLUMN, str(r.merchant_id), bytes(r.refresh_token_enc)))
    return out


def _plain(ring: KeyRing, blobs: list[tuple[str, str, bytes]]) -> dict[tuple[str, str], bytes]:
    return {
        (col, row): ring.decrypt(
            blob, column=col, merchant_id="" if col == SECRET_COLUMN else row, row_id=row
        )
        for col, row, blob in blobs
    }


async def test_rotation_reencrypts_every_secret_under_the_new_key(
    fake_square, make_vault, merchant_ids, engine, ring, stack_settings
):
    """In one transaction that is rolled back, so no other test sees a key it lacks."""
    a, b = _new(merchant_ids, 2)
    vault = make_vault()
    await _connect(fake_square, vault, a, timedelta(days=1))
    await _connect(fake_square, vault, b, timedelta(seconds=5))
    new_id = f"rot-{uuid.uuid4().hex[:8]}"
    ring2 = KeyRing({**stack_settings.encryption_ring(), new_id: os.urandom(32)})

    async with engine.connect() as conn:
        tx = await conn.begin()
        key_id = f"vault-test-{uuid.uuid4().hex[:8]}"
        await add_key(conn, ring, key_id, "https://example.test/hook", b"sig-secret", T0)
        before = await _all_blobs(conn)
        plain_before = _plain(ring, before)
        n_keys = sum(1 for col, _, _ in before if col == SECRET_COLUMN)
        n_tokens = sum(1 for col, _, _ in before if col == ACCESS_COLUMN)

        done = await rotate_secrets(conn, ring2)

        assert (done.key_id, done.webhook_signing_keys, done.oauth_tokens) == (
            new_id,
            n_keys,
            n_tokens,
        )
        after = await _all_blobs(conn)
        assert {key_id_of(blob) for _, _, blob in after} == {new_id}
        assert _plain(ring2, after) == plain_before  # every secret readable, unchanged
        assert plain_before[(SECRET_COLUMN, key_id)] == b"sig-secret"
        assert {k.key_id: k.secret for k in await load_keys(conn, ring2)}[key_id] == b"sig-secret"
        with pytest.raises(DecryptError, match=f"unknown key id '{new_id}'"):
            _plain(ring, after)
        await tx.rollback()


async def test_keys_rotate_command_leaves_every_secret_readable(
    fake_square, make_vault, merchant_ids, engine, ring, stack_settings
):
    """The CLI, with the stack's own ring (its newest key stays the newest for other tests)."""
    a, b = _new(merchant_ids, 2)
    vault = make_vault()
    await _connect(fake_square, vault, a, timedelta(days=1))
    await _connect(fake_square, vault, b, timedelta(seconds=5))
    async with engine.connect() as conn:
        before = await _all_blobs(conn)

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "canary_stream.cli.main",
        "keys",
        "rotate",
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)

    assert proc.returncode == 0, err.decode()
    async with engine.connect() as conn:
        after = await _all_blobs(conn)
    n_keys = sum(1 for col, _, _ in before if col == SECRET_COLUMN)
    n_tokens = sum(1 for col, _, _ in before if col == ACCESS_COLUMN)
    assert out.decode() == (
        f"webhook signing key secrets re-encrypted: {n_keys}\n"
        f"OAuth token pairs re-encrypted:           {n_tokens}\n"
        f"every stored secret is now under key {ring.current_key_id}\n"
    )
    assert {key_id_of(blob) for _, _, blob in after} == {ring.current_key_id}
    assert {(c, r): blob for c, r, blob in after}.keys() == {(c, r) for c, r, _ in before}
    assert all(x != y for (_, _, x), (_, _, y) in zip(sorted(before), sorted(after), strict=True))
    assert _plain(ring, after) == _plain(ring, before)
    assert await vault.access_token(a) == (await vault.tokens(a)).access_token
    assert fake_square.oauth.grant_counts["refresh_token"] == 0
    assert await vault.access_token(b) != ""
    assert fake_square.oauth.grant_counts["refresh_token"] == 1
