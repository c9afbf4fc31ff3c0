"""``canary-stream up|down|ps``: the ingress and the four stage apps as background processes.

With ``CANARY_FAKE_SQUARE=1`` (``make run``), ``up`` first starts the local fake Square on
the port of ``CANARY_SQUARE_BASE_URL``, so the stage apps' Square client talks to it; ``down``
stops it whenever its pid file names a live process, and ``ps`` shows it then.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from canary_stream.apps import STAGES, web_port
from canary_stream.settings import Settings
from canary_stream.stack.pidfile import PidFile, stop_process


@dataclass(frozen=True)
class ProcessSpec:
    """One application process: its name, command line and health URL."""

    name: str
    args: list[str]
    url: str


@dataclass(frozen=True)
class ProcessStatus:
    """What ``ps`` reports for one process."""

    name: str
    pid: int | None
    alive: bool
    url: str

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of ``ps --json``."""
        return asdict(self)


FAKE_SQUARE = "fake-square"


def fake_square_spec(settings: Settings) -> ProcessSpec:
    """The local fake Square, seeded like ``simulate``, delivering webhooks to the ingress."""
    base = urlsplit(settings.square_base_url)
    host, port = base.hostname or "127.0.0.1", base.port or 8091
    args = [
        FAKE_SQUARE,
        "--host", host,
        "--port", str(port),
        "--seed", str(settings.fake_square_seed),
        "--merchants", str(settings.fake_square_merchants),
        "--events", str(settings.fake_square_events),
        "--ingress-url", settings.notification_url,
    ]  # fmt: skip
    if settings.fake_square_start:
        args += ["--start", settings.fake_square_start]
    if settings.fake_square_rate:
        args += ["--rate", str(settings.fake_square_rate)]
    # readiness asks {url}/health/ready: the fake answers /_fake/health/ready
    return ProcessSpec(FAKE_SQUARE, args, f"http://{host}:{port}/_fake")


def process_specs(settings: Settings, *, every: bool = False) -> list[ProcessSpec]:
    """The fake Square (when enabled, or ``every``), the ingress, each stage app, then the
    identity MCP server."""
    host = settings.web_host
    specs = []
    if every or settings.fake_square or _pidfile(settings, FAKE_SQUARE).live_pid() is not None:
        specs.append(fake_square_spec(settings))
    specs += [
        ProcessSpec(
            "ingress",
            ["ingress"],
            f"http://{settings.ingress_host}:{settings.ingress_port}",
        )
    ]
    for stage in STAGES:
        specs.append(
            ProcessSpec(
                stage, ["worker", "--app", stage], f"http://{host}:{web_port(settings, stage)}"
            )
        )
    specs.append(
        ProcessSpec(
            "mcp",
            ["mcp", "serve", "--host", host, "--port", str(settings.mcp_port)],
            f"http://{host}:{settings.mcp_port}",
        )
    )
    return specs


def _pidfile(settings: Settings, name: str) -> PidFile:
    return PidFile(settings.state_dir / "run" / f"proc-{name}.pid")


def spawn_python(
    args: Sequence[str], log: Path, env: Mapping[str, str], cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``python ARGS`` in its own session (signals to the caller's group pass it by),
    stdin closed, stdout and stderr appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=cwd,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def log_path(settings: Settings, name: str) -> Path:
    """Where a process's output goes."""
    return settings.state_dir / "logs" / f"{name}.log"


def start_all(settings: Settings, names: list[str] | None = None) -> list[ProcessStatus]:
    """Start every process that is not already running; idempotent."""
    for spec in process_specs(settings):
        if names and spec.name not in names:
            continue
        pidfile = _pidfile(settings, spec.name)
        if pidfile.live_pid() is not None:
            continue
        proc = spawn_python(
            ["-m", "canary_stream.cli.main", *spec.args], log_path(settings, spec.name), os.environ
        )
        pidfile.write(proc.pid)
    return status_all(settings)


def stop_all(settings: Settings, names: list[str] | None = None) -> list[str]:
    """Stop the processes ``up`` started (by pid file, never by name); return what stopped."""
    stopped = []
    for spec in reversed(process_specs(settings, every=True)):
        if names and spec.name not in names:
            continue
        if stop_process(_pidfile(settings, spec.name), timeout=30.0) is not None:
            stopped.append(spec.name)
    return stopped


def status_all(settings: Settings) -> list[ProcessStatus]:
    """Each process with its pid, whether it is alive, and its URL."""
    out = []
    for spec in process_specs(settings):
        record = _pidfile(settings, spec.name).read()
        live = _pidfile(settings, spec.name).live_pid()
        out.append(
            ProcessStatus(spec.name, record.pid if record else None, live is not None, spec.url)
        )
    return out
