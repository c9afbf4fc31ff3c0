"""R2 in small: the broker stops while webhooks arrive → 503s, never a 200 for an event that is
not in the topic; after it returns, deliveries are accepted and sealed again.

Runs its own broker (same jars as the stack, other ports and data dir) so stopping it does
not disturb the rest of the suite."""

from __future__ import annotations

import json
import signal

import pytest
from harness import evidence_rows, free_port, read_topic, square_body, wait_for

from canary_stream.stack import kafka as stack_kafka
from canary_stream.stack.pidfile import stop_process

pytestmark = pytest.mark.integration


@pytest.fixture
def private_broker(stack_settings, tmp_path):
    port, controller = free_port(), free_port()
    settings = stack_settings.model_copy(
        update={
            "state_dir": tmp_path / "broker",
            "kafka_port": port,
            "kafka_controller_port": controller,
            "kafka_bootstrap": f"127.0.0.1:{port}",
        }
    )
    pid = stack_kafka.start(settings)
    stack_kafka.wait_ready(settings, pid)
    yield settings
    stop_process(stack_kafka.KafkaPaths.of(settings).pidfile, sig=signal.SIGKILL, timeout=5)


async def test_broker_down_means_503_never_200(pipeline_factory, private_broker, engine):
    pipe = pipeline_factory(
        CANARY_KAFKA_BOOTSTRAP=private_broker.kafka_bootstrap,
        CANARY_INGRESS_DEADLINE_SECONDS="2",
    )
    merchant_id, pmid = pipe.add_merchant()
    pipe.add_signature_key()
    pipe.start("ingress")
    pipe.start("seal")
    accepted: list[str] = []
    status, answer = pipe.post(square_body(pmid))
    assert status == 200
    accepted.append(answer["event_id"])

    paths = stack_kafka.KafkaPaths.of(private_broker)
    stop_process(paths.pidfile, sig=signal.SIGKILL, timeout=5)
    while_down = [pipe.post(square_body(pmid)) for _ in range(4)]
    assert [s for s, _ in while_down] == [503] * 4
    assert all(a["status"] in ("unavailable", "saturated") for _, a in while_down)

    pid = stack_kafka.start(private_broker)
    stack_kafka.wait_ready(private_broker, pid)

    async def accepted_again():
        status, answer = pipe.post(square_body(pmid))
        if status == 200:
            accepted.append(answer["event_id"])
        return status == 200

    await wait_for(accepted_again, timeout=90, interval=1.0)
    for _ in range(3):
        status, answer = pipe.post(square_body(pmid))
        assert status == 200
        accepted.append(answer["event_id"])

    records = await read_topic(pipe.settings(), pipe.topic("events"))
    in_topic = {json.loads(r.value)["event_id"] for r in records}
    assert set(accepted) <= in_topic
    rows = await wait_for(lambda: _sealed(engine, merchant_id, len(accepted)), timeout=90)
    assert {str(r.event_id) for r in rows} >= set(accepted)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))


async def _sealed(engine, merchant_id, n):
    rows = await evidence_rows(engine, merchant_id)
    return rows if len(rows) >= n else None
