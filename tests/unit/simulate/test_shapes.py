"""Every simulated body against the squareup SDK's typed models: it validates, and it uses
no field the model does not know (checked recursively through nested models)."""

from __future__ import annotations

import functools
import importlib
import json
import typing
from collections import Counter
from typing import Any

import pydantic
from square.types.cash_drawer_shift import CashDrawerShift
from square.types.customer import Customer
from square.types.dispute import Dispute
from square.types.get_order_response import GetOrderResponse
from square.types.gift_card_activity import GiftCardActivity
from square.types.list_cash_drawer_shift_events_response import ListCashDrawerShiftEventsResponse
from square.types.list_cash_drawer_shifts_response import ListCashDrawerShiftsResponse
from square.types.loyalty_account import LoyaltyAccount
from square.types.loyalty_event import LoyaltyEvent
from square.types.order_created import OrderCreated
from square.types.order_updated import OrderUpdated
from square.types.payment import Payment
from square.types.payment_refund import PaymentRefund
from square.types.payout import Payout

from canary_stream.simulate.payloads import EVENT_TYPES, Traffic

Model = type[pydantic.BaseModel]

#: The model of each ``data.object`` key.
OBJECT_MODELS: dict[str, Model] = {
    "payment": Payment,
    "refund": PaymentRefund,
    "order_created": OrderCreated,
    "order_updated": OrderUpdated,
    "customer": Customer,
    "loyalty_account": LoyaltyAccount,
    "loyalty_event": LoyaltyEvent,
    "gift_card_activity": GiftCardActivity,
    "dispute": Dispute,
    "payout": Payout,
}


@functools.cache
def event_model(event_type: str) -> Model:
    """The SDK's typed webhook event, e.g. ``dispute.state.updated`` → DisputeStateUpdatedEvent."""
    name = event_type.replace(".", "_")
    module = importlib.import_module(f"square.types.{name}_event")
    model: Model = getattr(module, "".join(p.capitalize() for p in name.split("_")) + "Event")
    return model


def nested_models(annotation: Any) -> list[Model]:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in nested_models(arg)]


@functools.cache
def known(model: Model) -> dict[str, Model | None]:
    """The wire names ``model`` declares, each with its nested model (if any)."""
    fields = {f.alias or name: f for name, f in model.model_fields.items()}
    return {key: (nested_models(f.annotation) or [None])[0] for key, f in fields.items()}


def unknown_fields(model: Model, value: dict[str, Any], path: str) -> list[str]:
    """Paths of keys in ``value`` that ``model`` (or a nested model) does not declare."""
    fields = known(model)
    found: list[str] = []
    for key, item in value.items():
        if key not in fields:
            found.append(f"{path}.{key}")
            continue
        inner = fields[key]
        for element in item if isinstance(item, list) else [item]:
            if inner is not None and isinstance(element, dict):
                found += unknown_fields(inner, element, f"{path}.{key}")
    return found


def check(model: Model, value: dict[str, Any], path: str) -> None:
    model.model_validate(value)
    assert unknown_fields(model, value, path) == []


TRAFFIC = Traffic(11, 3, fraud={"card_testing": 1, "refund_burst": 1})
HOOKS = [hook for hook, _ in zip(TRAFFIC, range(4000), strict=False)]


def test_every_event_type_appears_and_validates() -> None:
    seen: Counter[str] = Counter()
    for hook in HOOKS:
        body = json.loads(hook.body)
        seen[hook.event_type] += 1
        if seen[hook.event_type] <= 5:  # the envelope (the SDK's event models are slow)
            event = event_model(hook.event_type).model_validate(body)
            assert event.event_id == hook.event_id  # type: ignore[attr-defined]
            assert set(body) <= set(event_model(hook.event_type).model_fields)
        ((key, obj),) = body["data"]["object"].items()
        check(OBJECT_MODELS[key], obj, key)
    assert set(seen) == set(EVENT_TYPES) - {"payout.failed"}  # 4% of payouts, none here


def test_api_bodies_validate() -> None:
    orders = 0
    for m in TRAFFIC.merchants:
        mid = m.merchant_id
        for order_id in TRAFFIC.order_ids(mid):
            body = TRAFFIC.retrieve_order(mid, order_id)
            assert body is not None
            check(GetOrderResponse, body, "order")
            orders += 1
        for loc in m.locations:
            shifts = TRAFFIC.drawer_shifts_page(mid, loc.id)
            check(ListCashDrawerShiftsResponse, shifts, "shifts")
            for summary in shifts["cash_drawer_shifts"]:
                shift = TRAFFIC.drawer_shift(mid, summary["id"])
                assert shift is not None
                check(CashDrawerShift, shift, "shift")
                events = TRAFFIC.drawer_events_page(mid, summary["id"], limit=1000)
                check(ListCashDrawerShiftEventsResponse, events, "events")
    assert orders > 50
