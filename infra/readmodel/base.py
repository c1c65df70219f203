"""The channel view's common ground: what a store provides, and the generations.

The view is the read model's storage. What both stores share is written once
(statements in psycopg's `%(name)s` style; the SQLite view rewrites them to
`:name`): generations here, the batch write in writes.py, the reads in
reads.py. The store classes (sqlite.py, postgres.py) are the library's
tracking recorders and add what differs: transactions, locks, lists of
values, the board's join.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from eventsourcing.persistence import Tracking, TrackingRecorder

from infra.readmodel.rows import MICROSECOND, micros
from infra.readmodel.tables import GENERATION_TABLES, PARTITIONED, TABLES

TRACKING_PREFIX = "Backchannel/channels#"


class Cursor(Protocol):
    def execute(self, query: Any, params: Any = ..., /) -> Any: ...
    def executemany(self, query: Any, params_seq: Any, /) -> Any: ...
    def fetchall(self) -> Any: ...
    def fetchone(self) -> Any: ...


class GenerationRetired(RuntimeError):
    """The generation a projector writes to is no longer the one it was meant for."""


class PositionMoved(RuntimeError):
    """Another projector processed this generation meanwhile; start again from its position."""


@dataclass(frozen=True)
class Generation:
    """One build of the read model: its number, state and the window W it was built for."""

    number: int
    state: str
    window_us: int
    position: int

    @property
    def window(self) -> timedelta:
        return self.window_us * MICROSECOND


def tracking_name(generation: int) -> str:
    """The tracking record's name for a generation (one row per generation)."""
    return f"{TRACKING_PREFIX}{generation}"


