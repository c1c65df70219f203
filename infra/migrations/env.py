"""Alembic environment: the URL comes from Settings, never from alembic.ini.

Autogenerate compares the database with the read model's metadata
(infra/readmodel/tables.py). The event log's tables belong to the
eventsourcing library, which creates them itself: they are left out.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine, pool

from infra.readmodel.tables import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url") or ""
assert url, "infra.schema sets sqlalchemy.url from BACKCHANNEL_DATABASE_URL"


def include_name(name: str | None, type_: str, _parent: Any) -> bool:
    """Only our own tables (and what hangs off them) are compared."""
    if type_ == "table":
        return name in metadata.tables
    return True


def run_migrations_offline() -> None:
    context.configure(
        url=url,
        target_metadata=metadata,
        include_name=include_name,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            include_name=include_name,
            render_as_batch=url.startswith("sqlite"),
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
