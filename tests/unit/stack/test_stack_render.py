"""Rendered configuration of the local stack: server.properties, pom.xml, pg_hba and args."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from canary_stream.settings import Settings
from canary_stream.stack import kafka, postgres
from canary_stream.stack.common import last_log_line, resource_text, tail_lines

NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        state_dir=tmp_path,
        kafka_port=29092,
        kafka_controller_port=29093,
        postgres_port=25433,
    )


def _props(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")
    return {k: v for k, v in pairs}


def test_server_properties(tmp_path: Path) -> None:
    props = _props(kafka.render_server_properties(_settings(tmp_path), tmp_path / "data"))
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:29092"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:29093"
    assert props["log.dirs"] == str(tmp_path / "data")
    assert props["auto.create.topics.enable"] == "false"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"


def test_pom_lists_broker_tools_and_logging() -> None:
    root = ET.fromstring(kafka.render_pom("4.1.1"))
    assert root.findtext("m:packaging", namespaces=NS) == "pom"
    deps = {
        (d.findtext("m:groupId", namespaces=NS), d.findtext("m:artifactId", namespaces=NS)): (
            d.findtext("m:version", namespaces=NS)
        )
        for d in root.iterfind("m:dependencies/m:dependency", NS)
    }
    assert deps[("org.apache.kafka", "kafka_2.13")] == "4.1.1"
    assert deps[("org.apache.kafka", "kafka-tools")] == "4.1.1"
    assert deps[("org.slf4j", "slf4j-api")].startswith("2.")
    assert ("org.apache.logging.log4j", "log4j-slf4j2-impl") in deps
    assert ("org.apache.logging.log4j", "log4j-core") in deps


def test_log4j_resources_parse() -> None:
    broker = ET.fromstring(resource_text("log4j2.xml"))
    assert broker.find("Appenders/File").get("fileName") == "${sys:canary.kafka.log}"  # type: ignore[union-attr]
    assert broker.find("Loggers/Root").get("level") == "INFO"  # type: ignore[union-attr]
    ET.fromstring(resource_text("log4j2-tools.xml"))


def test_kafka_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert kafka.kafka_home("4.1.1") == tmp_path / "canary-stream" / "kafka-4.1.1"


def test_pg_hba_is_loopback_scram_only() -> None:
    rules = [line.split() for line in postgres.render_hba().splitlines() if line[:1].isalpha()]
    assert ["host", "all", "all", "127.0.0.1/32", "scram-sha-256"] in rules
    assert all(rule[0] in ("local", "host") for rule in rules)
    assert all(rule[-1] == "scram-sha-256" for rule in rules if rule[0] == "host")


def test_postgres_args(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    paths = postgres.PgPaths.at(settings, tmp_path / "postgres")
    args = postgres.server_args(settings, paths, Path("/usr/lib/postgresql/15/bin"))
    assert args[:3] == ["/usr/lib/postgresql/15/bin/postgres", "-D", str(paths.data)]
    assert "listen_addresses=127.0.0.1" in args
    assert "port=25433" in args
    assert f"unix_socket_directories={paths.socket_dir}" in args
    assert paths.log == tmp_path / "logs" / "postgres.log"
    assert paths.pidfile.path == tmp_path / "run" / "postgres.pid"
    assert not paths.relocated


def test_fallback_root_is_stable_and_per_state_dir(tmp_path: Path) -> None:
    one = postgres.fallback_root(tmp_path / "a")
    assert one == postgres.fallback_root(tmp_path / "a")
    assert one != postgres.fallback_root(tmp_path / "b")
    assert one.parts[:3] == ("/", "var", "tmp")


def test_tail_and_last_log_line(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    assert tail_lines(log, 5) == []
    log.write_text("".join(f"line {i}\n" for i in range(1000)) + "ERROR boom\nfine\n")
    assert tail_lines(log, 2) == ["ERROR boom", "fine"]
    assert last_log_line(log) == "ERROR boom"
