"""The JSON log formatter: fixed fields, event fields from ``extra=``, nothing else."""

from __future__ import annotations

import io
import json
import logging

from canary_stream.observability.logging import (
    JsonFormatter,
    PrettyFormatter,
    faust_logging_config,
    make_handler,
)


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("canary.seal", logging.INFO, __file__, 1, "sealed %d", (3,), None)
    record.__dict__.update(extra)
    return record


def test_json_line_has_fixed_and_event_fields_only() -> None:
    record = _record(
        event_id="e1", merchant_id="m1", stage="seal", outcome="SEALED", body=b"secret body"
    )
    doc = json.loads(JsonFormatter("seal").format(record))
    assert doc["msg"] == "sealed 3" and doc["level"] == "INFO" and doc["logger"] == "canary.seal"
    assert doc["process"] == "seal" and doc["ts"].endswith("+00:00")
    assert {k: doc[k] for k in ("event_id", "merchant_id", "stage", "outcome")} == {
        "event_id": "e1",
        "merchant_id": "m1",
        "stage": "seal",
        "outcome": "SEALED",
    }
    assert "body" not in doc and "secret body" not in json.dumps(doc)


def test_pretty_line_and_handler_choice() -> None:
    line = PrettyFormatter().format(_record(outcome="SEALED"))
    assert "canary.seal: sealed 3" in line and "outcome=SEALED" in line
    assert isinstance(make_handler(stream=io.StringIO()).formatter, JsonFormatter)
    assert not isinstance(make_handler(stream=io.StringIO()).formatter, PrettyFormatter)


def test_faust_config_is_valid_dictconfig() -> None:
    import logging.config

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        logging.config.dictConfig(faust_logging_config("parse"))
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
