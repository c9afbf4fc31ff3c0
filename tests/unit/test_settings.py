"""Settings: prefix, validation in one line, key rings, secrets never printed."""

from __future__ import annotations

import base64

import pytest

from canary_stream.errors import ConfigError
from canary_stream.settings import Settings, decode_key_ring, get_settings

KEY = base64.b64encode(b"k" * 32).decode()


def test_key_ring_forms():
    assert decode_key_ring(f"k1:{KEY},k2:{KEY}", what="x") == {"k1": b"k" * 32, "k2": b"k" * 32}
    assert decode_key_ring(f'{{"a": "{KEY}"}}', what="x") == {"a": b"k" * 32}
    with pytest.raises(ValueError, match="must decode to 32 bytes"):
        decode_key_ring("k1:" + base64.b64encode(b"short").decode(), what="x")


def test_bad_value_is_one_line(monkeypatch):
    monkeypatch.setenv("CANARY_TOPIC_PARTITIONS", "zero")
    get_settings.cache_clear()
    with pytest.raises(ConfigError) as err:
        get_settings()
    get_settings.cache_clear()
    assert "\n" not in str(err.value)
    assert str(err.value).startswith("CANARY_TOPIC_PARTITIONS:")


def test_secrets_are_not_printed():
    s = Settings(_env_file=None, encryption_keys=f"k1:{KEY}")  # type: ignore[call-arg]
    assert KEY not in repr(s) and KEY not in str(s.model_dump())
    assert s.encryption_ring() == {"k1": b"k" * 32}


def test_missing_encryption_key_says_what_to_do():
    with pytest.raises(ConfigError, match="CANARY_ENCRYPTION_KEYS is empty"):
        Settings(_env_file=None, encryption_keys="").encryption_ring()  # type: ignore[call-arg]


def test_sqlalchemy_url_uses_psycopg():
    s = Settings(_env_file=None, database_url="postgresql://a:b@h:1/d")  # type: ignore[call-arg]
    assert s.sqlalchemy_url() == "postgresql+psycopg://a:b@h:1/d"


def test_notification_url_defaults_to_the_ingress_address(monkeypatch):
    monkeypatch.delenv("CANARY_NOTIFICATION_URL", raising=False)
    s = Settings(_env_file=None, ingress_port=9191)  # type: ignore[call-arg]
    assert s.notification_url == "http://127.0.0.1:9191/webhooks/square"
    s = Settings(_env_file=None, ingress_host="0.0.0.0", ingress_port=80)  # type: ignore[call-arg]
    assert s.notification_url == "http://127.0.0.1:80/webhooks/square"
    s = Settings(_env_file=None, notification_url="https://shop.example/hooks")  # type: ignore[call-arg]
    assert s.notification_url == "https://shop.example/hooks"


@pytest.mark.parametrize("url", ["webhooks/square", "ftp://x/y", "http://", "https:///path"])
def test_notification_url_must_be_absolute_http(monkeypatch, url):
    monkeypatch.setenv("CANARY_NOTIFICATION_URL", url)
    get_settings.cache_clear()
    with pytest.raises(ConfigError) as err:
        get_settings()
    get_settings.cache_clear()
    assert str(err.value) == (
        "CANARY_NOTIFICATION_URL: Value error, must be an absolute http(s) URL such as "
        "https://example.com/webhooks/square (fix the environment or .env)"
    )
