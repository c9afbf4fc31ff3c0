"""`canary-stream up | ps --json | down`: the ingress, four stage apps and the identity MCP
server, ready and stopped (on a loaded machine six processes may take more than a minute)."""

from __future__ import annotations

import json
import urllib.request

import pytest

pytestmark = pytest.mark.integration


def test_up_ps_down(pipeline_factory):
    pipe = pipeline_factory()
    try:
        up = pipe.cli("up", "--wait", "120", timeout=180)
        assert "ingress" in up.stdout
        processes = json.loads(pipe.cli("ps", "--json").stdout)
        assert [p["name"] for p in processes] == [
            "ingress",
            "seal",
            "parse",
            "detect",
            "customers",
            "mcp",
        ]
        for proc in processes:
            assert proc["alive"] is True and isinstance(proc["pid"], int)
            with urllib.request.urlopen(f"{proc['url']}/health/ready", timeout=5) as response:
                assert response.status == 200
                assert json.loads(response.read())["status"] == "ready"
        again = pipe.cli("up", "--wait", "120", timeout=180)  # idempotent: same pids
        assert again.returncode == 0
        assert [p["pid"] for p in json.loads(pipe.cli("ps", "--json").stdout)] == [
            p["pid"] for p in processes
        ]
    finally:
        down = pipe.cli("down", timeout=240)
    assert down.stdout.strip() == "stopped: mcp, customers, detect, parse, seal, ingress"
    after = json.loads(pipe.cli("ps", "--json").stdout)
    assert [p["alive"] for p in after] == [False] * 6


def test_process_refuses_to_start_when_a_topic_is_missing(pipeline_factory):
    pipe = pipeline_factory()
    pipe.prefix = "missing" + pipe.prefix  # topics of this prefix were never created
    result = pipe.cli("worker", "--app", "seal", check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"canary-stream: {pipe.prefix}.")
    assert "missing (run 'canary-stream topics create')" in lines[0]
