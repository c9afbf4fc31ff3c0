"""The wire format of contracts.md: field types, headers and the one encoder every producer uses."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, StringConstraints

RecordType = Literal[
    "envelope", "sealed", "canonical", "alert", "case", "checkpoint", "dead-letter", "config"
]


def format_timestamp(value: datetime) -> str:
    """RFC 3339 UTC with a ``Z`` suffix and exactly six fractional digits."""
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_timestamp(value: Any) -> Any:
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise ValueError("timestamp must carry a UTC offset or Z")
        return parsed.astimezone(UTC)
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value


def _decode_b64(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("not padded RFC 4648 base64") from exc
    return value


UtcDatetime = Annotated[
    datetime,
    BeforeValidator(_parse_timestamp),
    PlainSerializer(format_timestamp, return_type=str),
]
B64Bytes = Annotated[
    bytes,
    BeforeValidator(_decode_b64),
    PlainSerializer(lambda b: base64.b64encode(b).decode("ascii"), return_type=str),
]
HexDigest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class WireModel(BaseModel):
    """Base of every record we publish: frozen, snake_case, unknown fields ignored on read."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    #: ``record-type`` header value; set by each subclass.
    RECORD_TYPE: ClassVar[RecordType]

    def to_bytes(self) -> bytes:
        """UTF-8 JSON exactly as it goes on the wire."""
        return self.model_dump_json().encode("utf-8")

    def headers(self) -> list[tuple[str, bytes]]:
        """The three headers contracts.md puts on every record."""
        version = getattr(self, "schema_version", 1)
        return record_headers(self.RECORD_TYPE, version)


def record_headers(record_type: RecordType, schema_version: int) -> list[tuple[str, bytes]]:
    """``content-type``, ``schema-version`` and ``record-type`` headers."""
    return [
        ("content-type", b"application/json"),
        ("schema-version", str(schema_version).encode()),
        ("record-type", record_type.encode()),
    ]


def now_utc() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)
