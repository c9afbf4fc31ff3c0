"""The cash-drawer poller through the real processes and the fake Square: the parse workers
poll ListCashDrawerShifts / ListCashDrawerShiftEvents with the merchants' vault tokens, every
page becomes a sealed POLLING envelope carrying the exact response bytes, and parse turns the
pages into ``cash_drawer_shifts`` / ``cash_drawer_events`` rows, NO_SALE / PAID_IN / PAID_OUT
transactions and their canonical records on ``{prefix}.detection`` — each exactly once, with
two parse workers polling and after the cursor is reset. One merchant's failing API does not
hold back another merchant's drawers. ``canary-stream up`` runs the fake when asked (``make
run``)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from harness import free_port, read_topic, wait_for
from sqlalchemy import text
from threaded_fake import APP_TOKEN, ThreadedFake, threaded_fake

from canary_stream.square.drawers import EVENTS_POLLED, SHIFTS_POLLED, unwrap_events
from canary_stream.square.fake import Fault
from canary_stream.square.fake.merchants import MerchantData

pytestmark = pytest.mark.integration

DRAWER_TRANSACTIONS = ("NO_SALE", "PAID_IN", "PAID_OUT")
SOURCE_EVENT_ID = re.compile(
    r"^poll:(cash_drawer_shifts|cash_drawer_shift_events):[A-Za-z0-9-]+:[0-9a-f]{64}$"
)


class Fake(ThreadedFake):
    def seller(self, merchant_id: str) -> MerchantData:
        return self.state.merchants[merchant_id]

    async def get(self, merchant_id: str, path: str, **params: str) -> bytes:
        """The exact bytes the fake answers a seller's GET."""
        token = self.state.token_of(merchant_id)
        async with aiohttp.ClientSession() as http:
            async with http.get(
                f"{self.url}{path}", params=params, headers={"Authorization": f"Bearer {token}"}
            ) as r:
                assert r.status == 200, await r.text()
                return await r.read()


@pytest.fixture
def fake() -> Iterator[Fake]:
    """Two sellers, each with one CLOSED and one OPEN shift."""
    with threaded_fake(2, events=1500) as running:
        yield Fake(running.url, running.state, running.loop)


def _connected(pipeline_factory: Any, fake: Fake, parse_workers: int = 1) -> tuple[Any, dict]:
    pipe = pipeline_factory(
        **fake.pipeline_env(),
        CANARY_DRAWER_POLL_INTERVAL_SECONDS="1",
    )
    merchants = {}
    for seller in fake.state.merchants.values():
        merchant_id, _ = pipe.add_merchant(seller.merchant_id, currency=seller.currency)
        pipe.cli("merchants", "connect", "--merchant", seller.merchant_id, "--fake")
        merchants[seller.merchant_id] = uuid.UUID(merchant_id)
    for name in ("ingress", "seal", *["parse"] * parse_workers):
        pipe.start(name)
    return pipe, merchants


async def _rows(engine: Any, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(text(sql), params))


def _expected(seller: MerchantData) -> tuple[set[tuple[str, str]], Counter[str]]:
    """The (shift id, state) pairs and the drawer event types the fake serves now."""
    shifts = {(s["id"], s["state"]) for loc in seller.shifts.values() for s in loc}
    events = Counter(
        e["event_type"]
        for loc in seller.shifts.values()
        for s in loc
        for e in seller.shift_events.get(s["id"], [])
    )
    return shifts, events


def _drawer_event(kind: str, cents: int, minute: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "event_type": kind,
        "event_money": {"amount": cents, "currency": "USD"},
        "created_at": f"2025-01-07T01:{minute:02d}:00.000Z",
        "team_member_id": "TMdrawer0000001",
    }


async def _ledger(engine: Any, m: uuid.UUID) -> tuple[set, Counter, Counter]:
    shifts = await _rows(
        engine,
        "SELECT square_shift_id, state FROM sales.cash_drawer_shifts WHERE merchant_id = :m",
        m=m,
    )
    events = await _rows(
        engine, "SELECT event_type FROM sales.cash_drawer_events WHERE merchant_id = :m", m=m
    )
    txns = await _rows(
        engine,
        "SELECT transaction_type FROM sales.transactions WHERE merchant_id = :m "
        "AND transaction_type IN ('NO_SALE', 'PAID_IN', 'PAID_OUT')",
        m=m,
    )
    assert len({(r.square_shift_id, r.state) for r in shifts}) == len(shifts)
    return (
        {(r.square_shift_id, r.state) for r in shifts},
        Counter(r.event_type for r in events),
        Counter(r.transaction_type for r in txns),
    )


