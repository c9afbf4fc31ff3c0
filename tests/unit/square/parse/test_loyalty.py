"""The loyalty family: Square's loyalty events mapped onto ENROLL / ACCUMULATE / REDEEM / ADJUST."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from square_bodies import M, ctx, vector, webhook

from canary_stream.square.parse.base import ParseError, canonical_id
from canary_stream.square.parse.loyalty import (
    parse_account_change,
    parse_account_created,
    parse_loyalty_event,
)

EVENT = "loyalty.event.created"


def event(square_type: str, detail: dict | None, key: str | None = None) -> dict:
    e = {
        "id": "LE1",
        "type": square_type,
        "created_at": "2025-01-06T15:00:00Z",
        "loyalty_account_id": "ACC1",
        "location_id": "LOC1",
        "source": "SQUARE",
    }
    if detail is not None and key is not None:
        e[key] = detail
    return e


def run(obj: dict, **top):
    raw = webhook(EVENT, "loyalty_event", obj, **top)
    return parse_loyalty_event(raw, ctx(raw, EVENT))


def test_square_example_accumulate_points():
    raw, _ = vector(EVENT)
    [rec] = parse_loyalty_event(raw, ctx(raw, EVENT))
    c = rec.canonical
    assert (c.loyalty_event, c.points, c.square_event_type) == (
        "ACCUMULATE",
        12,
        "ACCUMULATE_POINTS",
    )
    assert c.loyalty_account_id == "716cefbc-3d71-4d7c-bdc8-9c7f84c2d793"
    assert (c.location_id, c.order_id) == ("S8GWD5R9QB376", "cb9LSpDgOH3rITBaZ6eIBb9ee4F")
    assert c.occurred_at == datetime(2020, 5, 7, 22, 31, 48, tzinfo=UTC)
    assert c.canonical_id == canonical_id(M, "loyalty", "bbd1ef00-92ac-3e5f-8887-cd3c6ba29313")
    assert rec.primary is rec.rows[0]
    assert rec.primary.key == ("merchant_id", "square_loyalty_event_id")
    assert rec.primary.values == {
        "merchant_id": M,
        "square_loyalty_event_id": "bbd1ef00-92ac-3e5f-8887-cd3c6ba29313",
        "loyalty_account_id": "716cefbc-3d71-4d7c-bdc8-9c7f84c2d793",
        "event_type": "ACCUMULATE",
        "points": 12,
        "location_id": "S8GWD5R9QB376",
        "occurred_at": datetime(2020, 5, 7, 22, 31, 48, tzinfo=UTC),
    }


@pytest.mark.parametrize(
    ("square_type", "key", "detail", "ours", "points"),
    [
        (
            "ACCUMULATE_PROMOTION_POINTS",
            "accumulate_promotion_points",
            {"points": 5},
            "ACCUMULATE",
            5,
        ),
        ("REDEEM_REWARD", "redeem_reward", {"reward_id": "R", "order_id": "O"}, "REDEEM", 0),
        ("CREATE_REWARD", "create_reward", {"reward_id": "R", "points": 100}, "ADJUST", -100),
        ("DELETE_REWARD", "delete_reward", {"reward_id": "R", "points": 100}, "ADJUST", 100),
        ("ADJUST_POINTS", "adjust_points", {"points": -7, "reason": "oops"}, "ADJUST", -7),
        ("EXPIRE_POINTS", "expire_points", {"points": 30}, "ADJUST", -30),
        ("OTHER", "other_event", {"points": 3}, "ADJUST", 3),
    ],
)
def test_event_type_mapping(square_type, key, detail, ours, points):
    [rec] = run(event(square_type, detail, key))
    assert (rec.canonical.loyalty_event, rec.canonical.points) == (ours, points)
    assert rec.primary.values["event_type"] == ours


def test_location_falls_back_to_the_webhook_envelope():
    e = event("ACCUMULATE_POINTS", {"points": 1}, "accumulate_points")
    del e["location_id"]
    [rec] = run(e, location_id="LOC9")
    assert rec.canonical.location_id == "LOC9"


def test_account_created_is_an_enroll():
    account = {
        "id": "ACC1",
        "program_id": "P",
        "balance": 0,
        "customer_id": "CUST1",
        "enrolled_at": "2025-01-06T14:00:00Z",
        "created_at": "2025-01-06T14:00:01Z",
        "mapping": {"id": "MAP", "phone_number": "+14155550199"},
    }
    raw = webhook("loyalty.account.created", "loyalty_account", account, location_id="LOC1")
    [rec] = parse_account_created(raw, ctx(raw, "loyalty.account.created"))
    c = rec.canonical
    assert (c.loyalty_event, c.points, c.customer_id) == ("ENROLL", 0, "CUST1")
    assert c.square_loyalty_event_id == "enroll:ACC1"
    assert (c.location_id, c.occurred_at) == ("LOC1", datetime(2025, 1, 6, 14, tzinfo=UTC))
    assert "+14155550199" not in c.model_dump_json()
    assert "+14155550199" not in repr(rec.rows)


def test_account_updates_and_deletions_are_validated_but_produce_nothing():
    raw = webhook("loyalty.account.updated", "loyalty_account", {"id": "ACC1", "balance": 3})
    assert parse_account_change(raw, ctx(raw, "loyalty.account.updated")) == []
    raw = webhook("loyalty.account.deleted", "loyalty_account", {"balance": 3})
    with pytest.raises(ParseError, match=r"loyalty_account\.id: missing"):
        parse_account_change(raw, ctx(raw, "loyalty.account.deleted"))


def test_malformed_loyalty_events():
    with pytest.raises(ParseError, match=r"loyalty_event\.type: unknown value 'BURN'"):
        run(event("BURN", None))
    with pytest.raises(ParseError, match=r"loyalty_event\.accumulate_points: missing"):
        run(event("ACCUMULATE_POINTS", None))
    with pytest.raises(ParseError, match=r"accumulate_points\.points: out of range"):
        run(event("ACCUMULATE_POINTS", {"points": 10**10}, "accumulate_points"))
    with pytest.raises(ParseError, match=r"loyalty_event\.loyalty_account_id: missing"):
        e = event("ACCUMULATE_POINTS", {"points": 1}, "accumulate_points")
        del e["loyalty_account_id"]
        run(e)
