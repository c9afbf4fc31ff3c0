"""Dead letters of authentic bodies are replayable: onboard the merchant, replay, sealed once,
with the original event_id and received_at."""

from __future__ import annotations

import json
import uuid

import pytest
from harness import evidence_rows, read_topic, square_body, wait_for

pytestmark = pytest.mark.integration


async def test_unknown_merchant_is_sealed_after_onboarding_and_replay(pipeline_factory, engine):
    pipe = pipeline_factory()
    pipe.add_signature_key()
    pipe.start("ingress")
    pipe.start("seal")
    pmid = f"ML{uuid.uuid4().hex[:12].upper()}"
    body = square_body(pmid, event_id="sq-late-onboarding")
    status, answer = pipe.post(body)
    assert (status, answer["reason"]) == (202, "unknown_merchant")
    event_id = answer["event_id"]

    listed = pipe.cli("dead-letters", "list", "--reason", "unknown_merchant", "--json")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["event_id"], r["stage"], r["replayable"]) for r in rows] == [
        (event_id, "ingress", True)
    ]
    assert body.decode() not in listed.stdout  # the list never prints the bytes

    nothing = pipe.cli("replay", "dead-letters", "--reason", "unknown_merchant")
    assert nothing.stdout.strip() == "replayed 0 dead letter(s); 1 still unusable"

    merchant_id, _ = pipe.add_merchant(pmid)
    replayed = pipe.cli("replay", "dead-letters", "--reason", "unknown_merchant")
    assert replayed.stdout.strip() == "replayed 1 dead letter(s); 0 still unusable"
    sealed = await wait_for(lambda: _rows(engine, merchant_id))
    assert [(str(r.event_id), r.seq, r.source_event_id) for r in sealed] == [
        (event_id, 1, "sq-late-onboarding")
    ]
    letters = await read_topic(pipe.settings(), pipe.topic("dead-letter"))
    original = json.loads(letters[0].value)
    envelopes = [
        json.loads(r.value) for r in await read_topic(pipe.settings(), pipe.topic("events"))
    ]
    assert [e["received_at"] for e in envelopes] == [original["body"]["received_at"]]

    # A second replay sends it again; seal republishes the stored row and adds no link.
    pipe.cli("replay", "dead-letters", "--reason", "unknown_merchant", "--merchant", pmid)
    await wait_for(lambda: _events(pipe, 2))
    await wait_for(lambda: _sealed_times(pipe, event_id, 2))  # seal has taken the second one
    assert len(await evidence_rows(engine, merchant_id)) == 1


def test_replay_refuses_a_reason_that_is_not_replayable(pipeline_factory):
    pipe = pipeline_factory()
    result = pipe.cli("replay", "dead-letters", "--reason", "signature_invalid", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "canary-stream: reason 'signature_invalid' is not replayable; choose one of "
        "deferred_exhausted, foreign_currency, parse_error, unknown_merchant, unparseable"
    )


async def _rows(engine, merchant_id):
    return await evidence_rows(engine, merchant_id) or None


async def _sealed_times(pipe, event_id, n):
    records = await read_topic(pipe.settings(), pipe.topic("sealed"))
    return sum(json.loads(r.value)["event_id"] == event_id for r in records) >= n


async def _events(pipe, n):
    records = await read_topic(pipe.settings(), pipe.topic("events"))
    return len(records) >= n