class ViewBase(TrackingRecorder):
    """The read model's storage; a mixin for a store's TrackingRecorder."""

    # -- what a store provides ------------------------------------------------

    @abstractmethod
    def _reading(self) -> AbstractContextManager[Cursor]:
        """A read-only transaction over one consistent snapshot."""

    @abstractmethod
    def _writing(self) -> AbstractContextManager[Cursor]:
        """A write transaction holding the store's write lock from its first statement."""

    @abstractmethod
    def _sql(self, statement: str) -> str:
        """A statement written with `%(name)s` parameters, in the store's own style."""

    @abstractmethod
    def _in(self, column: str, name: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
        """`column` is one of `values`: the condition and its parameters."""

    @abstractmethod
    def _lock_position(self, c: Cursor, name: str) -> int | None:
        """The tracked position of `name`, locked until the transaction ends."""

    @abstractmethod
    def _lock_generations(self, c: Cursor, *, exclusive: bool) -> None:
        """Lock the generations table (shared by projectors, exclusive to a switch)."""

    @abstractmethod
    def _track(self, c: Cursor, tracking: Tracking) -> None:
        """Record `tracking` (the library's single-row upsert) in this transaction."""

    @abstractmethod
    def _tracked(self, c: Cursor, name: str) -> int | None:
        """The position tracked under `name`, read in this transaction."""

    @abstractmethod
    def head(self) -> int:
        """The log's last position."""

    # -- generations ----------------------------------------------------------

    def generations(self) -> list[Generation]:
        """Every generation, with its tracked position, newest first."""
        with self._reading() as c:
            return self._generations(c)

    def _generations(self, c: Cursor) -> list[Generation]:
        c.execute(
            self._sql(
                "SELECT generation, state, window_us FROM projection_generations "
                "ORDER BY generation DESC"
            )
        )
        rows = list(c.fetchall())
        return [
            Generation(
                row["generation"],
                row["state"],
                row["window_us"],
                self._tracked(c, tracking_name(row["generation"])) or 0,
            )
            for row in rows
        ]

    def live(self) -> Generation | None:
        """The generation readers read, if there is one."""
        return next((g for g in self.generations() if g.state == "live"), None)

    def create_generation(
        self, window: timedelta, now: datetime, *, live: bool, detached: bool = False
    ) -> int:
        """Start a new, empty generation (live only when there is none yet); its number.

        A generation left `building` by an interrupted rebuild is retired first.
        `detached` (for a bulk load, on PostgreSQL): the generation's partitions are
        tables of their own, without indexes, until `attach`; only the bulk load's
        `insert_rows` writes to them meanwhile.
        """
        window_us, now_us = window // MICROSECOND, micros(now)
        with self._writing() as c:
            self._lock_generations(c, exclusive=True)
            existing = self._generations(c)
            if live and any(g.state == "live" for g in existing):
                raise ValueError("there is a live generation already")
            number = max((g.number for g in existing), default=0) + 1
            c.execute(
                self._sql(
                    "UPDATE projection_generations SET state = 'retired' WHERE state = 'building'"
                )
            )
            c.execute(
                self._sql(
                    "INSERT INTO projection_generations "
                    "(generation, state, window_us, created_at, promoted_at) "
                    "VALUES (%(g)s, %(state)s, %(w)s, %(now)s, %(promoted)s)"
                ),
                {
                    "g": number,
                    "state": "live" if live else "building",
                    "w": window_us,
                    "now": now_us,
                    "promoted": now_us if live else None,
                },
            )
            self._track(c, Tracking(tracking_name(number), 0))
            self._make_partitions(c, number, attached=live or not detached)
            return number

    def _make_partitions(self, c: Cursor, generation: int, *, attached: bool) -> None:
        """Make a new generation's partitions, where the store partitions its tables."""

    def attach(self, generation: int) -> None:
        """Index a generation's detached partitions and attach them (see `create_generation`);
        nothing to do for partitions attached already, or a store without partitions."""

    def promote(self, number: int, now: datetime) -> bool:
        """Make generation `number` live if it has processed at least what the live one has.

        One transaction: readers see the old generation or the new, never a
        mixture. False (and nothing changed) if the new one is still behind.
        """
        with self._writing() as c:
            self._lock_generations(c, exclusive=True)
            existing = {g.number: g for g in self._generations(c)}
            mine = existing.get(number)
            if mine is None or mine.state != "building":
                raise GenerationRetired(f"generation {number} is not being built")
            live = [g for g in existing.values() if g.state == "live"]
            if any(g.position > mine.position for g in live):
                return False
            c.execute(
                self._sql(
                    "UPDATE projection_generations SET state = 'retired' WHERE state = 'live'"
                )
            )
            c.execute(
                self._sql(
                    "UPDATE projection_generations SET state = 'live', promoted_at = %(now)s "
                    "WHERE generation = %(g)s"
                ),
                {"g": number, "now": micros(now)},
            )
            return True

    def analyze(self) -> None:
        """Refresh the planner's statistics of the view's tables (after a bulk build)."""
        with self._writing() as c:
            for table in TABLES:
                c.execute(f"ANALYZE {table}")

    def drop_retired(self, chunk: int = 200) -> int:
        """Delete the rows of retired generations; how many channels they held.

        Their channels, facts and segments go first (`_drop_channels`: a few channels
        per transaction, or on PostgreSQL the generation's partitions whole), then the
        rest of their rows and the generation itself."""
        dropped = 0
        for generation in [g.number for g in self.generations() if g.state == "retired"]:
            dropped += self._drop_channels(generation, chunk)
            with self._writing() as c:
                for table in GENERATION_TABLES:
                    if table in PARTITIONED:  # channels, facts, segments: done above
                        continue
                    c.execute(
                        self._sql(f"DELETE FROM {table} WHERE generation = %(g)s"),
                        {"g": generation},
                    )
                c.execute(
                    self._sql("DELETE FROM projection_generations WHERE generation = %(g)s"),
                    {"g": generation},
                )
                self._forget_tracking(c, tracking_name(generation))
        return dropped

    def _drop_channels(self, generation: int, chunk: int) -> int:
        """Delete a retired generation's channels, facts and segments, `chunk` channels per
        transaction; how many channels."""
        dropped = 0
        while True:
            with self._writing() as c:
                c.execute(
                    self._sql(
                        "SELECT channel FROM channels WHERE generation = %(g)s "
                        "ORDER BY channel LIMIT %(n)s"
                    ),
                    {"g": generation, "n": chunk},
                )
                channels = [row["channel"] for row in c.fetchall()]
                if not channels:
                    # What is left belongs to no row of `channels`: the segments of the
                    # channels with an office on either side (see office_channels).
                    for table in ("channel_segments", "channel_facts"):
                        c.execute(
                            self._sql(f"DELETE FROM {table} WHERE generation = %(g)s"),
                            {"g": generation},
                        )
                    return dropped
                condition, params = self._in("channel", "c", channels)
                params["g"] = generation
                for table in ("channel_segments", "channel_facts", "channels"):
                    c.execute(
                        self._sql(f"DELETE FROM {table} WHERE generation = %(g)s AND {condition}"),
                        params,
                    )
                dropped += len(channels)

    @abstractmethod
    def _forget_tracking(self, c: Cursor, name: str) -> None: ...
