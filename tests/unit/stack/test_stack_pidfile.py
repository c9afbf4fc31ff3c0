"""Pid files: live, dead, reused and garbage pids; stopping a process we started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from canary_stream.stack.pidfile import PidFile, pid_alive, process_start_ticks, stop_process


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_own_pid_is_live(tmp_path: Path) -> None:
    pf = PidFile(tmp_path / "x.pid")
    pf.write(os.getpid())
    assert pf.live_pid() == os.getpid()
    assert pf.read() is not None
    assert pf.path.read_text().splitlines()[0] == str(os.getpid())


def test_dead_pid_is_stale_and_cleared(tmp_path: Path) -> None:
    pid = _dead_pid()
    pf = PidFile(tmp_path / "x.pid")
    pf.path.write_text(f"{pid}\n")
    assert not pid_alive(pid)
    assert pf.live_pid() is None
    assert pf.clear_if_stale() is True
    assert not pf.path.exists()
    assert pf.clear_if_stale() is False


def test_reused_pid_with_other_start_time_is_not_ours(tmp_path: Path) -> None:
    ticks = process_start_ticks(os.getpid())
    assert ticks is not None
    pf = PidFile(tmp_path / "x.pid")
    pf.path.write_text(f"{os.getpid()}\n{ticks + 12345}\n")
    assert pf.live_pid() is None


def test_garbage_and_missing_files(tmp_path: Path) -> None:
    pf = PidFile(tmp_path / "x.pid")
    assert pf.read() is None and pf.live_pid() is None
    pf.path.write_text("not a pid\n")
    assert pf.read() is None and pf.live_pid() is None
    pf.path.write_text("0\n")
    assert pf.live_pid() is None


def test_stop_process_with_dead_pid_only_removes_file(tmp_path: Path) -> None:
    pf = PidFile(tmp_path / "x.pid")
    pf.path.write_text(f"{_dead_pid()}\n")
    assert stop_process(pf, timeout=1) is None
    assert not pf.path.exists()


def test_stop_process_stops_exactly_our_child(tmp_path: Path) -> None:
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    pf = PidFile(tmp_path / "x.pid")
    pf.write(proc.pid)
    assert stop_process(pf, timeout=5) == proc.pid
    assert proc.wait(timeout=5) is not None
    assert not pf.path.exists()


def test_stop_process_escalates_to_sigkill(tmp_path: Path) -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print(1, flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdout.readline()
    pf = PidFile(tmp_path / "x.pid")
    pf.write(proc.pid)
    assert stop_process(pf, timeout=0.5) == proc.pid
    # It ignores SIGTERM, so being gone means the SIGKILL fallback ran (and reaped it).
    assert not pid_alive(proc.pid)
    proc.wait(timeout=5)
