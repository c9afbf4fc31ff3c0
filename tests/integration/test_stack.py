"""The running local stack (``make test`` starts it): status, env, and an idempotent ``up``."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import psycopg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from canary_stream.settings import Settings
from canary_stream.stack import kafka, postgres

pytestmark = pytest.mark.integration

EXPORT = re.compile(r"^export (CANARY_[A-Z_]+)='([^']*)'$")


def _stack(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "canary_stream.cli.stack", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _exports() -> dict[str, str]:
    result = _stack("env")
    assert result.returncode == 0, result.stderr
    found = {}
    for line in result.stdout.splitlines():
        match = EXPORT.match(line)
        assert match, f"not an export line: {line!r}"
        found[match.group(1)] = match.group(2)
    return found


def test_status_shows_both_running() -> None:
    result = _stack("status")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^kafka: running \(pid \d+\)$", result.stdout, re.M), result.stdout
    assert re.search(r"^postgres: running \(pid \d+\)$", result.stdout, re.M), result.stdout
    assert "not accepting" not in result.stdout


def test_env_exports_the_urls_and_secrets() -> None:
    values = _exports()
    for name in (
        "CANARY_KAFKA_BOOTSTRAP",
        "CANARY_DATABASE_URL",
        "CANARY_OWNER_DATABASE_URL",
        "CANARY_ENCRYPTION_KEYS",
        "CANARY_CARD_HASH_KEYS",
        "CANARY_CHECKPOINT_SIGNING_KEY",
        "CANARY_SQUARE_APPLICATION_SECRET",
        "CANARY_SQUARE_ACCESS_TOKEN",
    ):
        assert values.get(name), name
    assert values["CANARY_DATABASE_URL"].startswith("postgresql://")
    settings = Settings(**{k.removeprefix("CANARY_").lower(): v for k, v in values.items()})
    assert len(settings.encryption_ring()) == 1
    # the README's `webhooks add --notification-url "$CANARY_NOTIFICATION_URL"` needs it
    assert values["CANARY_NOTIFICATION_URL"] == (
        f"http://127.0.0.1:{Settings().ingress_port}/webhooks/square"
    )


def test_database_url_connects_as_the_app_role() -> None:
    url = _exports()["CANARY_DATABASE_URL"]
    with psycopg.connect(url, connect_timeout=10) as conn:
        row = conn.execute(
            "SELECT current_user, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
            "WHERE rolname = current_user"
        ).fetchone()
    assert row is not None
    assert row[0] == url.split("://", 1)[1].split(":", 1)[0]
    assert row[1:] == (False, False, False)


def test_owner_url_owns_the_database() -> None:
    values = _exports()
    with psycopg.connect(values["CANARY_OWNER_DATABASE_URL"], connect_timeout=10) as conn:
        row = conn.execute(
            "SELECT pg_get_userbyid(datdba) = current_user FROM pg_database "
            "WHERE datname = current_database()"
        ).fetchone()
    assert row == (True,)


async def test_kafka_bootstrap_answers_admin_requests() -> None:
    bootstrap = _exports()["CANARY_KAFKA_BOOTSTRAP"]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        topics = await admin.list_topics()
        cluster = await admin.describe_cluster()
    finally:
        await admin.close()
    assert isinstance(topics, list)
    assert len(cluster["brokers"]) == 1


def test_up_again_is_idempotent_and_quick() -> None:
    settings = Settings()
    before = (kafka.running_pid(settings), postgres.running_pid(settings))
    assert None not in before
    started = time.monotonic()
    result = _stack("up", timeout=120)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "already running" in result.stderr
    assert (kafka.running_pid(settings), postgres.running_pid(settings)) == before
    assert f"kafka pid {before[0]}, postgres pid {before[1]}" in result.stdout
    assert elapsed < 30, f"second 'stack up' took {elapsed:.1f}s"


def test_kafka_consumer_groups_tool_runs() -> None:
    out = kafka.kafka_consumer_groups(["--list"], settings=Settings())
    assert isinstance(out, str)
