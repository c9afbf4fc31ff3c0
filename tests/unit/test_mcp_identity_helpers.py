"""Pure helpers of the identity MCP server: cursors, fingerprint hashing, error payloads."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime

import pytest

from canary_stream.mcp.server import (
    IdentityError,
    decode_cursor,
    encode_cursor,
    error_result,
    fingerprint_hashes,
    parse_time,
)
from canary_stream.square.parse.base import CardHasher


def test_cursor_round_trips_and_rejects_garbage() -> None:
    at, row_id = datetime(2026, 5, 1, 12, 30, 1, 5, tzinfo=UTC), uuid.uuid4()
    assert decode_cursor(encode_cursor(at, row_id)) == (at, row_id)
    for bad in ("", "not-a-cursor", "W10", encode_cursor(at, row_id)[:-3] + "!!!"):
        with pytest.raises(IdentityError) as err:
            decode_cursor(bad)
        assert err.value.code == "invalid_argument"


def test_fingerprint_hashes_every_key_version_like_the_parser() -> None:
    keys = {"k1": b"a" * 32, "k2": b"b" * 32}
    m = uuid.uuid4()
    hashes = fingerprint_hashes(keys, m, "fp")
    assert hashes[1] == CardHasher(keys)(m, "fp")[0]  # the newest key, as parse writes it
    assert hashes[0] == hmac.new(b"a" * 32, f"{m}:fp".encode(), hashlib.sha256).digest()


def test_parse_time_defaults_to_utc_and_rejects_garbage() -> None:
    assert parse_time("2026-05-01T00:00:00", "since") == datetime(2026, 5, 1, tzinfo=UTC)
    assert parse_time(None, "since") is None
    with pytest.raises(IdentityError):
        parse_time("yesterday", "since")


def test_error_payload_is_fixed_per_code() -> None:
    result = error_result(IdentityError("not_found"))
    assert result.is_error
    assert result.structured_content == {"error": {"code": "not_found", "message": "not found"}}
    assert result.content[0].text == '{"error": {"code": "not_found", "message": "not found"}}'  # type: ignore[union-attr]
