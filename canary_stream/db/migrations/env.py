"""Alembic environment: runs the revisions as the owner role, synchronously, one transaction.

Inputs, first found wins:
- the URL: ``config.attributes["url"]`` (set by :mod:`canary_stream.db.migrate`), else the
  ini's ``sqlalchemy.url``, else the owner URL of the settings (``CANARY_OWNER_DATABASE_URL``);
- the application role that receives grants: ``config.attributes["app_role"]``, else the
  environment variable ``CANARY_APP_ROLE``, else the user of ``CANARY_DATABASE_URL``.
A connection passed as ``config.attributes["connection"]`` is used as it is.
"""

from __future__ import annotations

import logging
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import Connection

from canary_stream.db.append_only import SCHEMAS
from canary_stream.db.migrate import APP_ROLE_ATTRIBUTE, URL_ATTRIBUTE, app_role
from canary_stream.db.models import Base
from canary_stream.settings import get_settings

#: Serialises concurrent ``db upgrade`` runs (two workers starting at once).
MIGRATION_LOCK_KEY = 0x63616E617279  # "canary"

config = context.config
if config.config_file_name is not None and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get(URL_ATTRIBUTE) or config.get_main_option("sqlalchemy.url")
    return str(url) if url else get_settings().sqlalchemy_url(owner=True)


def _app_role() -> str:
    role = config.attributes.get(APP_ROLE_ATTRIBUTE) or os.environ.get("CANARY_APP_ROLE")
    return str(role) if role else app_role(get_settings())


def _include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate and compare look only at the schemas the migrations own."""
    if type_ == "schema":
        return name in SCHEMAS
    return True


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        include_schemas=True,
        include_name=_include_name,
        compare_type=True,
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``)."""
    config.attributes[APP_ROLE_ATTRIBUTE] = _app_role()
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        context.run_migrations()


def run_migrations_online() -> None:
    config.attributes[APP_ROLE_ATTRIBUTE] = _app_role()
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            _run_on(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
