"""Exact sliding windows and shift counts (``observe``) at exact timestamps."""

from __future__ import annotations

import json

import pytest

from canary_stream.rules.windows import (
    Crossing,
    Episode,
    KeyState,
    WindowSpec,
    count,
    distinct_tags,
    observe,
    refund_percent,
)

HOUR = WindowSpec(window=3600.0, threshold=5.0)
SHIFT = WindowSpec(window=None, threshold=5.0)


def run(spec: WindowSpec, items: list[tuple[str, float, str]], state: KeyState | None = None):
    """Observe ``(cid, ts, tag)`` in order; the final state and (cid, crossing) pairs."""
    out: list[tuple[str, Crossing]] = []
    for cid, ts, tag in items:
        state, crossings = observe(state, cid, ts, tag, spec)
        out.extend((cid, c) for c in crossings)
    assert state is not None
    return state, out


def five(last: float) -> list[tuple[str, float, str]]:
    return [("a", 0.0, ""), ("b", 10.0, ""), ("c", 20.0, ""), ("d", 30.0, ""), ("e", last, "")]


@pytest.mark.parametrize(
    ("last", "fires"),
    [(3599.0, True), (3600.0, True), (3600.000001, False), (3601.0, False)],
    ids=["59m59s", "60m00s", "60m00.000001s", "60m01s"],
)
def test_five_within_the_hour(last: float, fires: bool) -> None:
    _, out = run(HOUR, five(last))
    if not fires:
        assert out == []
        return
    members = ((0.0, "a", ""), (10.0, "b", ""), (20.0, "c", ""), (30.0, "d", ""), (last, "e", ""))
    assert out == [("e", Crossing(1, (0.0, "a", ""), members, 5.0, False))]


def test_four_never_fire() -> None:
    _, out = run(HOUR, five(40.0)[:4])
    assert out == []


def test_a_replayed_record_returns_the_same_state_object() -> None:
    state, _ = run(HOUR, five(40.0)[:3])
    again, crossings = observe(state, "b", 10.0, "", HOUR)
    assert again is state
    assert crossings == []
    # same id at another time (a corrupt replay) still counts once
    again, crossings = observe(state, "b", 999.0, "", HOUR)
    assert again is state


def test_state_is_reassigned_never_mutated() -> None:
    state, _ = run(HOUR, five(40.0)[:2])
    snapshot = json.dumps(state.to_dict())
    new, _ = observe(state, "z", 50.0, "", HOUR)
    assert new is not state
    assert json.dumps(state.to_dict()) == snapshot
    assert set(new.entries) == {"a", "b", "z"}


def test_out_of_order_record_lands_at_its_own_time() -> None:
    items = [("e", 3000.0, ""), ("b", 10.0, ""), ("d", 2000.0, ""), ("c", 1000.0, "")]
    state, out = run(HOUR, items)
    assert out == []
    assert state.newest == 3000.0
    _, out = run(HOUR, [("a", 0.0, "")], state)
    members = ((0.0, "a", ""), (10.0, "b", ""), (1000.0, "c", ""), (2000.0, "d", ""))
    assert out == [("a", Crossing(1, (0.0, "a", ""), (*members, (3000.0, "e", "")), 5.0, False))]


def test_an_out_of_order_record_outside_the_others_window_does_not_count() -> None:
    items = [("b", 3600.0, ""), ("c", 3610.0, ""), ("d", 3620.0, ""), ("e", 3630.0, "")]
    _, out = run(HOUR, [*items, ("a", 29.0, "")])
    assert out == []  # 3630 - 29 > 3600


def test_anchor_is_earliest_by_time_then_canonical_id() -> None:
    items = [("z", 0.0, ""), ("y", 0.0, ""), ("x", 0.0, ""), ("w", 5.0, ""), ("v", 5.0, "")]
    _, out = run(HOUR, items)
    assert [(cid, c.anchor) for cid, c in out] == [("v", (0.0, "x", ""))]


