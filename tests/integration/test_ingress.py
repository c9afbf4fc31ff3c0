"""The ingress front door on the real stack (pipeline.md, Ingress; quality.md, Bad input).

Signatures (401 with a metadata-only dead letter), the hard cap (413), slow clients, the
order of the six steps, the envelope of a normal delivery and duplicate deliveries. One
pipeline (ingress + seal, read timeout 1 s) serves the whole module; authentic bodies that
are bad in other ways are in ``test_ingress_bad_input.py``.
"""

from __future__ import annotations

import asyncio
import json
import select
import socket
import time
import uuid
from datetime import UTC, datetime

import pytest
from harness import b64, square_body, wait_for
from ingress_checks import (
    RECORD_HEADERS,
    RFC3339_MICROS,
    Deployment,
    add_key,
    all_key_ids,
    b64decode,
    counter,
    dead_letter,
    dead_letters_of,
    deploy,
    envelopes_of,
    evidence_by_source,
    ingestion,
    sealed,
    sha256_hex,
    sized_body,
    stored_bytes,
)
from sqlalchemy import text

from canary_stream.ingress.directory import KEYRING_MISS_REFRESH_SECONDS, KEYRING_REFRESH_SECONDS
from canary_stream.kafka import partition_for

pytestmark = pytest.mark.integration

HARD_CAP = 2 * 1024 * 1024
SIGNATURE = "x-square-hmacsha256-signature"
#: The headers ``Pipeline.post`` (urllib) sends besides the signature.
URLLIB_HEADERS = [
    "accept-encoding",
    "connection",
    "content-length",
    "content-type",
    "host",
    "user-agent",
]
UNAUTHORIZED = {"status": "unauthorized", "error": "invalid or missing signature"}
TOO_LARGE = {"status": "too_large", "error": "body above the hard cap"}
NO_MATCH = "signature matches no active key"

#: case → (signature for the body, the dead letter's error).
UNAUTHENTICATED = {
    "no header": (lambda d, body: None, "no signature header"),
    "empty header": (lambda d, body: "", "no signature header"),
    "wrong key": (lambda d, body: d.pipe.sign(body, key="not-the-key"), NO_MATCH),
    "wrong url": (
        lambda d, body: d.pipe.sign(
            body, url=d.pipe.notification_url.replace("127.0.0.1", "localhost")
        ),
        NO_MATCH,
    ),
    "another body's": (lambda d, body: d.pipe.sign(body + b" "), NO_MATCH),
}


@pytest.fixture(scope="module")
async def front(module_pipeline_factory) -> Deployment:
    return await deploy(
        module_pipeline_factory, "ingress", "seal", CANARY_INGRESS_READ_TIMEOUT_SECONDS="1"
    )


# Signature ----------------------------------------------------------------------------
@pytest.mark.parametrize("case", list(UNAUTHENTICATED))
async def test_unauthenticated_delivery_gets_401_and_a_metadata_only_dead_letter(
    front, engine, case
):
    sign, error = UNAUTHENTICATED[case]
    body = square_body(front.pmid)
    signature = sign(front, body)
    before = counter(front.pipe, "canary_webhooks", outcome="unauthorized")

    assert front.pipe.post(body, signature=signature) == (401, UNAUTHORIZED)

    request = await _check_rejection(front, engine, body, signature, error)
    assert front.key_id in request["key_ids_tried"]
    assert counter(front.pipe, "canary_webhooks", outcome="unauthorized") == before + 1
    assert await envelopes_of(front.pipe, sha256_hex(body)) == []


async def test_retired_key_no_longer_verifies(front, engine, owner_engine):
    pipe = front.pipe
    second = f"sig-{uuid.uuid4().hex}"
    second_id = await add_key(pipe, engine, key=second)
    await asyncio.sleep(KEYRING_MISS_REFRESH_SECONDS + 0.5)  # a miss then reloads the keyring
    body = square_body(front.pmid)
    status, answer = pipe.post(body, signature=pipe.sign(body, key=second))
    assert status == 200, answer
    assert (await sealed(engine, answer["event_id"])).signature_key_id == second_id

    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE app.webhook_signing_keys SET active_until = now() - interval '1 minute' "
                "WHERE key_id = :k"
            ),
            {"k": second_id},
        )
    await asyncio.sleep(KEYRING_REFRESH_SECONDS + 0.5)
    late = square_body(front.pmid)
    signature = pipe.sign(late, key=second)
    assert pipe.post(late, signature=signature) == (401, UNAUTHORIZED)
    request = await _check_rejection(front, engine, late, signature, NO_MATCH)
    assert front.key_id in request["key_ids_tried"]
    assert second_id not in request["key_ids_tried"]
    assert pipe.post(square_body(front.pmid))[0] == 200  # the current key still verifies


