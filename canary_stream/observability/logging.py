"""Structured logs: one JSON object per line (or a readable line when stderr is a terminal).

Every line has ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``msg`` and ``process`` (the
stage app or ``ingress``); a line about an event adds ``event_id``, ``merchant_id``,
``stage`` and ``outcome`` when the caller passes them with ``extra=``. Only those fields (and
a few more from :data:`EXTRA_FIELDS`) leave the record: never arbitrary attributes, so a
stray object cannot leak a body or a secret. Callers never log raw bodies, tokens or
personal data; :func:`log_event` is the one helper for per-event lines.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

#: ``extra=`` keys copied into the JSON line (everything else on the record is ignored).
EVENT_FIELDS = ("event_id", "merchant_id", "stage", "outcome")
EXTRA_FIELDS = (*EVENT_FIELDS, "reason", "attempt", "what", "count")

events_log = logging.getLogger("canary.events")


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object."""

    def __init__(self, process: str | None = None) -> None:
        super().__init__()
        self.process = process

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """The JSON fields of a record."""
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if self.process:
            doc["process"] = self.process
        for key in EXTRA_FIELDS:
            value = record.__dict__.get(key)
            if value is not None:
                doc[key] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info and record.exc_info[0] is not None:
            doc["exc_type"] = record.exc_info[0].__name__
            doc["exc"] = self.formatException(record.exc_info)
        return doc

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(self.fields(record), ensure_ascii=False)


class PrettyFormatter(JsonFormatter):
    """The same fields as a readable line, for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        doc = self.fields(record)
        head = f"{doc.pop('ts')[11:23]} {doc.pop('level'):<7} {doc.pop('logger')}: {doc.pop('msg')}"
        exc = doc.pop("exc", None)
        doc.pop("process", None)
        tail = " ".join(f"{k}={v}" for k, v in doc.items())
        line = f"{head}  {tail}" if tail else head
        return f"{line}\n{exc}" if exc else line


def make_handler(process: str | None = None, stream: TextIO | None = None) -> logging.Handler:
    """A stream handler (stderr by default): pretty on a terminal, JSON lines otherwise."""
    out = stream or sys.stderr
    handler = logging.StreamHandler(out)
    tty = bool(getattr(out, "isatty", lambda: False)())
    handler.setFormatter(PrettyFormatter(process) if tty else JsonFormatter(process))
    return handler


def configure_logging(process: str | None = None, level: int = logging.INFO) -> None:
    """Make the root logger write structured lines to stderr (replacing its handlers)."""
    root = logging.getLogger()
    root.handlers.clear()
    root.addHandler(make_handler(process))
    root.setLevel(level)


def faust_logging_config(process: str, level: int = logging.INFO) -> dict[str, Any]:
    """The ``logging_config`` for Faust's worker: our handler replaces its colored console."""
    formatter = "pretty" if sys.stderr.isatty() else "json"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": JsonFormatter, "process": process},
            "pretty": {"()": PrettyFormatter, "process": process},
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": formatter,
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["default"]},
    }


def log_event(
    stage: str, outcome: str, items: Iterable[tuple[Any, Any]], level: int = logging.INFO
) -> None:
    """One line per (event_id, merchant_id) about what ``stage`` did with it."""
    if not events_log.isEnabledFor(level):
        return
    for event_id, merchant_id in items:
        events_log.log(
            level,
            "%s %s",
            stage,
            outcome,
            extra={
                "event_id": event_id,
                "merchant_id": merchant_id,
                "stage": stage,
                "outcome": outcome,
            },
        )
