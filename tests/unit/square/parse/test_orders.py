"""The order family: fetched orders become SALE / EXCHANGE with line items and tenders."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from square_bodies import M, ctx, encode, money, vector

from canary_stream.models.canonical import LineItem, Tender
from canary_stream.square.parse.base import ForeignCurrency, ParseError, transaction_id
from canary_stream.square.parse.orders import parse_order

EVENT = "square.order.retrieved"


def run(order: dict):
    raw = encode({"order": order})
    return parse_order(raw, ctx(raw, EVENT, source_type="POLLING"))


def square_order() -> dict:
    raw, _ = vector(EVENT)
    return json.loads(raw)["order"]


def completed(**over) -> dict:
    """Square's example order, completed and paid with two tenders (a split tender)."""
    order = square_order()
    order.update(
        state="COMPLETED",
        customer_id="CUST1",
        closed_at="2025-01-06T15:30:00.000Z",
        total_tip_money=money(200),
        tenders=[
            {
                "id": "T1",
                "type": "CARD",
                "amount_money": money(5000),
                "payment_id": "PAYA",
                "card_details": {"card": {"card_brand": "VISA", "last_4": "1111"}},
            },
            {"id": "PAYB", "type": "CASH", "amount_money": money(2599)},
        ],
    )
    order["line_items"][0]["gross_sales_money"] = money(1599)
    order["line_items"][0]["catalog_object_id"] = "VAR1"
    order["line_items"][1]["total_discount_money"] = money(500)
    order["line_items"][1]["note"] = "for Zed"
    order.update(over)
    return order


def test_square_example_open_order_yields_nothing():
    raw, data = vector(EVENT)
    assert "Square's documented example" in data["source"]
    assert parse_order(raw, ctx(raw, EVENT)) == []


@pytest.mark.parametrize("state", ["OPEN", "CANCELED", "DRAFT"])
def test_orders_not_completed_yield_nothing(state):
    assert run(completed(state=state)) == []


def test_completed_order_is_a_sale_with_lines_and_tenders():
    [rec] = run(completed())
    sale = transaction_id(M, "CAISEM82RcpmcFBM0TfOyiHV3es", "SALE")
    c = rec.canonical
    assert (c.transaction_type, c.status, c.transaction_id) == ("SALE", "COMPLETED", sale)
    assert c.occurred_at == datetime(2025, 1, 6, 15, 30, tzinfo=UTC)  # closed_at
    assert (c.amount_cents, c.tip_cents, c.customer_id) == (7599, 200, "CUST1")
    assert (c.location_id, c.order_id) == ("057P5VYJ4A5X1", "CAISEM82RcpmcFBM0TfOyiHV3es")
    assert c.tenders == (
        Tender(
            payment_id="PAYA",
            payment_transaction_id=transaction_id(M, "PAYA", "PAYMENT"),
            tender_type="CARD",
            amount_cents=5000,
            card_brand="VISA",
        ),
        Tender(
            payment_id="PAYB",
            payment_transaction_id=transaction_id(M, "PAYB", "PAYMENT"),
            tender_type="CASH",
            amount_cents=2599,
        ),
    )
    assert c.line_items == (
        LineItem(
            line_uid="945986d1-9586-11e6-ad5a-28cfe92138cf",
            catalog_object_id="VAR1",
            name="Awesome product",
            quantity="1",
            unit_price_cents=1599,
            gross_sales_cents=1599,
        ),
        LineItem(
            line_uid="a8f4168c-9586-11e6-bdf0-28cfe92138cf",
            name="Another awesome product",
            quantity="3",
            unit_price_cents=2000,
            gross_sales_cents=6000,  # no gross_sales_money: its total_money
            discount_cents=500,
        ),
    )
    tables = [r.table for r in rec.rows]
    assert (
        tables
        == ["sales.transactions"]
        + ["sales.transaction_line_items"] * 2
        + ["sales.transaction_tenders"] * 2
    )
    assert rec.primary is rec.rows[0]
    assert rec.rows[2].values == {
        "transaction_id": sale,
        "merchant_id": M,
        "line_uid": "a8f4168c-9586-11e6-bdf0-28cfe92138cf",
        "catalog_object_id": None,
        "name": "Another awesome product",
        "quantity": Decimal("3"),
        "unit_price_cents": 2000,
        "gross_sales_cents": 6000,
        "discount_cents": 500,
        "returned": False,
    }
    assert rec.rows[2].key == ("transaction_id", "line_uid")
    assert rec.rows[3].values == {
        "transaction_id": sale,
        "merchant_id": M,
        "payment_transaction_id": transaction_id(M, "PAYA", "PAYMENT"),
        "tender_type": "CARD",
        "amount_cents": 5000,
        "card_brand": "VISA",
    }
    assert rec.rows[3].key == ("transaction_id", "payment_transaction_id")
    assert rec.primary.values["source_type"] == "POLLING"
    assert "for Zed" not in rec.canonical.model_dump_json()


