"""Cash drawers: each location's shifts and shift events, as the Cash Drawers API lists them.

Square sends no webhooks for drawers; the poller lists shifts and their events. A
:class:`Drawer` keeps one location's shifts (the newest OPEN, older ones ENDED then
CLOSED) and the ``CashDrawerShiftEvent`` objects of each. Cash payments and cash refunds
record CASH_TENDER_PAYMENT / CASH_TENDER_REFUND events; the scheduler adds NO_SALE,
PAID_IN and PAID_OUT. A drawer draws only from its own ``random.Random``, so reading it
never changes the webhook stream.
"""

from __future__ import annotations

import copy
import random
from datetime import datetime, timedelta

from canary_stream.simulate.world import Json, Location, Merchant, money, pick, rfc3339, uuid4_like

#: How long a shift stays open, and how long after it ends a manager closes it.
SHIFT = timedelta(hours=8)
CLOSE_AFTER = timedelta(minutes=20)
OPENING_CASH = 20_000
#: Chance per scheduler tick (of the merchant) that someone opens a drawer without a sale.
DRAWER_ACTIVITY = 0.004
ACTIVITY: list[tuple[str, int]] = [("NO_SALE", 60), ("PAID_OUT", 25), ("PAID_IN", 15)]
PAID_OUT_NOTES = ["Supplies", "Window cleaner", "Delivery tip", "Postage", "Milk run"]
PAID_IN_NOTES = ["Change float", "Returned float", "Petty cash"]

SHIFT_FIELDS = (
    "id", "state", "opened_at", "ended_at", "closed_at", "description", "opened_cash_money",
    "cash_payment_money", "cash_refunds_money", "cash_paid_in_money", "cash_paid_out_money",
    "expected_cash_money", "closed_cash_money", "device", "created_at", "updated_at",
    "location_id", "team_member_ids", "opening_team_member_id", "ending_team_member_id",
    "closing_team_member_id",
)  # fmt: skip
SUMMARY_FIELDS = (
    "id", "state", "opened_at", "ended_at", "closed_at", "description", "opened_cash_money",
    "expected_cash_money", "closed_cash_money", "created_at", "updated_at", "location_id",
)  # fmt: skip
#: How each event type moves the shift's sums: (field, sign).
MOVES: dict[str, tuple[str, int]] = {
    "CASH_TENDER_PAYMENT": ("cash_payment_money", 1),
    "CASH_TENDER_REFUND": ("cash_refunds_money", -1),
    "PAID_IN": ("cash_paid_in_money", 1),
    "PAID_OUT": ("cash_paid_out_money", -1),
}


def _ordered(shift: Json) -> Json:
    return {k: shift[k] for k in SHIFT_FIELDS if k in shift}


