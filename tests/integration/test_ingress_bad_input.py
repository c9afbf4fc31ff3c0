"""Authentic but bad bodies through the real ingress (quality.md, Bad input; pipeline.md, step 4-6).

Every body here is correctly signed. What cannot become an envelope is dead-lettered with
its exact bytes and answered 202; everything else is answered 200 and sealed byte-exact,
flagged ``parse_failed`` or ``oversize`` where the spec says so. One pipeline (ingress, seal
and parse) serves the whole module.
"""

from __future__ import annotations

import json
import os
import uuid

import pytest
from harness import square_body, wait_for
from ingress_checks import (
    Deployment,
    b64decode,
    dead_letter,
    deploy,
    envelopes_of,
    logged,
    sealed,
    sha256_hex,
    sized_body,
    stored_bytes,
)
from sqlalchemy import text

from canary_stream.db.merchants import add_merchant, by_provider_id
from canary_stream.kafka import publish

pytestmark = pytest.mark.integration

SOFT_CAP = 256 * 1024
HARD_CAP = 2 * 1024 * 1024


def _without(pmid: str, *names: str, **values: object) -> bytes:
    doc = {**json.loads(square_body(pmid)), **values}
    return json.dumps({k: v for k, v in doc.items() if k not in names}).encode()


def _raw(pmid: str, data: str, *, event_id: str = "", head: str = "") -> bytes:
    """A body written by hand (JSON that ``json.dumps`` would never produce)."""
    event_id = event_id or str(uuid.uuid4())
    return (
        f'{{"merchant_id":"{pmid}","type":"payment.created","event_id":"{event_id}",{head}'
        f'"data":{data}}}'
    ).encode()


#: case → (body for the deployment's merchant, the dead letter's error).
UNPARSEABLE = {
    "not JSON": (lambda pmid: b"this is not json {", "not JSON: Expecting value at char 0"),
    "not UTF-8": (lambda pmid: b"\xff" + os.urandom(1024), "body is not UTF-8"),
    "no merchant_id": (lambda pmid: _without(pmid, "merchant_id"), "no merchant_id"),
    "merchant_id not a string": (lambda pmid: _without(pmid, merchant_id=7), "no merchant_id"),
    "JSON array": (lambda pmid: b"[" + square_body(pmid) + b"]", "JSON body is not an object"),
}
#: case → (body, the event_type sealed).
PARSE_FAILED = {
    "no event_id": (lambda pmid: _without(pmid, "event_id"), "payment.created"),
    "no type": (lambda pmid: _without(pmid, "type"), "unknown"),
    "event_id not a string": (lambda pmid: _without(pmid, event_id=42), "payment.created"),
    "empty type": (lambda pmid: _without(pmid, type=""), "unknown"),
}
#: case → (body for (merchant, event id), the source_event_id sealed).
HOSTILE = {
    "nesting 10,000 deep": (lambda p, e: _raw(p, "[" * 10_000 + "]" * 10_000, event_id=e), None),
    "10^400 literal": (lambda p, e: _raw(p, '{"amount":1' + "0" * 400 + "}", event_id=e), None),
    "1e400 float": (lambda p, e: _raw(p, '{"amount":1e400}', event_id=e), None),
    "5,000 digits": (lambda p, e: _raw(p, '{"amount":' + "9" * 5000 + "}", event_id=e), None),
    "duplicate keys": (
        lambda p, e: _raw(p, "{}", event_id=e, head=f'"event_id":"{e}-again",'),
        "{}-again",  # the last one wins, as in any JSON parser
    ),
}


@pytest.fixture(scope="module")
async def desk(module_pipeline_factory) -> Deployment:
    return await deploy(module_pipeline_factory, "ingress", "seal", "parse")


