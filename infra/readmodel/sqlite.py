"""The channel view on SQLite: a write transaction takes the database's write lock at once."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteTrackingRecorder

from infra.readmodel import ChannelView
from infra.readmodel.base import Cursor
from infra.readmodel.countries import BETWEEN
from infra.readmodel.reads import OFFICE_PAIRS
from infra.readmodel.rows import Row

PARAMETER = re.compile(r"%\((\w+)\)s")


@lru_cache(maxsize=256)
def _named(statement: str) -> str:
    return PARAMETER.sub(r":\1", statement)


class SQLiteChannelView(ChannelView, SQLiteTrackingRecorder):
    """The view's tables in the same SQLite file as the log."""

    @contextmanager
    def _reading(self) -> Iterator[Cursor]:
        with self.datastore.transaction(commit=False) as c:
            yield c

    @contextmanager
    def _writing(self) -> Iterator[Cursor]:
        # BEGIN IMMEDIATE: the write lock from the first statement, so what this
        # transaction reads (the tracked position) cannot change before it commits.
        with self.datastore.get_connection(commit=True) as connection:
            c = connection.cursor()
            try:
                c.execute("BEGIN IMMEDIATE")
                try:
                    yield c
                except BaseException:
                    connection.rollback()
                    raise
                connection.commit()
            finally:
                c.sqlite_cursor.close()

    def _sql(self, statement: str) -> str:
        return _named(statement)

    def _in(self, column: str, name: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
        if not values:
            return "0 = 1", {}
        names = [f"{name}_{i}" for i in range(len(values))]
        params = dict(zip(names, values, strict=True))
        return f"{column} IN ({', '.join(':' + n for n in names)})", params

    def _track(self, c: Cursor, tracking: Tracking) -> None:
        self._insert_tracking(c, tracking)  # type: ignore[arg-type]

    def _tracked(self, c: Cursor, name: str) -> int | None:
        return self._max_tracking_id(name, c)  # type: ignore[arg-type]

    def _lock_position(self, c: Cursor, name: str) -> int | None:
        return self._tracked(c, name)

    def _lock_generations(self, c: Cursor, *, exclusive: bool) -> None:
        """Nothing to do: the write transaction holds the whole database."""

    def _forget_tracking(self, c: Cursor, name: str) -> None:
        c.execute("DELETE FROM tracking WHERE application_name = ?", (name,))

    def head(self) -> int:
        with self._reading() as c:
            return self._head(c)

    def _head(self, c: Cursor) -> int:
        c.execute("SELECT MAX(rowid) AS head FROM stored_events")
        row = c.fetchone()
        return int(row["head"] or 0)

    def _board_rows(
        self,
        c: Cursor,
        params: dict[str, Any],
        actor: bool,
        status: bool,
        countries: bool,
        offices: bool,
    ) -> list[Row]:
        pairs = _named(OFFICE_PAIRS.format(g="%(g)s")) if offices else "channels"
        # No LATERAL in SQLite: find each channel's segment start with a correlated
        # subquery (a backward index scan), then join that one row.
        c.execute(
            "SELECT s.channel, s.valid_from, s.valid_to, s.known_from, s.known_to, s.status, "
            "s.since, s.event_count, s.last_contact, s.evidence, s.requests, s.refusals "
            f"FROM {pairs} AS ch JOIN channel_segments AS s "
            "ON s.generation = ch.generation AND s.channel = ch.channel "
            "AND s.valid_from = (SELECT t.valid_from FROM channel_segments AS t "
            "  WHERE t.generation = ch.generation AND t.channel = ch.channel "
            "  AND t.valid_from <= :a AND t.known_from <= :k AND t.known_to > :k "
            "  ORDER BY t.valid_from DESC LIMIT 1) "
            "AND s.known_from <= :k AND s.known_to > :k "
            "WHERE ch.generation = :g AND ch.channel > :after "
            + ("AND (ch.actor_a = :actor OR ch.actor_b = :actor) " if actor else "")
            + (f"AND {_named(BETWEEN)} " if countries else "")
            + "AND s.event_count > 0 "
            + ("AND s.status = :status " if status else "")
            + "ORDER BY ch.channel LIMIT :limit",
            params,
        )
        return list(c.fetchall())
