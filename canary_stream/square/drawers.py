"""The cash-drawer poller: ListCashDrawerShifts / ListCashDrawerShiftEvents → POLLING envelopes.

Square sends no webhook for drawer activity, so NO_SALE, PAID_IN and PAID_OUT only reach the
ledger through this poller (square.md, "Pollers and reconciliation"). Each tick claims the
deployment's due merchants in ``app.poll_cursors`` (stream ``cash_drawers``; lease + SKIP
LOCKED, so any number of parse workers share the work and never poll one merchant at once)
and starts one task per claimed merchant: for each ACTIVE location it lists the shifts opened
since the location's cursor, then the events of every shift not yet finished, publishes each
API answer as a POLLING envelope and, once every envelope is acked, advances the cursor.

Envelopes (``source_event_id`` per contracts.md ``poll:{object_type}:{object_id}[:{state}]``,
the "state" being the SHA-256 of the exact response bytes, so a changed page is a new event
and an unchanged page is the same event — the seal stage marks a re-sent one DUPLICATE):

- ``square.cash_drawer_shift.polled``: a ListCashDrawerShifts page, exactly as Square sent
  it; ``poll:cash_drawer_shifts:{location_id}:{sha256 of the page}``.
- ``square.cash_drawer_shift_event.polled``: a ListCashDrawerShiftEvents page inside the
  wrapper ``{"shift_id":…,"location_id":…,"response":<page>}`` (Square's events do not name
  their shift). The wrapper is built around the page's bytes, not re-serialised: the exact
  response is a byte-for-byte slice of the envelope (:func:`unwrap_events` returns it);
  ``poll:cash_drawer_shift_events:{shift_id}:{sha256 of the page}``.

The cursor of a location (pure: :class:`LocationCursor`, :func:`advance`):

- ``begin_time`` — ListCashDrawerShifts' ``begin_time`` (inclusive, on ``opened_at``): the
  ``opened_at`` of the oldest shift that may still change (not CLOSED, or CLOSED but its
  events not yet published); when all are finished, the newest shift's ``opened_at``.
  None at first: the first poll lists every shift Square still serves.
- ``closed`` — CLOSED shifts at or after ``begin_time`` whose events are all published:
  their events are not listed again (a CLOSED shift never changes).
- ``sent`` — the ``source_event_id`` of every page the last poll read: a page read unchanged
  is not sent again, so an idle drawer costs API calls but no envelopes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from square.types.cash_drawer_shift_event import CashDrawerShiftEvent
from square.types.cash_drawer_shift_summary import CashDrawerShiftSummary

from canary_stream.db import poll_cursors
from canary_stream.models.envelope import Envelope
from canary_stream.settings import Settings
from canary_stream.square.client import Page, SquareClient, every_page
from canary_stream.square.polling import EventsProducer, MerchantWork, polling_envelope
from canary_stream.square.vault import NoTokens

log = logging.getLogger("canary.drawers")

STREAM = "cash_drawers"
SHIFTS_POLLED = "square.cash_drawer_shift.polled"
EVENTS_POLLED = "square.cash_drawer_shift_event.polled"
#: A claim holds a merchant this long; one merchant's poll is cut off before it ends.
LEASE_SECONDS = 300.0
POLL_TIMEOUT_SECONDS = 240.0
CLAIM_LIMIT = 50
#: ListLocations is asked again after this long (a merchant's locations rarely change).
LOCATIONS_TTL_SECONDS = 600.0
PAGE_LIMIT = 200
FINAL_STATE = "CLOSED"


# Pure parts ---------------------------------------------------------------------------
def digest(raw: bytes) -> str:
    """SHA-256 hex of a response's exact bytes."""
    return hashlib.sha256(raw).hexdigest()


def shifts_source_event_id(location_id: str, raw: bytes) -> str:
    """``poll:cash_drawer_shifts:{location_id}:{sha256}`` of one ListCashDrawerShifts page."""
    return f"poll:cash_drawer_shifts:{location_id}:{digest(raw)}"


def events_source_event_id(shift_id: str, raw: bytes) -> str:
    """``poll:cash_drawer_shift_events:{shift_id}:{sha256}`` of one events page."""
    return f"poll:cash_drawer_shift_events:{shift_id}:{digest(raw)}"


def _events_prefix(shift_id: str, location_id: str | None) -> bytes:
    head = {"shift_id": shift_id, "location_id": location_id}
    return json.dumps(head, separators=(",", ":")).encode()[:-1] + b',"response":'


def wrap_events(shift_id: str, location_id: str | None, raw: bytes) -> bytes:
    """The poller's wrapper around an events page, the page's bytes kept as they came."""
    json.loads(raw)  # the wrapper must stay JSON: refuse a body that is not
    return _events_prefix(shift_id, location_id) + raw + b"}"


