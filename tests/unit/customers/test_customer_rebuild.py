"""``customers rebuild``'s comparison of live rows against recomputed aggregates."""

from __future__ import annotations

from datetime import UTC, datetime

from canary_stream.customers.rebuild import Difference, compare

T1 = datetime(2026, 1, 1, tzinfo=UTC)
T2 = datetime(2026, 1, 2, tzinfo=UTC)


def test_equal_rows_have_no_difference() -> None:
    rows = {"A": (100, 1, T1, T2)}
    assert compare(rows, dict(rows)) == []


def test_every_differing_field_missing_row_and_inactive_customer() -> None:
    live = {"A": (100, 2, T1, T2), "C": (0, 0, None, None), "D": (5, 0, None, None)}
    expected = {"A": (90, 2, T1, T1), "B": (10, 1, T1, T1), "C": (0, 0, None, None)}
    assert compare(live, expected) == [
        Difference("A", "lifetime_value_cents", 100, 90),
        Difference("A", "last_seen_at", T2, T1),
        Difference("B", "row", None, "missing"),
        Difference("D", "lifetime_value_cents", 5, 0),
    ]
