"""The event store: BACKCHANNEL_DATABASE_URL translated, in this one place,
into the eventsourcing library's environment and into a SQLAlchemy URL for alembic.

On PostgreSQL every use of the store is bounded in time, so that a request during
an outage is answered (503) instead of waiting for the server to come back:

- waiting for a pooled connection gives up after BACKCHANNEL_DB_CONNECT_TIMEOUT_SECONDS
  (the pool's timeout; libpq's own connect timeout is the same, at least 2 s);
- the server ends a statement that runs longer than BACKCHANNEL_DB_STATEMENT_TIMEOUT_SECONDS;
- a recorder call is tried once more only when its connection turned out to be
  broken (a restarted server), not ten times as the library does by default;
- a broken connection makes the pool check every idle one at once, so that the
  dead connections a restart leaves behind are replaced together instead of
  failing one request each.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, ProgrammingError
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
    PostgresTrackingRecorder,
)
from eventsourcing.utils import Environment
from psycopg import Connection
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Identifier
from psycopg_pool import PoolTimeout

from infra.settings import Settings

FACTORY_TOPIC = "infra.store:BoundedPostgresFactory"
POOL_TIMEOUT = "BACKCHANNEL_POOL_TIMEOUT"
STATEMENT_TIMEOUT = "BACKCHANNEL_STATEMENT_TIMEOUT"
LIBPQ_MIN_CONNECT_TIMEOUT = 2  # libpq reads 1 as 2


def connection_broke(error: BaseException) -> bool:
    """Whether a store error means the connection it used is dead (the server went
    away or was restarted), rather than that no connection could be had in time,
    a statement was too slow, or the statement itself failed."""
    cause = error.__cause__ if isinstance(error, InterfaceError | OperationalError) else error
    if isinstance(cause, PoolTimeout):
        return False
    if isinstance(cause, psycopg.InterfaceError):
        return True
    if isinstance(cause, psycopg.OperationalError):
        # No SQLSTATE: the socket closed under it. 57P0x: the server is shutting
        # down, crashed, or is still starting.
        return cause.sqlstate is None or cause.sqlstate.startswith("57P0")
    return False


class BoundedDatastore(PostgresDatastore):
    """The library's datastore; a connection found broken has the pool check the rest."""

    @contextmanager
    def get_connection(self) -> Iterator[Connection[DictRow]]:
        try:
            with super().get_connection() as connection:
                yield connection
        except (InterfaceError, OperationalError) as error:
            if connection_broke(error):
                with suppress(Exception):  # the server is still away: the pool reconnects
                    self.pool.check()
            raise


def _once_more_if_broken(method: Any) -> Any:
    """A recorder method of the library, without its ten attempts: tried again once,
    at once, only when the first attempt's connection was dead."""
    attempt: Callable[..., Any] = method.__wrapped__

    @wraps(attempt)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return attempt(self, *args, **kwargs)
        except (InterfaceError, OperationalError) as error:
            if not connection_broke(error):
                raise
            return attempt(self, *args, **kwargs)

    return call


COPY_FROM = 64  # events: an append of at least this many is written with COPY


def _spelled(statement: Any) -> Any:
    """A composed statement as the bytes it stands for (bytes and strings as they are)."""
    return statement.as_bytes(None) if isinstance(statement, Composable) else statement


