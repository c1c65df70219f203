"""The event store: BACKCHANNEL_DATABASE_URL translated, in this one place,
into the eventsourcing library's environment and into a SQLAlchemy URL for alembic.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from infra.settings import Settings


def eventsourcing_env(settings: Settings, *, create_table: bool = False) -> dict[str, str]:
    """The library's persistence settings for our one database URL.

    Tables are created by `backchannel migrate` (alembic), never as a side
    effect of starting the service, so CREATE_TABLE is off unless asked.
    """
    url = settings.database_url
    env = {"CREATE_TABLE": "y" if create_table else "n"}
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path not in (":memory:", "") and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        env.update(
            PERSISTENCE_MODULE="eventsourcing.sqlite",
            SQLITE_DBNAME=path,
            SQLITE_LOCK_TIMEOUT="10",
        )
        return env
    parts = urlsplit(url)
    query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
    env.update(
        PERSISTENCE_MODULE="eventsourcing.postgres",
        POSTGRES_DBNAME=unquote(parts.path.lstrip("/")) or "postgres",
        POSTGRES_HOST=parts.hostname or "127.0.0.1",
        POSTGRES_PORT=str(parts.port or 5432),
        POSTGRES_USER=unquote(parts.username or "postgres"),
        POSTGRES_PASSWORD=unquote(parts.password or ""),
        POSTGRES_POOL_SIZE=str(settings.pool_size),
        POSTGRES_MAX_OVERFLOW=str(settings.pool_size * 2),
        POSTGRES_CONNECT_TIMEOUT="10",
        POSTGRES_LOCK_TIMEOUT="10",
        POSTGRES_PRE_PING="y",
        POSTGRES_SCHEMA=query.get("schema", ""),
    )
    return env


def sqlalchemy_url(settings: Settings) -> str:
    """The same database, as alembic (SQLAlchemy with psycopg 3) names it."""
    url = settings.database_url
    if url.startswith("sqlite:///"):
        return url
    _scheme, rest = url.split("://", 1)
    rest = rest.split("?", 1)[0]
    return f"postgresql+psycopg://{rest}"


def describe(settings: Settings) -> str:
    """The database URL with any password hidden, for logs and messages."""
    parts = urlsplit(settings.database_url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return settings.database_url