def test_order_with_returns_and_sales_is_an_exchange():
    order = completed(
        returns=[
            {
                "uid": "RET1",
                "source_order_id": "OLD1",
                "return_line_items": [
                    {
                        "uid": "RLI1",
                        "name": "Old thing",
                        "quantity": "1.5",
                        "base_price_money": money(1000),
                        "gross_return_money": money(1500),
                    }
                ],
            }
        ]
    )
    [rec] = run(order)
    assert rec.canonical.transaction_type == "EXCHANGE"
    assert rec.canonical.line_items[-1] == LineItem(
        line_uid="RLI1",
        name="Old thing",
        quantity="1.5",
        unit_price_cents=1000,
        gross_sales_cents=1500,
        returned=True,
    )
    returned_row = next(r for r in rec.rows if r.values.get("line_uid") == "RLI1")
    assert returned_row.values["returned"] is True
    assert returned_row.values["quantity"] == Decimal("1.5")


def test_a_return_only_order_is_left_to_the_refund():
    order = completed(line_items=[], returns=[{"uid": "R", "return_line_items": []}])
    assert run(order) == []


def test_lines_without_uid_get_positional_ones():
    order = completed()
    for li in order["line_items"]:
        del li["uid"]
    [rec] = run(order)
    assert [li.line_uid for li in rec.canonical.line_items] == ["line:0", "line:1"]


def test_tender_types_map_to_ours():
    order = completed()
    order["tenders"] = [
        {"id": "G", "type": "SQUARE_GIFT_CARD", "amount_money": money(1)},
        {"id": "W", "type": "WALLET", "amount_money": money(2)},
        {"id": "X", "type": "THIRD_PARTY_CARD", "amount_money": money(3)},
    ]
    [rec] = run(order)
    assert [t.tender_type for t in rec.canonical.tenders] == ["GIFT_CARD", "OTHER", "CARD"]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"closed_at": None}, ParseError, "order.closed_at: missing"),
        ({"state": "DONE"}, ParseError, "order.state: unknown value 'DONE'"),
        ({"total_money": money(7599, "CAD")}, ForeignCurrency, "order.total_money.currency"),
        ({"total_money": money(-1)}, ParseError, "order.total_money.amount: negative amount"),
    ],
)
def test_malformed_orders(change, error, message):
    with pytest.raises(error, match=message.replace(".", r"\.")):
        run(completed(**change))


def test_malformed_lines_and_tenders():
    order = completed()
    order["line_items"][1]["quantity"] = "three"
    with pytest.raises(ParseError, match=r"order\.line_items\[1\]\.quantity: not a quantity"):
        run(order)
    order = completed()
    order["tenders"][0]["type"] = "CRYPTO"
    with pytest.raises(ParseError, match=r"order\.tenders\[0\]\.type: unknown value 'CRYPTO'"):
        run(order)
    order = completed()
    del order["tenders"][1]["id"]
    with pytest.raises(ParseError, match=r"order\.tenders\[1\]\.id: missing"):
        run(order)
    order = copy.deepcopy(completed())
    order["line_items"][0]["base_price_money"] = money(1599, "EUR")
    with pytest.raises(ForeignCurrency):
        run(order)
