"""Detection through the real processes: signed webhooks crafted for rules of rules.md, each
at its threshold and just below, a replayed delivery and a refund in each C-502 band →
``app.alerts`` and ``canary.alerts`` hold exactly the expected alerts, ``app.cases`` a case
for each escalating one, and nothing else — also after every canonical record is delivered
to the detect agent a second time."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from detect_webhooks import payment, refund
from harness import produce, read_topic, wait_for
from sqlalchemy import text

pytestmark = pytest.mark.integration

DAY = datetime(2026, 6, 1, tzinfo=UTC)
TEN = DAY + timedelta(hours=10)


async def _rows(engine: Any, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(text(sql), params))


def _alert_key(rule: str, level: int, mode: str, subject: str) -> tuple[str, int, str, str]:
    return (rule, level, mode, subject)


async def test_crafted_webhooks_raise_exactly_the_expected_alerts(pipeline_factory, engine):
    pipe = pipeline_factory()
    merchant_id, pmid = pipe.add_merchant()
    mid = uuid.UUID(merchant_id)
    pipe.add_signature_key()
    for name in ("ingress", "seal", "parse", "detect"):
        pipe.start(name)
    bodies: list[dict[str, Any]] = []

    # C-007 at the threshold and just below (refunds of payments never seen: no C-502).
    bodies.append(refund(pmid, TEN, 10_000, payment_id="payUNKNOWN1"))
    bodies.append(refund(pmid, TEN, 9_999, payment_id="payUNKNOWN2"))
    # C-502: four payments by E1, each refunded by E2 after 60 s, 600 s, 3,600 s, 30,000 s.
    for gap in (60, 600, 3_600, 30_000):
        pay = payment(pmid, TEN, 1_234, employee="E1")
        bodies.append(pay)
        bodies.append(
            refund(
                pmid,
                TEN + timedelta(seconds=gap),
                500,
                payment_id=pay["data"]["id"],
                employee="E2",
            )
        )
    # C-005: five uses of one card within the hour fire; four of another do not.
    hot, cold = f"sq-1-hot{uuid.uuid4().hex}", f"sq-1-cold{uuid.uuid4().hex}"
    for i in range(5):
        bodies.append(payment(pmid, TEN + timedelta(minutes=11 * i), 1_111 + i, fingerprint=hot))
    for i in range(4):
        bodies.append(payment(pmid, TEN + timedelta(minutes=11 * i), 1_311 + i, fingerprint=cold))
    # C-010: approved 200 below requested fires; approved in full does not.
    bodies.append(payment(pmid, TEN, 1_000, approved=800, status="APPROVED"))
    bodies.append(payment(pmid, TEN, 1_001, status="APPROVED"))
    # C-004: 23:30 is after hours, 21:59 is not.
    late = payment(pmid, DAY + timedelta(hours=23, minutes=30), 1_717)
    bodies.append(payment(pmid, DAY + timedelta(hours=21, minutes=59), 1_718))
    # C-009: a delayed-capture authorization: stored in dry_run (its default), no case.
    bodies.append(payment(pmid, TEN, 1_919, status="APPROVED", delay_action="CANCEL"))
    bodies.append(late)  # last: its alert says the merchant's partition has been detected

    for body in bodies:
        assert pipe.post(json.dumps(body).encode())[0] == 200
    # a replayed delivery: the same webhook again
    assert pipe.post(json.dumps(bodies[5]).encode())[0] == 200

    alerts_sql = (
        "SELECT rule_id, level, mode, subject_key, severity, score, canonical_ids, alert_id "
        "FROM app.alerts WHERE merchant_id = :m"
    )

    async def detected() -> Any:
        rows = await _rows(engine, alerts_sql, m=mid)
        return rows if any(r.rule_id == "C-004" for r in rows) else None

    await wait_for(detected, timeout=120)

    def summary(rows: list[Any]) -> list[tuple[str, int, str, str, str, int]]:
        out = []
        for r in rows:
            subject = "card:*" if r.subject_key.startswith("card:") else r.subject_key
            out.append((r.rule_id, r.level, r.mode, subject, r.severity, r.score))
        return sorted(out)

    expected = sorted(
        [
            ("C-004", 1, "alerting", "location:LOC1", "medium", 40),
            ("C-005", 1, "alerting", "card:*", "high", 60),
            ("C-007", 1, "alerting", "location:LOC1", "high", 60),
            ("C-009", 1, "dry_run", "location:LOC1", "critical", 80),
            ("C-010", 1, "alerting", "location:LOC1", "high", 60),
            ("C-502", 1, "alerting", "employee:E2|day:2026-06-01", "high", 60),
            ("C-502", 1, "alerting", "employee:E2|day:2026-06-01", "critical", 80),
        ]
    )

    async def cased() -> Any:
        rows = await _rows(engine, "SELECT * FROM app.cases WHERE merchant_id = :m", m=mid)
        return rows or None

    cases = await wait_for(cased, timeout=60)
    rows = await _rows(engine, alerts_sql, m=mid)
    assert summary(rows) == expected
    hot_alert = next(r for r in rows if r.rule_id == "C-005")
    assert len(hot_alert.canonical_ids) == 5

    # one case: the SUSPICIOUS C-502, subject the refunding employee, linked to its alert
    suspicious = next(r for r in rows if r.rule_id == "C-502" and r.severity == "critical")
    assert [(c.rule_id, c.priority, c.subject_type, c.subject_id) for c in cases] == [
        ("C-502", "critical", "employee", "E2")
    ]
    assert str(cases[0].business_date) == "2026-06-01"
    links = await _rows(
        engine, "SELECT case_id, alert_id FROM app.case_alerts WHERE merchant_id = :m", m=mid
    )
    assert [(link.case_id, link.alert_id) for link in links] == [
        (cases[0].case_id, suspicious.alert_id)
    ]

    # canary.alerts holds the same alerts with their modes
    # (the database commit comes before the publish: wait until the last batch is published)
    settings = pipe.settings()
    stored = {(str(r.alert_id), r.mode) for r in rows}

    async def published() -> set[tuple[str, str]] | None:
        found = {
            (a["alert_id"], a["mode"])
            for a in (
                json.loads(r.value)
                for r in await read_topic(settings, pipe.topic("alerts"))
                if r.key == merchant_id.encode()
            )
        }
        return found if found >= stored else None

    assert await wait_for(published, timeout=30) == stored
    headers = dict((await read_topic(settings, pipe.topic("alerts")))[0].headers)
    assert headers["record-type"] == b"alert"

    # every canonical record delivered to detect a second time: nothing new
    detection = [
        (r.key, r.value)
        for r in await read_topic(settings, pipe.topic("detection"))
        if r.key == merchant_id.encode()
    ]
    await produce(settings, pipe.topic("detection"), detection)
    sentinel = payment(pmid, DAY + timedelta(hours=23, minutes=45), 1_818)
    assert pipe.post(json.dumps(sentinel).encode())[0] == 200

    async def sentinel_seen() -> Any:
        rows = await _rows(engine, alerts_sql, m=mid)
        return rows if sum(r.rule_id == "C-004" for r in rows) == 2 else None

    rows = await wait_for(sentinel_seen, timeout=90)
    assert summary(rows) == sorted(
        [*expected, ("C-004", 1, "alerting", "location:LOC1", "medium", 40)]
    )
    assert len(await _rows(engine, "SELECT 1 FROM app.cases WHERE merchant_id = :m", m=mid)) == 1