class BoundedApplicationRecorder(PostgresApplicationRecorder):
    """The log's recorder, each call bounded by the pool's and the statement timeout.

    A large append (a batch, an import chunk, a busy group commit) is written with
    COPY instead of the library's INSERT of an array of composites, in the same
    transaction shape: the library's table lock, its NOTIFY, then the rows, the
    library's own stored events unchanged (its mapper made them). Under that lock no
    other transaction takes notification ids, so the rows took consecutive ones,
    ending at the sequence's current value; that is checked before committing.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The statements of every append, spelled once: psycopg turns a composed
        # statement into bytes on each execution (quoting each identifier), a fifth of
        # a small append's CPU; bytes it parses once and keeps.
        self.lock_table_statements = [_spelled(s) for s in self.lock_table_statements]
        self.insert_events_statement = _spelled(self.insert_events_statement)
        self._notify_statement = _spelled(SQL("NOTIFY {0}").format(Identifier(self.channel_name)))

    def _notify_channel(self, curs: Any) -> None:
        curs.execute(self._notify_statement)

    def insert_events(self, stored_events: Any, **kwargs: Any) -> Any:
        if len(stored_events) < COPY_FROM or self.datastore.enable_db_functions:
            return self._insert(stored_events, **kwargs)
        return self._copy(stored_events)

    _insert = _once_more_if_broken(PostgresApplicationRecorder.insert_events)

    def _copy_attempt(self, stored_events: Any) -> list[int]:
        table = SQL("{0}.{1}").format(
            Identifier(self.datastore.schema), Identifier(self.events_table_name)
        )
        qualified = f'"{self.datastore.schema}"."{self.events_table_name}"'
        count = len(stored_events)
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._lock_table(curs)
            self._notify_channel(curs)
            statement = SQL(
                "COPY {0} (originator_id, originator_version, topic, state) FROM STDIN"
            ).format(table)
            with curs.copy(statement) as copy:
                for event in stored_events:
                    copy.write_row(
                        (event.originator_id, event.originator_version, event.topic, event.state)
                    )
            curs.execute(
                "SELECT currval(pg_get_serial_sequence(%s, 'notification_id')) AS last",
                (qualified,),
            )
            row = curs.fetchone()
            assert row is not None
            last = int(row["last"])
            curs.execute(
                SQL("SELECT count(*) AS n FROM {0} WHERE notification_id BETWEEN %s AND %s").format(
                    table
                ),
                (last - count + 1, last),
            )
            found = curs.fetchone()
            if found is None or int(found["n"]) != count:
                raise ProgrammingError("the copied events did not take consecutive positions")
        return list(range(last - count + 1, last + 1))

    def _copy(self, stored_events: Any) -> list[int]:
        try:
            return self._copy_attempt(stored_events)
        except (InterfaceError, OperationalError) as error:
            if not connection_broke(error):
                raise
            return self._copy_attempt(stored_events)

    select_events = _once_more_if_broken(PostgresApplicationRecorder.select_events)
    select_notifications = _once_more_if_broken(PostgresApplicationRecorder.select_notifications)
    max_notification_id = _once_more_if_broken(PostgresApplicationRecorder.max_notification_id)


TRACKING_METHODS = ("insert_tracking", "max_tracking_id", "has_tracking_id")


class BoundedPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory, with the store's timeouts on every connection."""

    application_recorder_class = BoundedApplicationRecorder

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        pool_timeout = float(env.get(POOL_TIMEOUT) or self.datastore.pool.timeout)
        statement_ms = round(1000 * float(env.get(STATEMENT_TIMEOUT) or 0))
        # The library builds its datastore itself; only the behaviour on a broken
        # connection differs, and the pool has not opened yet.
        self.datastore.__class__ = BoundedDatastore
        pool = self.datastore.pool
        pool.timeout = pool_timeout
        # A slot that cannot reconnect for this long is given up and regrown on the
        # next demand, at once, rather than after a back-off grown through an outage.
        pool.reconnect_timeout = pool_timeout
        assert isinstance(pool.kwargs, dict)
        pool.kwargs["connect_timeout"] = max(LIBPQ_MIN_CONNECT_TIMEOUT, math.ceil(pool_timeout))
        pool.kwargs["options"] = f"-c statement_timeout={statement_ms}"

    def tracking_recorder(self, tracking_recorder_class: Any = None) -> Any:
        """The library's tracking recorder (of the given class), its calls bounded too."""
        given = tracking_recorder_class or self.tracking_recorder_class
        bounded = type(
            given.__name__,
            (given,),
            {
                name: _once_more_if_broken(getattr(PostgresTrackingRecorder, name))
                for name in TRACKING_METHODS
            },
        )
        return super().tracking_recorder(bounded)


def commit_wait_seconds(env: Any) -> float:
    """How long a writer waits for the group commit before giving up (503): the store's
    own bounds on the group in flight and on its own, with room to spare."""
    pool = float(env.get(POOL_TIMEOUT) or 0)
    statement = float(env.get(STATEMENT_TIMEOUT) or 0)
    if not pool and not statement:  # SQLite: its lock timeout bounds each transaction
        return 3 * float(env.get("SQLITE_LOCK_TIMEOUT") or 10)
    return 3 * (pool + statement) + 1


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
        PERSISTENCE_MODULE=FACTORY_TOPIC,
        POSTGRES_DBNAME=unquote(parts.path.lstrip("/")) or "postgres",
        POSTGRES_HOST=parts.hostname or "127.0.0.1",
        POSTGRES_PORT=str(parts.port or 5432),
        POSTGRES_USER=unquote(parts.username or "postgres"),
        POSTGRES_PASSWORD=unquote(parts.password or ""),
        POSTGRES_POOL_SIZE=str(settings.pool_size),
        POSTGRES_MAX_OVERFLOW=str(settings.pool_size * 2),
        # The library takes whole seconds; the pool is given the exact timeout below.
        POSTGRES_CONNECT_TIMEOUT=str(math.ceil(settings.db_connect_timeout_seconds)),
        POSTGRES_LOCK_TIMEOUT=str(math.ceil(settings.db_statement_timeout_seconds) or 10),
        # No ping before each use: a connection found broken has the pool check every
        # idle one at once, and the call is tried again (see BoundedDatastore).
        POSTGRES_PRE_PING="n",
        POSTGRES_SCHEMA=query.get("schema", ""),
    )
    env[POOL_TIMEOUT] = str(settings.db_connect_timeout_seconds)
    env[STATEMENT_TIMEOUT] = str(settings.db_statement_timeout_seconds)
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
