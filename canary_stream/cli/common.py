"""What every command shares: settings loading and turning errors into one line."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

import typer
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from canary_stream.errors import CanaryError, TransientError
from canary_stream.settings import Settings, get_settings

P = ParamSpec("P")


class DatabaseUnavailable(TransientError):
    """The database did not answer a command."""


T = TypeVar("T")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line to stderr and return the exit to raise."""
    print(f"canary-stream: {message}", file=sys.stderr)
    return typer.Exit(code)


def settings() -> Settings:
    """Validated settings, or one line and exit 2."""
    try:
        return get_settings()
    except CanaryError as exc:
        raise fail(str(exc), 2) from None


def one_line_errors(func: Callable[P, T]) -> Callable[P, T]:
    """Turn a ``CanaryError`` escaping a command into one line and a non-zero exit."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except CanaryError as exc:
            raise fail(str(exc)) from None

    return wrapper


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a fresh event loop."""
    return asyncio.run(coro)


@contextlib.asynccontextmanager
async def database(cfg: Settings, *, owner: bool = False) -> AsyncIterator[AsyncEngine]:
    """An engine for one command; connection failures become one line."""
    from canary_stream.db.engine import make_engine

    engine = make_engine(cfg, owner=owner, pool_size=2, max_overflow=0)
    try:
        yield engine
    except (OperationalError, OSError) as exc:
        raise DatabaseUnavailable(
            f"database unreachable ({type(exc).__name__}); is the stack up? "
            "try 'canary-stream stack up' and 'eval \"$(canary-stream stack env)\"'"
        ) from None
    finally:
        await engine.dispose()
