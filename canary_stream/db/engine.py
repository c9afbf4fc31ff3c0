"""The asyncio engine (psycopg 3) and session factory; nothing connects until first use."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from canary_stream.settings import Settings

#: Connections each process keeps open, and how many more it may open under a burst.
DEFAULT_POOL_SIZE = 5
DEFAULT_MAX_OVERFLOW = 5


def make_engine(
    settings: Settings,
    *,
    owner: bool = False,
    pool_size: int = DEFAULT_POOL_SIZE,
    max_overflow: int = DEFAULT_MAX_OVERFLOW,
    application_name: str = "canary-stream",
) -> AsyncEngine:
    """An async engine on the application role's URL (or the owner role's with ``owner``).

    Creating it opens no connection; the pool connects on first use and pings each
    connection it hands out, so a restarted PostgreSQL costs one failed ping, not an error.
    The caller disposes of it (``await engine.dispose()``) when the process stops.
    """
    return create_async_engine(
        settings.sqlalchemy_url(owner=owner),
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=1800,
        connect_args={"application_name": application_name},
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit; the caller owns ``session.begin()``."""
    return async_sessionmaker(engine, expire_on_commit=False)
