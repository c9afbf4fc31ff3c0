"""The rule catalog of rules.md as data: one declarative entry per rule.

An entry says what a rule is (id, name, category, severity, tier, default mode) and what can
be tuned (typed, range-checked thresholds). :func:`effective` merges a merchant's stored
settings over the defaults; :func:`validate_thresholds` is what ``rules set`` runs before
anything is written. The evaluators live in :mod:`~canary_stream.rules.tier1` and
:mod:`~canary_stream.rules.tier2`, keyed by the same ids.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from canary_stream.errors import ConfigError

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")
SEVERITY_SCORE: Mapping[str, int] = {
    "info": 10,
    "low": 20,
    "medium": 40,
    "high": 60,
    "critical": 80,
}
RuleMode = Literal["alerting", "dry_run"]
ThresholdKind = Literal["int", "hours", "ids"]
#: ``HH:MM-HH:MM`` local business hours; the end may be before the start (past midnight).
HOURS_PATTERN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
#: Allow-list kinds a rule's ``allow_lists`` may name (a finding about one of these is dropped).
ALLOW_LIST_KINDS: tuple[str, ...] = ("employee", "location", "card", "loyalty", "gift_card")


@dataclass(frozen=True)
class Threshold:
    """One tunable value: its type, default and allowed range (money in minor units)."""

    name: str
    kind: ThresholdKind
    default: Any
    minimum: int | None = None
    maximum: int | None = None
    money: bool = False

    def parse(self, text: str) -> Any:
        """The typed value of ``text`` as typed on the command line."""
        if self.kind == "int":
            try:
                return int(text)
            except ValueError:
                raise ConfigError(f"{self.name} must be a whole number, got {text!r}") from None
        if self.kind == "ids":
            return [part.strip() for part in text.split(",") if part.strip()]
        return text

    def check(self, value: Any) -> Any:
        """``value`` if it has the right type and range, else a one-line ``ConfigError``."""
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{self.name} must be a whole number, got {value!r}")
            if self.minimum is not None and value < self.minimum:
                raise ConfigError(f"{self.name} must be at least {self.minimum}, got {value}")
            if self.maximum is not None and value > self.maximum:
                raise ConfigError(f"{self.name} must be at most {self.maximum}, got {value}")
            return value
        if self.kind == "hours":
            if not isinstance(value, str) or not HOURS_PATTERN.match(value):
                raise ConfigError(f"{self.name} must look like 06:00-22:00, got {value!r}")
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{self.name} must be a list of ids, got {value!r}")
        return sorted(set(value))


@dataclass(frozen=True)
class RuleSpec:
    """One catalog entry of rules.md."""

    rule_id: str
    name: str
    category: str
    severity: Severity
    tier: int
    thresholds: tuple[Threshold, ...] = ()
    default_mode: RuleMode = "alerting"
    #: Alerting-mode alerts of this rule open cases (C-502: its SUSPICIOUS band only).
    escalates: bool = False
    #: Shift rules count within the employee's shift or business day; window rules within
    #: ``window_seconds`` (or ``window_days``).
    per_shift: bool = False

    def defaults(self) -> dict[str, Any]:
        """The default thresholds."""
        return {t.name: t.default for t in self.thresholds}

    def threshold(self, name: str) -> Threshold:
        """The threshold called ``name``; ``ConfigError`` naming the valid ones otherwise."""
        for t in self.thresholds:
            if t.name == name:
                return t
        known = ", ".join(t.name for t in self.thresholds) or "none"
        raise ConfigError(f"{self.rule_id} has no threshold {name!r} (it has: {known})")


def _count(name: str = "count", default: int = 5, maximum: int = 10_000) -> Threshold:
    return Threshold(name, "int", default, 1, maximum)


def _window(default: int) -> Threshold:
    return Threshold("window_seconds", "int", default, 1, 30 * 86_400)


def _money(name: str, default: int) -> Threshold:
    return Threshold(name, "int", default, 0, 10**12, money=True)


_T1 = 1
_T2 = 2

CATALOG: Mapping[str, RuleSpec] = {
    spec.rule_id: spec
    for spec in (
        RuleSpec(
            "C-004",
            "AFTER_HOURS_TRANSACTION",
            "TIME",
            "medium",
            _T1,
            (Threshold("business_hours", "hours", "06:00-22:00"),),
        ),
        RuleSpec(
            "C-007", "HIGH_VALUE_REFUND", "REFUND", "high", _T1, (_money("amount_cents", 10_000),)
        ),
        RuleSpec(
            "C-009", "SQUARE_DELAY_HOLD", "PAYMENT", "critical", _T1, (), "dry_run", escalates=True
        ),
        RuleSpec(
            "C-010",
            "PARTIAL_AUTHORIZATION",
            "PAYMENT",
            "high",
            _T1,
            (_money("variance_cents", 0),),
        ),
        RuleSpec(
            "C-011",
            "NO_SALE_DETECTED",
            "CASH_DRAWER",
            "high",
            _T1,
            (Threshold("allowed_employee_ids", "ids", []),),
        ),
        RuleSpec(
            "C-502",
            "POST_VOID_ALERT",
            "VOID_REFUND",
            "critical",
            _T1,
            (
                Threshold("immediate_max_seconds", "int", 120, 0, 86_400),
                Threshold("watch_max_seconds", "int", 900, 1, 86_400),
                Threshold("suspicious_max_seconds", "int", 28_800, 1, 30 * 86_400),
                Threshold("self_refund_score_boost", "int", 10, 0, 20),
            ),
            escalates=True,
        ),
        RuleSpec("C-D01", "DISPUTE_CREATED", "DISPUTE", "high", _T1),
        RuleSpec("C-D02", "DISPUTE_LOST", "DISPUTE", "critical", _T1),
        RuleSpec(
            "C-002",
            "EXCESSIVE_REFUND_RATE",
            "REFUND",
            "high",
            _T2,
            (Threshold("percent", "int", 15, 1, 100), _count("min_transactions", 5)),
            per_shift=True,
        ),
        RuleSpec(
            "C-003",
            "ROUND_AMOUNT_PATTERN",
            "PAYMENT",
            "medium",
            _T2,
            (
                _count(),
                _window(3600),
                Threshold("round_unit_cents", "int", 1000, 1, 10**9, money=True),
                _money("min_amount_cents", 2000),
            ),
        ),
        RuleSpec("C-005", "CARD_VELOCITY", "CARD", "high", _T2, (_count(), _window(3600))),
        RuleSpec(
            "C-006",
            "SPLIT_TENDER_PATTERN",
            "TENDER",
            "medium",
            _T2,
            (_count("count", 3), _window(3600)),
        ),
        RuleSpec("C-008", "MANUAL_ENTRY_SPIKE", "CARD", "medium", _T2, (_count(),), per_shift=True),
        RuleSpec("C-101", "NO_SALE_ABUSE", "CASH_DRAWER", "high", _T2, (_count(),), per_shift=True),
        RuleSpec("C-501", "HIGH_VOID_RATE", "VOID", "high", _T2, (_count(),), per_shift=True),
        RuleSpec(
            "C-601",
            "GIFT_CARD_LOAD_VELOCITY",
            "GIFT_CARD",
            "high",
            _T2,
            (_count("count", 3), _window(3600)),
        ),
        RuleSpec(
            "C-801", "RAPID_POINT_ACCUMULATION", "LOYALTY", "medium", _T2, (_count(), _window(3600))
        ),
        RuleSpec(
            "C-803",
            "CROSS_LOCATION_VELOCITY",
            "LOYALTY",
            "high",
            _T2,
            (_count("location_count", 3), _window(7200)),
        ),
        RuleSpec(
            "C-804",
            "ENROLLMENT_FRAUD",
            "LOYALTY",
            "medium",
            _T2,
            (_count("count", 10), _window(86_400)),
        ),
        RuleSpec(
            "C-D03",
            "DISPUTE_VELOCITY",
            "DISPUTE",
            "high",
            _T2,
            (_count("count", 3), Threshold("window_days", "int", 30, 1, 365)),
        ),
    )
}


def spec_for(rule_id: str) -> RuleSpec:
    """The catalog entry of ``rule_id``; ``ConfigError`` naming ``rules show`` otherwise."""
    try:
        return CATALOG[rule_id.upper()]
    except KeyError:
        raise ConfigError(
            f"no rule {rule_id!r} in the catalog (see 'canary-stream rules show')"
        ) from None


@dataclass(frozen=True)
class RuleSettings:
    """A rule as in force for one merchant: defaults with the merchant's settings on top."""

    spec: RuleSpec
    enabled: bool = True
    mode: RuleMode = "alerting"
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    allow_lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def allows(self, kind: str, value: str | None) -> bool:
        """Whether ``value`` is on this rule's ``kind`` allow-list."""
        return value is not None and value in self.allow_lists.get(kind, ())


