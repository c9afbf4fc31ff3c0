"""Builders of canonical records and a pure stand-in for the detect agent's rule loop.

``Detector`` threads Tier 2 state exactly as ``agents/detect.py`` does — per Tier 2 rule
and per (subject, tag) of ``qualify``: ``observe`` → skip a replay → stage the new state →
``finding_of`` → drop allow-listed — with the staged state written only on commit, so a
"crash" (no commit) replays the batch against the state it started from.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from canary_stream.models.alert import Alert
from canary_stream.models.canonical import (
    CanonicalEvent,
    Card,
    DisputeEvent,
    GiftCardEvent,
    LoyaltyEvent,
    Tender,
    TransactionEvent,
)
from canary_stream.models.merchant_config import LocationConfig, MerchantConfig, RuleConfig
from canary_stream.rules import tier1, tier2
from canary_stream.rules.alerts import alert_of
from canary_stream.rules.findings import Finding
from canary_stream.rules.merchant import MerchantView
from canary_stream.rules.windows import KeyState

M = UUID("0f8fad5b-d9cb-469f-a165-70867728950e")
#: Monday 2026-03-02 12:00 UTC: inside the default business hours, far from any DST change.
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
FIRED = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
EVENT_ID = UUID("01890a5d-ac96-774b-bcce-b302099a8057")
CARD_HASH = "ab" * 32
#: contracts.md's namespace, computed here independently of the code under test.
NS = uuid5(NAMESPACE_URL, "urn:canary-stream:ids:v1")


def ident(*parts: object) -> UUID:
    """``uuid5(NS, "|".join(parts))`` as contracts.md writes it."""
    return uuid5(NS, "|".join(str(p) for p in parts))


def at(seconds: float = 0) -> datetime:
    """``T0`` plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def _common(kind: str, key: tuple[object, ...], when: datetime, **over: Any) -> dict[str, Any]:
    return {
        "canonical_id": ident("canon", M, kind, *key),
        "event_id": EVENT_ID,
        "merchant_id": M,
        "source_type": over.pop("source_type", "WEBHOOK"),
        "source_event_id": f"evt-{kind}-{'-'.join(map(str, key))}",
        "source_event_type": over.pop("source_event_type", f"{kind}.updated"),
        "event_hash": "cd" * 32,
        "received_at": when,
        "occurred_at": when,
        "location_id": over.pop("location_id", "L1"),
        "mode": over.pop("mode", "live"),
    }


def txn(
    transaction_type: str = "PAYMENT",
    when: datetime = T0,
    *,
    ext: str | None = None,
    amount: int = 1500,
    employee: str | None = "E1",
    status: str = "COMPLETED",
    **over: Any,
) -> TransactionEvent:
    """A ledger transaction (``ext`` defaults to one derived from type and time)."""
    external_id = ext or f"{transaction_type.lower()}-{when.timestamp():.0f}"
    common = _common("transaction", (external_id, transaction_type), when, **over)
    fields = {k: v for k, v in over.items() if k not in common and k not in _COMMON_OVERRIDES}
    return TransactionEvent(
        **common,
        transaction_id=ident("txn", M, external_id, transaction_type),
        external_id=external_id,
        transaction_type=transaction_type,
        status=status,
        employee_id=employee,
        amount_cents=amount,
        currency="USD",
        **fields,
    )


_COMMON_OVERRIDES = {"source_type", "source_event_type", "location_id", "mode"}


def card(entry_method: str = "EMV", fingerprint_hash: str | None = CARD_HASH) -> Card:
    """A card with a fingerprint hash."""
    return Card(fingerprint_hash=fingerprint_hash, entry_method=entry_method, brand="VISA")


def tenders(*amounts: int) -> tuple[Tender, ...]:
    """One tender per amount."""
    return tuple(
        Tender(
            payment_id=f"pay-{i}",
            payment_transaction_id=ident("txn", M, f"pay-{i}", "PAYMENT"),
            tender_type="CARD" if i % 2 == 0 else "CASH",
            amount_cents=amount,
        )
        for i, amount in enumerate(amounts)
    )


