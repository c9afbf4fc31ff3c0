"""Prometheus metrics of every process (names per operations.md); no merchant data in labels."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Histogram

from canary_stream.observability.logging import log_event

if TYPE_CHECKING:
    from canary_stream.models.envelope import SealedEnvelope

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

webhooks = Counter("canary_webhooks_total", "Webhook requests by outcome", ["outcome"])
events_sealed = Counter("canary_events_sealed_total", "Envelopes sealed into a chain")
duplicates = Counter("canary_duplicates_total", "Duplicate deliveries dropped by seal")
dead_letters = Counter(
    "canary_dead_letters_total", "Dead-letter records by stage and reason", ["stage", "reason"]
)
received_to_sealed = Histogram(
    "canary_latency_received_to_sealed_seconds",
    "Seconds from ingress receipt to sealed commit",
    buckets=LATENCY_BUCKETS,
)


def record_sealed(sealed: Sequence[SealedEnvelope], duplicate_count: int, now: datetime) -> None:
    """Count one seal batch's outcomes."""
    events_sealed.inc(len(sealed))
    duplicates.inc(duplicate_count)
    for record in sealed:
        received_to_sealed.observe(max(0.0, (now - record.received_at).total_seconds()))
    log_event("seal", "SEALED", ((r.event_id, r.merchant_id) for r in sealed))


parse_outcomes = Counter("canary_parse_outcomes_total", "Parse outcomes by status", ["status"])
canonical_published = Counter("canary_canonical_published_total", "Canonical events published")


def record_parsed(entries: Sequence[Any], published: int) -> None:
    """Count one parse batch's outcomes (``ingestion_log`` entries) and publications."""
    for entry in entries:
        parse_outcomes.labels(entry.status).inc()
        log_event("parse", entry.status, [(entry.event_id, entry.merchant_id)])
    canonical_published.inc(published)


received_to_canonical = Histogram(
    "canary_latency_received_to_canonical_seconds",
    "Seconds from ingress receipt to the canonical event's publication",
    buckets=LATENCY_BUCKETS,
)
received_to_alert = Histogram(
    "canary_latency_received_to_alert_seconds",
    "Seconds from ingress receipt to an alert's publication",
    buckets=LATENCY_BUCKETS,
)
alerts = Counter("canary_alerts_total", "Alerts raised by rule and severity", ["rule", "severity"])
batches_closed = Counter("canary_batches_closed_total", "Merkle batches closed (checkpoints)")
anchor_failures = Counter(
    "canary_anchor_failures_total", "Anchoring attempts that failed (batch left PENDING)"
)


def record_canonical(events: Sequence[Any], now: datetime | None = None) -> None:
    """Observe received → canonical latency of published canonical events."""
    at = now or datetime.now(UTC)
    for event in events:
        received = getattr(event, "received_at", None)
        if received is not None:
            received_to_canonical.observe(max(0.0, (at - received).total_seconds()))


config_records = Counter(
    "canary_merchant_config_records_total", "Merchant-config records applied by this process"
)
cases_linked = Counter("canary_case_links_total", "Escalating alerts linked to a case")


def record_alerts(stored: Sequence[Any], received: dict[Any, datetime], now: datetime) -> None:
    """Count published alerts by rule and severity; time each from its record's receipt."""
    for alert in stored:
        alerts.labels(alert.rule_id, alert.severity).inc()
        at = received.get(alert.alert_id)
        if at is not None:
            received_to_alert.observe(max(0.0, (now - at).total_seconds()))
