"""The auxiliary family: customer lifecycle, gift-card activity, merchant revocation."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from square_bodies import EVENT_ID, M, ctx, money, vector, webhook

from canary_stream.square.parse.actions import MerchantRevoked
from canary_stream.square.parse.auxiliary import (
    parse_customer,
    parse_gift_card_activity,
    parse_revocation,
)
from canary_stream.square.parse.base import ForeignCurrency, ParseError, canonical_id


def run_vector(event_type: str, parser):
    raw, _ = vector(event_type)
    return parser(raw, ctx(raw, event_type))


def test_square_example_customer_created():
    [rec] = run_vector("customer.created", parse_customer)
    c = rec.canonical
    assert (c.kind, c.customer_id, c.lifecycle) == (
        "customer",
        "QPTXM8PQNX3Q726ZYHPMNP46XC",
        "CREATED",
    )
    assert c.occurred_at == datetime(2022, 11, 9, 21, 23, 25, 519000, tzinfo=UTC)
    assert c.canonical_id == canonical_id(M, "customer", "QPTXM8PQNX3Q726ZYHPMNP46XC", "CREATED")
    assert rec.rows == () and rec.primary is None


def test_square_example_customer_updated_is_keyed_by_version():
    [rec] = run_vector("customer.updated", parse_customer)
    c = rec.canonical
    assert (c.customer_id, c.lifecycle) == ("A0AP25A6SCVTH8JES9BX01GXM4", "UPDATED")
    assert c.occurred_at == datetime(2022, 11, 9, 21, 38, 30, tzinfo=UTC)
    assert c.canonical_id == canonical_id(M, "customer", "A0AP25A6SCVTH8JES9BX01GXM4", "UPDATED", 1)


def test_customer_deleted_occurs_when_the_event_was_created():
    raw, _ = vector("customer.updated")
    body = json.loads(raw)
    body["type"] = "customer.deleted"
    raw = json.dumps(body).encode()
    [rec] = parse_customer(raw, ctx(raw, "customer.deleted"))
    assert rec.canonical.lifecycle == "DELETED"
    assert rec.canonical.occurred_at == datetime(2023, 3, 14, 1, 58, 22, 76902, tzinfo=UTC)
    assert rec.canonical.canonical_id == canonical_id(
        M, "customer", "A0AP25A6SCVTH8JES9BX01GXM4", "DELETED"
    )


def test_customer_parser_refuses_other_event_types():
    raw, _ = vector("customer.created")
    with pytest.raises(ParseError, match=r"event type 'customer\.merged' is not a customer event"):
        parse_customer(raw, ctx(raw, "customer.merged"))


def test_square_example_gift_card_activation():
    [rec] = run_vector("gift_card.activity.created", parse_gift_card_activity)
    c = rec.canonical
    assert (c.activity, c.square_activity_type, c.amount_cents) == ("ACTIVATE", "ACTIVATE", 1000)
    assert (c.gift_card_id, c.activity_id) == (
        "gftc:00113070ba5745f0b2377c1b9570cb03",
        "gcact_c8f8cbf1f24b448d8ecf39ed03f97864",
    )
    assert c.location_id == "81FN9BNFZTKS4"
    assert c.canonical_id == canonical_id(M, "gift_card", "gcact_c8f8cbf1f24b448d8ecf39ed03f97864")
    assert rec.primary.key == ("merchant_id", "activity_id")
    assert rec.primary.values == {
        "merchant_id": M,
        "activity_id": "gcact_c8f8cbf1f24b448d8ecf39ed03f97864",
        "gift_card_id": "gftc:00113070ba5745f0b2377c1b9570cb03",
        "activity": "ACTIVATE",
        "amount_cents": 1000,
        "location_id": "81FN9BNFZTKS4",
        "occurred_at": datetime(2020, 12, 17, 1, 41, 35, 157000, tzinfo=UTC),
    }


def activity(square_type: str, details: dict | None = None) -> dict:
    a = {
        "id": "gcact_1",
        "type": square_type,
        "location_id": "LOC1",
        "created_at": "2025-01-06T15:00:00Z",
        "gift_card_id": "gftc:1",
        "gift_card_gan": "7783320000000001",
    }
    if details is not None:
        a[f"{square_type.lower()}_activity_details"] = details
    return a


def run_activity(obj: dict):
    raw = webhook("gift_card.activity.created", "gift_card_activity", obj)
    return parse_gift_card_activity(raw, ctx(raw, "gift_card.activity.created"))


@pytest.mark.parametrize(
    ("square_type", "ours"),
    [
        ("LOAD", "LOAD"),
        ("REDEEM", "REDEEM"),
        ("REFUND", "LOAD"),
        ("UNLINKED_ACTIVITY_REFUND", "LOAD"),
        ("TRANSFER_BALANCE_TO", "LOAD"),
        ("TRANSFER_BALANCE_FROM", "REDEEM"),
        ("ADJUST_INCREMENT", "ADJUST"),
        ("ADJUST_DECREMENT", "ADJUST"),
        ("IMPORT", "ADJUST"),
        ("IMPORT_REVERSAL", "ADJUST"),
    ],
)
def test_gift_card_activity_mapping(square_type, ours):
    [rec] = run_activity(activity(square_type, {"amount_money": money(700)}))
    assert (rec.canonical.activity, rec.canonical.amount_cents) == (ours, 700)
    assert "7783320000000001" not in rec.canonical.model_dump_json() + repr(rec.rows)


def test_clear_balance_has_no_amount():
    [rec] = run_activity(activity("CLEAR_BALANCE", {"reason": "SUSPICIOUS_ACTIVITY"}))
    assert (rec.canonical.activity, rec.canonical.amount_cents) == ("ADJUST", None)


@pytest.mark.parametrize("square_type", ["DEACTIVATE", "BLOCK", "UNBLOCK"])
def test_activities_that_move_no_money_produce_nothing(square_type):
    assert run_activity(activity(square_type, {"reason": "x"})) == []


def test_malformed_gift_card_activities():
    with pytest.raises(ParseError, match=r"gift_card_activity\.type: unknown value 'GIFT'"):
        run_activity(activity("GIFT"))
    with pytest.raises(ForeignCurrency):
        run_activity(activity("LOAD", {"amount_money": money(700, "EUR")}))
    a = activity("LOAD", {"amount_money": money(700)})
    del a["gift_card_id"]
    with pytest.raises(ParseError, match=r"gift_card_activity\.gift_card_id: missing"):
        run_activity(a)


def test_square_example_revocation_is_an_instruction():
    [rec] = run_vector("oauth.authorization.revoked", parse_revocation)
    assert rec.canonical == MerchantRevoked(
        merchant_id=M,
        event_id=EVENT_ID,
        revoked_at=datetime(2020, 8, 14, 15, 51, 0, 246373, tzinfo=UTC),
        revoker_type="MERCHANT",
    )
    assert rec.rows == () and rec.primary is None
