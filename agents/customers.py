"""Customers (app ``canary-customers``): the customer registry kept from canonical events."""

from __future__ import annotations

import faust

from agents._canonical import CanonicalConsumer, register_consumer
from canary_stream.apps import StageContext

STAGE = "customers"


def register(app: faust.App, ctx: StageContext) -> None:
    """Declare the customers agent on ``canary.detection``."""
    register_consumer(app, ctx, CanonicalConsumer(ctx, STAGE, "CUSTOMERS"))
