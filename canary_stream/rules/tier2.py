"""The twelve Tier 2 rules: which records qualify, under which subject, counted how.

Each rule is one :class:`Tier2Rule` entry: a pure ``qualify`` function giving the subject
keys (and a tag) a record counts under, and the :class:`~canary_stream.rules.windows.WindowSpec`
its settings give. The state itself lives in the detect stage's table; this module only
says what goes in it and how to read what :func:`~canary_stream.rules.windows.observe`
returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from canary_stream.models.canonical import (
    CanonicalEvent,
    DisputeEvent,
    GiftCardEvent,
    LoyaltyEvent,
    TransactionEvent,
)
from canary_stream.rules.catalog import RuleSettings
from canary_stream.rules.findings import Finding
from canary_stream.rules.merchant import MerchantView
from canary_stream.rules.tier1 import allowed, is_new_dispute
from canary_stream.rules.windows import (
    Crossing,
    KeyState,
    Measure,
    WindowSpec,
    count,
    distinct_tags,
    observe,
    refund_percent,
)

#: (subject_key, tag) pairs a record counts under.
Qualify = Callable[[CanonicalEvent, MerchantView, RuleSettings], list[tuple[str, str]]]


def shift_subject(txn: TransactionEvent, view: MerchantView) -> str | None:
    """``employee:{id}|shift:{id}``, else ``employee:{id}|day:{date}``; None without employee."""
    if not txn.employee_id:
        return None
    if txn.shift_id:
        return f"employee:{txn.employee_id}|shift:{txn.shift_id}"
    day = view.business_date(txn.occurred_at, txn.location_id)
    return f"employee:{txn.employee_id}|day:{day.isoformat()}"


def _txn(record: CanonicalEvent, *types: str, ledger: bool = True) -> TransactionEvent | None:
    if not isinstance(record, TransactionEvent) or record.transaction_type not in types:
        return None
    if ledger and not record.ledger:
        return None
    return record


def _refund_rate(r: CanonicalEvent, v: MerchantView, s: RuleSettings) -> list[tuple[str, str]]:
    txn = _txn(r, "PAYMENT", "REFUND")
    subject = shift_subject(txn, v) if txn else None
    if txn is None or subject is None:
        return []
    return [(subject, "R" if txn.transaction_type == "REFUND" else "P")]


def _round_amounts(r: CanonicalEvent, v: MerchantView, s: RuleSettings) -> list[tuple[str, str]]:
    txn = _txn(r, "PAYMENT")
    t = s.thresholds
    if txn is None or not txn.employee_id:
        return []
    if txn.amount_cents < t["min_amount_cents"] or txn.amount_cents % t["round_unit_cents"]:
        return []
    return [(f"employee:{txn.employee_id}", "")]


def _card_uses(r: CanonicalEvent, v: MerchantView, s: RuleSettings) -> list[tuple[str, str]]:
    txn = _txn(r, "PAYMENT", ledger=False)
    if txn is None or txn.card is None or not txn.card.fingerprint_hash:
        return []
    if not txn.ledger and txn.status != "FAILED":
        return []
    return [(f"card:{txn.card.fingerprint_hash}", "")]


def _split_tenders(r: CanonicalEvent, v: MerchantView, s: RuleSettings) -> list[tuple[str, str]]:
    txn = _txn(r, "SALE")
    if txn is None or not txn.employee_id or len(txn.tenders) < 2:
        return []
    return [(f"employee:{txn.employee_id}", "")]


def _keyed(r: CanonicalEvent, v: MerchantView, s: RuleSettings) -> list[tuple[str, str]]:
    txn = _txn(r, "PAYMENT")
    if txn is None or txn.card is None or txn.card.entry_method != "KEYED":
        return []
    subject = shift_subject(txn, v)
    return [(subject, "")] if subject else []


def _per_shift(transaction_type: str) -> Qualify:
    def qualify(r: CanonicalEvent, v: MerchantView, s: RuleSettings) -> list[tuple[str, str]]:
        txn = _txn(r, transaction_type)
        subject = shift_subject(txn, v) if txn else None
        return [(subject, "")] if subject else []

    return qualify


def _gift_loads(r: CanonicalEvent, v: MerchantView, s: RuleSettings) -> list[tuple[str, str]]:
    if isinstance(r, GiftCardEvent) and r.activity in ("LOAD", "ACTIVATE"):
        return [(f"gift_card:{r.gift_card_id}", "")]
    return []


def _loyalty(*events: str, by_location: bool = False) -> Qualify:
    def qualify(r: CanonicalEvent, v: MerchantView, s: RuleSettings) -> list[tuple[str, str]]:
        if not isinstance(r, LoyaltyEvent) or (events and r.loyalty_event not in events):
            return []
        if by_location:
            return [(f"loyalty:{r.loyalty_account_id}", r.location_id)] if r.location_id else []
        return [(f"loyalty:{r.loyalty_account_id}", "")]

    return qualify


def _enrollments(r: CanonicalEvent, v: MerchantView, s: RuleSettings) -> list[tuple[str, str]]:
    if isinstance(r, LoyaltyEvent) and r.loyalty_event == "ENROLL" and r.location_id:
        return [(f"location:{r.location_id}", "")]
    return []


def _new_disputes(r: CanonicalEvent, v: MerchantView, s: RuleSettings) -> list[tuple[str, str]]:
    # Tagged by dispute and measured in distinct disputes: a dispute seen as new in two
    # states (an inquiry polled again as a chargeback) is still one dispute.
    if isinstance(r, DisputeEvent) and is_new_dispute(r):
        return [("merchant", r.dispute_id)]
    return []


@dataclass(frozen=True)
class Tier2Rule:
    """One Tier 2 rule: what qualifies and how its settings become a window."""

    rule_id: str
    qualify: Qualify
    threshold_name: str = "count"

    def window_spec(self, settings: RuleSettings, lateness: float) -> WindowSpec:
        """The window, threshold and measure in force."""
        t = settings.thresholds
        window: float | None = None
        if "window_seconds" in t:
            window = float(t["window_seconds"])
        elif "window_days" in t:
            window = float(t["window_days"]) * 86_400
        measure: Measure = count
        if self.rule_id == "C-002":
            measure = refund_percent(t["min_transactions"])
        elif self.rule_id in ("C-803", "C-D03"):
            measure = distinct_tags
        return WindowSpec(window, float(t[self.threshold_name]), measure, lateness)


TIER2: dict[str, Tier2Rule] = {
    rule.rule_id: rule
    for rule in (
        Tier2Rule("C-002", _refund_rate, "percent"),
        Tier2Rule("C-003", _round_amounts),
        Tier2Rule("C-005", _card_uses),
        Tier2Rule("C-006", _split_tenders),
        Tier2Rule("C-008", _keyed),
        Tier2Rule("C-101", _per_shift("NO_SALE")),
        Tier2Rule("C-501", _per_shift("VOID")),
        Tier2Rule("C-601", _gift_loads),
        Tier2Rule("C-801", _loyalty("ACCUMULATE")),
        Tier2Rule("C-803", _loyalty(by_location=True), "location_count"),
        Tier2Rule("C-804", _enrollments),
        Tier2Rule("C-D03", _new_disputes),
    )
}


def finding_of(
    rule_id: str, subject_key: str, record: CanonicalEvent, crossing: Crossing, spec: WindowSpec
) -> Finding:
    """The finding of one crossing."""
    anchor_ts, anchor_id, _ = crossing.anchor
    details: dict[str, Any] = {
        "measured": crossing.measure,
        "threshold": spec.threshold * crossing.level,
        "records": len(crossing.members),
        "late": crossing.late,
    }
    if spec.window is not None:
        details["window_seconds"] = spec.window
    return Finding(
        rule_id=rule_id,
        level=crossing.level,
        subject_key=subject_key,
        record=record,
        anchor_id=UUID(anchor_id),
        anchor_at=datetime.fromtimestamp(anchor_ts, UTC),
        canonical_ids=tuple(UUID(cid) for _, cid, _ in crossing.members),
        details=details,
    )


@dataclass(frozen=True)
class StateUpdate:
    """A subject's new window state for one rule, and the spec it was counted under."""

    rule_id: str
    subject_key: str
    state: KeyState
    spec: WindowSpec


