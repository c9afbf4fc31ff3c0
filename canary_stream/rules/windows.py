"""Exact sliding windows and shift counts over business time, as pure functions of state.

A subject's state holds the qualifying records still of use — ``{canonical_id: (ts, tag)}``
— the newest business time seen, and the episodes already alerted. :func:`observe` adds one
record and returns the new state (a new object: table values are reassigned, never mutated)
and the crossings it caused. A record already in the state changes nothing, so a replay
cannot count twice; a record arriving out of order lands at its own time.

Window semantics (rules.md): "≥ N within W" holds when N qualifying records lie within W of
each other, ends included. Level 1 fires when the measure first reaches the threshold, the
subject then stays quiet for that window (shift rules: for the shift), and level 2 fires
once when the measure reaches twice the threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

#: (ts, canonical_id, tag) sorted by (ts, canonical_id): the order anchors are chosen in.
Entry = tuple[float, str, str]
#: The measure of a run of entries; ``None`` when the run is not yet eligible (C-002).
Measure = Callable[[Sequence[Entry]], float | None]


def count(run: Sequence[Entry]) -> float | None:
    """How many records."""
    return float(len(run))


def distinct_tags(run: Sequence[Entry]) -> float | None:
    """How many distinct tags (C-803: locations; C-D03: disputes)."""
    return float(len({tag for _, _, tag in run}))


def refund_percent(min_transactions: int) -> Measure:
    """C-002: refunds (tag ``R``) as a percentage of all, once there are ``min_transactions``."""

    def measure(run: Sequence[Entry]) -> float | None:
        if len(run) < min_transactions:
            return None
        return 100.0 * sum(1 for _, _, tag in run if tag == "R") / len(run)

    return measure


@dataclass(frozen=True)
class Episode:
    """A level-1 alert already raised: its anchor, and whether level 2 followed."""

    ts: float
    anchor: str
    level2: bool = False


@dataclass(frozen=True)
class KeyState:
    """One subject's state in a Tier 2 table."""

    entries: dict[str, tuple[float, str]]
    newest: float
    episodes: tuple[Episode, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON-ready data (the table value's ``s``)."""
        return {
            "e": {cid: [ts, tag] for cid, (ts, tag) in self.entries.items()},
            "n": self.newest,
            "p": [[e.ts, e.anchor, e.level2] for e in self.episodes],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyState:
        """State back from :meth:`to_dict`'s data."""
        return cls(
            entries={cid: (float(v[0]), str(v[1])) for cid, v in data["e"].items()},
            newest=float(data["n"]),
            episodes=tuple(Episode(float(p[0]), str(p[1]), bool(p[2])) for p in data["p"]),
        )


@dataclass(frozen=True)
class Crossing:
    """A threshold crossed: level, the run's anchor and members, and what was measured."""

    level: int
    anchor: Entry
    members: tuple[Entry, ...]
    measure: float
    late: bool


@dataclass(frozen=True)
class WindowSpec:
    """How one rule counts: its window (``None``: the whole shift), threshold and measure."""

    window: float | None
    threshold: float
    measure: Measure = count
    lateness: float = 86_400.0


def _runs(entries: Sequence[Entry], new: Entry, window: float | None) -> list[list[Entry]]:
    """Candidate runs containing ``new``, earliest anchor first."""
    if window is None:
        return [list(entries)]
    runs = []
    for i, anchor in enumerate(entries):
        if anchor > new:
            break
        if new[0] - anchor[0] > window:
            continue
        run = [e for e in entries[i:] if e[0] - anchor[0] <= window]
        runs.append(run)
    return runs


def _first_reaching(runs: list[list[Entry]], measure: Measure, level: float) -> list[Entry] | None:
    for run in runs:
        value = measure(run)
        if value is not None and value >= level:
            return run
    return None


def _episode_for(episodes: Sequence[Episode], ts: float, window: float | None) -> int | None:
    for i, episode in enumerate(episodes):
        if window is None or abs(ts - episode.ts) <= window:
            return i
    return None


def observe(
    state: KeyState | None, cid: str, ts: float, tag: str, spec: WindowSpec
) -> tuple[KeyState, list[Crossing]]:
    """Add one qualifying record; the new state and the crossings it caused."""
    if state is not None and cid in state.entries:
        return state, []
    previous = state or KeyState(entries={}, newest=ts)
    late = ts < previous.newest - spec.lateness
    entries_map = {**previous.entries, cid: (ts, tag)}
    newest = max(previous.newest, ts)
    episodes = list(previous.episodes)
    entries = sorted((t, c, g) for c, (t, g) in entries_map.items())
    new: Entry = (ts, cid, tag)
    runs = _runs(entries, new, spec.window)
    crossings: list[Crossing] = []
    first = _first_reaching(runs, spec.measure, spec.threshold)
    if first is not None:
        index = _episode_for(episodes, first[0][0], spec.window)
        if index is None:
            episodes.append(Episode(first[0][0], first[0][1]))
            index = len(episodes) - 1
            crossings.append(_crossing(1, first, spec.measure, late))
        second = _first_reaching(runs, spec.measure, 2 * spec.threshold)
        if second is not None and not episodes[index].level2:
            episodes[index] = replace(episodes[index], level2=True)
            crossings.append(_crossing(2, second, spec.measure, late))
    if spec.window is not None:
        horizon = newest - spec.window - spec.lateness
        entries_map = {c: v for c, v in entries_map.items() if v[0] >= horizon}
        episodes = [e for e in episodes if e.ts >= horizon - spec.window]
    return KeyState(entries_map, newest, tuple(episodes)), crossings


def _crossing(level: int, run: list[Entry], measure: Measure, late: bool) -> Crossing:
    value = measure(run)
    return Crossing(level, run[0], tuple(run), value if value is not None else 0.0, late)