async def _canonical(pipe: Any, m: uuid.UUID) -> Counter[str]:
    """NO_SALE / PAID_IN / PAID_OUT canonical records of ``m`` on the detection topic."""
    out: Counter[str] = Counter()
    for r in await read_topic(pipe.settings(), pipe.topic("detection")):
        doc = json.loads(r.value)
        if r.key == str(m).encode() and doc.get("transaction_type") in DRAWER_TRANSACTIONS:
            out[f"{doc['transaction_type']}|{doc['external_id']}"] += 1
    return out


async def _polled_envelopes(pipe: Any, m: uuid.UUID) -> list[dict[str, Any]]:
    out = []
    for r in await read_topic(pipe.settings(), pipe.topic("events")):
        doc = json.loads(r.value)
        if doc["merchant_id"] == str(m) and doc["source_type"] == "POLLING":
            out.append(doc)
    return out


async def test_polled_drawers_reach_ledger_and_detection_once(pipeline_factory, engine, fake):
    seller_id = sorted(fake.state.merchants)[0]
    seller = fake.seller(seller_id)
    location, shifts = next(iter(seller.shifts.items()))
    open_shift = next(s for s in shifts if s["state"] == "OPEN")
    added = [
        _drawer_event("PAID_IN", 5000, 1),
        _drawer_event("PAID_OUT", 1250, 2),
        _drawer_event("NO_SALE", 0, 3),
    ]
    fake.change(lambda: seller.shift_events[open_shift["id"]].extend(added))
    pipe, merchants = _connected(pipeline_factory, fake, parse_workers=2)
    m = merchants[seller_id]
    want_shifts, want_events = _expected(seller)
    want_txns = Counter({k: v for k, v in want_events.items() if k in DRAWER_TRANSACTIONS})
    assert set(want_txns) == set(DRAWER_TRANSACTIONS)

    async def complete() -> bool:
        return await _ledger(engine, m) == (want_shifts, want_events, want_txns)

    await wait_for(complete, timeout=90)
    canonical = await wait_for(
        lambda: _canonical_count(pipe, m, sum(want_txns.values())), timeout=60
    )
    assert set(canonical.values()) == {1}
    assert Counter(k.split("|")[0] for k in canonical) == want_txns

    # sealed: POLLING evidence with the poller's event types and source event ids
    evidence = await _rows(
        engine,
        "SELECT source_type, source_event_id, event_type, event_hash FROM sales.evidence_records "
        "WHERE merchant_id = :m",
        m=m,
    )
    assert {(r.source_type, r.event_type) for r in evidence} == {
        ("POLLING", SHIFTS_POLLED),
        ("POLLING", EVENTS_POLLED),
    }
    assert all(SOURCE_EVENT_ID.match(r.source_event_id) for r in evidence)
    # at least a shifts page per location and an events page per shift (each fits a page)
    assert len(evidence) >= len(seller.shifts) + len(want_shifts)
    # the envelopes carry the exact bytes the fake answered
    envelopes = await _polled_envelopes(pipe, m)
    raw = {e["source_event_id"]: base64.b64decode(e["raw_payload"]) for e in envelopes}
    by_hash = {bytes(r.event_hash): r.source_event_id for r in evidence}
    assert {by_hash[hashlib.sha256(b).digest()] for b in raw.values()} == set(raw)
    served = await fake.get(seller_id, "/v2/cash-drawers/shifts", location_id=location, limit="200")
    assert served in raw.values()
    served = await fake.get(
        seller_id,
        f"/v2/cash-drawers/shifts/{open_shift['id']}/events",
        location_id=location,
        limit="200",
    )
    assert served in [unwrap_events(b) for b in raw.values() if b.startswith(b'{"shift_id"')]
    # two parse workers, a poll a second: each page was sent once (claims, unchanged pages)
    await asyncio.sleep(3)
    sent = Counter(e["source_event_id"] for e in await _polled_envelopes(pipe, m))
    sealed = await _rows(
        engine, "SELECT source_event_id FROM sales.evidence_records WHERE merchant_id = :m", m=m
    )
    assert set(sent.values()) == {1} and set(sent) == {r.source_event_id for r in sealed}

    # the shift closes with one more NO_SALE: new pages, new rows, the old ones stay single
    late = _drawer_event("NO_SALE", 0, 4)

    def close() -> None:
        seller.shift_events[open_shift["id"]].append(late)
        open_shift.update(
            state="CLOSED",
            ended_at="2025-01-07T02:00:00.000Z",
            closed_at="2025-01-07T02:10:00.000Z",
            updated_at="2025-01-07T02:10:00.000Z",
            closed_cash_money={"amount": 20000, "currency": "USD"},
        )

    fake.change(close)
    want_shifts, want_events = _expected(seller)
    want_shifts |= {(open_shift["id"], "OPEN")}  # a row per observed state
    want_txns["NO_SALE"] += 1
    await wait_for(complete, timeout=60)

    # polled again from scratch: the events pages come again and are sealed as duplicates
    # (same bytes, same source_event_id); the shifts page listing from the start is new (both
    # shifts CLOSED now) and adds no row; nothing reaches the ledger or detection twice
    await asyncio.sleep(3)  # the cursor has settled on the newest shift
    count = "SELECT count(*) AS n FROM sales.evidence_records WHERE merchant_id = :m"
    before = (await _rows(engine, count, m=m))[0].n
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE app.poll_cursors SET cursor = NULL, polled_at = NULL "
                "WHERE merchant_id = :m AND stream = 'cash_drawers'"
            ),
            {"m": m},
        )
    shift_ids = {s for s, _ in want_shifts}

    async def duplicates_sealed() -> bool:
        rows = await _rows(
            engine,
            "SELECT count(*) AS n FROM sales.ingestion_log "
            "WHERE merchant_id = :m AND step = 'SEAL' AND status = 'DUPLICATE'",
            m=m,
        )
        return rows[0].n >= len(shift_ids)

    await wait_for(duplicates_sealed, timeout=60)
    await asyncio.sleep(2)
    assert await _ledger(engine, m) == (want_shifts, want_events, want_txns)
    assert before <= (await _rows(engine, count, m=m))[0].n <= before + len(seller.shifts)
    canonical = await _canonical(pipe, m)
    assert set(canonical.values()) == {1} and sum(canonical.values()) == sum(want_txns.values())


