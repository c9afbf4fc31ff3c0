"""Detect (app ``canary-detect``): Tier 1 and Tier 2 rules over canonical events."""

from __future__ import annotations

import faust

from agents._canonical import CanonicalConsumer, register_consumer
from canary_stream.apps import StageContext

STAGE = "detect"


def register(app: faust.App, ctx: StageContext) -> None:
    """Declare the detect agent on ``canary.detection``."""
    ctx.topic("alerts")
    register_consumer(app, ctx, CanonicalConsumer(ctx, STAGE, "DETECT"))
