"""Escalate (app ``canary-detect``, agent ``escalate`` on ``canary.alerts``): alerts to cases.

Alerting-mode alerts of escalating rules (C-009; C-502 in its SUSPICIOUS band) open a case
per (merchant, rule, subject, business date), or join the one already open; every such
alert is linked in ``app.case_alerts``. One case record is published per linked alert
(always, also on a replay: the consumer keys on ``case_id``), after the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import faust
from pydantic import ValidationError

from agents._runner import batch_agent, one_line
from agents._stage import dead_letter, key_hint, merchant_key, publish, publish_dead
from canary_stream import topics
from canary_stream.apps import StageContext
from canary_stream.db import alerts as alerts_db
from canary_stream.models.alert import Alert
from canary_stream.observability import metrics
from canary_stream.rules.alerts import case_of

STAGE = "detect"
AGENT = "escalate"


class Escalator:
    """The escalate agent's work on one batch of alerts."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx

    async def handle(self, events: Sequence[Any]) -> None:
        """Open or join cases for the batch's escalating alerts; publish them."""
        cases = []
        dead = []
        for event in events:
            try:
                alert = Alert.model_validate_json(event.value)
            except (ValidationError, ValueError) as exc:
                dead.append(dead_letter(AGENT, "decode_error", exc, merchant_id=key_hint(event)))
                continue
            case = case_of(alert)
            if case is not None:
                cases.append(case)
        if cases:
            async with self.ctx.engine.begin() as conn:
                links = await alerts_db.open_cases(conn, cases)
            metrics.cases_linked.inc(len(links))
            await publish(
                self.ctx,
                [(topics.CASES, merchant_key(link.case.merchant_id), link.case) for link in links],
            )
        await publish_dead(self.ctx, dead)

    async def on_record_failure(self, event: Any, error: BaseException) -> None:
        """Dead-letter an alert that keeps failing."""
        letter = dead_letter(AGENT, "decode_error", one_line(error), merchant_id=key_hint(event))
        await publish_dead(self.ctx, [letter])


def register(app: faust.App, ctx: StageContext) -> None:
    """Declare the escalate agent on ``canary.alerts``."""
    source = ctx.topic(topics.ALERTS)
    ctx.topic(topics.CASES)
    ctx.topic(topics.DEAD_LETTER)
    escalator = Escalator(ctx)

    batch_agent(app, source, AGENT, escalator)
