"""The parser registry: ``(source, event_type)`` → a pure parser. Adding a type is an entry here.

A parser takes the raw bytes of a sealed event and returns canonical records; it raises on
malformed input (the parse stage quarantines that event).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Parser = Callable[[bytes, Any], Sequence[Any]]

#: Registered parsers; empty until the parser families land (issue: parsing).
PARSERS: dict[tuple[str, str], Parser] = {}


def parser_for(source: str, event_type: str) -> Parser | None:
    """The parser of an event type, or None when we do not handle it."""
    return PARSERS.get((source, event_type))
