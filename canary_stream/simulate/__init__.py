"""The webhook simulator: deterministic Square traffic and the paced, signed sender."""

from canary_stream.simulate.payloads import DEFAULT_START, Traffic, Webhook, merchant_ids

__all__ = ["DEFAULT_START", "Traffic", "Webhook", "merchant_ids"]