async def _canonical_count(pipe: Any, m: uuid.UUID, n: int) -> Counter[str] | None:
    found = await _canonical(pipe, m)
    return found if sum(found.values()) >= n else None


async def test_a_failing_merchant_does_not_hold_back_another(pipeline_factory, engine, fake):
    failing, calm = sorted(fake.state.merchants)
    fake.state.faults.inject(
        Fault(503, times=10_000, path_prefix="/v2/cash-drawers", merchant_id=failing)
    )
    _, merchants = _connected(pipeline_factory, fake)
    want_shifts, want_events = _expected(fake.seller(calm))

    async def drawn(seller: str) -> bool:
        shifts, events, _ = await _ledger(engine, merchants[seller])
        return (shifts, events) == (want_shifts, want_events)

    await wait_for(lambda: drawn(calm), timeout=90)
    want_shifts, want_events = _expected(fake.seller(failing))
    # the failing merchant was tried (its row claimed) and got nothing
    tried = await _rows(
        engine,
        "SELECT polled_at FROM app.poll_cursors WHERE merchant_id = :m",
        m=merchants[failing],
    )
    assert tried[0].polled_at is not None
    assert await _ledger(engine, merchants[failing]) == (set(), Counter(), Counter())
    fake.state.faults.pending.clear()
    await wait_for(lambda: drawn(failing), timeout=60)


def test_up_runs_the_fake_square_when_asked_and_down_stops_it(pipeline_factory):
    port = free_port()
    pipe = pipeline_factory(
        CANARY_FAKE_SQUARE="1",
        CANARY_FAKE_SQUARE_MERCHANTS="2",
        CANARY_FAKE_SQUARE_EVENTS="200",
        CANARY_SQUARE_BASE_URL=f"http://127.0.0.1:{port}",
        CANARY_SQUARE_ACCESS_TOKEN=APP_TOKEN,
    )
    try:
        pipe.cli("up", "--wait", "120", timeout=180)
        processes = json.loads(pipe.cli("ps", "--json").stdout)
        assert processes[0]["name"] == "fake-square" and processes[0]["alive"] is True
        assert processes[0]["url"] == f"http://127.0.0.1:{port}/_fake"
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/_fake/merchants",
            headers={"Authorization": f"Bearer {APP_TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=5) as r:
            assert len(json.loads(r.read())["merchants"]) == 2
    finally:
        down = pipe.cli("down", timeout=240)
    assert down.stdout.strip().endswith("ingress, fake-square")
    # without CANARY_FAKE_SQUARE, ps lists the fake only while it runs
    pipe.overrides.pop("CANARY_FAKE_SQUARE")
    assert "fake-square" not in pipe.cli("ps", "--json").stdout