def loyalty(
    event: str = "ACCUMULATE",
    when: datetime = T0,
    *,
    account: str = "A1",
    eid: str | None = None,
    **over: Any,
) -> LoyaltyEvent:
    """A loyalty event of ``account``."""
    square_id = eid or f"loy-{event.lower()}-{when.timestamp():.0f}"
    common = _common("loyalty", (square_id,), when, **over)
    return LoyaltyEvent(
        **common,
        loyalty_account_id=account,
        loyalty_event=event,
        points=10,
        square_loyalty_event_id=square_id,
        square_event_type=f"{event}_POINTS",
    )


def gift_card(
    activity: str = "LOAD",
    when: datetime = T0,
    *,
    card_id: str = "G1",
    aid: str | None = None,
    **over: Any,
) -> GiftCardEvent:
    """A gift-card activity on ``card_id``."""
    activity_id = aid or f"gca-{activity.lower()}-{when.timestamp():.0f}"
    common = _common("gift_card", (activity_id,), when, **over)
    return GiftCardEvent(
        **common,
        activity_id=activity_id,
        gift_card_id=card_id,
        activity=activity,
        square_activity_type=activity,
        amount_cents=5000,
        currency="USD",
    )


def dispute(
    dispute_id: str = "D1",
    state: str = "EVIDENCE_REQUIRED",
    when: datetime = T0,
    *,
    event_type: str = "dispute.created",
    **over: Any,
) -> DisputeEvent:
    """A dispute in ``state`` (by default its ``dispute.created`` record)."""
    common = _common("dispute", (dispute_id, state), when, source_event_type=event_type, **over)
    return DisputeEvent(
        **common,
        dispute_id=dispute_id,
        state=state,
        reason="NOT_AS_DESCRIBED",
        amount_cents=2500,
        currency="USD",
    )


def view(
    rules: dict[str, RuleConfig] | None = None,
    *,
    timezone: str = "UTC",
    business_day_start: str = "04:00",
    locations: dict[str, LocationConfig] | None = None,
) -> MerchantView:
    """The view of a merchant config with these rule settings."""
    config = MerchantConfig(
        merchant_id=M,
        provider_merchant_id="SQ-MERCHANT",
        status="active",
        currency="USD",
        timezone=timezone,
        business_day_start=business_day_start,
        locations=locations or {},
        rules=rules or {},
        updated_at=T0,
    )
    return MerchantView.of(config)


@dataclass
class Detector:
    """The detect agent's pure work: Tier 1, Tier 2 over a dict of states, alerts."""

    view: MerchantView
    lateness: float = 86_400.0
    states: dict[tuple[str, str], KeyState] = field(default_factory=dict)

    def tier2(
        self, record: CanonicalEvent, staged: dict[tuple[str, str], KeyState]
    ) -> list[Finding]:
        """:func:`tier2.step` as the agent runs it, on ``staged`` instead of a table."""
        updates, found = tier2.step(
            record,
            self.view,
            self.lateness,
            lambda rule_id, subject: staged.get((rule_id, subject)),
        )
        for update in updates:
            staged[(update.rule_id, update.subject_key)] = update.state
        return found

    def batch(self, records: Sequence[CanonicalEvent], *, commit: bool = True) -> list[Alert]:
        """One batch's alerts (first per id, in order); the state is written on commit only."""
        staged = dict(self.states)
        alerts: dict[UUID, Alert] = {}
        for record in records:
            findings = [*tier1.evaluate(record, self.view), *self.tier2(record, staged)]
            for finding in findings:
                alert = alert_of(finding, self.view, FIRED)
                alerts.setdefault(alert.alert_id, alert)
        if commit:
            self.states = staged
        return list(alerts.values())

    def feed(self, records: Sequence[CanonicalEvent], rule_id: str) -> list[list[Alert]]:
        """Each record as its own batch; per record, the alerts of ``rule_id``."""
        return [[a for a in self.batch([r]) if a.rule_id == rule_id] for r in records]

    def restart(self) -> None:
        """A worker restart: every state recovered from its changelog value (JSON)."""
        self.states = {
            key: KeyState.from_dict(json.loads(json.dumps(state.to_dict())))
            for key, state in self.states.items()
        }