def unwrap_events(body: bytes) -> bytes:
    """The exact ListCashDrawerShiftEvents bytes inside a :func:`wrap_events` body."""
    doc = json.loads(body)
    prefix = _events_prefix(doc["shift_id"], doc["location_id"])
    if not body.startswith(prefix) or not body.endswith(b"}"):
        raise ValueError("not a body made by wrap_events")
    return body[len(prefix) : -1]


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class ShiftSeen:
    """What the poller needs of a listed shift."""

    id: str
    state: str
    opened_at: str


@dataclass(frozen=True)
class LocationCursor:
    """Where one location's poll resumes (see the module docstring)."""

    begin_time: str | None = None
    closed: frozenset[str] = field(default_factory=frozenset)
    sent: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_json(cls, doc: Any) -> LocationCursor:
        if not isinstance(doc, dict):
            return cls()
        begin = doc.get("begin_time")
        return cls(
            begin if isinstance(begin, str) else None,
            frozenset(str(s) for s in doc.get("closed") or ()),
            frozenset(str(s) for s in doc.get("sent") or ()),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "begin_time": self.begin_time,
            "closed": sorted(self.closed),
            "sent": sorted(self.sent),
        }


def load_cursor(doc: dict[str, Any]) -> dict[str, LocationCursor]:
    """Location id → cursor, from a ``poll_cursors.cursor`` document (lenient)."""
    locations = doc.get("locations")
    if not isinstance(locations, dict):
        return {}
    return {str(k): LocationCursor.from_json(v) for k, v in locations.items()}


def dump_cursor(cursors: dict[str, LocationCursor]) -> dict[str, Any]:
    """The ``poll_cursors.cursor`` document of location cursors."""
    return {"locations": {k: c.to_json() for k, c in sorted(cursors.items())}}


def to_follow(cursor: LocationCursor, shifts: Iterable[ShiftSeen]) -> list[ShiftSeen]:
    """The listed shifts whose events must be listed (all but the finished CLOSED ones)."""
    return [s for s in shifts if s.id not in cursor.closed]


def advance(
    cursor: LocationCursor,
    shifts: Sequence[ShiftSeen],
    finished: Iterable[str],
    seen: Iterable[str],
) -> LocationCursor:
    """The cursor after a complete poll of a location.

    ``shifts``: every shift listed from ``cursor.begin_time``; ``finished``: CLOSED shifts
    whose events were all published by this poll; ``seen``: the ``source_event_id`` of every
    page this poll read (published now or before).
    """
    done = cursor.closed | set(finished)
    pending = [s for s in shifts if s.id not in done]
    if pending:
        begin: str | None = min(pending, key=lambda s: _when(s.opened_at)).opened_at
    elif shifts:
        begin = max(shifts, key=lambda s: _when(s.opened_at)).opened_at
    else:
        begin = cursor.begin_time
    closed = frozenset(
        s.id
        for s in shifts
        if s.id in done and (begin is None or _when(s.opened_at) >= _when(begin))
    )
    return LocationCursor(begin, closed, frozenset(seen))


# The poller (I/O) -----------------------------------------------------------------------
@dataclass
class _Pass:
    """What one location's poll collected: envelopes to send and pages read."""

    envelopes: list[Envelope] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)


