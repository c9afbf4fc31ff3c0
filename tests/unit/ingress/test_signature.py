"""Square webhook signatures: Square's own SDK test vectors, then our multi-key rules.

Vectors: tests/vectors/square/signature_vectors.json, copied from square/square-python-sdk
tests (sources cited in the file) and cross-checked against the installed SDK's helper.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from square.utils.webhooks_helper import verify_signature as sdk_verify_signature

from canary_stream.ingress.signature import HEADER, compute_signature, verify_signature

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "square" / "signature_vectors.json"
DATA: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = DATA["cases"]
GOOD = CASES[0]
URL: str = GOOD["notification_url"]
BODY: bytes = GOOD["body"].encode("utf-8")
KEY: bytes = GOOD["signature_key"].encode("utf-8")
SIG = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="


def test_vector_file_cites_square() -> None:
    assert all("square/square-python-sdk" in s for s in DATA["source"])
    assert len(CASES) == 8 and [c["want_valid"] for c in CASES].count(True) == 2


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["desc"])
def test_square_sdk_vectors(case: dict[str, Any]) -> None:
    body = case["body"].encode("utf-8")
    key = case["signature_key"].encode("utf-8")
    got = verify_signature(case["signature_header"], case["notification_url"], body, [("k", key)])
    assert got == ("k" if case["want_valid"] else None)
    # The SDK's own helper agrees on every vector.
    assert (
        sdk_verify_signature(
            request_body=case["body"],
            signature_header=case["signature_header"],
            signature_key=case["signature_key"],
            notification_url=case["notification_url"],
        )
        is case["want_valid"]
    )


def test_compute_signature_reproduces_square() -> None:
    assert compute_signature(URL, BODY, GOOD["signature_key"]) == SIG
    assert compute_signature(URL, BODY, KEY) == SIG
    escaped = CASES[1]
    assert (
        compute_signature(
            escaped["notification_url"], escaped["body"].encode(), escaped["signature_key"]
        )
        == "Cxt7+aTi4rKgcA0bC4g9EHdVtLSDWdqccmL5MvihU4U="
    )


def test_header_name() -> None:
    assert HEADER == "x-square-hmacsha256-signature"


def test_every_single_body_byte_change_fails() -> None:
    for i in range(len(BODY)):
        tampered = bytearray(BODY)
        tampered[i] ^= 0x01
        assert verify_signature(SIG, URL, bytes(tampered), [("k", KEY)]) is None, i


@pytest.mark.parametrize(
    ("header", "url", "body"),
    [
        (None, URL, BODY),
        ("", URL, BODY),
        (SIG[:-1], URL, BODY),
        (SIG + " ", URL, BODY),
        ("GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4\u00e9", URL, BODY),
        (SIG, URL + "/", BODY),
        (SIG, URL.replace("https", "http"), BODY),
        (SIG, URL, BODY + b"\n"),
        (SIG, URL, b""),
    ],
    ids=["no header", "empty header", "truncated header", "trailing space", "non-ascii header",
         "url trailing slash", "url scheme", "body trailing newline", "empty body"],
)  # fmt: skip
def test_rejects(header: str | None, url: str, body: bytes) -> None:
    assert verify_signature(header, url, body, [("k", KEY)]) is None


def test_non_utf8_body_is_signed_as_raw_bytes() -> None:
    # (printf %s "$URL"'{"x":"'; printf '\xff\xfe"}') |
    #     openssl dgst -sha256 -hmac "$KEY" -binary | base64
    body = b'{"x":"\xff\xfe"}'
    sig = compute_signature(URL, body, KEY)
    assert sig == "QKAEa/lY71Z11ykM/twRjXCYFY0yhQFOmlbwe6juPqw="
    assert verify_signature(sig, URL, body, [("k", KEY)]) == "k"


def test_rotation_overlap_returns_the_matching_key_id() -> None:
    new_key = b"new-signature-key"
    keys = [("old", KEY), ("new", new_key)]
    assert verify_signature(SIG, URL, BODY, keys) == "old"
    assert verify_signature(compute_signature(URL, BODY, new_key), URL, BODY, keys) == "new"
    assert verify_signature(SIG, URL, BODY, [("new", new_key)]) is None
    assert verify_signature(SIG, URL, BODY, []) is None


def test_checks_every_key_without_early_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    import canary_stream.ingress.signature as mod

    calls: list[bytes] = []
    real = mod.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append(a)
        return real(a, b)

    monkeypatch.setattr(mod.hmac, "compare_digest", spy)
    keys = [("a", KEY), ("b", b"other"), ("c", b"third")]
    assert verify_signature(SIG, URL, BODY, keys) == "a"
    assert len(calls) == 3


def test_duplicate_keys_first_listed_wins() -> None:
    assert verify_signature(SIG, URL, BODY, [("first", KEY), ("second", KEY)]) == "first"


def test_empty_key_never_matches() -> None:
    sig = compute_signature(URL, BODY, b"")
    assert sig == "Ci9G92BlC/Bmen4wFVhgS1mc0JLtfNLXGmSo53TYtQ0="
    assert verify_signature(sig, URL, BODY, [("blank", b"")]) is None