# 202: dead-lettered with the bytes ----------------------------------------------------
@pytest.mark.parametrize("case", list(UNPARSEABLE))
async def test_unusable_body_is_dead_lettered_with_its_exact_bytes(desk, case):
    make, error = UNPARSEABLE[case]
    body = make(desk.pmid)
    status, answer = desk.pipe.post(body)
    assert status == 202, answer
    await _check_kept(desk, body, answer, "unparseable", error, None)


async def test_unknown_merchant_is_dead_lettered_with_its_bytes(desk):
    pmid = f"MLUNKNOWN{uuid.uuid4().hex[:8].upper()}"
    body = square_body(pmid)
    status, answer = desk.pipe.post(body)
    assert status == 202, answer
    await _check_kept(desk, body, answer, "unknown_merchant", "merchant unknown or inactive", pmid)


async def test_deactivated_merchant_is_dead_lettered_with_its_bytes(desk, owner_engine):
    merchant_id, pmid = desk.pipe.add_merchant()
    assert desk.pipe.post(square_body(pmid))[0] == 200
    # rules.md: the database is the source; a change is written there, then the full record
    # is published to canary.merchant-config, which the ingress follows.
    async with owner_engine.begin() as conn:
        await conn.execute(
            text("UPDATE app.merchants SET status = 'inactive' WHERE id = :m"),
            {"m": uuid.UUID(merchant_id)},
        )
        config = await by_provider_id(conn, pmid)
    settings = desk.pipe.settings()
    await publish(settings, desk.pipe.topic("merchant-config"), merchant_id.encode(), [config])
    # The ingress follows the topic: deliveries are accepted until it has caught up.
    body, answer = await wait_for(lambda: _dead_lettered(desk, pmid), timeout=30)
    await _check_kept(desk, body, answer, "unknown_merchant", "merchant unknown or inactive", pmid)


async def test_inactive_merchant_missing_from_the_snapshot_is_dead_lettered(desk, owner_engine):
    pmid = f"MLINACTIVE{uuid.uuid4().hex[:8].upper()}"
    async with owner_engine.begin() as conn:  # in the database only: the directory falls back
        config, _ = await add_merchant(conn, pmid, "USD", "UTC")
        await conn.execute(
            text("UPDATE app.merchants SET status = 'inactive' WHERE id = :m"),
            {"m": config.merchant_id},
        )
    body = square_body(pmid)
    status, answer = desk.pipe.post(body)
    assert status == 202, answer
    await _check_kept(desk, body, answer, "unknown_merchant", "merchant unknown or inactive", pmid)


# 200: sealed byte-exact ---------------------------------------------------------------
@pytest.mark.parametrize("case", list(PARSE_FAILED))
async def test_json_without_event_id_or_type_is_sealed_as_parse_failed(desk, engine, case):
    make, event_type = PARSE_FAILED[case]
    body = make(desk.pmid)
    row = await _check_sealed(desk, engine, body, f"hash:{sha256_hex(body)}", event_type)
    assert (row.parse_failed, row.oversize) == (True, False)
    assert await logged(engine, str(row.event_id), "PARSE") == {("SKIPPED", "parse_failed")}


@pytest.mark.parametrize("size", [SOFT_CAP, SOFT_CAP + 1, 300 * 1024])
async def test_body_above_the_soft_cap_is_sealed_as_oversize_and_not_parsed(desk, engine, size):
    source_event_id = str(uuid.uuid4())
    body = sized_body(desk.pmid, size, event_id=source_event_id)
    row = await _check_sealed(desk, engine, body, source_event_id, "payment.created")
    assert (row.parse_failed, row.oversize) == (False, size > SOFT_CAP)
    if size > SOFT_CAP:
        assert await logged(engine, str(row.event_id), "PARSE") == {("SKIPPED", "oversize")}


async def test_body_of_exactly_the_hard_cap_is_accepted_as_oversize(desk, engine):
    # here, not beside the other cap tests: their ingress reads with a 1 s timeout, short for
    # 2 MiB on a loaded machine
    body = sized_body(desk.pmid, HARD_CAP)
    status, answer = desk.pipe.post(body)
    assert status == 200, answer
    row = await sealed(engine, answer["event_id"])
    assert (row.raw_size, row.oversize, row.parse_failed) == (HARD_CAP, True, False)
    assert row.event_hash.hex() == sha256_hex(body)
    assert stored_bytes(desk.pipe, row) == body


