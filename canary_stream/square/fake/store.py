"""The fake Square's in-memory state: one store per API family, plus injected faults.

Webhook subscriptions belong to the application (:class:`WebhookStore`); each seeded seller's
objects live in its :class:`~canary_stream.square.fake.merchants.MerchantData`, found from
the caller's token through ``tokens``. Handlers never share module-level state, so every
``make_fake_square(state)`` app is independent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from canary_stream.square.fake.merchants import MerchantData

Json = dict[str, Any]

#: The Square API version the SDK we ship pins (``Square-Version``); subscriptions default to it.
DEFAULT_API_VERSION = "2026-09-16"


def square_timestamp(when: datetime) -> str:
    """A timestamp as Square's subscription examples show it: ``2022-01-10 23:29:48 +0000 UTC``."""
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


@dataclass
class Fault:
    """An injected failure: the next ``times`` matching requests answer ``status``.

    ``merchant_id`` limits it to calls made with that merchant's token (None: any caller).
    """

    status: int
    times: int = 1
    path_prefix: str = "/v2/"
    retry_after: float | None = None
    delay: float = 0.0
    merchant_id: str | None = None

    def matches(self, path: str, merchant_id: str | None = None) -> bool:
        return (
            self.times > 0
            and path.startswith(self.path_prefix)
            and (self.merchant_id is None or self.merchant_id == merchant_id)
        )


@dataclass
class FaultPlan:
    """Faults waiting to be served, first injected first served."""

    pending: list[Fault] = field(default_factory=list)

    def inject(self, fault: Fault) -> None:
        """Queue ``fault`` (``times`` requests under ``path_prefix`` will fail)."""
        self.pending.append(fault)

    def take(self, path: str, merchant_id: str | None = None) -> Fault | None:
        """The fault a request to ``path`` (by ``merchant_id``'s token) must suffer, if any.

        Uses up one of the fault's times.
        """
        for fault in self.pending:
            if fault.matches(path, merchant_id):
                fault.times -= 1
                if fault.times <= 0:
                    self.pending.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self.pending.clear()


@dataclass
class Subscription:
    """A webhook subscription (Square's ``WebhookSubscription``)."""

    id: str
    name: str | None
    enabled: bool
    event_types: list[str]
    notification_url: str
    api_version: str
    signature_key: str
    created_at: datetime
    updated_at: datetime
    seq: int

    def to_json(self, *, with_key: bool) -> Json:
        """Square's JSON; ``signature_key`` only in Create and Retrieve (not List, Update)."""
        doc: Json = {
            "id": self.id,
            "enabled": self.enabled,
            "event_types": list(self.event_types),
            "notification_url": self.notification_url,
            "api_version": self.api_version,
            "created_at": square_timestamp(self.created_at),
            "updated_at": square_timestamp(self.updated_at),
        }
        if self.name is not None:
            doc["name"] = self.name
        if with_key:
            doc["signature_key"] = self.signature_key
        return dict(sorted(doc.items()))


def new_signature_key() -> str:
    """A key shaped like Square's (22 URL-safe base64 characters, 128 bits)."""
    return secrets.token_urlsafe(16)


@dataclass
class Idempotency:
    """Answers remembered per ``(endpoint, idempotency_key)`` with a fingerprint of the request."""

    seen: dict[tuple[str, str], tuple[str, Json]] = field(default_factory=dict)

    @staticmethod
    def fingerprint(body: Any) -> str:
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()

    def lookup(self, endpoint: str, key: str, body: Any) -> Json | None:
        """The earlier answer to this request; ``KeyError`` if the key came with another body."""
        found = self.seen.get((endpoint, key))
        if found is None:
            return None
        if found[0] != self.fingerprint(body):
            raise KeyError(key)
        return found[1]

    def remember(self, endpoint: str, key: str, body: Any, answer: Json) -> None:
        self.seen[(endpoint, key)] = (self.fingerprint(body), answer)


