"""The cash-drawer poller's pure parts: source event ids, the events wrapper, the cursor."""

from __future__ import annotations

import hashlib
import json

import pytest

from canary_stream.square.drawers import (
    LocationCursor,
    ShiftSeen,
    advance,
    dump_cursor,
    events_source_event_id,
    load_cursor,
    shifts_source_event_id,
    to_follow,
    unwrap_events,
    wrap_events,
)

PAGE = b'{ "cash_drawer_shift_events": [{"id": "e1", "event_type": "NO_SALE"}],\n "x": 1.50 }'


def test_source_event_ids_name_the_object_and_the_page_digest():
    sha = hashlib.sha256(PAGE).hexdigest()
    assert shifts_source_event_id("L1", PAGE) == f"poll:cash_drawer_shifts:L1:{sha}"
    assert events_source_event_id("S1", PAGE) == f"poll:cash_drawer_shift_events:S1:{sha}"
    assert events_source_event_id("S1", PAGE + b" ") != events_source_event_id("S1", PAGE)


def test_the_events_wrapper_keeps_the_exact_page_bytes():
    body = wrap_events("S1", "L1", PAGE)
    assert body == b'{"shift_id":"S1","location_id":"L1","response":' + PAGE + b"}"
    assert PAGE in body and unwrap_events(body) == PAGE
    doc = json.loads(body)
    assert doc["shift_id"] == "S1" and doc["response"]["x"] == 1.5
    assert unwrap_events(wrap_events('S"2', None, PAGE)) == PAGE
    with pytest.raises(ValueError):
        wrap_events("S1", "L1", b"not json")


def _shift(sid: str, state: str, minute: int) -> ShiftSeen:
    return ShiftSeen(sid, state, f"2025-01-06T15:{minute:02d}:00Z")


def test_a_first_poll_starts_at_the_oldest_shift_that_can_still_change():
    shifts = [_shift("a", "CLOSED", 1), _shift("b", "OPEN", 2), _shift("c", "CLOSED", 3)]
    start = LocationCursor()
    assert to_follow(start, shifts) == shifts
    after = advance(start, shifts, finished=["a", "c"], seen=["p1", "p2"])
    assert after == LocationCursor(
        "2025-01-06T15:02:00Z", frozenset({"c"}), frozenset({"p1", "p2"})
    )
    # next time: "a" is before begin_time (not listed), "c" is finished, only "b" is followed
    assert to_follow(after, shifts[1:]) == [shifts[1]]


def test_when_every_shift_is_finished_the_cursor_rests_on_the_newest():
    shifts = [_shift("a", "CLOSED", 1), _shift("b", "CLOSED", 2)]
    after = advance(LocationCursor(), shifts, finished=["a", "b"], seen=[])
    assert after.begin_time == "2025-01-06T15:02:00Z" and after.closed == {"b"}
    assert advance(after, [], finished=[], seen=[]).begin_time == after.begin_time


def test_an_ended_shift_is_followed_until_closed():
    ended = [_shift("a", "ENDED", 1)]
    after = advance(LocationCursor(), ended, finished=[], seen=[])
    assert after.begin_time == "2025-01-06T15:01:00Z" and after.closed == frozenset()
    closed = [_shift("a", "CLOSED", 1)]
    assert to_follow(after, closed) == closed
    assert advance(after, closed, finished=["a"], seen=[]).closed == {"a"}


def test_the_cursor_document_round_trips_and_tolerates_garbage():
    cursors = {"L1": LocationCursor("2025-01-06T15:01:00Z", frozenset({"a"}), frozenset({"p"}))}
    doc = dump_cursor(cursors)
    assert doc == {
        "locations": {"L1": {"begin_time": "2025-01-06T15:01:00Z", "closed": ["a"], "sent": ["p"]}}
    }
    assert load_cursor(json.loads(json.dumps(doc))) == cursors
    assert load_cursor({}) == {} and load_cursor({"locations": {"L": 3}}) == {"L": LocationCursor()}
