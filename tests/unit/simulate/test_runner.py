"""The simulator's sender against a local aiohttp endpoint that checks Square signatures."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
import typer
from aiohttp import web

from canary_stream.cli.simulate import _weights
from canary_stream.ingress.signature import HEADER, verify_signature
from canary_stream.settings import Settings
from canary_stream.simulate.payloads import merchant_ids, webhooks
from canary_stream.simulate.runner import SimulationReport, percentile, send_one, simulate

KEY = "secretkey123"
NOTIFY = "https://example.test/webhooks/square"
START = datetime(2025, 1, 6, 15, 0, tzinfo=UTC)


class Endpoint:
    """Answers 401 on a bad signature, 200 for known merchants, 202 otherwise."""

    def __init__(self, known: set[str]) -> None:
        self.known = known
        self.bodies: list[bytes] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if verify_signature(request.headers.get(HEADER), NOTIFY, body, [("k", KEY.encode())]):
            self.bodies.append(body)
            known = json.loads(body)["merchant_id"] in self.known
            return web.Response(status=200 if known else 202)
        return web.Response(status=401)


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    ep = Endpoint(set(merchant_ids(7, 2)))
    app = web.Application()
    app.router.add_post("/webhooks/square", ep.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    ep.url = f"http://127.0.0.1:{port}/webhooks/square"
    yield ep
    await runner.cleanup()


async def test_send_one_signs_for_the_notification_url(endpoint: Endpoint) -> None:
    body = webhooks(7, 1, 1)[0].body
    async with aiohttp.ClientSession() as session:
        assert await send_one(session, endpoint.url, body, KEY, NOTIFY) == 200
        assert await send_one(session, endpoint.url, body, "wrong", NOTIFY) == 401
        assert await send_one(session, endpoint.url, body, KEY, endpoint.url) == 401
    assert endpoint.bodies == [body]


async def test_simulate_paces_and_reports(endpoint: Endpoint) -> None:
    seen: list[tuple[int, int]] = []
    report = await simulate(
        Settings(),
        rate=200,
        merchants=3,
        duration=0.5,
        seed=7,
        url=endpoint.url,
        signature_key=KEY,
        notification_url=NOTIFY,
        concurrency=4,
        on_progress=lambda done, total: seen.append((done, total)),
        start=START,
    )
    assert report.planned == report.sent == 100
    assert sum(report.statuses.values()) == 100 and set(report.statuses) <= {200, 202}
    assert report.ok > 0 and report.failure() is None
    assert sorted(endpoint.bodies) == sorted(h.body for h in webhooks(7, 3, 100, rate=200))
    assert 0.4 <= report.elapsed < 5 and report.achieved_rate > 20
    assert 0 < report.latency_ms(50) <= report.latency_ms(99)
    assert seen[-1] == (100, 100) and len(seen) == 100
    summary = report.as_dict()
    assert summary["sent"] == 100 and summary["merchants"] == merchant_ids(7, 3)
    assert json.loads(json.dumps(summary)) == summary


async def test_simulate_wrong_key_is_a_one_line_failure(endpoint: Endpoint) -> None:
    report = await simulate(
        Settings(),
        rate=100,
        merchants=1,
        duration=0.1,
        seed=7,
        url=endpoint.url,
        signature_key="wrong",
        notification_url=NOTIFY,
    )
    assert report.statuses == {401: 10}
    problem = report.failure()
    assert problem is not None and "401" in problem and "\n" not in problem


async def test_simulate_stops_early_when_unreachable() -> None:
    report = await simulate(
        Settings(),
        rate=1000,
        merchants=1,
        duration=5,
        seed=1,
        url="http://127.0.0.1:9/webhooks/square",
        signature_key=KEY,
        notification_url=NOTIFY,
    )
    assert report.stopped_early == "ingress unreachable"
    assert not report.statuses and report.sent < 100
    assert "is the ingress running" in (report.failure() or "")


def test_percentile_and_empty_report() -> None:
    assert percentile([], 99) == 0.0
    values = [i / 100 for i in range(1, 101)]
    assert percentile(values, 50) == 0.5 and percentile(values, 99) == 0.99
    empty = SimulationReport("u", [], 1, "s", 1.0, 1.0, 1)
    assert empty.achieved_rate == 0.0 and empty.failure() is not None


async def test_simulate_sends_the_mix_it_is_given(endpoint: Endpoint) -> None:
    mix, fraud = {"sale": 1.0, "cash": 0.0}, {"card_testing": 5.0}
    report = await simulate(
        Settings(),
        rate=400,
        merchants=2,
        duration=0.25,
        seed=7,
        url=endpoint.url,
        signature_key=KEY,
        notification_url=NOTIFY,
        start=START,
        mix=mix,
        fraud=fraud,
    )
    # A loaded machine sends fewer before the deadline: compare exactly what was sent.
    expected = webhooks(7, 2, report.sent, rate=400, start=START, mix=mix, fraud=fraud)
    assert report.sent >= 20 and sorted(endpoint.bodies) == sorted(h.body for h in expected)
    assert expected != webhooks(7, 2, report.sent, rate=400, start=START)


def test_cli_weights_option() -> None:
    assert _weights(None, "--mix") is None
    assert _weights("refund=20, dispute=0", "--mix") == {"refund": 20.0, "dispute": 0.0}
    for bad in ("refund", "refund=x", "=3"):
        with pytest.raises(typer.Exit):
            _weights(bad, "--mix")
