"""``/metrics`` (Prometheus text, scraped with prometheus_client's parser) moves as traffic
flows and carries no merchant data; the ingress's status page ``/`` renders its sections,
its detail view needs an operator token; the page renders in Debian's headless Chromium."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from harness import square_body, wait_for
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
VECTOR = Path(__file__).parents[1] / "vectors" / "square" / "webhooks" / "payment.created.json"


def payment_body(pmid: str) -> bytes:
    """Square's example payment.created for ``pmid``, with fresh event and payment ids."""
    body = copy.deepcopy(json.loads(VECTOR.read_text())["body"])
    body["merchant_id"] = pmid
    body["event_id"] = f"evt-{uuid.uuid4()}"
    payment = body["data"]["object"]["payment"]
    body["data"]["id"] = payment["id"] = f"pay{uuid.uuid4().hex[:20]}"
    return json.dumps(body).encode()


#: Where the screenshot is kept (``TEST_ARTIFACTS_DIR`` overrides; CI can upload it).
ARTIFACTS = Path(
    os.environ.get("TEST_ARTIFACTS_DIR") or Path(__file__).parents[2] / ".canary" / "test-artifacts"
)


@pytest.fixture(scope="module")
def running(module_pipeline_factory) -> dict[str, Any]:
    """One pipeline (ingress, seal, parse) with two merchants, shared by this module."""
    pipe = module_pipeline_factory()
    merchants = [pipe.add_merchant() for _ in range(2)]
    pipe.add_signature_key()
    for name in ("ingress", "seal", "parse"):
        pipe.start(name)
    return {"pipe": pipe, "merchants": merchants}


def get(url: str, token: str | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``url``/metrics keyed by (name, sorted labels)."""
    status, body = get(f"{url}/metrics")
    assert status == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: dict[Any, float], name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


async def test_metrics_move_with_traffic_and_name_no_merchant(running) -> None:
    pipe, merchants = running["pipe"], running["merchants"]
    ingress = next(p for p in pipe.procs if p.name == "ingress").url
    seal = next(p for p in pipe.procs if p.name == "seal").url
    parse = next(p for p in pipe.procs if p.name == "parse").url
    before = scrape(ingress)
    sealed_before = total(scrape(seal), "canary_events_sealed_total")
    accepted = 0
    for i in range(15):
        status, _ = pipe.post(payment_body(merchants[i % 2][1]))
        assert status == 200
        accepted += 1
    assert pipe.post(square_body(merchants[0][1]), signature="bad")[0] == 401
    after = scrape(ingress)
    accepted_delta = value(after, "canary_webhooks_total", outcome="accepted") - value(
        before, "canary_webhooks_total", outcome="accepted"
    )
    assert accepted_delta == accepted
    unauthorized_delta = value(after, "canary_webhooks_total", outcome="unauthorized") - value(
        before, "canary_webhooks_total", outcome="unauthorized"
    )
    assert unauthorized_delta == 1

    await wait_for(
        lambda: total(scrape(seal), "canary_events_sealed_total") - sealed_before >= accepted,
        timeout=60,
    )
    await wait_for(
        lambda: total(scrape(parse), "canary_latency_received_to_canonical_seconds_count") > 0,
        timeout=60,
    )
    assert total(scrape(parse), "canary_parse_outcomes_total") > 0

    # The lag gauges of this pipeline's groups reach zero once the burst is consumed.
    groups = {f"{pipe.prefix}-seal", f"{pipe.prefix}-parse"}

    def lag_settled() -> bool:
        samples = scrape(ingress)
        rows = [
            (dict(labels), v)
            for (name, labels), v in samples.items()
            if name == "canary_consumer_lag_messages" and dict(labels)["group"] in groups
        ]
        return (
            bool(rows) and {r["group"] for r, _ in rows} == groups and all(v == 0 for _, v in rows)
        )

    await wait_for(lag_settled, timeout=60, interval=1.0)

    # No label value anywhere names a merchant (ours or Square's id).
    forbidden = [m for pair in merchants for m in pair]
    for url in (ingress, seal, parse):
        for (_name, labels), _ in scrape(url).items():
            for _k, v in labels:
                assert not any(m.lower() in v.lower() for m in forbidden), (url, labels)


async def test_status_page_sections_and_operator_detail(running) -> None:
    pipe, merchants = running["pipe"], running["merchants"]
    ingress = next(p for p in pipe.procs if p.name == "ingress").url
    for i in range(4):
        assert pipe.post(square_body(merchants[i % 2][1]))[0] == 200
    pipe.post(b"{not json", signature="bad")  # an ingress dead letter or a 401

    async def page_shows_groups() -> str | None:
        status, html = get(f"{ingress}/")
        assert status == 200
        return html if f"{pipe.prefix}-seal" in html else None

    html = await wait_for(page_shows_groups, timeout=30, interval=1.0)
    for section in (
        "<title>canary-stream status</title>",
        'http-equiv="refresh"',
        "Consumer lag per stage",
        "Throughput (last minute)",
        "Dead letters by reason",
        "Latest checkpoints",
        "Latest alerts",
        'class="lag-row"',
    ):
        assert section in html, section
    for _uuid, pmid in merchants:
        assert pmid not in html  # Square's merchant ids never appear

    assert get(f"{ingress}/status/dead-letters")[0] == 401
    assert get(f"{ingress}/status/dead-letters", token="cst_not-a-token")[0] == 401
    merchant_token = (
        pipe.cli("tokens", "create", "--scope", "status", "--merchant", merchants[0][0])
        .stdout.strip()
        .splitlines()[-1]
    )
    assert get(f"{ingress}/status/dead-letters", token=merchant_token)[0] == 401
    proofs_token = pipe.cli("tokens", "create", "--scope", "proofs").stdout.strip().splitlines()[-1]
    assert get(f"{ingress}/status/dead-letters", token=proofs_token)[0] == 401
    operator = pipe.cli("tokens", "create", "--scope", "status").stdout.strip().splitlines()[-1]
    status, detail = get(f"{ingress}/status/dead-letters", token=operator)
    assert status == 200
    assert "dead letter(s)" in detail


def _fresh_artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)
    return path


def _chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp / 'chromium-profile'}",
            *args,
        ],
        capture_output=True,
        timeout=90,
    )


async def test_status_page_in_headless_chromium(running, tmp_path) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        # A failure, never a skip (CI=true or not): .ci/run installs Debian's chromium.
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)")
    pipe, merchants = running["pipe"], running["merchants"]
    ingress = next(p for p in pipe.procs if p.name == "ingress").url
    for i in range(6):
        assert pipe.post(square_body(merchants[i % 2][1]))[0] == 200

    def page_ready() -> bool:
        status, html = get(f"{ingress}/")
        return status == 200 and f"{pipe.prefix}-seal" in html and "no events in" not in html

    await wait_for(page_ready, timeout=30, interval=1.0)
    shot = _fresh_artifact("status-page.png")
    done = _chromium([f"--screenshot={shot}", "--window-size=1280,900", f"{ingress}/"], tmp_path)
    assert shot.exists(), done.stderr.decode(errors="replace")[-2000:]
    assert shot.stat().st_size > 10_000, shot.stat().st_size
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dom = _chromium(["--dump-dom", f"{ingress}/"], tmp_path).stdout.decode(errors="replace")
    assert "<title>canary-stream status</title>" in dom
    assert 'class="lag-row"' in dom and f"{pipe.prefix}-seal" in dom
