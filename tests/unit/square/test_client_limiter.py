"""The per-merchant pace of Square calls: TokenBucket (pure) and RateLimiter (async shell)."""

from __future__ import annotations

import asyncio

import pytest

from canary_stream.errors import ConfigError
from canary_stream.square.client import (
    BURST,
    CALLS_PER_MINUTE,
    RateLimiter,
    TokenBucket,
    resolve_base_url,
)


def test_bucket_grants_its_capacity_then_owes():
    bucket = TokenBucket.full(capacity=3, rate=0.5, now=100.0)
    assert [bucket.reserve(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    # no tokens left: each further caller waits one more token's time (2 s at 0.5/s)
    assert [bucket.reserve(100.0) for _ in range(3)] == [2.0, 4.0, 6.0]


def test_bucket_refills_at_rate_up_to_capacity():
    bucket = TokenBucket.full(capacity=2, rate=1.0, now=0.0)
    assert bucket.reserve(0.0) == 0.0 and bucket.reserve(0.0) == 0.0
    assert bucket.reserve(0.5) == pytest.approx(0.5)  # half a token back, owes the other half
    assert bucket.reserve(1000.0) == 0.0  # idle for long: back to full (2), not 1000
    assert bucket.reserve(1000.0) == 0.0
    assert bucket.reserve(1000.0) == 1.0


def test_bucket_ignores_a_clock_going_backwards():
    bucket = TokenBucket.full(capacity=1, rate=1.0, now=10.0)
    assert bucket.reserve(10.0) == 0.0
    assert bucket.reserve(5.0) == 1.0


@pytest.mark.parametrize(("capacity", "rate"), [(0, 1.0), (1, 0.0), (2, -1.0)])
def test_bucket_rejects_nonsense(capacity, rate):
    with pytest.raises(ValueError):
        TokenBucket.full(capacity=capacity, rate=rate, now=0.0)


def _granted_at(limiter: RateLimiter, merchant: str, clock: list[float], calls: int) -> list[float]:
    """When each of ``calls`` back-to-back calls may go (each starts when the previous went)."""
    times: list[float] = []
    for _ in range(calls):
        clock[0] += limiter.reserve(merchant)
        times.append(clock[0])
    return times


def test_default_limiter_never_exceeds_100_calls_in_any_minute():
    assert (CALLS_PER_MINUTE, BURST) == (100, 10)
    clock = [0.0]
    limiter = RateLimiter(clock=lambda: clock[0])
    times = _granted_at(limiter, "M1", clock, 400)
    assert times[:10] == [0.0] * 10  # the burst
    assert times[10] == pytest.approx(60 / 90)  # then one call per 2/3 s (90/min)
    for i, start in enumerate(times):
        in_window = sum(1 for t in times[i:] if t < start + 60.0 - 1e-9)
        assert in_window <= 100
    # the 100th call goes at 60 s: 100 calls in [0, 60], 99 in [0, 60)
    assert times[99] == pytest.approx(60.0)
    assert sum(1 for t in times if t < 60.0 - 1e-9) == 99


def test_merchants_have_separate_budgets():
    clock = [0.0]
    limiter = RateLimiter(calls_per_minute=100, burst=2, clock=lambda: clock[0])
    assert [limiter.reserve("A") for _ in range(4)] == pytest.approx([0.0, 0.0, 60 / 98, 120 / 98])
    assert [limiter.reserve("B") for _ in range(2)] == [0.0, 0.0]


@pytest.mark.parametrize("burst", [0, 100, 150])
def test_limiter_rejects_a_burst_outside_the_budget(burst):
    with pytest.raises(ValueError):
        RateLimiter(calls_per_minute=100, burst=burst)


async def test_acquire_sleeps_only_when_owed():
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    limiter = RateLimiter(calls_per_minute=61, burst=1, clock=lambda: 0.0, sleep=sleep)
    await asyncio.gather(*(limiter.acquire("M") for _ in range(3)))
    assert slept == [1.0, 2.0]


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("production", "https://connect.squareup.com"),
        ("Sandbox", "https://connect.squareupsandbox.com"),
        ("http://127.0.0.1:8091/", "http://127.0.0.1:8091"),
    ],
)
def test_base_url_names_and_urls(value, url):
    assert resolve_base_url(value) == url


def test_base_url_rejects_other_names():
    with pytest.raises(ConfigError, match="'staging'"):
        resolve_base_url("staging")
