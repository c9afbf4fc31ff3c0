"""Soak: a seal worker restarted on a backlog of envelopes seals every one of them.

Hunts the CI defect "seal restarted with ~1,000 envelopes backlog stalls with ~35
unsealed, no error, 'producer buffer full' warnings". Each round: stop seal, produce a backlog
straight to ``<prefix>.events`` (as test_plumbing does), start seal again and wait until the
database holds every envelope. On a stall the test collects the group's committed offsets
vs log-end offsets, the worker's log tail and an asyncio task dump of the worker (mode's SIGUSR1
"cry", into the log) and a dump of Faust's producer-buffer/consumer state (SIGPWR, installed by
the small bootstrap below, which only wraps ``canary-stream worker``).

Select with ``-m soak`` (marker not registered in pyproject: unknown-mark warning).
Knobs: SOAK_ROUNDS (default 4), SOAK_BACKLOG (default 1500), SOAK_MERCHANTS (default 12),
SOAK_STOP (``term`` or ``kill``, default alternates), SOAK_LOGLEVEL (e.g. ``DEBUG``: Faust
debug logging in the worker), SOAK_TIMEOUT (seconds per round, default 120), SOAK_MIDWAY
(default 1: also stop the worker part-way through the backlog and restart it),
SOAK_BUFFER_MAX (the producer buffer's max_messages in the worker, e.g. 100 = Faust's default,
before the apps.py mitigation), SOAK_FEED=1 (produce the backlog in chunks of 100 while the
worker starts, as test_merkle does), SOAK_TRACE (default 1: log the consumer's fetches, seeks,
commits, "gaps" and the queue clearing of flow_control.resume() on the events topic, logger
``soak.trace``), SOAK_SEEK_DELAY (seconds: slow down perform_seek, as a loaded machine does),
SOAK_FIX=1 (apply the proposed fix in the worker: stop the consumer flow before seeking),
SOAK_WIPE_STATE=1 (delete the worker's RocksDB stores before each restart, so it recovers the
table from the changelog first, as a fresh CI container does: this opens the race).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from harness import ROOT, Pipeline, Proc, make_envelope, produce
from sqlalchemy import text

from canary_stream.processes import spawn_python

pytestmark = [pytest.mark.integration, pytest.mark.soak]

ROUNDS = int(os.environ.get("SOAK_ROUNDS", "4"))
BACKLOG = int(os.environ.get("SOAK_BACKLOG", "1500"))
MERCHANTS = int(os.environ.get("SOAK_MERCHANTS", "12"))
STOP = os.environ.get("SOAK_STOP", "")
LOGLEVEL = os.environ.get("SOAK_LOGLEVEL", "")
ROUND_TIMEOUT = float(os.environ.get("SOAK_TIMEOUT", "120"))
MIDWAY = os.environ.get("SOAK_MIDWAY", "1") == "1"
BUFFER_MAX = os.environ.get("SOAK_BUFFER_MAX", "")
FEED = os.environ.get("SOAK_FEED", "0") == "1"
TRACE = os.environ.get("SOAK_TRACE", "1") == "1"
SEEK_DELAY = os.environ.get("SOAK_SEEK_DELAY", "")
FIX = os.environ.get("SOAK_FIX", "") == "1"
WIPE_STATE = os.environ.get("SOAK_WIPE_STATE", "") == "1"

#: Runs ``canary-stream worker --app seal`` with two additions: an optional Faust log level
#: and a SIGPWR handler that writes every asyncio task's stack plus Faust's producer-buffer
#: and consumer flow state to $SOAK_DUMP.
BOOTSTRAP = r"""
import asyncio, logging, os, signal, sys, io, time
import faust
import canary_stream.apps as apps
import canary_stream.worker as worker_mod

captured = {}
_make_app = apps.make_app
def make_app(stage, settings):
    app, ctx = _make_app(stage, settings)
    captured["app"] = app
    if os.environ.get("SOAK_BUFFER_MAX"):  # e.g. 100: Faust's default, before the mitigation
        app.producer.buffer.max_messages = int(os.environ["SOAK_BUFFER_MAX"])
    return app, ctx
worker_mod.make_app = make_app

trace = logging.getLogger("soak.trace")
if os.environ.get("SOAK_FIX"):
    # The proposed fix (see the report): stop the consumer flow before seeking, so nothing is
    # delivered between Recovery's premature resume_partitions() and the seek.
    from faust.transport import consumer as _fc

    _orig_seek = _fc.Consumer.perform_seek
    async def _seek_with_flow_stopped(self):
        self.stop_flow()
        await _orig_seek(self)
    _fc.Consumer.perform_seek = _seek_with_flow_stopped
