"""Schema management: alembic for the service's tables, the library for the log's."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from infra.settings import Settings
from infra.store import sqlalchemy_url

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaOutOfDate(RuntimeError):
    """The database is not at the schema this code expects."""


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(settings).replace("%", "%%"))
    return config


def upgrade(settings: Settings) -> str:
    """Bring the service's tables to head; return the head revision."""
    config = alembic_config(settings)
    command.upgrade(config, "head")
    return head_revision(settings)


def head_revision(settings: Settings) -> str:
    head = ScriptDirectory.from_config(alembic_config(settings)).get_current_head()
    assert head is not None
    return head


def current_revision(settings: Settings) -> str | None:
    engine = create_engine(sqlalchemy_url(settings), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def check_at_head(settings: Settings) -> None:
    """Raise SchemaOutOfDate, saying what to run, unless the schema is at head."""
    current = current_revision(settings)
    head = head_revision(settings)
    if current != head:
        raise SchemaOutOfDate(
            f"database schema is at {current or 'nothing'}, this code needs {head}: "
            "run `backchannel migrate`"
        )
