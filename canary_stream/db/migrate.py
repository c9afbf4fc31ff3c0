"""Run the Alembic migrations from code, as the owner role.

The Alembic configuration is built here, not read from a file: ``script_location`` points
into this package, the owner URL and the application role's name travel as config
attributes (never through ``configparser``, so passwords with ``%`` work and nothing is
written to disk). ``migrations/alembic.ini`` exists only for running the ``alembic`` tool
by hand (``alembic -c canary_stream/db/migrations/alembic.ini history``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import create_engine, pool
from sqlalchemy.exc import SQLAlchemyError

from canary_stream.errors import CanaryError
from canary_stream.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: Config attribute keys read by ``migrations/env.py`` and the revisions.
URL_ATTRIBUTE = "url"
APP_ROLE_ATTRIBUTE = "app_role"


class MigrationError(CanaryError):
    """A migration could not run: unknown revision, unreachable database, failed DDL."""


def role_of(url: str) -> str:
    """The user name of a ``postgresql://user:pass@host/db`` URL."""
    user = urlsplit(url).username
    if not user:
        raise MigrationError("the database URL names no user; set user:password@ in it")
    return unquote(user)


def app_role(settings: Settings) -> str:
    """The application role: the user of ``CANARY_DATABASE_URL``."""
    return role_of(settings.database_url.get_secret_value())


def owner_role(settings: Settings) -> str:
    """The owner role: the user of ``CANARY_OWNER_DATABASE_URL``, who runs migrations."""
    return role_of(settings.owner_database_url.get_secret_value())


def alembic_config(settings: Settings) -> Config:
    """An Alembic ``Config`` for this package's migrations, bound to the owner URL."""
    app, owner = app_role(settings), owner_role(settings)
    if app == owner:
        raise MigrationError(
            f"CANARY_DATABASE_URL and CANARY_OWNER_DATABASE_URL both use role {app!r}: the "
            "application must run as a role that does not own the tables (append-only)"
        )
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes[URL_ATTRIBUTE] = settings.sqlalchemy_url(owner=True)
    cfg.attributes[APP_ROLE_ATTRIBUTE] = app
    return cfg


def head_revision() -> str | None:
    """The newest revision this package ships."""
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def current_revision(settings: Settings) -> str | None:
    """The revision the database is at (None before the first upgrade)."""
    engine = create_engine(settings.sqlalchemy_url(owner=True), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise MigrationError(f"cannot read the schema revision: {_one_line(exc)}") from exc
    finally:
        engine.dispose()


def upgrade(settings: Settings, revision: str = "head") -> str | None:
    """Upgrade the database to ``revision``; returns the revision it is at afterwards."""
    _run(command.upgrade, settings, revision)
    return current_revision(settings)


def downgrade(settings: Settings, revision: str) -> str | None:
    """Downgrade the database to ``revision`` (``base`` drops every table and schema)."""
    _run(command.downgrade, settings, revision)
    return current_revision(settings)


def _run(action: Callable[[Config, str], None], settings: Settings, revision: str) -> None:
    cfg = alembic_config(settings)
    try:
        action(cfg, revision)
    except CommandError as exc:
        raise MigrationError(f"{revision}: {exc}") from exc
    except SQLAlchemyError as exc:
        raise MigrationError(f"migration to {revision} failed: {_one_line(exc)}") from exc


def _one_line(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    message = str(orig if orig is not None else exc)
    return " ".join(message.split()) or type(exc).__name__
