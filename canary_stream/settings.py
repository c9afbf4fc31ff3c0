"""Process settings: environment variables prefixed ``CANARY_``, validated once at start."""

from __future__ import annotations

import base64
import binascii
import json
import os
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from canary_stream.errors import ConfigError

#: Default Kafka version of the local stack; 4.1.1 is the one the suite has passed on.
DEFAULT_KAFKA_VERSION = "4.1.1"


def project_root() -> Path:
    """The checkout this package runs from (editable install), else the working directory."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "pyproject.toml").exists() else Path.cwd()


def default_state_dir() -> Path:
    """Where stack data, pid files, logs and table stores live (``.canary/`` in the checkout)."""
    return Path(os.environ.get("CANARY_STATE_DIR") or project_root() / ".canary")


def _stack_env_file() -> Path:
    return default_state_dir() / "stack.env"


def decode_key_ring(text: str, *, what: str) -> dict[str, bytes]:
    """Parse ``id:base64,id:base64`` (or a JSON object) into key id → 32 raw bytes."""
    text = text.strip()
    if not text:
        return {}
    pairs: list[tuple[str, str]]
    if text.startswith("{"):
        try:
            pairs = list(json.loads(text).items())
        except (ValueError, AttributeError) as exc:
            raise ValueError(f"{what} is not a JSON object of key_id → base64") from exc
    else:
        pairs = []
        for part in text.split(","):
            key_id, sep, b64 = part.strip().partition(":")
            if not sep or not key_id:
                raise ValueError(f"{what} must look like 'k1:BASE64,k2:BASE64'")
            pairs.append((key_id, b64))
    ring: dict[str, bytes] = {}
    for key_id, b64 in pairs:
        try:
            raw = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"{what} key {key_id!r} is not valid base64") from exc
        if len(raw) != 32:
            raise ValueError(f"{what} key {key_id!r} must decode to 32 bytes, got {len(raw)}")
        ring[key_id] = raw
    return ring


class Settings(BaseSettings):
    """Every knob of every process; secrets are ``SecretStr`` and never printed."""

    model_config = SettingsConfigDict(
        env_prefix="CANARY_",
        env_file=(".env", str(_stack_env_file())),
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # Connections
    kafka_bootstrap: str = "127.0.0.1:19092"
    database_url: SecretStr = SecretStr("postgresql://canary_app:canary_app@127.0.0.1:15433/canary")
    owner_database_url: SecretStr = SecretStr(
        "postgresql://canary_owner:canary_owner@127.0.0.1:15433/canary"
    )

    # Topics
    topic_prefix: str = "canary"
    topic_partitions: int = Field(8, ge=1, le=256)
    raw_retention_ms: int = Field(7 * 24 * 3600 * 1000, ge=60_000)
    replication_factor: int = Field(1, ge=1)

    # Seal
    dedupe_window_seconds: float = Field(72 * 3600, gt=0)
    #: Tier 2 records older than this behind their subject's newest still count, flagged late.
    detect_allowed_lateness_seconds: float = Field(24 * 3600, ge=0)
    seal_batch_size: int = Field(500, ge=1, le=10_000)
    seal_batch_seconds: float = Field(0.05, gt=0)

    # Ingress
    ingress_host: str = "127.0.0.1"
    ingress_port: int = Field(8080, ge=1, le=65535)
    ingress_hard_cap_bytes: int = Field(2 * 1024 * 1024, ge=1024)
    ingress_soft_cap_bytes: int = Field(256 * 1024, ge=1024)
    ingress_deadline_seconds: float = Field(5.0, gt=0, le=9.5)
    ingress_read_timeout_seconds: float = Field(10.0, gt=0)
    ingress_max_in_flight: int = Field(1024, ge=1)
    signature_dead_letter_per_minute: int = Field(60, ge=0)
    #: The URL Square delivers to (signatures cover it); empty: the ingress's own address,
    #: ``http://{ingress_host}:{ingress_port}/webhooks/square`` (set it behind a proxy).
    notification_url: str = ""

    # Consumer groups: how soon a dead worker's partitions move to a live one
    consumer_session_timeout_seconds: float = Field(20.0, ge=6.0, le=300.0)

    # Stage app web ports (health + metrics)
    seal_web_port: int = 6101
    parse_web_port: int = 6102
    detect_web_port: int = 6103
    customers_web_port: int = 6104
    web_host: str = "127.0.0.1"

    # Keys
    encryption_keys: SecretStr = SecretStr("")
    card_hash_keys: SecretStr = SecretStr("")
    checkpoint_signing_key: SecretStr = SecretStr("")

    # Square
    square_base_url: str = "http://127.0.0.1:8091"
    #: The order fetch loop looks for due thin events this often (seconds).
    fetch_interval_seconds: float = Field(1.0, gt=0)
    #: Attempts per thin event before it is dead-lettered ``deferred_exhausted``.
    fetch_max_attempts: int = Field(8, ge=1)
    #: Backoff after a failed fetch: base * 2^(attempts-1), capped.
    fetch_retry_base_seconds: float = Field(2.0, gt=0)
    fetch_retry_max_seconds: float = Field(300.0, gt=0)
    #: The cash-drawer poller visits each active merchant this often (seconds).
    drawer_poll_interval_seconds: float = Field(60.0, gt=0)
    #: ``canary-stream up`` also runs the local fake Square (``make run`` sets this), on the
    #: port of ``square_base_url``, seeded as ``canary-stream fake-square`` with these values.
    fake_square: bool = False
    fake_square_seed: int = 1
    fake_square_merchants: int = Field(3, ge=0)
    fake_square_events: int = Field(3000, ge=0)
    #: RFC 3339 business time of the seeded history's start and its events per second (as
    #: ``simulate --start --rate``); unset: the fake's defaults (2025-01-06T15:00Z, 0.05/s).
    fake_square_start: str | None = None
    fake_square_rate: float | None = Field(None, gt=0)
    square_application_id: str = "sandbox-sq0idb-canary-local"
    square_application_secret: SecretStr = SecretStr("")
    square_access_token: SecretStr = SecretStr("")
    #: The OAuth token vault refreshes an access token expiring within this many seconds.
    square_token_refresh_margin_seconds: float = Field(300.0, ge=0)

    # Local stack
    state_dir: Path = Field(default_factory=default_state_dir)
    kafka_version: str = DEFAULT_KAFKA_VERSION
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    postgres_port: int = 15433
    postgres_bin_dir: Path = Path("/usr/lib/postgresql/15/bin")

    @field_validator("kafka_bootstrap")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        for part in value.split(","):
            host, sep, port = part.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError("must be host:port[,host:port]")
        return value

    @field_validator("notification_url")
    @classmethod
    def _check_notification_url(cls, value: str) -> str:
        if value:
            check_notification_url(value)
        return value

    @model_validator(mode="after")
    def _default_notification_url(self) -> Settings:
        if not self.notification_url:
            host = self.ingress_host if self.ingress_host not in ("0.0.0.0", "::") else "127.0.0.1"
            self.notification_url = f"http://{host}:{self.ingress_port}/webhooks/square"
        return self

    @field_validator("database_url", "owner_database_url")
    @classmethod
    def _check_db_url(cls, value: SecretStr) -> SecretStr:
        scheme = urlsplit(value.get_secret_value()).scheme
        if scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
            raise ValueError("must be a postgresql://user:pass@host:port/db URL")
        return value

    @field_validator("encryption_keys", "card_hash_keys")
    @classmethod
    def _check_ring(cls, value: SecretStr) -> SecretStr:
        decode_key_ring(value.get_secret_value(), what="key ring")
        return value

    # Derived values -----------------------------------------------------------------
    def topic(self, name: str) -> str:
        """Full topic name for a short name such as ``events``."""
        return f"{self.topic_prefix}.{name}"

    def encryption_ring(self) -> dict[str, bytes]:
        """Key id → AES-256 key; the last entry is the newest and encrypts."""
        ring = decode_key_ring(
            self.encryption_keys.get_secret_value(), what="CANARY_ENCRYPTION_KEYS"
        )
        if not ring:
            raise ConfigError(
                "CANARY_ENCRYPTION_KEYS is empty: set it to 'k1:<base64 32 bytes>' "
                "(or run 'canary-stream stack up', which writes local keys)"
            )
        return ring

    def sqlalchemy_url(self, *, owner: bool = False) -> str:
        """The database URL in SQLAlchemy's psycopg 3 form."""
        url = (self.owner_database_url if owner else self.database_url).get_secret_value()
        _, _, rest = url.partition("://")
        return f"postgresql+psycopg://{rest}"

    # Merkle batches, signed checkpoints, anchoring (evidence.md) ----------------------
    merkle_batch_size: int = Field(100, ge=1, le=100_000)
    merkle_max_wait_seconds: float = Field(600.0, gt=0)
    anchor_backend: str = "mock"
    checkpoint_key_name: str = "canary-stream"
    #: Base64 Ed25519 public key, for processes that serve proofs without the signing seed;
    #: derived from ``checkpoint_signing_key`` when empty.
    checkpoint_public_key: str = ""
    mcp_port: int = 8092


def check_notification_url(url: str) -> str:
    """``url`` when it is an absolute http(s) URL with a host, else ``ValueError``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an absolute http(s) URL such as {EXAMPLE_NOTIFICATION_URL}")
    return url


EXAMPLE_NOTIFICATION_URL = "https://example.com/webhooks/square"


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err.get("loc", ())) or "settings"
    return (
        f"CANARY_{field.upper()}: {err.get('msg', 'invalid value')} (fix the environment or .env)"
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Load and validate settings once; a bad value becomes one ``ConfigError`` line."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