if os.environ.get("SOAK_TRACE"):
    # Trace the consumer's view of the events topic: what aiokafka hands over (and which tps
    # were active then), every seek, and every "gap" Faust treats as acked.
    from faust.transport import consumer as fc
    from faust.transport.drivers import aiokafka as fa

    def _events(tp):
        return tp.topic.endswith(".events")

    _getmany = fa.Consumer._getmany
    async def _traced_getmany(self, active_partitions, timeout):
        records = await _getmany(self, active_partitions, timeout)
        for tp, recs in (records or {}).items():
            if _events(tp) and recs:
                trace.warning("fetched %s %d-%d active=%s paused=%s flow=%s", tp.partition,
                              recs[0].offset, recs[-1].offset, tp in (active_partitions or ()),
                              tp in self._paused_partitions, self.flow_active)
        return records
    fa.Consumer._getmany = _traced_getmany

    _add_gap = fc.Consumer._add_gap
    async def _traced_add_gap(self, tp, offset_from, offset_to):
        if _events(tp):
            trace.warning("GAP %s %d-%d committed=%s", tp.partition, offset_from, offset_to,
                          self._committed_offset[tp])
        return await _add_gap(self, tp, offset_from, offset_to)
    fc.Consumer._add_gap = _traced_add_gap

    _perform_seek = fc.Consumer.perform_seek
    seek_delay = float(os.environ.get("SOAK_SEEK_DELAY") or 0)
    async def _traced_perform_seek(self):
        if seek_delay:  # amplifier: a slow OffsetFetch, as on a loaded CI machine
            await asyncio.sleep(seek_delay)
        await _perform_seek(self)
        trace.warning("perform_seek read_offset=%s", {tp.partition: o for tp, o in
                      self._read_offset.items() if _events(tp)})
    fc.Consumer.perform_seek = _traced_perform_seek

    from mode.utils import queues as mq

    _resume = mq.FlowControlEvent.resume
    def _traced_resume(self):
        sizes = [(q._queue[0].message.topic, q._queue[0].message.offset,
                  q._queue[-1].message.offset, q.qsize())
                 for q in list(self._queues) if q.qsize() and hasattr(q._queue[0], "message")]
        if sizes:
            trace.warning("flow_control.resume() clears queued events %s", sizes)
        return _resume(self)
    mq.FlowControlEvent.resume = _traced_resume

    _commit = fc.Consumer._commit_offsets
    async def _traced_commit(self, offsets, start_new_transaction=True):
        ev = {tp.partition: o for tp, o in offsets.items() if _events(tp)}
        if ev:
            trace.warning("commit %s (was %s)", ev, {tp.partition: o for tp, o in
                          self._committed_offset.items() if _events(tp)})
        return await _commit(self, offsets, start_new_transaction)
    fc.Consumer._commit_offsets = _traced_commit

level = os.environ.get("SOAK_LOGLEVEL")
if level:
    _init = faust.Worker.__init__
    def __init__(self, *a, **kw):
        kw["loglevel"] = getattr(logging, level.upper())
        _init(self, *a, **kw)
    faust.Worker.__init__ = __init__

def dump(signum, frame):
    out = io.StringIO()
    app = captured.get("app")
    out.write(f"==== dump at {time.time():.3f}\n")
    try:
        loop = asyncio.get_event_loop()
        for task in sorted(asyncio.all_tasks(loop), key=lambda t: t.get_name()):
            out.write(f"--- {task!r}\n")
            task.print_stack(limit=40, file=out)
    except Exception as exc:
        out.write(f"task dump failed: {exc!r}\n")
    if app is not None:
        try:
            buf = app.producer.buffer
            out.write(f"producer.buffer size={buf.size} max={buf.max_messages}\n")
            c = app.consumer
            out.write(f"consumer flow_active={c.flow_active} assigned={sorted(c.assignment())}\n")
            out.write(f"paused={sorted(c._paused_partitions)}\n")
            out.write(f"buffered={sorted(c._buffered_partitions)}\n")
            out.write(f"active={sorted(c._active_partitions or ())}\n")
            out.write(f"acked={dict(c._acked)}\n")
            out.write(f"unacked={len(c._unacked_messages)}\n")
            out.write(f"committed_offset={dict(c._committed_offset)}\n")
            out.write(f"read_offset={dict(c._read_offset)}\n")
            for agent in app.agents.values():
                for actor in agent._actors:
                    s = actor.stream
                    out.write(f"agent {agent.name} events={getattr(s, 'events_total', '?')}\n")
        except Exception as exc:
            out.write(f"faust state dump failed: {exc!r}\n")
    with open(os.environ["SOAK_DUMP"], "a") as f:
        f.write(out.getvalue())

