"""Signed-webhook bodies for detection tests, built from Square's own example payloads."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).parents[1] / "vectors" / "square" / "webhooks"
Json = dict[str, Any]


def _vector(name: str, pmid: str) -> Json:
    body: Json = copy.deepcopy(json.loads((VECTORS / f"{name}.json").read_text())["body"])
    body["merchant_id"] = pmid
    body["event_id"] = f"evt-{uuid.uuid4()}"
    return body


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def money(cents: int) -> Json:
    return {"amount": cents, "currency": "USD"}


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:16]}"


def payment(
    pmid: str,
    at: datetime,
    cents: int,
    *,
    payment_id: str | None = None,
    employee: str | None = None,
    location: str = "LOC1",
    fingerprint: str | None = None,
    entry_method: str = "EMV",
    status: str = "COMPLETED",
    approved: int | None = None,
    delay_action: str | None = None,
) -> Json:
    """A ``payment.updated`` (``payment.created`` when FAILED or APPROVED) webhook body."""
    body = _vector("payment.updated", pmid)
    p = body["data"]["object"]["payment"]
    pid = payment_id or new_id("pay")
    body["data"]["id"] = p["id"] = pid
    body["created_at"] = rfc3339(at)
    for name in ("order_id", "delay_action", "delayed_until", "delay_duration"):
        p.pop(name, None)
    p.update(
        created_at=rfc3339(at), updated_at=rfc3339(at), amount_money=money(cents),
        total_money=money(cents), approved_money=money(cents if approved is None else approved),
        location_id=location, status=status,
    )  # fmt: skip
    if employee:
        p["team_member_id"] = employee
    if delay_action:
        p["delay_action"] = delay_action
        p["delayed_until"] = rfc3339(at + timedelta(days=7))
    card = p["card_details"]
    card["entry_method"] = entry_method
    card["card"]["fingerprint"] = fingerprint or f"sq-1-{uuid.uuid4().hex}"
    card["card_payment_timeline"] = {"authorized_at": rfc3339(at), "captured_at": rfc3339(at)}
    if status == "APPROVED":
        body["type"] = "payment.created"
        card["status"] = "AUTHORIZED"
        card["card_payment_timeline"].pop("captured_at")
    elif status == "FAILED":
        body["type"] = "payment.created"
        card["status"] = "FAILED"
        card.pop("card_payment_timeline")
        p.pop("approved_money")
    return body


def refund(
    pmid: str,
    at: datetime,
    cents: int,
    *,
    payment_id: str,
    employee: str | None = None,
    location: str = "LOC1",
    status: str = "COMPLETED",
) -> Json:
    """A ``refund.updated`` webhook body for ``payment_id``."""
    body = _vector("refund.updated", pmid)
    r = body["data"]["object"]["refund"]
    body["data"]["id"] = r["id"] = f"{payment_id}_{uuid.uuid4().hex[:6]}"
    body["created_at"] = rfc3339(at)
    r.update(
        payment_id=payment_id, amount_money=money(cents), created_at=rfc3339(at),
        updated_at=rfc3339(at), location_id=location, status=status, processing_fee=[],
    )  # fmt: skip
    r.pop("order_id", None)
    if employee:
        r["team_member_id"] = employee
    return body
