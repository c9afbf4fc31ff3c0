"""The registry covers square.md's families; Square's examples and simulated traffic all parse."""

from __future__ import annotations

import json
from collections import Counter
from itertools import islice

import pytest
from square_bodies import VECTORS, ctx, encode, vector

from canary_stream.models.canonical import CanonicalEvent, decode_canonical
from canary_stream.simulate.payloads import Traffic
from canary_stream.square.parse.actions import MerchantRevoked, publishable
from canary_stream.square.parse.base import ParsedRecord
from canary_stream.square.registry import PARSERS, SOURCE, parser_for

#: Every event type square.md's parser families name.
SPEC_TYPES = {
    "payment.created", "payment.updated", "refund.created", "refund.updated",
    "square.order.retrieved",
    "loyalty.account.created", "loyalty.account.updated", "loyalty.account.deleted",
    "loyalty.event.created",
    "payout.sent", "payout.paid", "payout.failed",
    "dispute.created", "dispute.state.updated", "dispute.state.changed",
    "dispute.evidence.created", "dispute.evidence.deleted",
    "customer.created", "customer.updated", "customer.deleted", "gift_card.activity.created",
    "oauth.authorization.revoked", "square.cash_drawer_shift.polled",
    "square.cash_drawer_shift_event.polled",
}  # fmt: skip


def test_every_family_type_is_registered():
    registered = {t for s, t in PARSERS if s == SOURCE}
    assert SPEC_TYPES <= registered
    assert registered - SPEC_TYPES == {"dispute.evidence.added", "dispute.evidence.removed"}
    assert all(parser_for(SOURCE, t) is PARSERS[(SOURCE, t)] for t in SPEC_TYPES)


@pytest.mark.parametrize(
    ("source", "event_type"),
    [("square", "order.updated"), ("square", "invoice.created"), ("shopify", "payment.created")],
)
def test_unknown_and_thin_types_have_no_parser(source, event_type):
    assert parser_for(source, event_type) is None


@pytest.mark.parametrize("path", sorted(VECTORS.glob("*.json")), ids=lambda p: p.stem)
def test_every_square_vector_parses_through_the_registry(path):
    raw, data = vector(path.stem)
    assert data["source"]
    records = parser_for(SOURCE, path.stem)(raw, ctx(raw, path.stem))
    assert all(isinstance(r, ParsedRecord) for r in records)
    for rec in records:
        if isinstance(rec.canonical, CanonicalEvent):
            wire = rec.canonical.to_bytes()
            assert decode_canonical(wire) == rec.canonical
            assert CanonicalEvent.model_validate_json(wire).kind == rec.canonical.kind


def simulated(seed: int, n: int) -> tuple[Traffic, list]:
    traffic = Traffic(seed, 3)
    return traffic, list(islice(iter(traffic), n))


def test_simulated_traffic_parses_without_quarantine():
    traffic, hooks = simulated(7, 3000)
    kinds: Counter[str] = Counter()
    for hook in hooks:
        parser = parser_for(SOURCE, hook.event_type)
        if parser is None:
            assert hook.event_type.startswith("order.")  # thin: fetched, then parsed
            continue
        for rec in parser(hook.body, ctx(hook.body, hook.event_type)):
            c = rec.canonical
            kinds[c.transaction_type if c.kind == "transaction" else c.kind] += 1
    for merchant in {h.merchant_id for h in hooks}:
        for order_id in traffic.order_ids(merchant):
            raw = json.dumps(traffic.retrieve_order(merchant, order_id)).encode()
            for rec in parser_for(SOURCE, "square.order.retrieved")(
                raw, ctx(raw, "square.order.retrieved")
            ):
                kinds[rec.canonical.transaction_type] += 1
        for shift in traffic.drawer_shifts(merchant):
            raw = encode(traffic.drawer_shifts_page(merchant, shift["location_id"]))
            kinds["shift"] += len(parser_for(SOURCE, "square.cash_drawer_shift.polled")(
                raw, ctx(raw, "square.cash_drawer_shift.polled")
            ))  # fmt: skip
            page = traffic.drawer_events_page(merchant, shift["id"])
            wrapped = {
                "shift_id": shift["id"],
                "location_id": shift["location_id"],
                "response": page,
            }
            raw = encode(wrapped)
            for rec in parser_for(SOURCE, "square.cash_drawer_shift_event.polled")(
                raw, ctx(raw, "square.cash_drawer_shift_event.polled")
            ):
                kinds[rec.canonical.transaction_type if rec.canonical else "drawer_row"] += 1
    expected_kinds = (
        "AUTHORIZATION", "PAYMENT", "VOID", "REFUND", "SALE", "NO_SALE", "PAID_IN", "PAID_OUT",
        "drawer_row", "shift", "customer", "loyalty", "gift_card", "dispute", "payout",
    )  # fmt: skip
    for expected in expected_kinds:
        assert kinds[expected] > 0, (expected, kinds)


def test_revocation_is_not_a_canonical_event():
    raw, _ = vector("oauth.authorization.revoked")
    [rec] = parser_for(SOURCE, "oauth.authorization.revoked")(
        raw, ctx(raw, "oauth.authorization.revoked")
    )
    assert isinstance(rec.canonical, MerchantRevoked)


def test_publishable_tells_canonical_events_from_rows_and_instructions():
    raw, _ = vector("square.cash_drawer_shift_event.polled")
    records = parser_for(SOURCE, "square.cash_drawer_shift_event.polled")(
        raw, ctx(raw, "square.cash_drawer_shift_event.polled")
    )
    raw, _ = vector("oauth.authorization.revoked")
    records += parser_for(SOURCE, "oauth.authorization.revoked")(
        raw, ctx(raw, "oauth.authorization.revoked")
    )
    found = [publishable(r) for r in records]
    assert [type(c).__name__ for c in found] == ["NoneType"] * 4 + ["TransactionEvent"] * 2 + [
        "NoneType"
    ]
