"""The projector's side of the view: memory of channels, and one batch per transaction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eventsourcing.persistence import Tracking

from domain.offices import RecordedTerm, TermRetraction
from infra.readmodel.base import Cursor, GenerationRetired, PositionMoved, ViewBase
from infra.readmodel.changes import ChangeSet, Rewind
from infra.readmodel.rows import (
    MAX_TIME,
    ActorState,
    Row,
    actor_from,
    actor_name_rows,
    actor_row,
    channel_row,
    fact_row,
    micros,
    retraction_row,
    segment_row,
    term_from,
    term_retraction_row,
    term_row,
    upper,
)
from infra.readmodel.tables import (
    RETRACTION,
    actor_names,
    actors,
    channels,
    columns,
    facts,
    members,
    segments,
    terms,
)

FACT_COLUMNS = ", ".join(columns(facts, without=("generation", "fact")))  # the projector's memory
FACT_INSERT = columns(facts, without=RETRACTION)
FACT_ROW = columns(facts)
SEGMENT_INSERT = columns(segments)
ACTOR_INSERT = columns(actors)
ACTOR_NAME_INSERT = columns(actor_names)
CHANNEL_INSERT = columns(channels)
TERM_INSERT = columns(terms, without=RETRACTION)
MEMBER_INSERT = columns(members)
SKETCH_OF_FACT = ", ".join(f"f.{c}" for c in columns(facts, without=("generation", "fact")))


def insert(table: str, names: tuple[str, ...], suffix: str = "") -> str:
    """INSERT of one row of `names` into `table`, in `%(name)s` style."""
    values = ", ".join(f"%({n})s" for n in names)
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({values}){suffix}"


@dataclass(frozen=True)
class _Rows:
    """A batch's writes as rows, in the order they are applied."""

    channels: list[dict[str, Any]]
    actors: list[dict[str, Any]]
    actor_names: list[dict[str, Any]]
    facts: list[dict[str, Any]]
    retractions: list[dict[str, Any]]
    steps: list[Rewind | tuple[list[dict[str, Any]], list[dict[str, Any]]]]
    terms: list[dict[str, Any]] = field(default_factory=list)
    term_retractions: list[dict[str, Any]] = field(default_factory=list)
    office_channels: list[dict[str, Any]] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)
    member_closes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Rows:
    """Whole rows for the view's tables, each a dict of its columns (a rebuild's bulk load)."""

    channels: list[dict[str, Any]] = field(default_factory=list)
    facts: list[dict[str, Any]] = field(default_factory=list)
    segments: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.channels) + len(self.facts) + len(self.segments)

    def extend(self, other: Rows) -> None:
        self.channels += other.channels
        self.facts += other.facts
        self.segments += other.segments


