"""docker-compose.yml agrees with the project's settings (no Docker engine is needed)."""

from __future__ import annotations

from pathlib import Path

import yaml

from canary_stream.apps import STAGES
from canary_stream.settings import DEFAULT_KAFKA_VERSION, Settings

COMPOSE = yaml.safe_load((Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text())


def default(name: str) -> object:
    """A setting's default (not the environment's value)."""
    return Settings.model_fields[name].default


def _host_port(service: str) -> int:
    mapping = COMPOSE["services"][service]["ports"][0]
    host, port, _container = mapping.rsplit(":", 2)
    assert host == "127.0.0.1"
    return int(port)


def test_services_are_the_stack_plus_every_process():
    assert set(COMPOSE["services"]) == {"kafka", "postgres", "migrate", "ingress", *STAGES, "mcp"}


def test_images_are_the_official_ones_at_our_versions():
    assert COMPOSE["services"]["kafka"]["image"] == f"apache/kafka:{DEFAULT_KAFKA_VERSION}"
    assert COMPOSE["services"]["postgres"]["image"] == "postgres:15"


def test_ports_match_the_settings_defaults():
    assert _host_port("kafka") == default("kafka_port") == 19092
    assert default("kafka_bootstrap") == "127.0.0.1:19092"
    assert _host_port("postgres") == default("postgres_port")
    assert _host_port("ingress") == default("ingress_port")
    assert _host_port("mcp") == default("mcp_port")
    for stage in STAGES:
        assert _host_port(stage) == default(f"{stage}_web_port")


def test_kafka_runs_with_the_one_node_settings_of_the_local_stack():
    env = COMPOSE["services"]["kafka"]["environment"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 1
    assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == 0
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:19092"


def test_application_environment_is_valid_settings():
    env = COMPOSE["x-canary-env"]
    fields = set(Settings.model_fields)
    for name in env:
        assert name.startswith("CANARY_") and name[7:].lower() in fields, name
    settings = Settings(_env_file=None, **{k[7:].lower(): v for k, v in env.items()})  # type: ignore[call-arg]
    assert settings.kafka_bootstrap == "kafka:19092"
    assert len(settings.encryption_ring()) == 1
    db = COMPOSE["services"]["postgres"]["environment"]
    owner = settings.owner_database_url.get_secret_value()
    assert (
        owner
        == f"postgresql://{db['POSTGRES_USER']}:{db['POSTGRES_PASSWORD']}@postgres:5432/{db['POSTGRES_DB']}"
    )


def test_every_process_uses_the_shared_environment_and_a_canary_command():
    for name in ("migrate", "ingress", *STAGES, "mcp"):
        service = COMPOSE["services"][name]
        assert service["environment"] == COMPOSE["x-canary-env"]
        command = " ".join(service["command"])
        assert "canary-stream" in command
    for stage in STAGES:
        assert COMPOSE["services"][stage]["command"] == ["canary-stream", "worker", "--app", stage]
