"""Square Order objects for the simulator: line items, taxes, tenders, returns, thin events.

An order story drafts an OPEN order (:func:`draft_order`), pays it with one or more
payments (split tender when more than one) and completes it with :func:`completed_order`,
a pure function of the draft and the payments' final versions: the full ``Order`` that
RetrieveOrder serves. :func:`order_created` and :func:`order_updated` are the thin
``data.object`` bodies of the ``order.created`` / ``order.updated`` webhooks.
"""

from __future__ import annotations

import copy
import itertools
import random
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from canary_stream.simulate.world import (
    BASE62,
    TAX_PERCENT,
    CatalogItem,
    Json,
    Merchant,
    money,
    rfc3339,
    rid,
)


def tax_of(gross: int, percent: str = TAX_PERCENT) -> int:
    """Additive tax on ``gross`` minor units, rounded half up as Square rounds."""
    exact = Decimal(gross) * Decimal(percent) / 100
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _line(rng: random.Random, m: Merchant, item: CatalogItem, quantity: int, tax_uid: str) -> Json:
    cur = m.currency
    gross = item.price * quantity
    tax = tax_of(gross)
    return {
        "uid": rid(rng, 22, BASE62),
        "name": item.name,
        "quantity": str(quantity),
        "catalog_object_id": item.id,
        "catalog_version": item.version,
        "variation_name": item.variation,
        "item_type": "ITEM",
        "applied_taxes": [
            {"uid": rid(rng, 22, BASE62), "tax_uid": tax_uid, "applied_money": money(tax, cur)}
        ],
        "base_price_money": money(item.price, cur),
        "variation_total_price_money": money(gross, cur),
        "gross_sales_money": money(gross, cur),
        "total_tax_money": money(tax, cur),
        "total_discount_money": money(0, cur),
        "total_money": money(gross + tax, cur),
    }


def _tax(m: Merchant, uid: str, applied: int) -> Json:
    return {
        "uid": uid,
        "catalog_object_id": m.tax_id,
        "catalog_version": 1,
        "name": "Sales Tax",
        "percentage": TAX_PERCENT,
        "type": "ADDITIVE",
        "applied_money": money(applied, m.currency),
        "scope": "ORDER",
    }


def draft_order(
    rng: random.Random, m: Merchant, at: datetime, location_id: str, *, min_total: int = 0
) -> Json:
    """An OPEN order of one to four catalog items (at least ``min_total`` with tax)."""
    tax_uid = rid(rng, 22, BASE62)
    lines: list[Json] = []
    picks = rng.sample(m.catalog, min(len(m.catalog), rng.randint(1, 4)))
    for item in picks:
        lines.append(_line(rng, m, item, rng.choice((1, 1, 1, 2, 3)), tax_uid))
    while sum(int(li["total_money"]["amount"]) for li in lines) < min_total:
        lines.append(_line(rng, m, rng.choice(m.catalog), 1, tax_uid))
    order: Json = {
        "id": rid(rng, 29),
        "location_id": location_id,
        "line_items": lines,
        "taxes": [_tax(m, tax_uid, sum(int(li["total_tax_money"]["amount"]) for li in lines))],
        "created_at": rfc3339(at),
        "updated_at": rfc3339(at),
        "state": "OPEN",
        "version": 1,
    }
    _totals(order, m.currency, tip=0)
    return order


def due(order: Json) -> int:
    """What the order asks the buyer to pay before tips: its lines less what it returns."""
    return _sum(order["line_items"], "total_money") - _returned(order, "total_money")


def _sum(items: list[Json], name: str) -> int:
    return sum(int(x[name]["amount"]) for x in items)


def _returned(order: Json, name: str) -> int:
    return sum(int(r["return_amounts"][name]["amount"]) for r in order.get("returns", []))


def _amounts(total: int, tax: int, tip: int, cur: str) -> Json:
    return {
        "total_money": money(total, cur),
        "tax_money": money(tax, cur),
        "discount_money": money(0, cur),
        "tip_money": money(tip, cur),
        "service_charge_money": money(0, cur),
    }


def _totals(order: Json, cur: str, *, tip: int) -> None:
    """``total_*`` of the sold lines (plus tips); ``return_amounts`` and ``net_amounts``."""
    lines = order["line_items"]
    total, tax = _sum(lines, "total_money") + tip, _sum(lines, "total_tax_money")
    ret_total, ret_tax = _returned(order, "total_money"), _returned(order, "tax_money")
    if order.get("returns"):
        order["return_amounts"] = _amounts(ret_total, ret_tax, 0, cur)
    order["net_amounts"] = _amounts(total - ret_total, tax - ret_tax, tip, cur)
    order["total_money"] = money(total, cur)
    order["total_tax_money"] = money(tax, cur)
    order["total_discount_money"] = money(0, cur)
    order["total_tip_money"] = money(tip, cur)
    order["total_service_charge_money"] = money(0, cur)


def split(rng: random.Random, total: int, parts: int) -> list[int]:
    """``total`` cut into ``parts`` shares of at least 1.00 (evenly, or at random points)."""
    if parts <= 1 or total < 100 * parts:
        return [total]
    if rng.random() < 0.4:
        each = total // parts
        return [total - each * (parts - 1)] + [each] * (parts - 1)
    free = total - 100 * parts
    bounds = [0, *sorted(rng.randint(0, free) for _ in range(parts - 1)), free]
    return [100 + b - a for a, b in itertools.pairwise(bounds)]