# Size and time ------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["3 MiB unsigned", "cap + 1 signed", "chunked 3 MiB signed"])
async def test_body_over_the_hard_cap_gets_413_and_nothing_is_kept(front, case):
    pipe = front.pipe
    size = HARD_CAP + 1 if case == "cap + 1 signed" else 3 * 1024 * 1024
    body = sized_body(front.pmid, size)
    before = counter(pipe, "canary_webhooks", outcome="too_large")

    if case.startswith("chunked"):  # no Content-Length: the ingress stops reading at the cap
        answer = await asyncio.to_thread(_post_chunked, front, body)
    else:
        answer = pipe.post(body, signature=None if "unsigned" in case else "auto")

    assert answer == (413, TOO_LARGE)
    assert counter(pipe, "canary_webhooks", outcome="too_large") == before + 1
    sentinel = b"sentinel " + uuid.uuid4().bytes  # 401 dead letters share one partition
    assert pipe.post(sentinel, signature=None)[0] == 401
    await dead_letter(pipe, sha256_hex(sentinel))
    assert await dead_letters_of(pipe, sha256_hex(body)) == []
    assert await envelopes_of(pipe, sha256_hex(body)) == []


@pytest.mark.parametrize("trickle", [False, True], ids=["stalled", "trickling"])
async def test_slow_client_is_cut_off_at_the_read_timeout(front, trickle):
    body = sized_body(front.pmid, 1000)
    head = _request_head(front, body)
    before = counter(front.pipe, "canary_webhooks", outcome="read_timeout")

    elapsed, reply = await asyncio.to_thread(
        _until_closed, front, head + body[:100], body[100:] if trickle else b"", 5.0
    )

    assert 0.9 <= elapsed <= 4.0
    assert reply == b"" or reply.startswith(b"HTTP/1.1 408"), reply
    assert counter(front.pipe, "canary_webhooks", outcome="read_timeout") == before + 1
    assert await envelopes_of(front.pipe, sha256_hex(body)) == []


async def test_client_stalling_in_its_headers_is_cut_off(front):
    head = b"POST /webhooks/square HTTP/1.1\r\nHost: 127.0.0.1\r\n"  # never completed
    elapsed, reply = await asyncio.to_thread(_until_closed, front, head, b"", 5.0)
    assert elapsed <= 4.0
    assert reply == b""


# Order of the steps -------------------------------------------------------------------
async def test_steps_run_in_the_order_of_pipeline_md(front):
    pipe = front.pipe
    stranger = f"MLSTRANGER{uuid.uuid4().hex[:8].upper()}"
    # 1 before 3: an unsigned body over the hard cap is refused for its size.
    assert pipe.post(b"{" + b" " * (3 * 1024 * 1024) + b"}", signature=None) == (413, TOO_LARGE)
    # 3 before 4: an unsigned body that is not JSON is refused for its signature.
    junk = b"not json " + uuid.uuid4().hex.encode()
    assert pipe.post(junk, signature=None) == (401, UNAUTHORIZED)
    # 3 before 5: an unsigned body naming an unknown merchant is refused for its signature.
    unknown = square_body(stranger)
    assert pipe.post(unknown, signature=None) == (401, UNAUTHORIZED)
    # 4 before 5: a signed body that is not JSON, though its text names an unknown merchant.
    truncated = square_body(stranger)[:-1]
    status, answer = pipe.post(truncated)
    assert (status, answer["reason"]) == (202, "unparseable")
    _, letter = await dead_letter(pipe, sha256_hex(truncated))
    assert (letter["reason"], letter["provider_merchant_id"]) == ("unparseable", None)
    # 2 before 3: the refused bodies were hashed before their signature was checked.
    for body in (junk, unknown):
        _, letter = await dead_letter(pipe, sha256_hex(body))
        assert letter["request"]["event_hash"] == sha256_hex(body)
        assert letter["request"]["size"] == len(body)


# What a delivery becomes --------------------------------------------------------------
async def test_envelope_of_a_normal_delivery(front, engine):
    pipe = front.pipe
    source_event_id = str(uuid.uuid4())
    body = square_body(front.pmid, event_id=source_event_id)
    before = datetime.now(UTC)
    status, answer = pipe.post(body)
    after = datetime.now(UTC)
    assert (status, answer) == (200, {"status": "accepted", "event_id": answer.get("event_id")})
    assert uuid.UUID(answer["event_id"]).version == 7

    ((record, envelope),) = await envelopes_of(pipe, sha256_hex(body))
    assert record.key == front.merchant_id.encode()
    assert record.partition == partition_for(front.merchant_id, pipe.settings().topic_partitions)
    assert dict(record.headers) == {**RECORD_HEADERS, "record-type": b"envelope"}
    received_at, raw = envelope.pop("received_at"), envelope.pop("raw_payload")
    assert envelope == {
        "schema_version": 1,
        "event_id": answer["event_id"],
        "merchant_id": front.merchant_id,
        "provider_merchant_id": front.pmid,
        "source": "square",
        "source_event_id": source_event_id,
        "event_type": "payment.created",
        "event_hash": sha256_hex(body),
        "parse_failed": False,
        "oversize": False,
        "source_type": "WEBHOOK",
        "signature_key_id": front.key_id,
    }
    assert b64decode(raw) == body
    assert RFC3339_MICROS.match(received_at)
    assert before <= datetime.fromisoformat(received_at) <= after
    row = await sealed(engine, answer["event_id"])
    assert (row.source_event_id, row.raw_size, row.signature_key_id) == (
        source_event_id,
        len(body),
        front.key_id,
    )
    assert stored_bytes(pipe, row) == body


