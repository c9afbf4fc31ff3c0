"""``webhooks register|list|rotate`` against the fake Square (a real ``canary-stream fake-square``
process) and a real ingress: the registered key verifies, rotation keeps both keys valid
during the overlap, a key past its ``active_until`` is refused."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness import ROOT, Pipeline, free_port, square_body, wait_for

from canary_stream.ingress.directory import KEYRING_REFRESH_SECONDS
from canary_stream.processes import spawn_python

pytestmark = pytest.mark.integration

#: Long enough for the ingress to reload its keyring at least twice.
KEY_VISIBLE_TIMEOUT = 6 * KEYRING_REFRESH_SECONDS


@dataclass
class FakeSquare:
    """A ``canary-stream fake-square`` subprocess."""

    url: str
    token: str
    popen: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str) -> dict[str, Any]:
        req = urllib.request.Request(
            self.url + path, headers={"Authorization": f"Bearer {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def signature_key(self, subscription_id: str) -> str:
        """The subscription's current key, read back like Square's RetrieveWebhookSubscription."""
        return self.get(f"/v2/webhooks/subscriptions/{subscription_id}")["subscription"][
            "signature_key"
        ]


@pytest.fixture
def fake_square(tmp_path: Path) -> Iterator[FakeSquare]:
    port = free_port()
    token = f"it-{uuid.uuid4().hex}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANARY_")}
    env.update(
        CANARY_SQUARE_ACCESS_TOKEN=token, CANARY_STATE_DIR=str(tmp_path), PYTHONUNBUFFERED="1"
    )
    log = tmp_path / "fake-square.log"
    popen = spawn_python(
        ["-m", "canary_stream.cli.main", "fake-square", "--port", str(port)], log, env, cwd=ROOT
    )
    fake = FakeSquare(f"http://127.0.0.1:{port}", token, popen, log)
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{fake.url}/_fake/health", timeout=2):
                break
        except (urllib.error.URLError, OSError):
            if popen.poll() is not None or time.monotonic() > deadline:
                popen.kill()
                raise AssertionError(f"fake Square did not start:\n{log.read_text()}") from None
            time.sleep(0.2)
    yield fake
    popen.send_signal(signal.SIGTERM)
    try:
        popen.wait(timeout=10)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait(timeout=10)


def _signed_post(pipe: Pipeline, pmid: str, key: str) -> tuple[int, dict[str, Any]]:
    body = square_body(pmid)
    return pipe.post(body, signature=pipe.sign(body, key=key))


async def test_register_list_rotate_with_overlap_and_expiry(pipeline_factory, fake_square):
    pipe: Pipeline = pipeline_factory(
        CANARY_SQUARE_BASE_URL=fake_square.url, CANARY_SQUARE_ACCESS_TOKEN=fake_square.token
    )
    outputs: list[str] = []

    def cli(*args: str) -> str:
        done = pipe.cli(*args)
        outputs.append(done.stdout + done.stderr)
        return done.stdout

    # register: one subscription for the pipeline's URL, its key stored as <id>.k1
    out = cli("webhooks", "register")
    match = re.search(r"registered subscription (wbhk_[0-9a-f]+) for (\S+)", out)
    assert match and match.group(2) == pipe.notification_url, out
    sub_id = match.group(1)
    assert f"signature key stored as {sub_id}.k1" in out
    remote = fake_square.get("/v2/webhooks/subscriptions")["subscriptions"]
    assert [(s["id"], s["notification_url"]) for s in remote] == [(sub_id, pipe.notification_url)]
    assert {
        "payment.created",
        "order.fulfillment.updated",
        "oauth.authorization.revoked",
        "dispute.state.updated",
        "payout.paid",
    } <= set(remote[0]["event_types"])
    key1 = fake_square.signature_key(sub_id)

    again = cli("webhooks", "register")
    assert f"adopted existing subscription {sub_id}" in again and "already in the keyring" in again
    assert len(fake_square.get("/v2/webhooks/subscriptions")["subscriptions"]) == 1

    listing = cli("webhooks", "list", "--remote")
    assert f"{sub_id}.k1" in listing and pipe.notification_url in listing
    assert re.search(rf"{sub_id}\s.*{re.escape(pipe.notification_url)}.*{sub_id}\.k1", listing)

    # the registered key verifies at a real ingress
    _, pmid = pipe.add_merchant()
    procs = [pipe.start(name, wait=False) for name in ("seal", "ingress")]
    for proc in procs:
        pipe.wait_ready(proc)
    assert _signed_post(pipe, pmid, key1)[0] == 200
    assert _signed_post(pipe, pmid, "not-the-key")[0] == 401

    # rotate with the default overlap: the new key verifies, and so does the old one
    out = cli("webhooks", "rotate")
    assert f"rotated the signature key of subscription {sub_id}" in out
    assert f"stored as {sub_id}.k2; {sub_id}.k1 valid until" in out
    key2 = fake_square.signature_key(sub_id)
    assert key2 != key1
    await wait_for(lambda: _signed_post(pipe, pmid, key2)[0] == 200, timeout=KEY_VISIBLE_TIMEOUT)
    assert _signed_post(pipe, pmid, key1)[0] == 200

    # rotate with no overlap: keys past their active_until are refused
    out = cli("webhooks", "rotate", "--overlap-minutes", "0")
    assert f"stored as {sub_id}.k3; {sub_id}.k1, {sub_id}.k2 valid until" in out
    key3 = fake_square.signature_key(sub_id)
    await wait_for(lambda: _signed_post(pipe, pmid, key3)[0] == 200, timeout=KEY_VISIBLE_TIMEOUT)
    assert _signed_post(pipe, pmid, key1)[0] == 401
    assert _signed_post(pipe, pmid, key2)[0] == 401

    listing = cli("webhooks", "list")
    rows = {
        line.split("│")[1].strip(): line
        for line in listing.splitlines()
        if line.count("│") > 2 and sub_id in line
    }
    assert set(rows) == {f"{sub_id}.k1", f"{sub_id}.k2", f"{sub_id}.k3"}
    assert rows[f"{sub_id}.k3"].rstrip(" │").endswith("yes")
    assert rows[f"{sub_id}.k1"].rstrip(" │").endswith("no")

    # never a key on the terminal
    for text in outputs:
        for key in (key1, key2, key3):
            assert key not in text


def test_square_failures_are_one_line(pipeline_factory, fake_square):
    pipe: Pipeline = pipeline_factory(
        CANARY_SQUARE_BASE_URL=fake_square.url, CANARY_SQUARE_ACCESS_TOKEN=fake_square.token
    )

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "canary_stream.cli.main", *args],
            cwd=ROOT,
            env=pipe.env(**env),
            capture_output=True,
            text=True,
            timeout=120,
        )

    wrong = run("webhooks", "register", CANARY_SQUARE_ACCESS_TOKEN="wrong-token")
    assert wrong.returncode == 1
    assert wrong.stderr.strip().splitlines() == [
        "canary-stream: Square ListWebhookSubscriptions failed: HTTP 401 UNAUTHORIZED: "
        "This request could not be authorized."
    ]
    down = run("webhooks", "rotate", CANARY_SQUARE_BASE_URL=f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 1 and len(down.stderr.strip().splitlines()) == 1
    assert "got no answer" in down.stderr
    none = run("webhooks", "rotate")
    assert none.returncode == 1
    assert "no Square subscription delivers to" in none.stderr


async def test_add_defaults_to_the_notification_url_and_refuses_a_bad_one(pipeline_factory, engine):
    from sqlalchemy import text

    pipe = pipeline_factory()
    key_id = f"k-{uuid.uuid4().hex[:8]}"
    added = pipe.cli("webhooks", "add", "--key-id", key_id, input=uuid.uuid4().hex.encode())
    assert added.stdout.strip() == f"added key {key_id} for {pipe.notification_url}"
    for bad in ("", "webhooks/square"):
        refused = pipe.cli(
            "webhooks", "add", "--notification-url", bad, "--key-id", f"{key_id}-bad",
            input=b"another-key", check=False,
        )  # fmt: skip
        assert refused.returncode != 0
        assert refused.stderr.strip() == (
            f"canary-stream: --notification-url {bad!r} must be an absolute http(s) URL such as "
            "https://example.com/webhooks/square: the exact URL of the subscription "
            "(leave the option out for CANARY_NOTIFICATION_URL)"
        ), refused.stderr
    async with engine.connect() as conn:
        stored = (
            await conn.execute(
                text(
                    "SELECT key_id, notification_url FROM app.webhook_signing_keys "
                    "WHERE key_id LIKE :k ORDER BY key_id"
                ),
                {"k": f"{key_id}%"},
            )
        ).all()
    assert [tuple(r) for r in stored] == [(key_id, pipe.notification_url)]
