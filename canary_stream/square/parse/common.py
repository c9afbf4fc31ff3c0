"""What every parser family shares: strict JSON, field access, money, time and enums.

Every failure is a :class:`ParseError` (or :class:`ForeignCurrency`) whose one-line message
names the field by its path in the document, e.g. ``data.object.payment.amount_money.amount:
expected an integer``. Nothing here reads a clock or does I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from canary_stream.square.parse.base import ForeignCurrency, ParseError

Json = dict[str, Any]

#: Larger amounts than this many minor units are absurd (ten billion dollars in cents).
MAX_MINOR_UNITS = 10**12
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_QUANTITY = re.compile(r"^\d{1,14}(\.\d{1,5})?$")


def fail(path: str, problem: str) -> NoReturn:
    """Raise the one-line :class:`ParseError` for ``path``."""
    raise ParseError(f"{path}: {problem}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> Json:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ParseError(f"duplicate key {key[:64]!r} in a JSON object")
            seen.add(key)
    return obj


def _no_constants(token: str) -> NoReturn:
    raise ParseError(f"{token} is not JSON")


def load_json(raw: bytes) -> Json:
    """Decode strict JSON (no duplicate keys, NaN or Infinity) whose top level is an object."""
    try:
        doc = json.loads(raw, object_pairs_hook=_unique_keys, parse_constant=_no_constants)
    except RecursionError:
        raise ParseError("JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int too long
        raise ParseError(f"not JSON: {str(exc).splitlines()[0][:200]}") from None
    if not isinstance(doc, dict):
        raise ParseError(f"top level: expected an object, got {type(doc).__name__}")
    return doc


def parse_time(value: Any, path: str) -> datetime:
    """An RFC 3339 timestamp with an offset, as an aware UTC datetime."""
    if not isinstance(value, str) or "T" not in value:
        fail(path, "expected an RFC 3339 timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(path, f"not an RFC 3339 timestamp: {value[:40]!r}")
    if parsed.tzinfo is None:
        fail(path, "timestamp without a UTC offset")
    return parsed.astimezone(UTC)


class Node:
    """One JSON object of a document and its path, with typed, failing accessors.

    Absent keys and JSON ``null`` are the same thing; ``opt_*`` accessors return None for
    both, the others raise. Empty strings count as absent for optional text.
    """

    __slots__ = ("data", "path")

    def __init__(self, data: Json, path: str) -> None:
        self.data = data
        self.path = path

    def at(self, name: str) -> str:
        """The path of a field of this object."""
        return f"{self.path}.{name}" if self.path else name

    def get(self, name: str) -> Any:
        """The raw value of a field, None when absent."""
        return self.data.get(name)

    # objects and lists ----------------------------------------------------------------
    def opt_child(self, name: str) -> Node | None:
        """A nested object, or None when absent."""
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            fail(self.at(name), f"expected an object, got {type(value).__name__}")
        return Node(value, self.at(name))

    def child(self, name: str) -> Node:
        """A nested object that must be there."""
        node = self.opt_child(name)
        if node is None:
            fail(self.at(name), "missing")
        return node

    def children(self, name: str) -> list[Node]:
        """A list of objects (empty when absent)."""
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            fail(self.at(name), f"expected a list, got {type(value).__name__}")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                fail(f"{self.at(name)}[{i}]", f"expected an object, got {type(item).__name__}")
            out.append(Node(item, f"{self.at(name)}[{i}]"))
        return out

    # scalars ------------------------------------------------------------------------------
    def opt_text(self, name: str) -> str | None:
        """A string field, None when absent or empty."""
        value = self.data.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            fail(self.at(name), f"expected a string, got {type(value).__name__}")
        return value

    def text(self, name: str) -> str:
        """A non-empty string field."""
        value = self.opt_text(name)
        if value is None:
            fail(self.at(name), "missing")
        return value

    def opt_integer(self, name: str, *, limit: int = MAX_MINOR_UNITS) -> int | None:
        """An integer field within ``±limit``, None when absent."""
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            fail(self.at(name), f"expected an integer, got {type(value).__name__}")
        if abs(value) > limit:
            fail(self.at(name), "out of range")
        return value

    def integer(self, name: str, *, limit: int = MAX_MINOR_UNITS) -> int:
        """An integer field that must be there."""
        value = self.opt_integer(name, limit=limit)
        if value is None:
            fail(self.at(name), "missing")
        return value

    def opt_time(self, name: str) -> datetime | None:
        """A timestamp field as aware UTC, None when absent."""
        value = self.data.get(name)
        return None if value is None else parse_time(value, self.at(name))

    def time(self, name: str) -> datetime:
        """A timestamp field that must be there."""
        value = self.opt_time(name)
        if value is None:
            fail(self.at(name), "missing")
        return value

    def first_time(self, *names: str) -> datetime:
        """The first of ``names`` present, as a timestamp (the ledger's "X, else Y")."""
        for name in names:
            value = self.opt_time(name)
            if value is not None:
                return value
        fail(self.at(names[0]), "missing")

    def enum(self, name: str, allowed: Collection[str]) -> str:
        """A closed enumeration: a value outside ``allowed`` is malformed."""
        value = self.text(name)
        if value not in allowed:
            fail(self.at(name), f"unknown value {value[:40]!r}")
        return value

    def opt_code(self, name: str) -> str | None:
        """An open UPPER_SNAKE enumeration (card brand, entry method): format checked only."""
        value = self.opt_text(name)
        if value is not None and not _CODE.match(value):
            fail(self.at(name), f"not an enumeration value: {value[:40]!r}")
        return value

    def quantity(self, name: str) -> Decimal:
        """A decimal-string quantity that fits ``numeric(19,5)``."""
        value = self.text(name)
        if not _QUANTITY.match(value):
            fail(self.at(name), f"not a quantity: {value[:40]!r}")
        try:
            return Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            fail(self.at(name), f"not a quantity: {value[:40]!r}")

    # money --------------------------------------------------------------------------------
    def opt_money(self, name: str, currency: str, *, signed: bool = False) -> int | None:
        """A Square ``Money`` in the merchant's ``currency``, as minor units; None when absent.

        Another currency raises :class:`ForeignCurrency`; a negative amount (unless
        ``signed``: fees, payouts) or one beyond :data:`MAX_MINOR_UNITS` is malformed.
        """
        node = self.opt_child(name)
        if node is None:
            return None
        code = node.text("currency")
        if code != currency:
            raise ForeignCurrency(f"{node.at('currency')}: {code[:8]!r} is not {currency}")
        amount = node.integer("amount")
        if amount < 0 and not signed:
            fail(node.at("amount"), "negative amount")
        return amount

    def money(self, name: str, currency: str, *, signed: bool = False) -> int:
        """A ``Money`` that must be there."""
        value = self.opt_money(name, currency, signed=signed)
        if value is None:
            fail(self.at(name), "missing")
        return value


def webhook_object(doc: Json, *names: str) -> Node:
    """The object of a webhook body (``data.object.<name>``) or of an API response (``<name>``).

    ``names`` are tried in order (disputes arrive as ``object.dispute`` or ``object.object``).
    """
    root = Node(doc, "")
    data = root.opt_child("data")
    if data is not None:
        holder = data.child("object")
    else:
        holder = root
    for name in names:
        node = holder.opt_child(name)
        if node is not None:
            return node
    fail(holder.at(names[0]), "missing")


def event_location(doc: Json) -> str | None:
    """The webhook's own top-level ``location_id``, which a few event types carry."""
    return Node(doc, "").opt_text("location_id")