def step(
    record: CanonicalEvent,
    view: MerchantView,
    lateness: float,
    state_of: Callable[[str, str], KeyState | None],
) -> tuple[list[StateUpdate], list[Finding]]:
    """Add ``record`` to every Tier 2 window it qualifies for.

    ``state_of(rule_id, subject_key)`` gives the current state; returns the states that
    changed (a replayed record changes none) and the findings of the crossings, allow-listed
    subjects dropped. The caller stores the states (a table, a dict in tests).
    """
    ts = record.occurred_at.timestamp()
    updates: list[StateUpdate] = []
    found: list[Finding] = []
    for rule_id, rule in TIER2.items():
        settings = view.rule(rule_id)
        if not settings.enabled:
            continue
        pairs = rule.qualify(record, view, settings)
        if not pairs:
            continue
        spec = rule.window_spec(settings, lateness)
        for subject, tag in pairs:
            before = state_of(rule_id, subject)
            state, crossings = observe(before, str(record.canonical_id), ts, tag, spec)
            if state is before:
                continue  # already counted: a replay
            updates.append(StateUpdate(rule_id, subject, state, spec))
            for crossing in crossings:
                finding = finding_of(rule_id, subject, record, crossing, spec)
                if not allowed(finding, settings):
                    found.append(finding)
    return updates, found