async def test_event_type_we_do_not_handle_is_sealed_and_ignored_by_parse(desk, engine):
    source_event_id = str(uuid.uuid4())
    body = square_body(desk.pmid, event_id=source_event_id, type_="inventory.count.updated")
    row = await _check_sealed(desk, engine, body, source_event_id, "inventory.count.updated")
    assert (row.parse_failed, row.oversize) == (False, False)
    assert await logged(engine, str(row.event_id), "PARSE") == {
        ("IGNORED", "no parser for inventory.count.updated")
    }


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_hostile_json_is_sealed(desk, engine, case):
    make, sealed_as = HOSTILE[case]
    source_event_id = str(uuid.uuid4())
    body = make(desk.pmid, source_event_id)
    expected = (sealed_as or "{}").format(source_event_id)
    row = await _check_sealed(desk, engine, body, expected, "payment.created")
    assert (row.parse_failed, row.oversize) == (False, False)
    ingress = next(p for p in desk.pipe.procs if p.name == "ingress")
    assert ingress.alive()


async def test_hostile_one_megabyte_string_is_sealed_as_oversize(desk, engine):
    source_event_id = str(uuid.uuid4())
    body = _raw(desk.pmid, '{"note":"' + "x" * 1_000_000 + '"}', event_id=source_event_id)
    row = await _check_sealed(desk, engine, body, source_event_id, "payment.created")
    assert (row.parse_failed, row.oversize) == (False, True)


# Helpers ------------------------------------------------------------------------------
async def _check_kept(
    desk: Deployment, body: bytes, answer: dict, reason: str, error: str, pmid: str | None
) -> None:
    """The 202 answer and its dead letter, which holds exactly the bytes received."""
    event_id = answer.get("event_id")
    assert answer == {"status": "dead_lettered", "reason": reason, "event_id": event_id}
    _, letter = await dead_letter(desk.pipe, sha256_hex(body))
    kept = letter.pop("body")
    assert letter == {
        "schema_version": 1,
        "stage": "ingress",
        "reason": reason,
        "event_id": event_id,
        "merchant_id": None,
        "provider_merchant_id": pmid,
        "error": error,
        "at": kept["received_at"],
        "envelope": None,
        "request": None,
    }
    assert kept == {
        "event_id": event_id,
        "event_hash": sha256_hex(body),
        "raw_payload": kept["raw_payload"],
        "received_at": letter["at"],
        "signature_key_id": desk.key_id,
    }
    assert b64decode(kept["raw_payload"]) == body
    assert await envelopes_of(desk.pipe, sha256_hex(body)) == []


async def _check_sealed(
    desk: Deployment, engine, body: bytes, source_event_id: str, event_type: str
):
    """The 200 answer and the evidence row, which holds exactly the bytes received."""
    status, answer = desk.pipe.post(body)
    assert (status, answer) == (200, {"status": "accepted", "event_id": answer.get("event_id")})
    row = await sealed(engine, answer["event_id"])
    assert (row.source_event_id, row.event_type, row.source_type) == (
        source_event_id,
        event_type,
        "WEBHOOK",
    )
    assert (row.event_hash.hex(), row.raw_size) == (sha256_hex(body), len(body))
    assert row.signature_key_id == desk.key_id
    assert stored_bytes(desk.pipe, row) == body
    return row


async def _dead_lettered(desk: Deployment, pmid: str) -> tuple[bytes, dict] | None:
    """Post a fresh delivery for ``pmid``; the body and answer if it was answered 202."""
    body = square_body(pmid)
    status, answer = desk.pipe.post(body)
    return (body, answer) if status == 202 else None
