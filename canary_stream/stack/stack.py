"""The local stack as one unit: ``up``, ``down``, ``status``, ``env`` and log files."""

from __future__ import annotations

import json
import signal
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from canary_stream.errors import StackError
from canary_stream.settings import Settings, get_settings
from canary_stream.stack import envfile, kafka, postgres
from canary_stream.stack.common import Echo, file_lock, port_open, quiet, run_dir
from canary_stream.stack.pidfile import stop_process

SERVICES = ("kafka", "postgres")


def env_path(settings: Settings) -> Path:
    """``state_dir/stack.env``."""
    return settings.state_dir / "stack.env"


def _lock(settings: Settings, echo: Echo) -> AbstractContextManager[None]:
    return file_lock(run_dir(settings.state_dir) / "stack.lock", "the local stack lock", echo)


def ensure_env(settings: Settings) -> dict[str, str]:
    """Write ``stack.env`` (URLs refreshed, secrets kept or created once) and return its values."""
    path = env_path(settings)
    urls = {
        "CANARY_KAFKA_BOOTSTRAP": f"{kafka.HOST}:{settings.kafka_port}",
        "CANARY_DATABASE_URL": postgres.app_url(settings),
        "CANARY_OWNER_DATABASE_URL": postgres.owner_url(settings),
    }
    existing = envfile.read_env(path)
    values = envfile.merge_env(existing, urls)
    if values != existing or path.stat().st_mode & 0o077:
        envfile.write_env(path, values)
    return values


def up(settings: Settings | None = None, echo: Echo = quiet) -> dict[str, int]:
    """Start Kafka and PostgreSQL if needed and wait until both answer; returns their pids."""
    settings = settings or get_settings()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with _lock(settings, echo):
        pg_running = postgres.running_pid(settings) is not None
        kafka_running = kafka.running_pid(settings) is not None
        if not pg_running:
            postgres.check_port_free(settings)
        if not kafka_running:
            kafka.check_ports_free(settings)
        fresh: list[str] = []
        try:
            pg_pid = postgres.start(settings, echo)
            if not pg_running:
                fresh.append("postgres")
            kafka_pid = kafka.start(settings, echo)
            if not kafka_running:
                fresh.append("kafka")
            if not pg_running:
                echo("postgres: waiting until it accepts connections")
            postgres.wait_ready(settings, pg_pid)
            postgres.bootstrap(settings)
            postgres.check_app(settings)
            if not kafka_running:
                echo("kafka: waiting until it answers metadata requests")
            kafka.wait_ready(settings, kafka_pid)
        except BaseException:
            for name in fresh:
                _stop_one(settings, name, quiet)
            raise
        path = env_path(settings)
        ensure_env(settings)
        echo(f"stack: up — kafka pid {kafka_pid}, postgres pid {pg_pid}; settings in {path}")
        return {"kafka": kafka_pid, "postgres": pg_pid}


def _stop_one(settings: Settings, name: str, echo: Echo) -> int | None:
    if name == "kafka":
        pidfile, sig, timeout = (
            kafka.KafkaPaths.of(settings).pidfile,
            signal.SIGTERM,
            kafka.STOP_TIMEOUT,
        )
    else:
        # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to leave.
        pidfile, sig, timeout = (
            postgres.PgPaths.existing(settings).pidfile,
            signal.SIGINT,
            postgres.STOP_TIMEOUT,
        )
    pid = pidfile.live_pid()
    if pid is not None:
        echo(f"{name}: stopping pid {pid}")
    stopped = stop_process(pidfile, sig=sig, timeout=timeout)
    echo(f"{name}: stopped (pid {stopped})" if stopped else f"{name}: was not running")
    return stopped


def down(settings: Settings | None = None, echo: Echo = quiet) -> dict[str, int | None]:
    """Stop exactly the processes named in our pid files; returns the pids that were stopped."""
    settings = settings or get_settings()
    with _lock(settings, echo):
        return {name: _stop_one(settings, name, echo) for name in SERVICES}


@dataclass(frozen=True)
class ServiceStatus:
    """One line of ``stack status``."""

    name: str
    pid: int | None
    accepting: bool
    address: str
    version: str
    data_dir: str
    log: str
    note: str = ""

    @property
    def running(self) -> bool:
        return self.pid is not None

    def render(self) -> str:
        state = f"running (pid {self.pid})" if self.pid else "stopped"
        if self.pid and not self.accepting:
            state += ", not accepting connections yet"
        lines = [
            f"{self.name}: {state}",
            f"  address  {self.address}",
            f"  version  {self.version}",
            f"  data     {self.data_dir}",
            f"  log      {self.log}",
        ]
        if self.note:
            lines.append(f"  note     {self.note}")
        return "\n".join(lines)


def _info(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def status(settings: Settings | None = None) -> list[ServiceStatus]:
    """What runs where, from the pid files (no side effects)."""
    settings = settings or get_settings()
    kp = kafka.KafkaPaths.of(settings)
    kpid = kp.pidfile.live_pid()
    kinfo = _info(kp.info) if kpid else {}
    kaddr = str(kinfo.get("address") or f"{kafka.HOST}:{settings.kafka_port}")
    kcontroller = f"{kafka.HOST}:{settings.kafka_controller_port}"
    kafka_status = ServiceStatus(
        name="kafka",
        pid=kpid,
        accepting=bool(kpid) and port_open(*_split(kaddr)),
        address=f"{kaddr} (controller {kinfo.get('controller') or kcontroller})",
        version=f"Apache Kafka {kinfo.get('version') or settings.kafka_version} (KRaft)",
        data_dir=str(kinfo.get("data_dir") or kp.data),
        log=str(kp.log),
    )
    pp = postgres.PgPaths.existing(settings)
    ppid = pp.pidfile.live_pid()
    pinfo = _info(pp.info) if ppid else {}
    paddr = str(pinfo.get("address") or f"{postgres.HOST}:{settings.postgres_port}")
    version = str(pinfo.get("version") or postgres.server_version(settings.postgres_bin_dir))
    note = ""
    if pp.relocated:
        note = f"data under {pp.root}: user '{postgres.SYSTEM_USER}' cannot reach the state dir"
    pg_status = ServiceStatus(
        name="postgres",
        pid=ppid,
        accepting=bool(ppid) and port_open(*_split(paddr)),
        address=paddr,
        version=f"PostgreSQL {version}",
        data_dir=str(pinfo.get("data_dir") or pp.data),
        log=str(pp.log),
        note=note,
    )
    return [kafka_status, pg_status]


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def log_path(settings: Settings, service: str) -> Path:
    """The log file of ``kafka`` or ``postgres``."""
    if service == "kafka":
        return kafka.KafkaPaths.of(settings).log
    if service == "postgres":
        return postgres.PgPaths.existing(settings).log
    raise StackError(f"unknown service {service!r}: use kafka or postgres")