def tender(p: Json) -> Json:
    """The order's ``Tender`` for payment ``p`` (its final version)."""
    cur = p["total_money"]["currency"]
    t: Json = {
        "id": p["id"],
        "location_id": p["location_id"],
        "transaction_id": p["order_id"],
        "created_at": p["created_at"],
        "amount_money": dict(p["total_money"]),
    }
    if "tip_money" in p:
        t["tip_money"] = dict(p["tip_money"])
    fee = sum(int(f["amount_money"]["amount"]) for f in p.get("processing_fee", []))
    t["processing_fee_money"] = money(fee, cur)
    if p.get("customer_id"):
        t["customer_id"] = p["customer_id"]
    if "card_details" in p:
        d, card = p["card_details"], p["card_details"]["card"]
        gift = card["card_brand"] == "SQUARE_GIFT_CARD"
        t["type"] = "SQUARE_GIFT_CARD" if gift else "CARD"
        t["card_details"] = {
            "status": "CAPTURED",
            "card": {k: card[k] for k in ("card_brand", "last_4", "fingerprint") if k in card},
            "entry_method": d["entry_method"],
        }
    else:
        t["type"] = "CASH"
        t["cash_details"] = {
            "buyer_tendered_money": dict(p["cash_details"]["buyer_supplied_money"]),
            "change_back_money": dict(p["cash_details"]["change_back_money"]),
        }
    t["payment_id"] = p["id"]
    return t


#: Square's field order of ``Order``.
ORDER_FIELDS = (
    "id", "location_id", "reference_id", "source", "customer_id", "line_items", "taxes",
    "discounts", "service_charges", "fulfillments", "returns", "return_amounts",
    "net_amounts", "rounding_adjustment", "tenders", "refunds", "metadata", "created_at",
    "updated_at", "closed_at", "state", "version", "total_money", "total_tax_money",
    "total_discount_money", "total_tip_money", "total_service_charge_money", "ticket_name",
    "pricing_options", "rewards", "net_amount_due_money",
)  # fmt: skip


def completed_order(draft: Json, payments: list[Json], closed_at: datetime) -> Json:
    """The full COMPLETED ``Order`` paid by ``payments`` (pure: the draft is left as is).

    Each payment is one tender; a tender's ``amount_money`` is its payment's
    ``total_money`` (tip included), so the order's ``total_money`` carries the tips too.
    The version counts one update per tender plus the completion.
    """
    order = copy.deepcopy(draft)
    cur = order["total_money"]["currency"]
    customers = [p["customer_id"] for p in payments if p.get("customer_id")]
    if customers:
        order["customer_id"] = customers[0]
    order["tenders"] = [tender(p) for p in payments]
    _totals(order, cur, tip=sum(int(p.get("tip_money", {}).get("amount", 0)) for p in payments))
    order["updated_at"] = order["closed_at"] = rfc3339(closed_at)
    order["state"] = "COMPLETED"
    order["version"] = int(draft["version"]) + len(payments) + 1
    order["net_amount_due_money"] = money(0, cur)
    rank = {name: i for i, name in enumerate(ORDER_FIELDS)}
    return {k: order[k] for k in sorted(order, key=lambda k: rank.get(k, len(rank)))}


def add_returns(rng: random.Random, order: Json, source: Json) -> None:
    """Return one line of the completed order ``source`` within ``order`` (an exchange)."""
    line = rng.choice(source["line_items"])
    cur = line["total_money"]["currency"]
    tax, total = line["total_tax_money"]["amount"], line["total_money"]["amount"]
    order["returns"] = [
        {
            "uid": rid(rng, 22, BASE62),
            "source_order_id": source["id"],
            "return_line_items": [
                {
                    "uid": rid(rng, 22, BASE62),
                    "name": line["name"],
                    "quantity": line["quantity"],
                    "catalog_object_id": line["catalog_object_id"],
                    "catalog_version": line["catalog_version"],
                    "variation_name": line["variation_name"],
                    "item_type": "ITEM",
                    "source_line_item_uid": line["uid"],
                    "base_price_money": dict(line["base_price_money"]),
                    "variation_total_price_money": dict(line["variation_total_price_money"]),
                    "gross_return_money": dict(line["gross_sales_money"]),
                    "total_tax_money": dict(line["total_tax_money"]),
                    "total_discount_money": money(0, cur),
                    "total_money": dict(line["total_money"]),
                }
            ],
            "return_amounts": _amounts(total, tax, 0, cur),
        }
    ]
    _totals(order, cur, tip=0)


def order_created(order: Json) -> Json:
    """``data.object.order_created`` of an ``order.created`` webhook."""
    return {
        "order_id": order["id"],
        "version": order["version"],
        "location_id": order["location_id"],
        "state": order["state"],
        "created_at": order["created_at"],
    }


def order_updated(order: Json) -> Json:
    """``data.object.order_updated`` of an ``order.updated`` webhook."""
    return {**order_created(order), "updated_at": order["updated_at"]}
