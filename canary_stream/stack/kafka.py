"""Single-node KRaft Apache Kafka from jars that Maven resolves from Maven Central."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import json
import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from canary_stream.errors import StackError
from canary_stream.settings import Settings, get_settings
from canary_stream.stack.common import (
    Echo,
    file_lock,
    last_log_line,
    logs_dir,
    port_open,
    quiet,
    resource_text,
    run_dir,
)
from canary_stream.stack.pidfile import PidFile, pid_alive

HOST = "127.0.0.1"
SLF4J_VERSION = "2.0.16"
LOG4J_VERSION = "2.24.3"
BROKER_HEAP = "-Xmx768m"
READY_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
CONSUMER_GROUP_COMMAND = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
STORAGE_TOOL = "kafka.tools.StorageTool"

POM_TEMPLATE = """\
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by canary-stream: the Kafka {version} broker and tools, resolved by Maven. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.canary-stream</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{version}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>{version}</version>
    </dependency>
    <!-- The broker's tree brings slf4j-api 1.7; the log4j2 binding needs 2.x. -->
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-api</artifactId>
      <version>{slf4j}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j2-impl</artifactId>
      <version>{log4j}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>{log4j}</version>
    </dependency>
  </dependencies>
</project>
"""


def render_pom(version: str) -> str:
    """The pom.xml whose runtime dependencies are the broker's classpath."""
    return POM_TEMPLATE.format(version=version, slf4j=SLF4J_VERSION, log4j=LOG4J_VERSION)


