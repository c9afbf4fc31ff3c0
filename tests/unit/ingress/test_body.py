"""Reading authentic bodies: identifiers, oversize, hostile and unusable JSON."""

from __future__ import annotations

import json

from canary_stream.ingress.body import BodyInfo, read_body

SOFT = 256 * 1024


def test_normal_square_body():
    body = json.dumps({"merchant_id": "ML1", "type": "payment.created", "event_id": "e1"}).encode()
    assert read_body(body, SOFT) == BodyInfo("ML1", "e1", "payment.created", False, None)


def test_missing_event_id_or_type_is_parse_failed():
    info = read_body(b'{"merchant_id": "ML1", "type": "payment.created"}', SOFT)
    assert (info.unusable, info.parse_failed) == (None, True)
    assert read_body(b'{"merchant_id": "ML1", "event_id": "e"}', SOFT).parse_failed is True


def test_unusable_bodies_say_why():
    assert read_body(b"not json", SOFT).unusable == "not JSON: Expecting value at char 0"
    assert read_body(b"\xff\xfe{}", SOFT).unusable == "body is not UTF-8"
    assert read_body(b"[1, 2]", SOFT).unusable == "JSON body is not an object"
    assert read_body(b'{"type": "payment.created"}', SOFT).unusable == "no merchant_id"
    assert read_body(b'{"merchant_id": 17}', SOFT).unusable == "no merchant_id"


def test_oversize_body_is_scanned_not_parsed():
    head = b'{"merchant_id": "ML9", "type": "payment.updated", "event_id": "big-1", "data": "'
    body = head + b"x" * (SOFT + 10) + b'"}'
    assert read_body(body, SOFT) == BodyInfo("ML9", "big-1", "payment.updated", True, None)


def test_hostile_json_falls_back_to_the_scan():
    deep = (
        b'{"merchant_id": "ML1", "type": "t", "event_id": "e", "d": '
        + b"[" * 10000
        + b"]" * 10000
        + b"}"
    )
    assert read_body(deep, SOFT) == BodyInfo("ML1", "e", "t", False, None)
    huge_number = (
        b'{"merchant_id": "ML1", "type": "t", "event_id": "e", "n": 1' + b"0" * 5000 + b"}"
    )
    assert read_body(huge_number, SOFT) == BodyInfo("ML1", "e", "t", False, None)


def test_duplicate_keys_take_the_last_value_like_json_loads():
    info = read_body(
        b'{"merchant_id": "A", "merchant_id": "B", "type": "t", "event_id": "e"}', SOFT
    )
    assert info.provider_merchant_id == "B"
