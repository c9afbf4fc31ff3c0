"""CPU and machine accounting for the benchmarks (re-exported by ``_common``).

These machines are shared: every figure comes with how much CPU the process under test,
the broker and the whole machine used meanwhile, and a run may wait for a quiet machine.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from canary_stream.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine so far (``/proc/stat``)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(values) - values[3] - values[4], sum(values)


def kafka_pid(settings: Settings) -> int | None:
    """The local stack's broker pid, when ``stack up`` recorded one on this machine."""
    try:
        return int((settings.state_dir / "run" / "kafka.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class CpuMeter:
    """CPU use of some processes and of the whole machine between start() and stop()."""

    def __init__(self, **pids: int | None) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid}

    def start(self) -> CpuMeter:
        self.t0, self.jiffies0 = time.monotonic(), machine_jiffies()
        self.cpu0 = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    def stop(self) -> dict[str, float]:
        """``<name>_cpu_pct`` per process (100 = one core); ``machine_busy_pct`` of 100 x nproc."""
        elapsed = time.monotonic() - self.t0
        out = {}
        for name, pid in self.pids.items():
            try:
                out[f"{name}_cpu_pct"] = 100 * (cpu_seconds(pid) - self.cpu0[name]) / elapsed
            except OSError:  # exited meanwhile
                pass
        busy, total = machine_jiffies()
        share = (busy - self.jiffies0[0]) / max(1, total - self.jiffies0[1])
        out["machine_busy_pct"] = 100 * share * (os.cpu_count() or 1)
        return out


def wait_quiet(max_busy_pct: float, timeout: float, window: float = 2.0) -> dict[str, float]:
    """Wait (at most ``timeout`` s) until the machine's CPU use over ``window`` s is at most
    ``max_busy_pct`` (100 = one core): these machines are shared, and other sessions' work
    would be measured too. Returns how long it waited and the last busy figure."""
    t0 = time.monotonic()
    busy = float("nan")
    while True:
        before = machine_jiffies()
        time.sleep(window)
        after = machine_jiffies()
        share = (after[0] - before[0]) / max(1, after[1] - before[1])
        busy = 100 * share * (os.cpu_count() or 1)
        waited = time.monotonic() - t0
        if busy <= max_busy_pct or waited >= timeout:
            if busy > max_busy_pct:
                print(f"  machine still {busy:.0f}% busy after {waited:.0f} s; measuring anyway")
            return {"waited_for_quiet_s": waited, "busy_before_pct": busy}


def add_quiet_args(parser: Any) -> None:
    """``--quiet-pct`` / ``--quiet-wait``: wait for a quiet machine before each measurement."""
    parser.add_argument(
        "--quiet-pct",
        type=float,
        default=60.0,
        help="wait until the machine uses at most this much CPU (100 = a core)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        help="wait at most this long for that before each measurement (0: never)",
    )


def quiet(args: Any) -> dict[str, float]:
    """Wait for a quiet machine as the arguments say; what was waited, for the results."""
    return wait_quiet(args.quiet_pct, args.quiet_wait) if args.quiet_wait > 0 else {}


def machine() -> dict[str, Any]:
    """Machine facts and versions for the result file."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    meminfo = Path("/proc/meminfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    mem = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.M)
    status = subprocess.run(
        [sys.executable, "-m", "canary_stream.cli.main", "stack", "status"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    kafka = re.search(r"Apache Kafka (\S+)", status)
    postgres = re.search(r"PostgreSQL (\S+)", status)
    packages = ("aiokafka", "faust-streaming", "aiohttp", "psycopg")
    versions = {p: metadata.version(p) for p in packages}
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model.group(1).strip() if model else "unknown",
        "mem_total_gib": round(int(mem.group(1)) / 1024 / 1024, 1) if mem else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "kafka": kafka.group(1) if kafka else Settings().kafka_version + " (configured)",
        "postgresql": postgres.group(1) if postgres else "unknown",
        **versions,
    }