signal.signal(signal.SIGPWR, dump)  # mode owns SIGUSR1 (task dump to the log) and SIGUSR2
sys.argv = ["canary-stream", "worker", "--app", "seal"]
from canary_stream.cli.main import main
main()
"""


def start_seal(pipe: Pipeline, dump_path: str) -> Proc:
    """Like ``Pipeline.start('seal')`` but through the diagnostic bootstrap."""
    index = sum(1 for p in pipe.procs if p.name == "seal")
    log = pipe.root / "logs" / f"seal-{index}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = pipe.env(SOAK_DUMP=dump_path)
    if LOGLEVEL:
        env["SOAK_LOGLEVEL"] = LOGLEVEL
    if BUFFER_MAX:
        env["SOAK_BUFFER_MAX"] = BUFFER_MAX
    if TRACE:
        env["SOAK_TRACE"] = "1"
    if SEEK_DELAY:
        env["SOAK_SEEK_DELAY"] = SEEK_DELAY
    if FIX:
        env["SOAK_FIX"] = "1"
    popen = spawn_python(["-c", BOOTSTRAP], log, env, cwd=ROOT)
    proc = Proc("seal", popen, f"http://127.0.0.1:{env['CANARY_SEAL_WEB_PORT']}", log)
    pipe.procs.append(proc)
    pipe.wait_ready(proc, 120)
    return proc


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else "(no dump)"


async def sealed_count(engine: Any, merchants: list[str]) -> int:
    async with engine.connect() as conn:
        row = await conn.execute(
            text("SELECT count(*) FROM sales.evidence_records WHERE merchant_id = ANY(:m)"),
            {"m": [uuid.UUID(m) for m in merchants]},
        )
        return int(row.scalar_one())


async def test_seal_restart_on_backlog_seals_everything(pipeline_factory: Any, engine: Any) -> None:
    pipe: Pipeline = pipeline_factory()
    settings = pipe.settings()
    merchants = [pipe.add_merchant() for _ in range(MERCHANTS)]
    ids = [m for m, _ in merchants]
    dump_path = str(pipe.root / "seal-dump.txt")
    report = pipe.root / "soak-report.jsonl"
    expected = 0
    seal = start_seal(pipe, dump_path)
    for rnd in range(ROUNDS):
        how = STOP or ("kill" if rnd % 2 else "term")
        seal.kill(signal.SIGKILL if how == "kill" else signal.SIGTERM)
        if WIPE_STATE:  # a new host or CI container: the table is recovered from its changelog
            shutil.rmtree(pipe.root / "faust", ignore_errors=True)
        envelopes = [
            (
                merchants[i % MERCHANTS],
                make_envelope(*merchants[i % MERCHANTS], f"soak-{rnd}-{i}".encode()),
            )
            for i in range(BACKLOG)
        ]
        records = [(m.encode(), e.to_bytes()) for (m, _), e in envelopes]
        feeding = None
        if FEED:  # like test_merkle's SIGKILL test: chunks of 100 while the worker starts

            async def feed(records: list[tuple[bytes, bytes]] = records) -> None:
                for start in range(0, len(records), 100):
                    await produce(settings, pipe.topic("events"), records[start : start + 100])
                    await asyncio.sleep(0.05)

            feeding = asyncio.create_task(feed())
        else:
            await produce(settings, pipe.topic("events"), records)
        expected += BACKLOG
        t0 = time.monotonic()
        seal = await asyncio.to_thread(start_seal, pipe, dump_path)
        if MIDWAY:  # stop it again while it works through the backlog, then restart
            target = expected - BACKLOG + int(BACKLOG * random.uniform(0.2, 0.7))
            while time.monotonic() - t0 < 60:
                if await sealed_count(engine, ids) >= target:
                    break
                await asyncio.sleep(0.05)
            mid = "kill" if how == "term" else "term"
            seal.kill(signal.SIGKILL if mid == "kill" else signal.SIGTERM)
            how = f"{how}+mid-{mid}@{await sealed_count(engine, ids) - expected + BACKLOG}"
            t0 = time.monotonic()
            seal = await asyncio.to_thread(start_seal, pipe, dump_path)
        if feeding is not None:
            await feeding
        ready = time.monotonic() - t0
        deadline = time.monotonic() + ROUND_TIMEOUT
        count = last_change_count = -1
        last_change = time.monotonic()
        while time.monotonic() < deadline:
            count = await sealed_count(engine, ids)
            if count >= expected:
                break
            if count != last_change_count:
                last_change_count, last_change = count, time.monotonic()
            elif time.monotonic() - last_change > 30:
                break  # no progress for 30 s: a stall
            await asyncio.sleep(0.5)
        took = time.monotonic() - t0
        line = {
            "round": rnd,
            "stop": how,
            "backlog": BACKLOG,
            "expected": expected,
            "sealed": count,
            "ready_s": round(ready, 1),
            "took_s": round(took, 1),
        }
        with report.open("a") as f:
            f.write(json.dumps(line) + "\n")
        print(json.dumps(line))
        if count < expected:
            seal.popen.send_signal(signal.SIGPWR)  # our Faust-state dump to $SOAK_DUMP
            await asyncio.sleep(1)
            seal.popen.send_signal(signal.SIGUSR1)  # mode's "cry": every task's stack, in the log
            await asyncio.sleep(2)
            lag = pipe.cli("lag", "--json", check=False).stdout
            dump = await asyncio.to_thread(_read, Path(dump_path))
            diag = pipe.root / f"stall-round-{rnd}.txt"
            diag.write_text(
                f"{line}\n==== lag\n{lag}\n==== dump\n{dump}\n==== log\n{seal.tail(300)}\n"
            )
            pytest.fail(
                f"round {rnd}: {expected - count} of {expected} envelopes never sealed "
                f"(stalled); diagnostics in {diag}\nlag: {lag}\nlog tail:\n{seal.tail(40)}"
            )