class Drawer:
    """One location's cash drawer."""

    def __init__(self, rng: random.Random, m: Merchant, location: Location, opened_at: datetime):
        self.rng, self.m, self.location = rng, m, location
        first = location.devices[0]
        self.device = {"id": first["device_id"], "name": first["device_name"]}
        self.shifts: list[Json] = []
        self.events: dict[str, list[Json]] = {}
        self._open(opened_at)

    @property
    def current(self) -> Json:
        """The OPEN shift."""
        return self.shifts[-1]

    def _money(self, amount: int) -> Json:
        return money(amount, self.m.currency)

    def _open(self, at: datetime) -> None:
        member = self.rng.choice(self.m.team)
        when = rfc3339(at)
        shift: Json = {
            "id": uuid4_like(self.rng).upper(),
            "state": "OPEN",
            "opened_at": when,
            "opened_cash_money": self._money(OPENING_CASH),
            "expected_cash_money": self._money(OPENING_CASH),
            "device": dict(self.device),
            "created_at": when,
            "updated_at": when,
            "location_id": self.location.id,
            "team_member_ids": [member],
            "opening_team_member_id": member,
        }
        for name, _ in MOVES.values():
            shift[name] = self._money(0)
        self.shifts.append(_ordered(shift))
        self.events[shift["id"]] = []

    def rotate(self, now: datetime) -> None:
        """End shifts older than :data:`SHIFT`, close ended ones, open the next."""
        for i in range(max(0, len(self.shifts) - 2), len(self.shifts)):  # only these can be
            shift = self.shifts[i]  # ENDED: a shift lasts far longer than CLOSE_AFTER
            if shift["state"] == "ENDED":
                end = datetime.fromisoformat(shift["ended_at"])
                if now >= end + CLOSE_AFTER:
                    self._close(i, end + CLOSE_AFTER)
        while now >= (end := datetime.fromisoformat(self.current["opened_at"]) + SHIFT):
            shift = self.current
            shift["state"] = "ENDED"
            shift["ended_at"] = shift["updated_at"] = rfc3339(end)
            shift["ending_team_member_id"] = self.rng.choice(shift["team_member_ids"])
            self.shifts[-1] = _ordered(shift)
            self._open(end)
            if now >= end + CLOSE_AFTER:
                self._close(len(self.shifts) - 2, end + CLOSE_AFTER)

    def _close(self, i: int, at: datetime) -> None:
        shift = self.shifts[i]
        expected = int(shift["expected_cash_money"]["amount"])
        off = 0 if self.rng.random() < 0.8 else self.rng.choice((-1, 1)) * self.rng.randint(5, 40)
        shift["state"] = "CLOSED"
        shift["closed_at"] = shift["updated_at"] = rfc3339(at)
        shift["closed_cash_money"] = self._money(expected + off * 100)
        shift["closing_team_member_id"] = self.rng.choice(self.m.team)
        self.shifts[i] = _ordered(shift)

    def record(
        self, event_type: str, amount: int, at: datetime, member: str, note: str | None = None
    ) -> Json:
        """A CashDrawerShiftEvent on the open shift; its sums move accordingly.

        An event a story dated a moment before the shift change goes to the new shift at
        its opening time.
        """
        shift = self.current
        at = max(at, datetime.fromisoformat(shift["opened_at"]))
        event: Json = {
            "id": uuid4_like(self.rng),
            "event_type": event_type,
            "event_money": self._money(amount),
            "created_at": rfc3339(at),
        }
        if note:
            event["description"] = note
        event["team_member_id"] = member
        if event_type in MOVES:
            name, sign = MOVES[event_type]
            shift[name] = self._money(int(shift[name]["amount"]) + amount)
            expected = int(shift["expected_cash_money"]["amount"]) + sign * amount
            shift["expected_cash_money"] = self._money(expected)
        if member not in shift["team_member_ids"]:
            shift["team_member_ids"].append(member)
        shift["updated_at"] = event["created_at"]
        self.events[shift["id"]].append(event)
        return event

    def activity(self, at: datetime) -> Json | None:
        """Maybe a NO_SALE, PAID_IN or PAID_OUT now (the chance is per call)."""
        if self.rng.random() >= DRAWER_ACTIVITY:
            return None
        kind = pick(self.rng, ACTIVITY)
        member = self.rng.choice(self.m.team)
        if kind == "NO_SALE":
            return self.record(kind, 0, at, member)
        if kind == "PAID_OUT":
            amount, note = self.rng.randint(5, 60) * 100, self.rng.choice(PAID_OUT_NOTES)
        else:
            amount, note = self.rng.randint(10, 100) * 100, self.rng.choice(PAID_IN_NOTES)
        return self.record(kind, amount, at, member, note)

    # What the Cash Drawers API returns (copies: callers may keep or change them) ----------
    def summaries(self) -> list[Json]:
        """``CashDrawerShiftSummary`` objects, oldest first."""
        return [{k: copy.deepcopy(s[k]) for k in SUMMARY_FIELDS if k in s} for s in self.shifts]

    def shift(self, shift_id: str) -> Json | None:
        """The full ``CashDrawerShift`` (None when unknown)."""
        found = next((s for s in self.shifts if s["id"] == shift_id), None)
        return copy.deepcopy(found) if found is not None else None

    def shift_events(self, shift_id: str) -> list[Json]:
        """The shift's ``CashDrawerShiftEvent`` objects in time order."""
        return copy.deepcopy(self.events.get(shift_id, []))