def validate_thresholds(spec: RuleSpec, values: Mapping[str, Any]) -> dict[str, Any]:
    """Check every value's type and range, and the cross-field rules of C-502."""
    checked = {name: spec.threshold(name).check(value) for name, value in values.items()}
    if spec.rule_id == "C-502":
        merged = {**spec.defaults(), **checked}
        bounds = [merged[k] for k in ("immediate_max_seconds", "watch_max_seconds")]
        bounds.append(merged["suspicious_max_seconds"])
        if not bounds[0] < bounds[1] < bounds[2]:
            raise ConfigError(
                "C-502 needs immediate_max_seconds < watch_max_seconds < suspicious_max_seconds"
            )
    return checked


def validate_allow_lists(values: Mapping[str, Any]) -> dict[str, list[str]]:
    """Allow-lists by kind, each a sorted list of distinct ids."""
    out: dict[str, list[str]] = {}
    for kind, ids in values.items():
        if kind not in ALLOW_LIST_KINDS:
            raise ConfigError(
                f"unknown allow-list kind {kind!r}; choose one of {', '.join(ALLOW_LIST_KINDS)}"
            )
        if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
            raise ConfigError(f"allow-list {kind!r} must be a list of ids")
        if ids:
            out[kind] = sorted(set(ids))
    return out


