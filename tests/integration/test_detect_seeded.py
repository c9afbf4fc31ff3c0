"""A seeded day of rule-quiet store traffic for two merchants with every detection pattern of
canary_stream.simulate.patterns injected, through the real ingress, seal, parse and detect
(the NO_SALE and split-tender SALE patterns produced straight to ``canary.detection``):
``app.alerts`` holds exactly the alerts the patterns define (rule, level, mode, subject;
each counted), and ``app.cases`` exactly the cases of the escalating alerting-mode ones."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from harness import produce, wait_for
from sqlalchemy import text

from canary_stream.simulate.patterns import (
    PATTERNS,
    QUIET_MIX,
    Injection,
    expected_alerts,
    inject,
    interleave,
    match_alerts,
    quiet_problems,
    readdress,
    with_merchant,
)
from canary_stream.simulate.payloads import Traffic, Webhook, merchant_ids
from canary_stream.simulate.runner import send_one
from canary_stream.simulate.world import UPPER_ALNUM

pytestmark = pytest.mark.integration

SEED = 20260601
START = datetime(2026, 6, 1, 7, 0, tzinfo=UTC)
BACKGROUND = 300  # webhooks of quiet store traffic, 07:00 to about 19:00
RATE = BACKGROUND / (12 * 3600)
#: Alerting-mode rules whose alerts open cases (C-502 only in its SUSPICIOUS band, which is
#: the band its pattern uses; C-009 is in its default dry_run mode).
ESCALATING = {"C-502"}


def _fresh(pmid: str) -> str:
    """A new Square-style id of the same length: the seeded world stays the same, the
    database sees a merchant no earlier run touched."""
    return "ML" + "".join(UPPER_ALNUM[b % 36] for b in uuid.uuid4().bytes)[: len(pmid) - 2]


def seeded_day() -> tuple[list[Webhook], list[Injection]]:
    """The day's background and the injections (each merchant's last one its C-004)."""
    ids = merchant_ids(SEED, 2)
    traffic = Traffic(SEED, ids, start=START, rate=RATE, mix=QUIET_MIX)
    stream = iter(traffic)
    background = [next(stream) for _ in range(BACKGROUND)]
    rules = [rule for rule in PATTERNS if rule != "C-004"]
    injections = inject(rules, traffic.merchants, START, SEED)
    injections += [inject(["C-004"], [m], START, SEED)[0] for m in traffic.merchants]
    return background, injections


def test_the_seeded_day_is_laid_out_as_the_test_assumes():
    background, injections = seeded_day()
    assert quiet_problems(background) == []
    assert background[-1].created_at < "2026-06-01T20"
    for merchant in {i.merchant_id for i in injections}:
        hooks = [h for h in interleave(background, injections) if h.merchant_id == merchant]
        assert hooks[-1].created_at.startswith("2026-06-01T23:30")  # its C-004: the sentinel


async def _rows(engine: Any, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(text(sql), params))


async def test_a_seeded_day_with_every_pattern_raises_exactly_the_expected_alerts(
    pipeline_factory, engine
):
    background, injections = seeded_day()
    pipe = pipeline_factory()
    renamed = {old: _fresh(old) for old in {h.merchant_id for h in background}}
    ours = {new: uuid.UUID(pipe.add_merchant(new)[0]) for new in renamed.values()}
    pmid_of = {str(u): p for p, u in ours.items()}
    background = [readdress(h, renamed[h.merchant_id]) for h in background]
    injections = [with_merchant(i, renamed[i.merchant_id]) for i in injections]
    pipe.add_signature_key()
    for name in ("ingress", "seal", "parse", "detect"):
        pipe.start(name)

    settings = pipe.settings()
    drawer = [
        (str(ours[i.merchant_id]).encode(), record.to_bytes())
        for i in injections
        for record in i.records(ours[i.merchant_id], "USD")
    ]
    await produce(settings, pipe.topic("detection"), drawer)
    hooks = list(interleave(background, injections))
    async with aiohttp.ClientSession() as session:
        statuses = Counter(
            [
                await send_one(
                    session,
                    pipe.notification_url,
                    h.body,
                    pipe.signature_key,
                    pipe.notification_url,
                )
                for h in hooks  # in business-time order: Square's order per object
            ]
        )
    assert statuses == {200: len(hooks)}

    merchants = list(ours.values())
    alerts_sql = (
        "SELECT merchant_id, rule_id, level, mode, subject_key, alert_id FROM app.alerts "
        "WHERE merchant_id = ANY(:m)"
    )

    async def drained() -> Any:
        # each merchant's last webhook is its C-004 payment at 23:30: once both of those
        # alerts are stored, everything posted before them has been through detect
        rows = await _rows(engine, alerts_sql, m=merchants)
        sentinels = {r.merchant_id for r in rows if r.rule_id == "C-004"}
        return rows if sentinels == set(merchants) else None

    rows = await wait_for(drained, timeout=150, interval=1)
    actual = [
        (pmid_of[str(r.merchant_id)], r.rule_id, r.level, r.mode, r.subject_key) for r in rows
    ]
    expected = expected_alerts(injections)
    missing, extra = match_alerts(expected, actual)
    assert (missing, extra) == ([], []), f"missing {missing}\nextra {extra}"
    assert len(actual) == len(expected) == 29  # C-101's five C-011s, C-D03's three C-D01s

    escalating = [r for r in rows if r.rule_id in ESCALATING and r.mode == "alerting"]
    assert len(escalating) == 1

    async def cased() -> Any:
        found = await _rows(
            engine,
            "SELECT merchant_id, rule_id, subject_type, subject_id, business_date FROM app.cases "
            "WHERE merchant_id = ANY(:m)",
            m=merchants,
        )
        return found if len(found) >= len(escalating) else None

    cases = await wait_for(cased, timeout=60, interval=0.5)
    (c502,) = [e for e in expected if e.rule_id == "C-502"]
    refunder = c502.subject.split("|")[0].removeprefix("employee:")
    assert [
        (pmid_of[str(c.merchant_id)], c.rule_id, c.subject_type, c.subject_id, str(c.business_date))
        for c in cases
    ] == [(c502.merchant_id, "C-502", "employee", refunder, "2026-06-01")]
    links = await _rows(
        engine, "SELECT alert_id FROM app.case_alerts WHERE merchant_id = ANY(:m)", m=merchants
    )
    assert [link.alert_id for link in links] == [escalating[0].alert_id]
