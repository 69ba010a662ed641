"""Alembic environment for the registry.

mlkit runs migrations programmatically (``mlkit.registry.db.run_upgrade``) and hands over an open
connection in ``config.attributes["connection"]``; no alembic.ini is needed. ``render_as_batch`` is
on for SQLite, whose ALTER TABLE cannot change or drop columns and constraints.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from mlkit.registry.db import create_registry_engine
from mlkit.registry.schema import Base

config = context.config


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url or pass a connection in config.attributes")
    engine = create_registry_engine(url)
    try:
        with engine.connect() as conn:
            run_migrations(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("the mlkit registry does not support offline (--sql) migrations")
run_migrations_online()