class ViewWrites(ViewBase):
    """Loading what the projector remembers, and writing what it decided."""

    # -- the projector's side -------------------------------------------------

    def load(self, generation: int, channels: Sequence[str]) -> Iterator[Row]:
        """Every fact of `channels` (without its JSON), for the projector's memory."""
        for start in range(0, len(channels), 500):
            condition, params = self._in("channel", "c", channels[start : start + 500])
            params["g"] = generation
            with self._reading() as c:
                c.execute(
                    self._sql(
                        f"SELECT {FACT_COLUMNS} FROM channel_facts "
                        f"WHERE generation = %(g)s AND {condition}"
                    ),
                    params,
                )
                yield from c.fetchall()

    def load_members(self, generation: int, channels: Sequence[str]) -> Iterator[Row]:
        """The facts of others `channels` count under the office rule, one row per span of
        transaction time (`member_channel`, `known_from`, `known_to`), each with the fact's
        sketch and retraction."""
        for start in range(0, len(channels), 500):
            condition, params = self._in("m.channel", "c", channels[start : start + 500])
            params["g"] = generation
            with self._reading() as c:
                c.execute(
                    self._sql(
                        "SELECT m.channel AS member_channel, m.known_from, m.known_to, "
                        f"{SKETCH_OF_FACT} FROM channel_members AS m JOIN channel_facts AS f "
                        "ON f.generation = m.generation AND f.event_id = m.event_id "
                        f"WHERE m.generation = %(g)s AND {condition}"
                    ),
                    params,
                )
                yield from c.fetchall()

    def terms_of(self, generation: int) -> list[tuple[RecordedTerm, TermRetraction | None]]:
        """Every term the generation holds, with its retraction if it has one, in log order."""
        with self._reading() as c:
            c.execute(
                self._sql("SELECT * FROM terms WHERE generation = %(g)s ORDER BY position"),
                {"g": generation},
            )
            return [term_from(row) for row in c.fetchall()]

    def facts_of(
        self, generation: int, actor: str, valid_from: datetime, valid_to: datetime | None
    ) -> list[Row]:
        """The facts (sketch and retraction) of `actor`, on either side, whose valid time is
        in [valid_from, valid_to)."""
        params = {
            "g": generation,
            "x": actor,
            "lo": micros(valid_from),
            "hi": upper(valid_to),
        }
        found: list[Row] = []
        with self._reading() as c:
            for side in ("actor", "counterpart"):
                c.execute(
                    self._sql(
                        f"SELECT {FACT_COLUMNS} FROM channel_facts WHERE generation = %(g)s "
                        f"AND {side} = %(x)s AND valid_from >= %(lo)s AND valid_from < %(hi)s"
                    ),
                    params,
                )
                found += c.fetchall()
        return found

    def actors_of(self, generation: int, aggregate_ids: Sequence[str]) -> dict[str, ActorState]:
        """The actors with these aggregate ids, by aggregate id, as the generation holds them."""
        if not aggregate_ids:
            return {}
        condition, params = self._in("aggregate_id", "u", aggregate_ids)
        params["g"] = generation
        with self._reading() as c:
            c.execute(
                self._sql(f"SELECT * FROM actors WHERE generation = %(g)s AND {condition}"),
                params,
            )
            return {row["aggregate_id"]: actor_from(row) for row in c.fetchall()}

    def channels_of(self, generation: int, event_ids: Sequence[str]) -> dict[str, str]:
        """The channel of each recorded fact among `event_ids`."""
        if not event_ids:
            return {}
        condition, params = self._in("event_id", "e", event_ids)
        params["g"] = generation
        with self._reading() as c:
            c.execute(
                self._sql(
                    "SELECT event_id, channel FROM channel_facts "
                    f"WHERE generation = %(g)s AND {condition}"
                ),
                params,
            )
            return {row["event_id"]: row["channel"] for row in c.fetchall()}

    def apply(self, generation: int, changes: ChangeSet, tracking: Tracking, previous: int) -> None:
        """Write one batch and its tracking record in one transaction.

        Refused (nothing written) if the generation was retired meanwhile, or
        if its tracked position is no longer `previous` (another projector ran).
        Every row is built before the transaction begins, so that it stays short.
        """
        g = generation
        writes = _Rows(
            channels=[channel_row(g, ch) for ch in sorted(changes.channels)],
            actors=[actor_row(g, a) for a in changes.actors.values()],
            actor_names=[
                row for a in changes.actors.values() for row in actor_name_rows(g, a.profile)
            ],
            facts=[fact_row(g, f) for f in changes.facts],
            retractions=[retraction_row(g, r) for r in changes.retractions],
            terms=[term_row(g, t) for t in changes.terms],
            term_retractions=[term_retraction_row(g, r) for r in changes.term_retractions],
            office_channels=[channel_row(g, ch) for ch in sorted(changes.office_channels)],
            members=changes.members,
            member_closes=[
                {"g": g, "c": ch, "e": str(e), "since": micros(since), "at": micros(at)}
                for ch, e, since, at in changes.member_closes
            ],
            steps=[
                step
                if isinstance(step, Rewind)
                else (
                    [
                        {"g": g, "c": ch, "v": start, "at": at}
                        for (ch, start), at in step.closes.items()
                    ],
                    [
                        segment_row(g, r.channel, r.segment, r.known_from, r.known_to)
                        for r in step.rows()
                    ],
                )
                for step in changes.steps
            ],
        )
        with self._writing() as c:
            self._lock_generations(c, exclusive=False)
            moved = self._lock_position(c, tracking.application_name)
            if (moved or 0) != previous:
                raise PositionMoved(f"generation {g} is at {moved}, not {previous}")
            c.execute(
                self._sql("SELECT state FROM projection_generations WHERE generation = %(g)s"),
                {"g": g},
            )
            state = c.fetchone()
            if state is None or state["state"] == "retired":
                raise GenerationRetired(f"generation {g} is retired")
            self._track(c, tracking)
            self._write(c, g, writes)

    def insert_rows(self, generation: int, rows: Rows) -> None:
        """Insert whole rows into a generation being built, in one transaction (a rebuild's
        bulk load: no reader reads the generation, no projector follows it yet)."""
        with self._writing() as c:
            self._unbounded(c)
            self._commit_lazily(c)
            self._lock_generations(c, exclusive=False)
            c.execute(
                self._sql("SELECT state FROM projection_generations WHERE generation = %(g)s"),
                {"g": generation},
            )
            state = c.fetchone()
            if state is None or state["state"] != "building":
                raise GenerationRetired(f"generation {generation} is not being built")
            self._bulk(c, generation, "channels", CHANNEL_INSERT, rows.channels)
            self._bulk(c, generation, "channel_facts", FACT_ROW, rows.facts)
            self._bulk(c, generation, "channel_segments", SEGMENT_INSERT, rows.segments)

    def _unbounded(self, c: Cursor) -> None:
        """Lift the store's statement timeout for the rest of this transaction."""

    def _commit_lazily(self, c: Cursor) -> None:
        """Let this transaction's commit return before it is flushed to disk: a generation
        being built is not read, one a crash leaves half-built is discarded, and the
        commit that makes it live is flushed with everything written before it."""

    def _bulk(
        self,
        c: Cursor,
        generation: int,
        table: str,
        names: tuple[str, ...],
        rows: list[dict[str, Any]],
    ) -> None:
        """Insert a bulk load's rows of `table` for `generation` (which they all belong to)."""
        if rows:
            c.executemany(self._sql(insert(table, names)), rows)

    def _write(self, c: Cursor, generation: int, writes: _Rows) -> None:
        if writes.actors:
            self._replace_actors(c, generation, writes)
        if writes.channels:
            c.executemany(
                self._sql(insert("channels", CHANNEL_INSERT, " ON CONFLICT DO NOTHING")),
                writes.channels,
            )
        if writes.facts:
            self._insert_facts(c, writes.facts)
        if writes.retractions:
            c.executemany(
                self._sql(
                    "UPDATE channel_facts SET retracted_at = %(retracted_at)s, "
                    "retraction_id = %(retraction_id)s, "
                    "retraction_position = %(retraction_position)s, "
                    "retraction_reason = %(retraction_reason)s "
                    "WHERE generation = %(generation)s AND event_id = %(event_id)s"
                ),
                writes.retractions,
            )
        self._write_offices(c, writes)
        for step in writes.steps:
            if isinstance(step, Rewind):
                self._rewind(c, generation, step)
                continue
            closes, opens = step
            if closes:
                self._close_segments(c, closes)
            if opens:
                self._insert_segments(c, opens)

    def _write_offices(self, c: Cursor, writes: _Rows) -> None:
        if writes.terms:
            c.executemany(self._sql(insert("terms", TERM_INSERT)), writes.terms)
        if writes.term_retractions:
            c.executemany(
                self._sql(
                    "UPDATE terms SET retracted_at = %(retracted_at)s, "
                    "retraction_id = %(retraction_id)s, "
                    "retraction_position = %(retraction_position)s, "
                    "retraction_reason = %(retraction_reason)s "
                    "WHERE generation = %(generation)s AND term_id = %(term_id)s"
                ),
                writes.term_retractions,
            )
        if writes.office_channels:
            c.executemany(
                self._sql(insert("office_channels", CHANNEL_INSERT, " ON CONFLICT DO NOTHING")),
                writes.office_channels,
            )
        if writes.members:
            c.executemany(self._sql(insert("channel_members", MEMBER_INSERT)), writes.members)
        if writes.member_closes:
            c.executemany(
                self._sql(
                    "UPDATE channel_members SET known_to = %(at)s WHERE generation = %(g)s "
                    "AND channel = %(c)s AND event_id = %(e)s AND known_from = %(since)s"
                ),
                writes.member_closes,
            )

    def _close_segments(self, c: Cursor, rows: list[dict[str, Any]]) -> None:
        """Set `known_to` of the believed row of each (channel, valid_from)."""
        c.executemany(
            self._sql(
                "UPDATE channel_segments SET known_to = %(at)s "
                "WHERE generation = %(g)s AND channel = %(c)s "
                f"AND valid_from = %(v)s AND known_to = {MAX_TIME}"
            ),
            rows,
        )

    def _replace_actors(self, c: Cursor, generation: int, writes: _Rows) -> None:
        """Each changed actor's row and names, as they now are."""
        condition, params = self._in("actor_id", "a", [row["actor_id"] for row in writes.actors])
        params["g"] = generation
        for table in ("actor_names", "actors"):
            c.execute(
                self._sql(f"DELETE FROM {table} WHERE generation = %(g)s AND {condition}"), params
            )
        c.executemany(self._sql(insert("actors", ACTOR_INSERT)), writes.actors)
        c.executemany(self._sql(insert("actor_names", ACTOR_NAME_INSERT)), writes.actor_names)

    def _insert_facts(self, c: Cursor, rows: list[dict[str, Any]]) -> None:
        c.executemany(self._sql(insert("channel_facts", FACT_INSERT)), rows)

    def _insert_segments(self, c: Cursor, rows: list[dict[str, Any]]) -> None:
        c.executemany(self._sql(insert("channel_segments", SEGMENT_INSERT)), rows)

    def _rewind(self, c: Cursor, generation: int, step: Rewind) -> None:
        params = {"g": generation, "c": step.channel, "at": step.at}
        c.execute(
            self._sql(
                "DELETE FROM channel_segments WHERE generation = %(g)s AND channel = %(c)s "
                "AND known_from >= %(at)s"
            ),
            params,
        )
        c.execute(
            self._sql(
                f"UPDATE channel_segments SET known_to = {MAX_TIME} "
                "WHERE generation = %(g)s AND channel = %(c)s "
                f"AND known_to >= %(at)s AND known_to < {MAX_TIME}"
            ),
            params,
        )
