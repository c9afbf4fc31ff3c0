"""``stack.env``: connection URLs plus local dev secrets, generated once and then kept."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from dotenv import dotenv_values

from canary_stream.errors import ConfigError

#: Keys the stack rewrites on every ``up`` from the current settings.
URL_KEYS = ("CANARY_KAFKA_BOOTSTRAP", "CANARY_DATABASE_URL", "CANARY_OWNER_DATABASE_URL")


def _b64_32() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


#: Secrets generated once (when absent) and then kept as they are.
SECRET_GENERATORS: dict[str, Callable[[], str]] = {
    "CANARY_ENCRYPTION_KEYS": lambda: f"k1:{_b64_32()}",
    "CANARY_CARD_HASH_KEYS": lambda: f"c1:{_b64_32()}",
    "CANARY_CHECKPOINT_SIGNING_KEY": _b64_32,
    "CANARY_SQUARE_APPLICATION_SECRET": lambda: secrets.token_urlsafe(32),
    "CANARY_SQUARE_ACCESS_TOKEN": lambda: secrets.token_urlsafe(48),
}

HEADER = (
    "# Written by 'canary-stream stack up'; read by canary-stream's settings automatically.\n"
    "# The secrets below are local development keys, generated once and kept across restarts.\n"
)


class DbUrl:
    """The parts of a ``postgresql://user:pass@host:port/db`` URL the stack needs."""

    def __init__(self, url: str, *, what: str) -> None:
        parts = urlsplit(url)
        self.user = unquote(parts.username or "")
        self.password = unquote(parts.password or "")
        self.database = unquote(parts.path.lstrip("/"))
        if not (self.user and self.password and self.database):
            raise ConfigError(f"{what} must include a user, a password and a database name")

    def local_url(self, port: int, host: str = "127.0.0.1") -> str:
        """The same role and database on the local stack's address."""
        return (
            f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{host}:{port}/{quote(self.database, safe='')}"
        )


def dotenv_quote(value: str) -> str:
    """Single-quote ``value`` the way python-dotenv reads it back literally."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def shell_quote(value: str) -> str:
    """POSIX shell single quoting (always quoted)."""
    return "'" + value.replace("'", "'\"'\"'") + "'"


def render_env(values: Mapping[str, str]) -> str:
    """The text of ``stack.env`` for ``values`` (one ``NAME='value'`` per line)."""
    for name, value in values.items():
        if "\n" in value or "\r" in value or "${" in value:
            raise ConfigError(f"{name} must not contain a line break or '${{' (stack.env)")
    return HEADER + "".join(f"{name}={dotenv_quote(v)}\n" for name, v in values.items())


def render_exports(values: Mapping[str, str]) -> str:
    """``export NAME='value'`` lines for ``eval "$(canary-stream stack env)"``."""
    return "".join(f"export {name}={shell_quote(v)}\n" for name, v in values.items())


def read_env(path: Path) -> dict[str, str]:
    """Values of an existing env file ({} when there is none), parsed as settings parse it."""
    if not path.exists():
        return {}
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def merge_env(existing: Mapping[str, str], urls: Mapping[str, str]) -> dict[str, str]:
    """New file contents: fresh URLs, kept (or newly generated) secrets, other keys kept."""
    merged: dict[str, str] = dict(urls)
    for name, generate in SECRET_GENERATORS.items():
        merged[name] = existing.get(name) or generate()
    for name in sorted(existing):
        merged.setdefault(name, existing[name])
    return merged


def write_env(path: Path, values: Mapping[str, str]) -> None:
    """Write ``values`` to ``path`` atomically with mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(render_env(values))
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
