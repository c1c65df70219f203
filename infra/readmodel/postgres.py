"""The channel view on PostgreSQL: row and table locks order projectors and switches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from operator import itemgetter
from typing import Any

import psycopg
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from psycopg.sql import SQL, Identifier, Literal

from infra.readmodel import ChannelView
from infra.readmodel.base import Cursor
from infra.readmodel.history import RUN_COLUMNS, Run
from infra.readmodel.pgreads import PostgresReads
from infra.readmodel.rows import Row
from infra.readmodel.tables import PARTITIONED, metadata, partition, postgres_types
from infra.readmodel.writes import FACT_INSERT, SEGMENT_INSERT


class PostgresChannelView(PostgresReads, ChannelView, PostgresTrackingRecorder):
    """The view's tables in the log's database."""

    @contextmanager
    def _reading(self) -> Iterator[Cursor]:
        # Committed, not rolled back: a ROLLBACK makes psycopg drop every statement it
        # prepared on the connection (and send DEALLOCATE ALL), so the plans of these
        # reads were never kept. Ending a read-only transaction either way costs the same.
        with self.datastore.transaction(commit=True) as c:
            # One snapshot for every statement of the read.
            c.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield c

    @contextmanager
    def _writing(self) -> Iterator[Cursor]:
        with self.datastore.transaction(commit=True) as c:
            yield c

    def _sql(self, statement: str) -> str:
        return statement

    def _in(self, column: str, name: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
        return f"{column} = ANY(%({name})s)", {name: list(values)}

    def _tracking_table(self) -> SQL:
        return SQL("{0}.{1}").format(  # type: ignore[return-value]
            Identifier(self.datastore.schema), Identifier(self.tracking_table_name)
        )

    def _track(self, c: Cursor, tracking: Tracking) -> None:
        self._insert_tracking(c, tracking)  # type: ignore[arg-type]

    def _tracked(self, c: Cursor, name: str) -> int | None:
        return self._max_tracking_id(name, c)  # type: ignore[arg-type]

    def _lock_position(self, c: Cursor, name: str) -> int | None:
        c.execute(
            SQL("SELECT notification_id FROM {0} WHERE application_name = %s FOR UPDATE").format(
                self._tracking_table()
            ),
            (name,),
        )
        row = c.fetchone()
        return None if row is None else int(row["notification_id"])

    def _lock_generations(self, c: Cursor, *, exclusive: bool) -> None:
        # Projectors share the table; a switch of generations waits for their
        # batches and they for it. Readers (ACCESS SHARE) are never blocked.
        mode = "EXCLUSIVE" if exclusive else "SHARE"
        c.execute(f"LOCK TABLE projection_generations IN {mode} MODE")

    # -- partitions (infra.readmodel.tables) ------------------------------------

    def _partitioned(self, c: Cursor) -> bool:
        """Whether the tables are partitioned: not before revision 0007 (a store not
        migrated yet, which the rows of a generation then go into as they did)."""
        c.execute(
            "SELECT count(*) AS n FROM unnest(%(tables)s::text[]) AS t(name) "
            "JOIN pg_partitioned_table AS p ON p.partrelid = to_regclass(t.name)",
            {"tables": list(PARTITIONED)},
        )
        return bool(c.fetchone()["n"] == len(PARTITIONED))

    def _make_partitions(self, c: Cursor, generation: int, *, attached: bool) -> None:
        if not self._partitioned(c):
            return
        for table in PARTITIONED:
            name = Identifier(partition(table, generation))
            if attached:
                c.execute(
                    SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES IN ({})").format(
                        name, Identifier(table), Literal(generation)
                    )
                )
            else:
                # The parent's columns, not its indexes; the CHECK spares `attach` a scan.
                c.execute(
                    SQL(
                        "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS, CHECK (generation = {}))"
                    ).format(name, Identifier(table), Literal(generation))
                )

    def attach(self, generation: int) -> None:
        """Attach a generation's detached partitions: PostgreSQL builds each index of the
        parent on them as it does (in parallel workers where it can), the rows all in."""
        with self._writing() as c:
            self._unbounded(c)
            for table, attached in self._partitions(c, generation):
                if attached is False:
                    c.execute(
                        SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN ({})").format(
                            Identifier(table),
                            Identifier(partition(table, generation)),
                            Literal(generation),
                        )
                    )

    def _drop_channels(self, generation: int, chunk: int) -> int:
        """Detach and drop a retired generation's partitions: the parent's readers and
        writers go on meanwhile (DETACH … CONCURRENTLY, outside a transaction)."""
        with self._reading() as c:
            partitioned = self._partitioned(c)
            found = self._partitions(c, generation) if partitioned else []
            channels = 0
            if any(t == "channels" and a is not None for t, a in found):
                name = partition("channels", generation)
                c.execute(SQL("SELECT count(*) AS n FROM {}").format(Identifier(name)))
                channels = int(c.fetchone()["n"])
        if not partitioned:
            return super()._drop_channels(generation, chunk)
        with self.datastore.get_connection() as connection:
            connection.execute("SET statement_timeout = 0")
            try:
                for table, attached in found:
                    if attached is None:
                        continue
                    name = partition(table, generation)
                    if attached:
                        connection.execute(
                            SQL("ALTER TABLE {} DETACH PARTITION {} {}").format(
                                Identifier(table),
                                Identifier(name),
                                SQL("FINALIZE" if attached == "pending" else "CONCURRENTLY"),
                            )
                        )
                    connection.execute(SQL("DROP TABLE {}").format(Identifier(name)))
            finally:
                connection.execute("RESET statement_timeout")
        return channels

    def _partitions(self, c: Cursor, generation: int) -> list[tuple[str, bool | str | None]]:
        """Each partitioned table, with its partition for `generation`: True if attached,
        "pending" if a detach of it was interrupted, False if detached, None if none."""
        found: list[tuple[str, bool | str | None]] = []
        for table in PARTITIONED:
            c.execute(
                "SELECT c.relispartition AS attached, i.inhdetachpending AS pending "
                "FROM pg_class AS c LEFT JOIN pg_inherits AS i ON i.inhrelid = c.oid "
                "WHERE c.oid = to_regclass(%(name)s)",
                {"name": partition(table, generation)},
            )
            row = c.fetchone()
            state: bool | str | None = None
            if row is not None:
                state = "pending" if row["pending"] else bool(row["attached"])
            found.append((table, state))
        return found

    def _forget_tracking(self, c: Cursor, name: str) -> None:
        c.execute(
            SQL("DELETE FROM {0} WHERE application_name = %s").format(self._tracking_table()),
            (name,),
        )

    def head(self) -> int:
        with self._reading() as c:
            return self._head(c)

    def _head(self, c: Cursor) -> int:
        c.execute(SQL("SELECT MAX(notification_id) AS head FROM {0}").format(self._log_table()))
        row = c.fetchone()
        return int(row["head"] or 0)

    def _log_table(self) -> SQL:
        # The library names the PostgreSQL log after the application (Backchannel).
        return SQL("{0}.backchannel_events").format(  # type: ignore[return-value]
            Identifier(self.datastore.schema)
        )

    def _segments_from(
        self, c: Cursor, generation: int, known_at: int, group: list[Run], size: int
    ) -> list[Row]:
        # One lateral read per channel, planned once (not a statement part per channel).
        c.execute(
            f"SELECT r.* FROM unnest(%(cs)s::text[], %(vs)s::bigint[]) AS w(channel, v) "
            f"CROSS JOIN LATERAL (SELECT {RUN_COLUMNS} FROM channel_segments AS s "
            "WHERE s.generation = %(g)s AND s.channel = w.channel AND s.valid_from >= w.v "
            "AND s.known_from <= %(k)s AND s.known_to > %(k)s "
            "ORDER BY s.valid_from LIMIT %(n)s) AS r",
            {
                "cs": [run.channel for run in group],
                "vs": [run.cursor for run in group],
                "g": generation,
                "k": known_at,
                "n": size,
            },
        )
        return list(c.fetchall())

    # New rows go in by COPY; closed ones by primary key (whatever the planner thinks).

    def _insert_facts(self, c: Cursor, rows: list[dict[str, Any]]) -> None:
        self._copy(c, "channel_facts", FACT_INSERT, rows)

    def _insert_segments(self, c: Cursor, rows: list[dict[str, Any]]) -> None:
        self._copy(c, "channel_segments", SEGMENT_INSERT, rows)

    def _unbounded(self, c: Cursor) -> None:
        c.execute("SET LOCAL statement_timeout = 0")

    def _commit_lazily(self, c: Cursor) -> None:
        c.execute("SET LOCAL synchronous_commit = off")

    def _bulk(
        self,
        c: Cursor,
        generation: int,
        table: str,
        names: tuple[str, ...],
        rows: list[dict[str, Any]],
    ) -> None:
        if rows:  # straight into the generation's partition, attached or not yet
            into = partition(table, generation) if self._partitioned(c) else None
            self._copy(c, table, names, rows, into=into)

    @staticmethod
    def _copy(
        c: Cursor,
        table: str,
        columns: tuple[str, ...],
        rows: list[dict[str, Any]],
        *,
        into: str | None = None,
    ) -> None:
        """COPY in binary: no value is spelled as text by the client and parsed back by the
        server (about 40% less client CPU than text for the segments of a rebuild).
        `into` names one of `table`'s partitions to write to directly."""
        assert isinstance(c, psycopg.Cursor)
        with c.copy(
            SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
                Identifier(into or table), SQL(", ").join(map(Identifier, columns))
            )
        ) as copy:
            copy.set_types(_copy_types(table, columns))
            values = itemgetter(*columns)
            for row in rows:
                copy.write_row(values(row))


@cache
def _copy_types(table: str, columns: tuple[str, ...]) -> tuple[str, ...]:
    return postgres_types(metadata.tables[table], columns)
