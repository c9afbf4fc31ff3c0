"""Small helpers shared by the Kafka and PostgreSQL halves of the local stack."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

from canary_stream.errors import StackError

Echo = Callable[[str], None]


def quiet(_: str) -> None:
    """An ``Echo`` that prints nothing."""


def run_dir(state_dir: Path) -> Path:
    """Pid files, locks and per-service info files."""
    return state_dir / "run"


def logs_dir(state_dir: Path) -> Path:
    """Where ``kafka.log`` and ``postgres.log`` go."""
    return state_dir / "logs"


def resource_text(name: str) -> str:
    """A resource file shipped next to this module (e.g. ``log4j2.xml``)."""
    return resources.files("canary_stream.stack").joinpath(name).read_text(encoding="utf-8")


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail_lines(path: Path, n: int) -> list[str]:
    """The last ``n`` lines of a text file ([] when it does not exist)."""
    if n <= 0:
        return []
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            block = 64 * 1024
            data = b""
            pos = size
            while pos > 0 and data.count(b"\n") <= n:
                step = min(block, pos)
                pos -= step
                fh.seek(pos)
                data = fh.read(step) + data
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[-n:]


def last_log_line(path: Path, n: int = 40) -> str:
    """The most telling recent line of a log: the last error, else the last line."""
    lines = [line.strip() for line in tail_lines(path, n) if line.strip()]
    for line in reversed(lines):
        if any(word in line for word in ("ERROR", "FATAL", "PANIC", "Exception", "Error:")):
            return line
    return lines[-1] if lines else "(log is empty)"


@contextlib.contextmanager
def file_lock(path: Path, what: str, echo: Echo = quiet) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` for the duration of the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            echo(f"waiting for another process that holds {what} ({path})")
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            except OSError as exc:  # pragma: no cover - interrupted
                raise StackError(f"could not lock {what}: {exc}") from exc
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