async def test_duplicate_deliveries_are_answered_alike_and_sealed_once(front, engine):
    pipe = front.pipe
    body = square_body(front.pmid)
    source_event_id = json.loads(body)["event_id"]
    first = pipe.post(body)
    await sealed(engine, first[1]["event_id"])
    retries = await asyncio.gather(
        asyncio.to_thread(pipe.post, body), asyncio.to_thread(pipe.post, body)
    )

    answers = [first, *retries]
    assert [status for status, _ in answers] == [200, 200, 200]
    ids = [answer["event_id"] for _, answer in answers]
    assert len(set(ids)) == 3
    log = await wait_for(lambda: _seal_logged(engine, ids), timeout=60)
    assert log == {
        (ids[0], "SEAL", "SUCCESS", None),
        (ids[1], "SEAL", "DUPLICATE", None),
        (ids[2], "SEAL", "DUPLICATE", None),
    }
    assert await evidence_by_source(engine, front.merchant_id, source_event_id) == [ids[0]]


# Helpers ------------------------------------------------------------------------------
async def _check_rejection(front, engine, body: bytes, signature: str | None, error: str) -> dict:
    """The 401 dead letter holds metadata only; returns its ``request`` part."""
    record, letter = await dead_letter(front.pipe, sha256_hex(body))
    request = letter.pop("request")
    assert letter == {
        "schema_version": 1,
        "stage": "ingress",
        "reason": "signature_invalid",
        "event_id": None,
        "merchant_id": None,
        "provider_merchant_id": None,
        "error": error,
        "at": letter["at"],
        "envelope": None,
        "body": None,
    }
    tried = request["key_ids_tried"]
    names = [*URLLIB_HEADERS, SIGNATURE] if signature is not None else URLLIB_HEADERS
    assert request == {
        "event_hash": sha256_hex(body),
        "size": len(body),
        "remote": "127.0.0.1",
        "header_names": sorted(names),
        "key_ids_tried": tried,
    }
    assert tried == sorted(set(tried)) and set(tried) <= await all_key_ids(engine)
    doc = json.loads(body)
    fragments = [body, b64(body).encode(), doc["merchant_id"], doc["event_id"], doc["data"]["id"]]
    for fragment in [*fragments, signature or body]:
        fragment = fragment.encode() if isinstance(fragment, str) else fragment
        assert fragment not in record.value, fragment
    return request


def _request_head(front, body: bytes) -> bytes:
    return (
        "POST /webhooks/square HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"{SIGNATURE}: {front.pipe.sign(body)}\r\n\r\n"
    ).encode()


def _post_chunked(front, body: bytes) -> tuple[int, dict]:
    """POST with chunked transfer encoding (no Content-Length), signed."""
    head = (
        "POST /webhooks/square HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: chunked\r\n{SIGNATURE}: {front.pipe.sign(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", front.pipe.ports["ingress"]), timeout=30) as sock:
        sock.sendall(head)
        try:
            for at in range(0, len(body), 65536):
                chunk = body[at : at + 65536]
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except OSError:  # the ingress answered and closed before taking everything
            pass
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    status_line, _, rest = reply.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


def _until_closed(front, first: bytes, trickle: bytes, limit: float) -> tuple[float, bytes]:
    """Send ``first``, then one byte of ``trickle`` every 0.2 s, until the server closes.

    Returns the seconds from the last byte of ``first`` to the close, and what was answered.
    """
    with socket.create_connection(("127.0.0.1", front.pipe.ports["ingress"]), timeout=10) as sock:
        sock.sendall(first)
        started, reply = time.monotonic(), b""
        while time.monotonic() - started < limit:
            if select.select([sock], [], [], 0.2)[0]:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    return time.monotonic() - started, reply
                reply += chunk
            elif trickle:
                try:
                    sock.sendall(trickle[:1])
                except OSError:
                    return time.monotonic() - started, reply
                trickle = trickle[1:]
    raise AssertionError(f"connection still open after {limit}s")


async def _seal_logged(engine, ids: list[str]):
    rows = {row for row in await ingestion(engine, ids) if row[1] == "SEAL"}
    return rows if {row[0] for row in rows} == set(ids) else None
