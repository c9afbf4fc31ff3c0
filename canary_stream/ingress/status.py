"""``GET /`` on the ingress: a small server-rendered status page that refreshes itself.

Sections: per-stage consumer lag (:mod:`canary_stream.lag`, via the ingress's
:class:`~canary_stream.observability.lag_gauges.LagMonitor`), throughput of the last minute
(``sales.ingestion_log``), dead letters by stage and reason (the dead-letter topic, cached a
few seconds), the latest checkpoints and alerts. Nothing raw and no personal data: merchant
ids are shortened, roots are prefixes. ``GET /status/dead-letters`` lists each dead letter
with its one-line error and needs an operator token (scope ``status``, no merchant).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from html import escape
from typing import Any

from aiohttp import web
from sqlalchemy import text

from canary_stream.db.api_tokens import authenticate
from canary_stream.dead_letters import read_dead_letters
from canary_stream.ingress import keys
from canary_stream.lag import is_internal
from canary_stream.models.dead_letter import DeadLetter
from canary_stream.observability.lag_gauges import LagMonitor

log = logging.getLogger("canary.status")

SCOPE = "status"
TITLE = "canary-stream status"
DEAD_LETTER_CACHE_SECONDS = 5.0
LAG_MONITOR = web.AppKey("lag_monitor", LagMonitor)
DEAD_CACHE = web.AppKey("dead_letter_cache", dict)

STYLE = (
    "body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;"
    "margin-bottom:1.2em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
    "th{background:#f3f3f3}.bad{color:#b00}.muted{color:#777}"
)


def setup_status(app: web.Application) -> None:
    """Add ``/`` and ``/status/dead-letters`` and the lag monitor (started with the app)."""
    app.router.add_get("/", status_page)
    app.router.add_get("/status/dead-letters", dead_letters_detail)
    app.cleanup_ctx.append(_monitor)


async def _monitor(app: web.Application) -> AsyncIterator[None]:
    monitor = LagMonitor(app[keys.SETTINGS])
    monitor.start()
    app[LAG_MONITOR] = monitor
    app[DEAD_CACHE] = {}
    try:
        yield
    finally:
        await monitor.stop()


async def _dead_letters(app: web.Application) -> list[DeadLetter] | None:
    """Every dead letter, read at most every few seconds; None when the broker fails."""
    cache = app[DEAD_CACHE]
    if cache and time.monotonic() - cache["at"] < DEAD_LETTER_CACHE_SECONDS:
        letters: list[DeadLetter] = cache["letters"]
        return letters
    try:
        letters = await read_dead_letters(app[keys.SETTINGS])
    except Exception as exc:  # the page still renders
        log.warning("dead letters unavailable: %s", type(exc).__name__)
        return None
    cache.update(at=time.monotonic(), letters=letters)
    return letters


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        f'<tr class="{escape(cls)}">' + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _page(title: str, sections: Sequence[tuple[str, str]], refresh: bool = True) -> str:
    meta = '<meta http-equiv="refresh" content="5">' if refresh else ""
    parts = "".join(f"<h2>{escape(h)}</h2>{html}" for h, html in sections)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{meta}'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{parts}</body></html>"
    )


def _short(value: Any) -> str:
    return str(value)[:8] + "…" if value is not None else "-"


def lag_section(monitor: LagMonitor) -> str:
    """One row per stage group: partitions, total lag, oldest unconsumed record."""
    if monitor.updated is None:
        return f'<p class="muted">lag not read yet{_err(monitor.error)}</p>'
    groups: dict[str, list[Any]] = {}
    for row in monitor.rows:
        if not is_internal(row.group, row.topic):  # Faust's changelogs: lag 0 by definition
            groups.setdefault(row.group, []).append(row)
    rows = [
        (
            group,
            ", ".join(sorted({r.topic for r in rs})),
            len(rs),
            sum(r.lag for r in rs),
            f"{max(r.lag_seconds for r in rs):.1f}",
        )
        for group, rs in sorted(groups.items())
    ]
    age = time.time() - monitor.updated
    note = f'<p class="muted">read {age:.0f}s ago{_err(monitor.error)}</p>'
    headers = ("group", "topics", "partitions", "lag (messages)", "oldest unconsumed (s)")
    return _table(headers, rows, "lag-row") + note


def _err(error: str | None) -> str:
    return f' <span class="bad">(last read failed: {escape(error)})</span>' if error else ""


async def _db_sections(engine: Any) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        throughput = (
            await conn.execute(
                text(
                    "SELECT step, status, count(*) FROM sales.ingestion_log "
                    "WHERE at > now() - interval '1 minute' GROUP BY step, status "
                    "ORDER BY step, status"
                )
            )
        ).all()
        checkpoints = (
            await conn.execute(
                text(
                    "SELECT merchant_id, batch_no, first_seq, last_seq, root_hash, closed_at, "
                    "anchor_status FROM sales.inscription_pool ORDER BY closed_at DESC LIMIT 10"
                )
            )
        ).all()
        alerts = (
            await conn.execute(
                text(
                    "SELECT occurred_at, merchant_id, rule_id, severity, score FROM app.alerts "
                    "ORDER BY occurred_at DESC LIMIT 10"
                )
            )
        ).all()
    tp = (
        _table(("step", "outcome", "events"), throughput)
        if throughput
        else '<p class="muted">no events in the last minute</p>'
    )
    cp_rows = [
        (_short(m), b, f"{f}-{last}", bytes(root).hex()[:12] + "…", at.isoformat(), status)
        for m, b, f, last, root, at, status in checkpoints
    ]
    cp = (
        _table(("merchant", "batch", "seq", "root", "closed at", "anchor"), cp_rows)
        if cp_rows
        else '<p class="muted">no checkpoints yet</p>'
    )
    al_rows = [(at.isoformat(), _short(m), r, s, sc) for at, m, r, s, sc in alerts]
    al = (
        _table(("at", "merchant", "rule", "severity", "score"), al_rows)
        if al_rows
        else '<p class="muted">no alerts yet</p>'
    )
    return [("Throughput (last minute)", tp), ("Latest checkpoints", cp), ("Latest alerts", al)]


def dead_letter_section(letters: list[DeadLetter] | None) -> str:
    """Counts by stage and reason (no errors, no ids: those are in the detail view)."""
    if letters is None:
        return '<p class="bad">dead-letter topic unavailable</p>'
    if not letters:
        return '<p class="muted">no dead letters</p>'
    counts = Counter((d.stage, d.reason) for d in letters)
    rows = [(s, r, n) for (s, r), n in sorted(counts.items())]
    link = '<p><a href="/status/dead-letters">details</a> (operator token)</p>'
    return _table(("stage", "reason", "count"), rows) + link


async def status_page(request: web.Request) -> web.Response:
    """The status page."""
    app = request.app
    sections = [("Consumer lag per stage", lag_section(app[LAG_MONITOR]))]
    try:
        sections += await _db_sections(app[keys.ENGINE])
    except Exception as exc:  # the page still renders without the database
        sections.append(("Database", f'<p class="bad">unavailable ({escape(type(exc).__name__)})'))
    sections.insert(2, ("Dead letters by reason", dead_letter_section(await _dead_letters(app))))
    return web.Response(text=_page(TITLE, sections), content_type="text/html")


async def _operator(request: web.Request) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    async with request.app[keys.ENGINE].connect() as conn:
        identity = await authenticate(conn, token.strip(), SCOPE)
    return identity is not None and identity.operator


async def dead_letters_detail(request: web.Request) -> web.Response:
    """Each dead letter with its one-line error (operator token, scope ``status``)."""
    if not await _operator(request):
        return web.Response(
            status=401,
            text="operator token required (scope status)\n",
            headers={"WWW-Authenticate": 'Bearer realm="canary-stream"'},
        )
    letters = await _dead_letters(request.app)
    rows = [
        (d.at.isoformat(), d.stage, d.reason, d.event_id or "-", d.merchant_id or "-", d.error)
        for d in reversed(letters or [])
    ][:500]
    body = _table(("at", "stage", "reason", "event id", "merchant", "error"), rows)
    title = f"{TITLE}: dead letters"
    return web.Response(
        text=_page(title, [(f"{len(rows)} dead letter(s)", body)], refresh=False),
        content_type="text/html",
    )