def effective(rule_id: str, stored: Mapping[str, Any] | None) -> RuleSettings:
    """The rule in force given a merchant's stored settings (``None``: the defaults).

    A stored value that no longer validates (a catalog change narrowed a range) falls back
    to the default rather than stopping detection.
    """
    spec = CATALOG[rule_id]
    stored = stored or {}
    thresholds = spec.defaults()
    for name, value in (stored.get("thresholds") or {}).items():
        try:
            thresholds[name] = spec.threshold(name).check(value)
        except ConfigError:
            continue
    mode = stored.get("mode") or spec.default_mode
    allow = {k: tuple(v) for k, v in (stored.get("allow_lists") or {}).items() if v}
    return RuleSettings(
        spec=spec,
        enabled=bool(stored.get("enabled", True)),
        mode=mode if mode in ("alerting", "dry_run") else spec.default_mode,
        thresholds=thresholds,
        allow_lists=allow,
    )


def bump(severity: str, steps: int = 1) -> Severity:
    """``severity`` ``steps`` steps higher, capped at critical."""
    index = min(SEVERITIES.index(severity) + steps, len(SEVERITIES) - 1)
    return SEVERITIES[index]


def score(severity: str, boost: int = 0) -> int:
    """rules.md's score: the severity's base plus the rule's boosts, capped at 100."""
    return min(100, SEVERITY_SCORE[severity] + boost)
