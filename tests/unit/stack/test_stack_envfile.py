"""stack.env rendering, quoting, secrets kept across restarts, and settings reading it back."""

from __future__ import annotations

import base64
import stat
import subprocess
from pathlib import Path

import pytest

from canary_stream.errors import ConfigError
from canary_stream.settings import Settings, decode_key_ring
from canary_stream.stack import envfile
from canary_stream.stack.envfile import DbUrl

TRICKY = ["plain", "it's", 'say "hi"', "back\\slash", "$HOME and `cmd`", "a # b", " spaced ", ""]


@pytest.mark.parametrize("value", TRICKY)
def test_dotenv_round_trip(tmp_path: Path, value: str) -> None:
    path = tmp_path / "stack.env"
    envfile.write_env(path, {"CANARY_X": value})
    assert envfile.read_env(path) == {"CANARY_X": value}


@pytest.mark.parametrize("value", TRICKY)
def test_shell_exports_round_trip(value: str) -> None:
    script = envfile.render_exports({"CANARY_X": value}) + 'printf %s "$CANARY_X"'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout == value


def test_exports_are_single_quoted_lines() -> None:
    text = envfile.render_exports({"CANARY_KAFKA_BOOTSTRAP": "127.0.0.1:19092"})
    assert text == "export CANARY_KAFKA_BOOTSTRAP='127.0.0.1:19092'\n"


@pytest.mark.parametrize("value", ["two\nlines", "${HOME}"])
def test_unrepresentable_values_are_refused(value: str) -> None:
    with pytest.raises(ConfigError):
        envfile.render_env({"CANARY_X": value})


def test_write_env_is_private(tmp_path: Path) -> None:
    path = tmp_path / "stack.env"
    envfile.write_env(path, {"CANARY_X": "1"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_merge_generates_valid_secrets_once_and_keeps_them() -> None:
    urls = {"CANARY_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    first = envfile.merge_env({}, urls)
    assert set(envfile.SECRET_GENERATORS) <= set(first)
    assert list(decode_key_ring(first["CANARY_ENCRYPTION_KEYS"], what="x")) == ["k1"]
    assert list(decode_key_ring(first["CANARY_CARD_HASH_KEYS"], what="x")) == ["c1"]
    assert len(base64.b64decode(first["CANARY_CHECKPOINT_SIGNING_KEY"], validate=True)) == 32
    second = envfile.merge_env(
        {**first, "CANARY_EXTRA": "kept"}, {"CANARY_KAFKA_BOOTSTRAP": "127.0.0.1:2"}
    )
    assert second["CANARY_KAFKA_BOOTSTRAP"] == "127.0.0.1:2"
    assert second["CANARY_EXTRA"] == "kept"
    for name in envfile.SECRET_GENERATORS:
        assert second[name] == first[name]
    assert envfile.merge_env({}, urls)["CANARY_ENCRYPTION_KEYS"] != first["CANARY_ENCRYPTION_KEYS"]


def test_settings_read_the_file_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in envfile.SECRET_GENERATORS:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "stack.env"
    values = envfile.merge_env(
        {},
        {
            "CANARY_KAFKA_BOOTSTRAP": "127.0.0.1:19092",
            "CANARY_DATABASE_URL": "postgresql://a:b@127.0.0.1:15433/d",
            "CANARY_OWNER_DATABASE_URL": "postgresql://o:p@127.0.0.1:15433/d",
        },
    )
    envfile.write_env(path, values)
    settings = Settings(_env_file=str(path))  # type: ignore[call-arg]
    assert settings.encryption_ring() == decode_key_ring(values["CANARY_ENCRYPTION_KEYS"], what="x")
    assert settings.card_hash_keys.get_secret_value() == values["CANARY_CARD_HASH_KEYS"]


def test_db_url_parts_and_local_url() -> None:
    url = DbUrl("postgresql://us%40er:p%3Ass@db.example:5432/my%20db", what="X")
    assert (url.user, url.password, url.database) == ("us@er", "p:ss", "my db")
    assert url.local_url(15433) == "postgresql://us%40er:p%3Ass@127.0.0.1:15433/my%20db"


@pytest.mark.parametrize(
    "url", ["postgresql://user@127.0.0.1/db", "postgresql://u:p@127.0.0.1/", "postgresql://h/db"]
)
def test_db_url_needs_user_password_and_database(url: str) -> None:
    with pytest.raises(ConfigError):
        DbUrl(url, what="CANARY_DATABASE_URL")