def render_server_properties(settings: Settings, data_dir: Path) -> str:
    """``server.properties`` for one combined broker+controller node on loopback."""
    port, cport = settings.kafka_port, settings.kafka_controller_port
    lines = [
        "# Written by canary-stream on every 'stack up'; edits are overwritten.",
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.bootstrap.servers={HOST}:{cport}",
        f"listeners=PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{cport}",
        f"advertised.listeners=PLAINTEXT://{HOST}:{port}",
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name=PLAINTEXT",
        f"log.dirs={data_dir}",
        "num.partitions=1",
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "auto.create.topics.enable=false",
        "group.initial.rebalance.delay.ms=0",
    ]
    return "\n".join(lines) + "\n"


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/canary-stream`` (default ``~/.cache/canary-stream``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "canary-stream"


def kafka_home(version: str) -> Path:
    """Cache directory for one Kafka version: ``pom.xml`` and ``libs/``."""
    return cache_root() / f"kafka-{version}"


@dataclass(frozen=True)
class KafkaPaths:
    """Where the broker keeps its files under the state directory."""

    base: Path
    data: Path
    properties: Path
    log4j: Path
    tools_log4j: Path
    log: Path
    pidfile: PidFile
    info: Path

    @classmethod
    def of(cls, settings: Settings) -> KafkaPaths:
        base = settings.state_dir / "kafka"
        return cls(
            base=base,
            data=base / "data",
            properties=base / "server.properties",
            log4j=base / "log4j2.xml",
            tools_log4j=base / "log4j2-tools.xml",
            log=logs_dir(settings.state_dir) / "kafka.log",
            pidfile=PidFile(run_dir(settings.state_dir) / "kafka.pid"),
            info=run_dir(settings.state_dir) / "kafka.json",
        )


def write_if_changed(path: Path, text: str) -> None:
    """Atomically replace ``path`` with ``text`` unless it already holds exactly that."""
    with contextlib.suppress(OSError):
        if path.read_text() == text:
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def java_bin() -> str:
    """The ``java`` to run: ``$JAVA_HOME/bin/java`` or the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise StackError(
            "java not found: install a JDK 17+ (e.g. apt-get install default-jdk-headless)"
        )
    return found


def ensure_jars(version: str, echo: Echo = quiet) -> Path:
    """Resolve the broker's jars with Maven once per version; returns the ``libs`` directory."""
    home = kafka_home(version)
    home.mkdir(parents=True, exist_ok=True)
    pom = render_pom(version)
    digest = hashlib.sha256(pom.encode()).hexdigest()
    libs = home / "libs"
    marker = libs / ".canary-resolved"
    if marker.exists() and marker.read_text().strip() == digest:
        return libs
    with file_lock(home / ".lock", f"the Kafka {version} cache", echo):
        if marker.exists() and marker.read_text().strip() == digest:
            return libs
        mvn = shutil.which("mvn")
        if not mvn:
            raise StackError("mvn not found: install Maven (e.g. apt-get install maven)")
        (home / "pom.xml").write_text(pom)
        tmp = home / "libs.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        echo(f"kafka: resolving Kafka {version} jars from Maven Central into {libs} (once)")
        started = time.monotonic()
        proc = subprocess.run(
            [
                mvn, "-q", "-B", "-Dstyle.color=never",
                "dependency:copy-dependencies",
                f"-DoutputDirectory={tmp.name}", "-DincludeScope=runtime",
            ],
            cwd=home, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if proc.returncode != 0 or not any(tmp.glob(f"kafka_2.13-{version}.jar")):
            lines = [ln.strip() for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
            errors = [ln for ln in lines if "ERROR" in ln] or lines or ["no output"]
            raise StackError(f"Maven could not resolve Kafka {version}: {errors[0][:300]}")
        (tmp / ".canary-resolved").write_text(digest + "\n")
        shutil.rmtree(libs, ignore_errors=True)
        os.replace(tmp, libs)
        echo(f"kafka: {len(list(libs.glob('*.jar')))} jars in {time.monotonic() - started:.0f}s")
    return libs


def _java_tool(settings: Settings, main_class: str, args: list[str], timeout: float) -> str:
    """Run one of Kafka's command-line tools; returns stdout or raises ``StackError``."""
    libs = ensure_jars(settings.kafka_version)
    paths = KafkaPaths.of(settings)
    write_if_changed(paths.tools_log4j, resource_text("log4j2-tools.xml"))
    cmd = [
        java_bin(), "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
        "-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={paths.tools_log4j}",
        "-cp", f"{libs}/*", main_class, *args,
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"{main_class.rsplit('.', 1)[-1]} timed out after {timeout:.0f}s") from exc
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()
        errors = [ln for ln in detail if "Error" in ln or "Exception" in ln] or detail
        raise StackError(
            f"{main_class.rsplit('.', 1)[-1]} failed (exit {proc.returncode}): {errors[0][:300]}"
        )
    return proc.stdout


def kafka_consumer_groups(
    args: list[str], *, settings: Settings | None = None, timeout: float = 60.0
) -> str:
    """Run Kafka's own ``kafka-consumer-groups`` with ``args``; returns its stdout.

    ``--bootstrap-server`` is added from the settings unless ``args`` has one.
    Example: ``kafka_consumer_groups(["--describe", "--group", "canary-seal"])``.
    """
    settings = settings or get_settings()
    full = list(args)
    if "--bootstrap-server" not in full:
        full = ["--bootstrap-server", settings.kafka_bootstrap, *full]
    return _java_tool(settings, CONSUMER_GROUP_COMMAND, full, timeout)


def is_formatted(paths: KafkaPaths) -> bool:
    """True once the storage directory holds ``meta.properties``."""
    return (paths.data / "meta.properties").exists()


def format_storage(settings: Settings, paths: KafkaPaths, echo: Echo = quiet) -> str:
    """Format KRaft storage with a fresh cluster id (first start only); returns the id."""
    cluster_id = _java_tool(settings, STORAGE_TOOL, ["random-uuid"], 60.0).strip().split()[-1]
    echo(f"kafka: formatting storage in {paths.data} (cluster id {cluster_id})")
    _java_tool(
        settings,
        STORAGE_TOOL,
        ["format", "-t", cluster_id, "-c", str(paths.properties), "--standalone"],
        120.0,
    )
    return cluster_id


def _check_same_address(paths: KafkaPaths, wanted: str) -> None:
    try:
        running = json.loads(paths.info.read_text()).get("address")
    except (OSError, ValueError, AttributeError):
        return
    if running and running != wanted:
        raise StackError(
            f"kafka is already running on {running} but the settings say {wanted}: "
            "run 'canary-stream stack down' first"
        )


def check_ports_free(settings: Settings) -> None:
    """Raise ``StackError`` when someone else already listens on the broker's ports."""
    for port in (settings.kafka_port, settings.kafka_controller_port):
        if port_open(HOST, port):
            raise StackError(
                f"port {HOST}:{port} is already in use by a process this stack did not start; "
                "stop it or set CANARY_KAFKA_PORT / CANARY_KAFKA_CONTROLLER_PORT"
            )


def running_pid(settings: Settings) -> int | None:
    """Pid of the broker this state directory started, if it still runs."""
    return KafkaPaths.of(settings).pidfile.live_pid()


def start(settings: Settings, echo: Echo = quiet) -> int:
    """Start the broker (resolving jars and formatting storage first if needed); returns its pid."""
    paths = KafkaPaths.of(settings)
    pid = paths.pidfile.live_pid()
    if pid is not None:
        _check_same_address(paths, f"{HOST}:{settings.kafka_port}")
        echo(f"kafka: already running (pid {pid})")
        return pid
    paths.pidfile.remove()
    check_ports_free(settings)
    libs = ensure_jars(settings.kafka_version, echo)
    java = java_bin()
    paths.data.mkdir(parents=True, exist_ok=True)
    paths.log.parent.mkdir(parents=True, exist_ok=True)
    write_if_changed(paths.properties, render_server_properties(settings, paths.data))
    write_if_changed(paths.log4j, resource_text("log4j2.xml"))
    if not is_formatted(paths):
        format_storage(settings, paths, echo)
    cmd = [
        java, BROKER_HEAP, "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={paths.log4j}", f"-Dcanary.kafka.log={paths.log}",
        "-cp", f"{libs}/*", "kafka.Kafka", str(paths.properties),
    ]  # fmt: skip
    with paths.log.open("ab") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=paths.base,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    paths.pidfile.write(proc.pid)
    paths.info.write_text(
        json.dumps(
            {
                "version": settings.kafka_version,
                "address": f"{HOST}:{settings.kafka_port}",
                "controller": f"{HOST}:{settings.kafka_controller_port}",
                "data_dir": str(paths.data),
                "libs": str(libs),
                "log": str(paths.log),
            },
            indent=2,
        )
    )
    echo(f"kafka: started pid {proc.pid} on {HOST}:{settings.kafka_port}")
    return proc.pid


async def _metadata(bootstrap: str, seconds: float) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=max(1000, int(seconds * 1000))
    )
    try:
        async with asyncio.timeout(seconds):
            await admin.start()
            await admin.describe_cluster()
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def _run_coroutine(bootstrap: str, seconds: float) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_metadata(bootstrap, seconds))
        return
    # Called from async code: run the check on a private loop in a worker thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _metadata(bootstrap, seconds)).result()


def check_ready(settings: Settings, timeout: float = 5.0) -> bool:
    """TCP connect plus an aiokafka admin metadata call against the local broker."""
    if not port_open(HOST, settings.kafka_port):
        return False
    aiokafka_log = logging.getLogger("aiokafka")
    old_level = aiokafka_log.level
    aiokafka_log.setLevel(logging.CRITICAL)
    try:
        _run_coroutine(f"{HOST}:{settings.kafka_port}", timeout)
        return True
    except Exception:
        return False
    finally:
        aiokafka_log.setLevel(old_level)


def wait_ready(settings: Settings, pid: int, timeout: float = READY_TIMEOUT) -> None:
    """Block until the broker answers, or raise ``StackError`` (process died or timed out)."""
    paths = KafkaPaths.of(settings)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            raise StackError(f"kafka exited during start-up: {last_log_line(paths.log)}")
        if check_ready(settings):
            return
        time.sleep(0.5)
    raise StackError(
        f"kafka did not answer on {HOST}:{settings.kafka_port} within {timeout:.0f}s "
        f"(see {paths.log}): {last_log_line(paths.log)}"
    )
