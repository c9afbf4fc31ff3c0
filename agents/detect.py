"""Detect (app ``canary-detect``): Tier 1 and Tier 2 rules over canonical events.

Per batch: decode each record into its kind (undecodable → dead letter), run the Tier 1
rules (pure), add the record to every Tier 2 window it qualifies for (staged in the
table accessor), then in ONE transaction insert the alerts and log ``DETECT``; publish
the alerts; only then write the staged window state. A crash before the state is written
replays the batch against the state it started from — the same alerts, the same ids.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import faust
from pydantic import ValidationError

from agents._configs import MerchantViews
from agents._runner import batch_agent, one_line
from agents._stage import dead_letter, key_hint, merchant_key, publish, publish_dead
from canary_stream import topics
from canary_stream.apps import StageContext
from canary_stream.db import alerts as alerts_db
from canary_stream.db import evidence as db
from canary_stream.models.alert import Alert
from canary_stream.models.canonical import (
    CanonicalEvent,
    CanonicalRecord,
    CashDrawerShiftEvent,
    decode_canonical,
)
from canary_stream.models.wire import now_utc
from canary_stream.observability import metrics
from canary_stream.rules import tier1, tier2
from canary_stream.rules.alerts import alert_of
from canary_stream.rules.findings import Finding
from canary_stream.rules.merchant import MerchantView
from tables.detect import SHIFT_KEEP_SECONDS, WindowStore, shift_index_key, state_key

STAGE = "detect"
STEP = "DETECT"
log = logging.getLogger("canary.detect")


def _shift_of(subject_key: str) -> str | None:
    for part in subject_key.split("|"):
        if part.startswith("shift:"):
            return part.removeprefix("shift:")
    return None


class Detector:
    """The detect agent's work on one batch."""

    def __init__(self, ctx: StageContext, views: MerchantViews) -> None:
        self.ctx = ctx
        self.views = views
        self.windows: WindowStore = ctx.tables["windows"]
        self.lateness = ctx.settings.detect_allowed_lateness_seconds

    def tier2(self, event: Any, record: CanonicalEvent, view: MerchantView) -> list[Finding]:
        """Add ``record`` to every Tier 2 window it qualifies for; the crossings it caused."""
        merchant = str(record.merchant_id)
        ts = record.occurred_at.timestamp()
        self.windows.observe_time(merchant, ts)
        if isinstance(record, CashDrawerShiftEvent) and record.state in ("ENDED", "CLOSED"):
            self.windows.drop_shift(shift_index_key(merchant, record.shift_id), event)
            return []
        updates, found = tier2.step(
            record,
            view,
            self.lateness,
            lambda rule_id, subject: self.windows.state(state_key(merchant, rule_id, subject)),
        )
        for update in updates:
            key = state_key(merchant, update.rule_id, update.subject_key)
            window = update.spec.window
            keep = window if window is not None else SHIFT_KEEP_SECONDS
            expires = update.state.newest + keep + self.lateness
            self.windows.put(key, update.state, expires, event)
            shift = _shift_of(update.subject_key)
            if shift is not None:
                self.windows.index_shift(shift_index_key(merchant, shift), key, expires, event)
        return found

    async def handle(self, events: Sequence[Any]) -> None:
        """Evaluate the batch, store and publish its alerts, then write the window state."""
        self.windows.discard()
        decoded: list[tuple[Any, CanonicalRecord]] = []
        dead = []
        for event in events:
            try:
                decoded.append((event, decode_canonical(event.value)))
            except (ValidationError, ValueError) as exc:
                dead.append(dead_letter(STAGE, "decode_error", exc, merchant_id=key_hint(event)))
        fired_at = now_utc()
        alerts: dict[Any, Alert] = {}
        received: dict[Any, Any] = {}
        log_entries: dict[Any, db.LogEntry] = {}
        try:
            for event, record in decoded:
                view = await self.views.view(record.merchant_id)
                findings = [*tier1.evaluate(record, view), *self.tier2(event, record, view)]
                for finding in findings:
                    alert = alert_of(finding, view, fired_at)
                    alerts.setdefault(alert.alert_id, alert)
                    received.setdefault(alert.alert_id, record.received_at)
                status = "SUCCESS" if findings else "IGNORED"
                previous = log_entries.get(record.event_id)
                if previous is None or previous.status == "IGNORED":
                    log_entries[record.event_id] = db.LogEntry(
                        record.event_id, record.merchant_id, STEP, status
                    )
            async with self.ctx.engine.begin() as conn:
                stored = await alerts_db.insert_alerts(conn, list(alerts.values()))
                await db.log_ingestion(conn, list(log_entries.values()))
            await publish(
                self.ctx, [(topics.ALERTS, merchant_key(a.merchant_id), a) for a in stored]
            )
        except BaseException:
            self.windows.discard()
            raise
        self.windows.flush()
        per_partition: dict[int, list[Any]] = {}
        for event, _ in decoded:
            per_partition.setdefault(event.message.partition, []).append(event)
        for events_of in per_partition.values():
            self.windows.sweep(events_of[-1], len(events_of))
        await publish_dead(self.ctx, dead)
        metrics.record_alerts(stored, received, now_utc())
        for alert in stored:
            log.info(
                "alert %s level %d (%s)",
                alert.rule_id,
                alert.level,
                alert.mode,
                extra={"merchant_id": str(alert.merchant_id), "stage": STAGE},
            )

    async def on_record_failure(self, event: Any, error: BaseException) -> None:
        """Dead-letter a record that keeps failing."""
        letter = dead_letter(STAGE, "decode_error", one_line(error), merchant_id=key_hint(event))
        await publish_dead(self.ctx, [letter])


def register(app: faust.App, ctx: StageContext) -> None:
    """Declare the detect agent on ``canary.detection`` and the config follower."""
    source = ctx.topic(topics.DETECTION)
    ctx.topic(topics.ALERTS)
    ctx.topic(topics.DEAD_LETTER)
    views = MerchantViews(ctx)
    views.install(app)
    ctx.tables["views"] = views
    detector = Detector(ctx, views)

    batch_agent(app, source, STAGE, detector)