def test_late_flag_is_relative_to_the_newest_of_the_key() -> None:
    """Late: more than ``lateness`` behind the key's newest (10 000 - 600 = 9 400)."""
    spec = WindowSpec(window=3600.0, threshold=2.0, lateness=600.0)
    state, _ = run(spec, [("new", 10_000.0, "")])
    _, out = run(spec, [("a", 5_900.0, ""), ("b", 6_300.0, "")], state)
    assert [(cid, c.level, c.late) for cid, c in out] == [("b", 1, True)]
    assert out[0][1].members == ((5_900.0, "a", ""), (6_300.0, "b", ""))
    # the same records are not late under 5000 s of lateness
    roomy = WindowSpec(window=3600.0, threshold=2.0, lateness=5000.0)
    state, _ = run(roomy, [("new", 10_000.0, "")])
    _, out = run(roomy, [("a", 5_900.0, ""), ("b", 6_300.0, "")], state)
    assert [(cid, c.level, c.late) for cid, c in out] == [("b", 1, False)]
    # exactly ``lateness`` behind is not late; a microsecond more is
    state, _ = run(spec, [("new", 10_000.0, "")])
    assert observe(state, "b", 9_400.0, "", spec)[1][0].late is False
    assert observe(state, "b", 9_399.999999, "", spec)[1][0].late is True


def test_a_record_behind_window_plus_lateness_is_counted_then_pruned() -> None:
    """Older than newest - W - L: measured against what is kept, then not kept itself."""
    spec = WindowSpec(window=3600.0, threshold=2.0, lateness=600.0)
    state, _ = run(spec, [("new", 10_000.0, "")])
    state, out = run(spec, [("a", 5_000.0, ""), ("b", 5_100.0, "")], state)
    assert out == []
    assert sorted(state.entries) == ["new"]


def test_pruning_keeps_window_plus_lateness() -> None:
    spec = WindowSpec(window=100.0, threshold=9.0, lateness=50.0)
    state, _ = run(spec, [("a", 0.0, ""), ("b", 50.0, ""), ("c", 200.0, "")])
    assert sorted(state.entries) == ["b", "c"]  # horizon 200 - 150 = 50, ends kept
    assert state.entries["b"] == (50.0, "")


def test_level_two_at_twice_the_count_and_quiet_between() -> None:
    items = [(f"r{i:02d}", float(i), "") for i in range(12)]
    state, out = run(HOUR, items)
    assert [(cid, c.level, c.measure, len(c.members)) for cid, c in out] == [
        ("r04", 1, 5.0, 5),
        ("r09", 2, 10.0, 10),
    ]
    assert out[1][1].anchor == (0.0, "r00", "")
    assert state.episodes == (Episode(0.0, "r00", True),)


def test_a_run_anchored_more_than_a_window_later_is_a_new_episode() -> None:
    first = [(f"a{i}", float(i), "") for i in range(5)]
    near = [(f"b{i}", 3600.0 + i, "") for i in range(5)]  # anchored 3600 s after a0: same
    far = [(f"c{i}", 7300.0 + i, "") for i in range(5)]  # anchored 3701+ s after b's runs
    _, out = run(HOUR, [*first, *near, *far])
    assert [(cid, c.level, c.anchor[1]) for cid, c in out] == [("a4", 1, "a0"), ("c4", 1, "c0")]


def test_shift_counts_have_no_window() -> None:
    items = [(f"s{i}", i * 40_000.0, "") for i in range(10)]
    state, out = run(SHIFT, items)
    assert [(cid, c.level, len(c.members)) for cid, c in out] == [("s4", 1, 5), ("s9", 2, 10)]
    assert len(state.entries) == 10  # nothing pruned: the shift's end drops the state


def test_refund_percent_needs_min_transactions() -> None:
    measure = refund_percent(5)
    entries = [(float(i), f"c{i}", "R") for i in range(4)]
    assert measure(entries) is None
    assert measure([*entries, (4.0, "c4", "P")]) == 80.0
    assert measure([(0.0, "a", "P")] * 5) == 0.0
    assert count(entries) == 4.0


def test_distinct_tags() -> None:
    assert distinct_tags([(0.0, "a", "L1"), (1.0, "b", "L1"), (2.0, "c", "L2")]) == 2.0


def test_state_round_trips_through_its_changelog_value() -> None:
    state, _ = run(HOUR, [(f"r{i}", float(i), "T") for i in range(6)])
    data = json.loads(json.dumps(state.to_dict()))
    assert data == {
        "e": {f"r{i}": [float(i), "T"] for i in range(6)},
        "n": 5.0,
        "p": [[0.0, "r0", False]],
    }
    assert KeyState.from_dict(data) == state