@dataclass
class WebhookStore:
    """The application's webhook subscriptions, in creation order."""

    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    idempotency: Idempotency = field(default_factory=Idempotency)
    _seq: int = 0

    def create(
        self,
        *,
        notification_url: str,
        event_types: list[str],
        name: str | None,
        enabled: bool,
        api_version: str,
        now: datetime,
    ) -> Subscription:
        self._seq += 1
        sub = Subscription(
            id=f"wbhk_{uuid.uuid4().hex}",
            name=name,
            enabled=enabled,
            event_types=list(event_types),
            notification_url=notification_url,
            api_version=api_version,
            signature_key=new_signature_key(),
            created_at=now,
            updated_at=now,
            seq=self._seq,
        )
        self.subscriptions[sub.id] = sub
        return sub

    def page(
        self, *, include_disabled: bool, descending: bool, after_seq: int | None, limit: int
    ) -> tuple[list[Subscription], int | None]:
        """One page of subscriptions and the ``seq`` to continue after (None on the last page)."""
        subs = sorted(self.subscriptions.values(), key=lambda s: s.seq, reverse=descending)
        if not include_disabled:
            subs = [s for s in subs if s.enabled]
        if after_seq is not None:
            subs = [s for s in subs if (s.seq < after_seq if descending else s.seq > after_seq)]
        page = subs[:limit]
        return page, (page[-1].seq if len(subs) > limit else None)

    def rotate(self, sub: Subscription, now: datetime) -> str:
        """Replace the subscription's signature key; Square signs with the new one at once."""
        sub.signature_key = new_signature_key()
        sub.updated_at = now
        return sub.signature_key

    def update(self, sub: Subscription, changes: Json, now: datetime) -> None:
        """Apply writable fields (``name``, ``enabled``, ``event_types``, URL, API version)."""
        writable = {f.name for f in fields(Subscription)} - {
            "id",
            "signature_key",
            "created_at",
            "updated_at",
            "seq",
        }
        for key, value in changes.items():
            if key in writable:
                setattr(sub, key, list(value) if key == "event_types" else value)
        sub.updated_at = now


def encode_cursor(kind: str, seq: int, params: Json) -> str:
    """An opaque cursor bound to the listing it came from."""
    raw = json.dumps({"k": kind, "s": seq, "p": params}, sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str, params: Json) -> int | None:
    """The ``seq`` a cursor continues after, or None if it is not one of ours for this query."""
    try:
        doc = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("k") != kind or doc.get("p") != params:
        return None
    seq = doc.get("s")
    return seq if isinstance(seq, int) else None


def merchant_token(merchant_id: str) -> str:
    """The fixed access token the fake issues for a seeded merchant (shaped like Square's)."""
    digest = hashlib.sha256(f"fake-square-token:{merchant_id}".encode()).digest()
    return "EAAAl" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class FakeSquareState:
    """Everything one fake Square serves; tests may read and change it directly."""

    access_token: str
    webhooks: WebhookStore = field(default_factory=WebhookStore)
    faults: FaultPlan = field(default_factory=FaultPlan)
    clock: Callable[[], datetime] = field(default=_utcnow)
    #: Seeded sellers by Square merchant id (see :mod:`canary_stream.square.fake.merchants`).
    merchants: dict[str, MerchantData] = field(default_factory=dict)
    #: Merchant OAuth access token → merchant id; a call's token says whose data it sees.
    tokens: dict[str, str] = field(default_factory=dict)
    #: Where created objects' webhooks are POSTed (None: each subscription's notification URL).
    ingress_url: str | None = None

    def __post_init__(self) -> None:
        if not self.access_token:
            raise ValueError("the fake Square needs a non-empty application access token")

    def now(self) -> datetime:
        return self.clock()

    def add_merchant(self, merchant: MerchantData, token: str | None = None) -> str:
        """Serve ``merchant``; its access token (``token``, else :func:`merchant_token`)."""
        token = token or merchant_token(merchant.merchant_id)
        self.merchants[merchant.merchant_id] = merchant
        self.tokens[token] = merchant.merchant_id
        return token

    def token_of(self, merchant_id: str) -> str:
        """The first access token issued for ``merchant_id`` (KeyError when none)."""
        return next(t for t, m in self.tokens.items() if m == merchant_id)

    def iter_subscriptions(self) -> Iterator[Subscription]:
        """Every webhook subscription, oldest first."""
        return iter(sorted(self.webhooks.subscriptions.values(), key=lambda s: s.seq))
