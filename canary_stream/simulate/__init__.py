"""The webhook simulator: deterministic Square traffic, the paced signed sender, and the
ledger that traffic should produce (``expected``)."""

from canary_stream.simulate.payloads import DEFAULT_START, Traffic, Webhook, merchant_ids

__all__ = ["DEFAULT_START", "Traffic", "Webhook", "merchant_ids"]
