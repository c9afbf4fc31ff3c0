"""Pid files that remember the process start time, so a reused pid is never mistaken for ours."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path


def process_start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (Linux ``/proc``), or None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].startswith("Z")


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a zombie child of ours is reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if _is_zombie(pid):
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


@dataclass(frozen=True)
class PidRecord:
    """What a pid file holds: the pid and, when known, its start time."""

    pid: int
    start_ticks: int | None


class PidFile:
    """``<pid>\\n<start ticks>\\n`` at ``path``; the first line alone is a plain pid."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, pid: int) -> None:
        """Record ``pid`` (and its start time) atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ticks = process_start_ticks(pid)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(f"{pid}\n{'' if ticks is None else ticks}\n")
        os.replace(tmp, self.path)

    def read(self) -> PidRecord | None:
        """The recorded pid, or None when there is no readable pid file."""
        try:
            lines = self.path.read_text().split("\n")
        except OSError:
            return None
        try:
            pid = int(lines[0].strip())
        except (IndexError, ValueError):
            return None
        ticks_text = lines[1].strip() if len(lines) > 1 else ""
        return PidRecord(pid, int(ticks_text) if ticks_text.isdigit() else None)

    def live_pid(self) -> int | None:
        """The pid if that very process still runs (same start time), else None."""
        record = self.read()
        if record is None or record.pid <= 0 or not pid_alive(record.pid):
            return None
        if record.start_ticks is not None:
            now = process_start_ticks(record.pid)
            if now is not None and now != record.start_ticks:
                return None
        return record.pid

    def remove(self) -> None:
        """Delete the pid file if present."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def clear_if_stale(self) -> bool:
        """Remove a pid file whose process is gone; True if one was removed."""
        if self.path.exists() and self.live_pid() is None:
            self.remove()
            return True
        return False


def wait_gone(pid: int, timeout: float) -> bool:
    """Poll until ``pid`` has exited; True if it did within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return not pid_alive(pid)


def stop_process(
    pidfile: PidFile, *, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0
) -> int | None:
    """Stop the process recorded in ``pidfile``: ``sig``, wait, then SIGKILL its process group.

    Returns the pid that was stopped, or None when nothing of ours was running.
    """
    pid = pidfile.live_pid()
    if pid is None:
        pidfile.remove()
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    if not wait_gone(pid, timeout):
        # Started with start_new_session, so the group id is our pid: children go too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_gone(pid, 10.0)
    pidfile.remove()
    return pid