class DrawerPoller(MerchantWork):
    """Claims due merchants and polls their drawers; one task per claimed merchant."""

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        client: SquareClient,
        producer: EventsProducer,
        merchants: Callable[[], Sequence[uuid.UUID]],
    ) -> None:
        super().__init__(settings, engine, client, producer, merchants)
        self._known: set[uuid.UUID] = set()
        self._locations: dict[uuid.UUID, tuple[float, list[str]]] = {}
        self._unconnected: set[uuid.UUID] = set()

    async def tick(self) -> int:
        """Claim due merchants that are not being polled here and start their tasks."""
        self.idle()
        mine = list(self.merchants())
        if not mine:
            return 0
        async with self.engine.begin() as conn:
            new = [m for m in mine if m not in self._known]
            await poll_cursors.ensure(conn, STREAM, new)
            claimed = await poll_cursors.claim(
                conn,
                STREAM,
                merchants=mine,
                busy=list(self.in_flight),
                interval_seconds=self.settings.drawer_poll_interval_seconds,
                lease_seconds=LEASE_SECONDS,
                limit=CLAIM_LIMIT,
            )
        self._known.update(new)  # only once their cursor rows are committed
        for item in claimed:
            self.in_flight[item.merchant_id] = asyncio.create_task(self._merchant(item))
        return len(claimed)

    async def _merchant(self, claim: poll_cursors.Claim) -> None:
        cursors = load_cursor(claim.cursor)
        try:
            await asyncio.wait_for(self._poll(claim, cursors), POLL_TIMEOUT_SECONDS)
            self._unconnected.discard(claim.merchant_id)
        except NoTokens:  # not connected (yet, or revoked): said once, tried every interval
            if claim.merchant_id not in self._unconnected:
                self._unconnected.add(claim.merchant_id)
                log.info(
                    "cash drawers not polled: the merchant has no Square tokens (connect it)",
                    extra={"merchant_id": str(claim.merchant_id)},
                )
        except Exception as exc:  # one merchant's failure never stops the others
            log.warning(
                "cash-drawer poll failed, next try in %.0f s: %s",
                self.settings.drawer_poll_interval_seconds,
                f"{type(exc).__name__}: {exc}".splitlines()[0][:300],
                extra={"merchant_id": str(claim.merchant_id)},
            )
        finally:  # what completed is kept; the lease ends either way
            try:
                async with self.engine.begin() as conn:
                    kept = await poll_cursors.save(conn, STREAM, claim, dump_cursor(cursors))
                if not kept:
                    log.warning(
                        "cash-drawer cursor not saved: the lease was lost",
                        extra={"merchant_id": str(claim.merchant_id)},
                    )
            except Exception as exc:
                log.warning("cash-drawer cursor not saved: %s", type(exc).__name__)

    async def _poll(self, claim: poll_cursors.Claim, cursors: dict[str, LocationCursor]) -> None:
        """Poll each ACTIVE location; ``cursors`` is advanced in place, location by location."""
        for location_id in await self._active_locations(claim.merchant_id):
            cursor = cursors.get(location_id, LocationCursor())
            cursors[location_id] = await self._location(claim, location_id, cursor)

    async def _active_locations(self, merchant_id: uuid.UUID) -> list[str]:
        """The merchant's ACTIVE locations (ListLocations, remembered for a while)."""
        cached = self._locations.get(merchant_id)
        if cached is not None and time.monotonic() - cached[0] < LOCATIONS_TTL_SECONDS:
            return cached[1]
        page = await self.client.list_locations(str(merchant_id))
        ids = [loc.id for loc in page.items if loc.id and (loc.status or "ACTIVE") == "ACTIVE"]
        self._locations[merchant_id] = (time.monotonic(), ids)
        return ids

    async def _location(
        self, claim: poll_cursors.Claim, location_id: str, cursor: LocationCursor
    ) -> LocationCursor:
        mid = str(claim.merchant_id)
        out = _Pass()
        shifts: list[ShiftSeen] = []
        async for page in every_page(self._shifts_page(mid, location_id, cursor.begin_time)):
            source_event_id = shifts_source_event_id(location_id, page.raw)
            self._collect(claim, cursor, out, SHIFTS_POLLED, source_event_id, page.raw)
            shifts += [
                ShiftSeen(s.id, str(s.state or ""), s.opened_at)
                for s in page.items
                if s.id and s.opened_at
            ]
        finished = []
        for shift in to_follow(cursor, shifts):
            async for events in every_page(self._events_page(mid, location_id, shift.id)):
                source_event_id = events_source_event_id(shift.id, events.raw)
                body = wrap_events(shift.id, location_id, events.raw)
                self._collect(claim, cursor, out, EVENTS_POLLED, source_event_id, body)
            if shift.state == FINAL_STATE:
                finished.append(shift.id)
        # Events pages first: a shift page saying ENDED / CLOSED makes detect drop the shift's
        # Tier 2 state, so the shift's last NO_SALEs must already be counted by then.
        ordered = sorted(out.envelopes, key=lambda e: e.event_type == SHIFTS_POLLED)
        await self.producer.envelopes(ordered)  # every ack before the cursor moves
        return advance(cursor, shifts, finished, out.seen)

    def _shifts_page(
        self, mid: str, location_id: str, begin_time: str | None
    ) -> Callable[[str | None], Awaitable[Page[CashDrawerShiftSummary]]]:
        def fetch(cursor: str | None) -> Awaitable[Page[CashDrawerShiftSummary]]:
            return self.client.list_cash_drawer_shifts(
                mid, location_id, begin_time=begin_time, cursor=cursor, limit=PAGE_LIMIT
            )

        return fetch

    def _events_page(
        self, mid: str, location_id: str, shift_id: str
    ) -> Callable[[str | None], Awaitable[Page[CashDrawerShiftEvent]]]:
        def fetch(cursor: str | None) -> Awaitable[Page[CashDrawerShiftEvent]]:
            return self.client.list_cash_drawer_shift_events(
                mid, location_id, shift_id, cursor=cursor, limit=PAGE_LIMIT
            )

        return fetch

    @staticmethod
    def _collect(
        claim: poll_cursors.Claim,
        cursor: LocationCursor,
        out: _Pass,
        event_type: str,
        source_event_id: str,
        body: bytes,
    ) -> None:
        out.seen.add(source_event_id)
        if source_event_id in cursor.sent:
            return  # the same page was sent (and acked) by the last poll
        out.envelopes.append(
            polling_envelope(
                claim.merchant_id, claim.provider_merchant_id, event_type, source_event_id, body
            )
        )
