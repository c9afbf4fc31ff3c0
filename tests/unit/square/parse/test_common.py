"""Strict JSON, typed field access, money and time — and hostile input (quality.md)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from square_bodies import ctx, encode, payment, webhook

from canary_stream.square.parse.base import ForeignCurrency, ParseError
from canary_stream.square.parse.common import MAX_MINOR_UNITS, Node, load_json, parse_time
from canary_stream.square.registry import PARSERS


def test_load_json_returns_the_object():
    assert load_json(b'{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "not JSON: Expecting value: line 1 column 1 (char 0)"),
        (b"[1, 2]", "top level: expected an object, got list"),
        (b'"just a string"', "top level: expected an object, got str"),
        (b'{"a": 1, "a": 2}', "duplicate key 'a' in a JSON object"),
        (b'{"a": NaN}', "NaN is not JSON"),
        (b'{"a": -Infinity}', "-Infinity is not JSON"),
        (b'{"a": "\xff"}', "not JSON: 'utf-8' codec can't decode byte 0xff"),
    ],
)
def test_load_json_refuses(raw, message):
    with pytest.raises(ParseError) as info:
        load_json(raw)
    assert str(info.value).startswith(message)


def test_nesting_ten_thousand_deep_is_a_parse_error():
    with pytest.raises(ParseError, match="JSON nested too deeply"):
        load_json(b'{"a": ' + b"[" * 10_000 + b"]" * 10_000 + b"}")


@pytest.mark.parametrize("event_type", sorted(t for _, t in PARSERS))
def test_every_parser_quarantines_hostile_documents(event_type):
    parser = PARSERS[("square", event_type)]
    deep = b'{"data": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    for raw in (deep, b'{"x": 1, "x": 2}', b"[]", b"\x00\x01"):
        with pytest.raises(ParseError):
            parser(raw, ctx(raw, event_type))


def test_huge_numbers_in_money_are_parse_errors():
    raw = webhook("payment.created", "payment", payment()).replace(
        b'"amount":2500,', b'"amount":1' + b"0" * 400 + b",", 1
    )
    with pytest.raises(ParseError, match=r"amount_money\.amount: out of range"):
        PARSERS[("square", "payment.created")](raw, ctx(raw, "payment.created"))
    raw = webhook("payment.created", "payment", payment()).replace(
        b'"amount":2500,', b'"amount":1e400,', 1
    )
    with pytest.raises(ParseError, match=r"amount_money\.amount: expected an integer, got float"):
        PARSERS[("square", "payment.created")](raw, ctx(raw, "payment.created"))


def test_a_one_megabyte_string_in_an_ignored_field_is_harmless_and_fast():
    raw = webhook("payment.created", "payment", payment(note="x" * 1_000_000))
    started = time.perf_counter()
    [rec] = PARSERS[("square", "payment.created")](raw, ctx(raw, "payment.created"))
    assert time.perf_counter() - started < 0.5
    assert "xxxx" not in rec.canonical.model_dump_json()


def test_parse_time():
    assert parse_time("2020-11-22T21:16:51.086Z", "f") == datetime(
        2020, 11, 22, 21, 16, 51, 86000, tzinfo=UTC
    )
    assert parse_time("2020-01-25T18:25:34-08:00", "f") == datetime(
        2020, 1, 26, 2, 25, 34, tzinfo=UTC
    )
    # Square's event created_at has nanoseconds: truncated to microseconds.
    assert parse_time("2023-03-14T01:58:22.076902762Z", "f").microsecond == 76902
    for bad, message in [
        ("2020-11-22", "f: expected an RFC 3339 timestamp"),
        ("2020-11-22T21:16:51", "f: timestamp without a UTC offset"),
        ("2020-13-22T21:16:51Z", "f: not an RFC 3339 timestamp: '2020-13-22T21:16:51Z'"),
        (1606079811, "f: expected an RFC 3339 timestamp"),
    ]:
        with pytest.raises(ParseError) as info:
            parse_time(bad, "f")
        assert str(info.value) == message


def test_node_accessors_name_the_path():
    n = Node({"s": "", "i": 3, "o": {"t": "2020-01-01T00:00:00Z"}, "l": [{"q": "1.25"}]}, "p")
    assert n.opt_text("s") is None and n.opt_text("absent") is None
    assert n.integer("i") == 3
    assert n.child("o").time("t") == datetime(2020, 1, 1, tzinfo=UTC)
    assert n.children("l")[0].quantity("q") == Decimal("1.25")
    assert n.children("absent") == []
    for call, message in [
        (lambda: n.text("s"), "p.s: missing"),
        (lambda: n.child("i"), "p.i: expected an object, got int"),
        (lambda: n.children("o"), "p.o: expected a list, got dict"),
        (lambda: Node({"l": [1]}, "p").children("l"), "p.l[0]: expected an object, got int"),
        (lambda: n.enum("absent", ("A",)), "p.absent: missing"),
        (lambda: Node({"q": "1e3"}, "").quantity("q"), "q: not a quantity: '1e3'"),
        (lambda: Node({"q": "1.123456"}, "").quantity("q"), "q: not a quantity: '1.123456'"),
        (lambda: Node({"q": "-1"}, "").quantity("q"), "q: not a quantity: '-1'"),
        (lambda: n.first_time("x", "y"), "p.x: missing"),
    ]:
        with pytest.raises(ParseError) as info:
            call()
        assert str(info.value) == message


def test_money():
    n = Node({"m": {"amount": 5, "currency": "USD"}, "neg": {"amount": -5, "currency": "USD"}}, "")
    assert n.money("m", "USD") == 5
    assert n.money("neg", "USD", signed=True) == -5
    assert n.opt_money("absent", "USD") is None
    with pytest.raises(ParseError, match=r"^neg\.amount: negative amount$"):
        n.money("neg", "USD")
    with pytest.raises(ForeignCurrency, match=r"^m\.currency: 'USD' is not EUR$"):
        n.money("m", "EUR")
    edge = Node({"m": {"amount": MAX_MINOR_UNITS, "currency": "USD"}}, "")
    assert edge.money("m", "USD") == 10**12
    with pytest.raises(ParseError, match=r"^m\.currency: missing$"):
        Node({"m": {"amount": 1}}, "").money("m", "USD")


def test_encode_helper_matches_square_compact_json():
    assert encode({"a": 1}) == b'{"a":1}'
