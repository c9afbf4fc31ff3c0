"""Pure reading of an authentic webhook body: which merchant, which event, can it be parsed.

Nothing here decides HTTP answers; the view maps a :class:`BodyInfo` to one. Bodies above
the soft cap, and bodies whose JSON is hostile (nesting too deep for the parser, numbers
too long), are not parsed: their top-level identifiers are read from the head of the body.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from canary_stream.models.dead_letter import ReceivedBody
from canary_stream.models.envelope import Envelope

#: How much of an unparsed body is scanned for its top-level identifiers.
SCAN_BYTES = 8192
_FIELD = r'"{name}"\s*:\s*"((?:[^"\\]|\\.){{1,256}})"'
_MERCHANT = re.compile(_FIELD.format(name="merchant_id").encode())
_EVENT_ID = re.compile(_FIELD.format(name="event_id").encode())
_TYPE = re.compile(_FIELD.format(name="type").encode())


@dataclass(frozen=True)
class BodyInfo:
    """What the ingress needs from a body: identifiers and how it may be sealed."""

    provider_merchant_id: str | None
    source_event_id: str | None
    event_type: str | None
    oversize: bool
    #: Why the body is not usable (no merchant or not JSON); None when it is.
    unusable: str | None

    @property
    def parse_failed(self) -> bool:
        """Authentic JSON naming a merchant but lacking ``event_id`` or ``type``."""
        return self.unusable is None and (self.source_event_id is None or self.event_type is None)


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _scan(body: bytes, oversize: bool) -> BodyInfo:
    head = body[:SCAN_BYTES]
    found = {
        name: m.group(1).decode("utf-8", "replace") if (m := rx.search(head)) else None
        for name, rx in (("merchant", _MERCHANT), ("event_id", _EVENT_ID), ("type", _TYPE))
    }
    if found["merchant"] is None:
        return BodyInfo(None, None, None, oversize, "no merchant_id in the head of the body")
    return BodyInfo(found["merchant"], found["event_id"], found["type"], oversize, None)


def read_body(body: bytes, soft_cap: int) -> BodyInfo:
    """Classify an authentic body (already hashed and verified)."""
    if len(body) > soft_cap:
        return _scan(body, oversize=True)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return BodyInfo(None, None, None, False, "body is not UTF-8")
    try:
        doc = json.loads(text)
    except (RecursionError, ValueError) as exc:
        if isinstance(exc, json.JSONDecodeError):
            return BodyInfo(None, None, None, False, f"not JSON: {exc.msg} at char {exc.pos}")
        return _scan(body, oversize=False)  # valid JSON our parser refuses: hostile
    if not isinstance(doc, dict):
        return BodyInfo(None, None, None, False, "JSON body is not an object")
    merchant = _string(doc.get("merchant_id"))
    if merchant is None:
        return BodyInfo(None, None, None, False, "no merchant_id")
    return BodyInfo(merchant, _string(doc.get("event_id")), _string(doc.get("type")), False, None)


def webhook_envelope(info: BodyInfo, body: ReceivedBody, merchant_id: UUID) -> Envelope:
    """The ``WEBHOOK`` envelope of an authentic, usable body (``info.unusable`` is None)."""
    return Envelope(
        event_id=body.event_id,
        merchant_id=merchant_id,
        provider_merchant_id=info.provider_merchant_id or "",
        source_event_id=(
            f"hash:{body.event_hash}" if info.parse_failed else info.source_event_id or ""
        ),
        event_type=info.event_type or "unknown",
        event_hash=body.event_hash,
        raw_payload=body.raw_payload,
        received_at=body.received_at,
        parse_failed=info.parse_failed,
        oversize=info.oversize,
        source_type="WEBHOOK",
        signature_key_id=body.signature_key_id,
    )
