"""The readers' side of the view: one channel, a page of the board, a timeline.

Every read runs in one transaction over one snapshot, in the live generation
it looks up first, so a switch to a rebuilt generation is seen whole or not at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from domain.actors import ActorKind, fold
from domain.events import RecordedContact, Retraction, channel_id
from domain.offices import RecordedTerm, TermRetraction
from domain.segments import Segment
from infra.readmodel.base import Cursor, ViewBase, tracking_name
from infra.readmodel.rows import (
    MICROSECOND,
    ActorState,
    Row,
    actor_from,
    contact_from,
    event_from,
    micros,
    segment_from,
    term_from,
)
from infra.readmodel.tables import columns, facts, segments

SEGMENT_COLUMNS = ", ".join(columns(segments, without=("generation",)))
EVENT_COLUMNS = ", ".join(columns(facts, without=("generation",)))


def in_window(table: str = "") -> str:
    """The rows of `table` (an alias, or none) that count in `recent`: within the window W
    before as_of, as_of - W < valid_from <= as_of (domain.status.recent), `lo` = as_of - W."""
    column = f"{table}.valid_from" if table else "valid_from"
    return f"{column} > %(lo)s AND {column} <= %(a)s"


KNOWN = "recorded_at <= %(k)s AND (retracted_at IS NULL OR retracted_at > %(k)s)"
KNOWN_IDS = 100_000  # actors' ids a view remembers having found
LIVE_GENERATION = "(SELECT generation FROM projection_generations WHERE state = 'live')"
OFFICE = ActorKind.OFFICE.value
_BETWEEN_OFFICES = (  # the rows of {table} whose two actors are offices, in generation {g}
    "SELECT ch.generation, ch.channel, ch.actor_a, ch.actor_b FROM actors AS x "
    "CROSS JOIN {table} AS ch CROSS JOIN actors AS y "
    f"WHERE x.generation = {{g}} AND x.kind = '{OFFICE}' "
    "AND ch.generation = x.generation AND ch.actor_a = x.actor_id "
    f"AND y.generation = ch.generation AND y.actor_id = ch.actor_b AND y.kind = '{OFFICE}'"
)
# The channels between two offices (GET /v1/channels?kind=office), in the shape of the
# `channels` table: those with facts of their own, and those the office rule gave facts of
# others (`office_channels`). Offices are few: the lookup starts from them.
OFFICE_PAIRS = (
    "("
    + _BETWEEN_OFFICES.replace("{table}", "channels")
    + " UNION "
    + _BETWEEN_OFFICES.replace("{table}", "office_channels")
    + ")"
)
Event = tuple[RecordedContact, Retraction | None]


@dataclass(frozen=True)
class EventFilter:
    """Which events a list holds: every condition given, at transaction time `known_at` (µs).

    `after` is the key (rows.event_key) of the last event of the previous page.
    """

    known_at: int
    channel: str | None = None
    actor: str | None = None
    types: tuple[str, ...] = ()
    valid_from: int | None = None
    valid_to: int | None = None
    after: tuple[int, int] | None = None

    @classmethod
    def of(
        cls,
        known_at: datetime,
        *,
        channel: str | None = None,
        actor: str | None = None,
        types: tuple[str, ...] = (),
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
        after: tuple[int, int] | None = None,
    ) -> EventFilter:
        return cls(
            micros(known_at),
            channel,
            actor,
            types,
            None if valid_from is None else micros(valid_from),
            None if valid_to is None else micros(valid_to),
            after,
        )


@dataclass(frozen=True)
class Live:
    """The generation a read was answered from, and the window it was built for."""

    number: int
    window_us: int

    @property
    def window(self) -> timedelta:
        return self.window_us * MICROSECOND


@dataclass(frozen=True)
class Found:
    """What the view holds for one channel at (as_of, known_at)."""

    channel: str
    segment: Segment | None
    last_contact: RecordedContact | None = None
    recent: dict[str, int] = field(default_factory=dict)  # events per type in the window


@dataclass(frozen=True)
class ChannelRead:
    """A channel's status read whole, from one snapshot.

    The ids of the two actors as named (None for a name no actor goes by), how
    far the read model had processed the log (`position`, which the answer
    includes) and the log's head then, the live generation, and what the view
    holds for the channel (None unless both actors are known and distinct).
    """

    position: int
    head: int
    first: str | None
    second: str | None
    live: Live | None
    found: Found | None


@dataclass(frozen=True)
class Window:
    """The times a read is about, as microseconds."""

    as_of: int
    known_at: int
    window: int

    @classmethod
    def of(cls, as_of: datetime, known_at: datetime, window: timedelta) -> Window:
        return cls(micros(as_of), micros(known_at), window // MICROSECOND)

    def params(self, generation: int) -> dict[str, Any]:
        return {"g": generation, "a": self.as_of, "k": self.known_at}


class ViewReads(ViewBase):
    """Reads of the live generation."""

    def position(self) -> int:
        """How far the live generation has processed the log (0 before any)."""
        with self._reading() as c:
            return self._position(c, self._live(c))

    def progress(self) -> tuple[int, int]:
        """The live generation's position and the log's head, read together."""
        with self._reading() as c:
            return self._position(c, self._live(c)), self._head(c)

    def status_of(self, channel: str, at: Window) -> tuple[Live | None, Found]:
        with self._reading() as c:
            live = self._live(c)
            if live is None:
                return None, Found(channel, None)
            return live, self._status(c, live, channel, at)

    def channel_read(self, first: str, second: str, at: Window) -> ChannelRead:
        """The actors named `first` and `second`, their channel at `at`, the position
        and the head, all from one snapshot."""
        with self._reading() as c:
            live = self._live(c)
            position, head = self._position(c, live), self._head(c)
            a, b = (self._actor_named(c, name) for name in (first, second))
            one = None if a is None else a.profile.id
            other = None if b is None else b.profile.id
            found = None
            if live is not None and one is not None and other is not None and one != other:
                found = self._status(c, live, channel_id(one, other), at)
            return ChannelRead(position, head, one, other, live, found)

    def _status(self, c: Cursor, live: Live, channel: str, at: Window) -> Found:
        c.execute(
            self._sql(
                f"SELECT {SEGMENT_COLUMNS} FROM channel_segments "
                "WHERE generation = %(g)s AND channel = %(c)s AND valid_from <= %(a)s "
                "AND known_from <= %(k)s AND known_to > %(k)s "
                "ORDER BY valid_from DESC LIMIT 1"
            ),
            {**at.params(live.number), "c": channel},
        )
        row = c.fetchone()
        if row is None:
            return Found(channel, None)
        return self._complete(c, live.number, at, [row])[0]

    def board_of(
        self,
        at: Window,
        *,
        status: str | None,
        actor: str | None,
        after: str | None,
        limit: int | None,
        countries: tuple[str, str] | None = None,
        offices: bool = False,
    ) -> tuple[Live | None, list[Found]]:
        """Channels after `after` with at least one event visible at `at`, by id; with
        `countries`, only those of that country pair (infra.readmodel.countries); with
        `offices`, instead of the board's channels, those between two offices (OFFICE_PAIRS)."""
        with self._reading() as c:
            live = self._live(c)
            if live is None:
                return None, []
            c1, c2 = countries or (None, None)
            params = {
                **at.params(live.number),
                "after": after or "",
                "actor": actor,
                "status": status,
                "limit": -1 if limit is None else limit,
                "c1": c1,
                "c2": c2,
            }
            rows = self._board_rows(
                c, params, actor is not None, status is not None, countries is not None, offices
            )
            return live, self._complete(c, live.number, at, rows)

    def timeline_of(self, channel: str, known_at: datetime) -> tuple[Live | None, list[Segment]]:
        with self._reading() as c:
            live = self._live(c)
            if live is None:
                return None, []
            c.execute(
                self._sql(
                    f"SELECT {SEGMENT_COLUMNS} FROM channel_segments "
                    "WHERE generation = %(g)s AND channel = %(c)s "
                    "AND known_from <= %(k)s AND known_to > %(k)s ORDER BY valid_from"
                ),
                {"g": live.number, "c": channel, "k": micros(known_at)},
            )
            seen: dict[str, Any] = {}
            return live, [segment_from(row, seen) for row in c.fetchall()]

    # -- actors -------------------------------------------------------------------

    def actor_named(self, name: str) -> ActorState | None:
        """The actor with id `name`, else the first registered that goes by `name`, folded."""
        with self._reading() as c:
            return self._actor_named(c, name)

    def actor_id(self, name: str) -> str | None:
        """The id of the actor `actor_named` finds (None if none), without a read for an
        id found before."""
        if self.known_id(name):
            return name
        actor = self.actor_named(name)
        if actor is None:
            return None
        if actor.profile.id == name:
            self.found_ids(name)
        return actor.profile.id

    @cached_property
    def _actor_ids(self) -> set[str]:
        """Ids the live generation was found to hold: an id, once an actor's, stays one
        in every generation (actors are never removed)."""
        return set()

    def known_id(self, name: str) -> bool:
        """Whether `name` was found to be an actor's id."""
        return name in self._actor_ids

    def found_ids(self, *ids: str) -> None:
        """Remember actors' ids found in the live generation (up to `KNOWN_IDS`)."""
        if len(self._actor_ids) < KNOWN_IDS:
            self._actor_ids.update(ids)

    def _actor_named(self, c: Cursor, name: str) -> ActorState | None:
        c.execute(
            self._sql(
                f"SELECT * FROM actors WHERE generation = {LIVE_GENERATION} AND actor_id = %(n)s"
            ),
            {"n": name},
        )
        row = c.fetchone()
        if row is None:
            c.execute(
                self._sql(
                    "SELECT a.* FROM actor_names AS n JOIN actors AS a "
                    "ON a.generation = n.generation AND a.actor_id = n.actor_id "
                    f"WHERE n.generation = {LIVE_GENERATION} AND n.folded = %(f)s "
                    "ORDER BY a.registered LIMIT 1"
                ),
                {"f": fold(name)},
            )
            row = c.fetchone()
        return None if row is None else actor_from(row)

    def actors_where(
        self,
        *,
        q: str | None = None,
        country: str | None = None,
        kind: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        by_registration: bool = False,
    ) -> list[ActorState]:
        """Actors matching every condition given, by id (or in the order they were
        registered); `q` is part of a folded name, `after` an actor id."""
        where = [f"generation = {LIVE_GENERATION}"]
        params: dict[str, Any] = {}
        if q is not None:
            where.append(
                "actor_id IN (SELECT actor_id FROM actor_names WHERE generation = "
                f"{LIVE_GENERATION} AND folded LIKE %(q)s ESCAPE '!')"
            )
            params["q"] = "%" + _like(fold(q)) + "%"
        if country is not None:
            where.append("country = %(country)s")
            params["country"] = country
        if kind is not None:
            where.append("kind = %(kind)s")
            params["kind"] = kind
        if after is not None:
            where.append("actor_id > %(after)s")
            params["after"] = after
        ordered = "registered" if by_registration else "actor_id"
        statement = f"SELECT * FROM actors WHERE {' AND '.join(where)} ORDER BY {ordered}"
        if limit is not None:
            statement += " LIMIT %(limit)s"
            params["limit"] = limit
        with self._reading() as c:
            c.execute(self._sql(statement), params)
            return [actor_from(row) for row in c.fetchall()]

    # -- events -------------------------------------------------------------------

    def event(self, event_id: str) -> Event | None:
        """The event with this id, with its retraction (at any time), if any."""
        with self._reading() as c:
            c.execute(
                self._sql(
                    f"SELECT {EVENT_COLUMNS} FROM channel_facts "
                    f"WHERE generation = {LIVE_GENERATION} AND event_id = %(e)s"
                ),
                {"e": event_id},
            )
            row = c.fetchone()
            return None if row is None else event_from(row)

    def events_where(self, wanted: EventFilter, limit: int) -> list[Event]:
        """Up to `limit` events recorded by `known_at` that match, by valid time then position;
        each with its retraction if it was retracted by `known_at`."""
        where = [f"generation = {LIVE_GENERATION}", "recorded_at <= %(k)s"]
        params: dict[str, Any] = {"k": wanted.known_at, "limit": limit}
        if wanted.channel is not None:
            params["c"] = wanted.channel
            where.append("channel = %(c)s")
        if wanted.actor is not None:
            where.append("(actor = %(x)s OR counterpart = %(x)s)")
            params["x"] = wanted.actor
        if wanted.types:
            condition, values = self._in("type", "t", list(wanted.types))
            where.append(condition)
            params.update(values)
        if wanted.valid_from is not None:
            where.append("valid_from >= %(lo)s")
            params["lo"] = wanted.valid_from
        if wanted.valid_to is not None:
            where.append("valid_from <= %(hi)s")
            params["hi"] = wanted.valid_to
        if wanted.after is not None:
            where.append("(valid_from > %(av)s OR (valid_from = %(av)s AND position > %(ap)s))")
            params["av"], params["ap"] = wanted.after
        with self._reading() as c:
            if wanted.channel is not None and self._has_members(c, wanted.channel):
                # The facts of others the office rule counts for the channel at known_at.
                where[where.index("channel = %(c)s")] = (
                    "(channel = %(c)s OR event_id IN (SELECT m.event_id FROM channel_members "
                    f"AS m WHERE m.generation = {LIVE_GENERATION} AND m.channel = %(c)s "
                    "AND m.known_from <= %(k)s AND m.known_to > %(k)s))"
                )
            c.execute(
                self._sql(
                    f"SELECT {EVENT_COLUMNS} FROM channel_facts WHERE {' AND '.join(where)} "
                    "ORDER BY valid_from, position LIMIT %(limit)s"
                ),
                params,
            )
            found = [event_from(row) for row in c.fetchall()]
        return [
            (contact, r if r is not None and _micros_at_most(r, wanted.known_at) else None)
            for contact, r in found
        ]

    # -- terms --------------------------------------------------------------------

    def terms_where(
        self, actor: str, known_at: datetime
    ) -> list[tuple[RecordedTerm, TermRetraction | None]]:
        """The terms of `actor` (its holders for an office, the offices held for a person)
        recorded by `known_at`, by `from`; each with its retraction if retracted by then."""
        with self._reading() as c:
            c.execute(
                self._sql(
                    f"SELECT * FROM terms WHERE generation = {LIVE_GENERATION} "
                    "AND (office = %(x)s OR person = %(x)s) AND recorded_at <= %(k)s "
                    "ORDER BY valid_from, position"
                ),
                {"x": actor, "k": micros(known_at)},
            )
            found = [term_from(row) for row in c.fetchall()]
        return [(t, r if r is not None and r.recorded_at <= known_at else None) for t, r in found]

    def term(self, term_id: str) -> tuple[RecordedTerm, TermRetraction | None] | None:
        """The term with this id, with its retraction (at any time), if any."""
        with self._reading() as c:
            c.execute(
                self._sql(
                    f"SELECT * FROM terms WHERE generation = {LIVE_GENERATION} AND term_id = %(t)s"
                ),
                {"t": term_id},
            )
            row = c.fetchone()
            return None if row is None else term_from(row)

    # -- helpers ----------------------------------------------------------------

    def _has_members(self, c: Cursor, channel: str) -> bool:
        """Whether the office rule ever counted a fact of others for `channel`."""
        c.execute(
            self._sql(
                "SELECT 1 AS found FROM office_channels "
                f"WHERE generation = {LIVE_GENERATION} AND channel = %(c)s"
            ),
            {"c": channel},
        )
        return c.fetchone() is not None

    def _board_rows(
        self,
        c: Cursor,
        params: dict[str, Any],
        actor: bool,
        status: bool,
        countries: bool,
        offices: bool,
    ) -> list[Row]:
        """One page of the board: each channel's segment at (as_of, known_at); only the
        channels of `actor`, in `status` or between the countries `c1` and `c2` when asked;
        with `offices`, the channels between two offices (OFFICE_PAIRS) instead.

        For the stores that read the board through `board_of` above.
        """
        raise NotImplementedError

    def _head(self, c: Cursor) -> int:
        """The log's last position, read in this transaction."""
        raise NotImplementedError

    def _position(self, c: Cursor, live: Live | None) -> int:
        """How far `live` has processed the log (0 without a live generation)."""
        return 0 if live is None else self._tracked(c, tracking_name(live.number)) or 0

    def _live(self, c: Cursor) -> Live | None:
        c.execute(
            self._sql(
                "SELECT generation, window_us FROM projection_generations WHERE state = 'live'"
            )
        )
        row = c.fetchone()
        return None if row is None else Live(row["generation"], row["window_us"])

    def _complete(self, c: Cursor, generation: int, at: Window, rows: Sequence[Row]) -> list[Found]:
        """Each segment row with its last contact and the facts in the window before as_of."""
        if not rows:
            return []
        segments = [(row["channel"], segment_from(row)) for row in rows]
        contacts = self._contacts(
            c, generation, [str(s.last_contact) for _, s in segments if s.last_contact]
        )
        recent = self._recent(c, generation, at, [ch for ch, _ in segments])
        return [
            Found(
                channel,
                segment,
                contacts.get(str(segment.last_contact)) if segment.last_contact else None,
                recent.get(channel, {}),
            )
            for channel, segment in segments
        ]

    def _contacts(
        self, c: Cursor, generation: int, event_ids: list[str]
    ) -> dict[str, RecordedContact]:
        if not event_ids:
            return {}
        condition, params = self._in("event_id", "e", sorted(set(event_ids)))
        c.execute(
            self._sql(
                "SELECT event_id, fact, recorded_at, position FROM channel_facts "
                f"WHERE generation = %(g)s AND {condition}"
            ),
            {**params, "g": generation},
        )
        return {row["event_id"]: contact_from(row) for row in c.fetchall()}

    def _recent(
        self, c: Cursor, generation: int, at: Window, channels: list[str]
    ) -> dict[str, dict[str, int]]:
        """Per channel, its events per type known at known_at that occurred within the
        window up to as_of (domain.status.recent), counted by the database: its own, and
        those of others the office rule counts for it then."""
        condition, params = self._in("channel", "c", channels)
        params.update(at.params(generation), lo=at.as_of - at.window)
        member_of, _ = self._in("m.channel", "c", channels)
        c.execute(
            self._sql(
                "SELECT x.channel, x.type, COUNT(*) AS n FROM ("
                "SELECT channel, type FROM channel_facts WHERE generation = %(g)s "
                f"AND {condition} AND {in_window()} AND {KNOWN} "
                "UNION ALL "
                "SELECT m.channel, f.type FROM channel_members AS m "
                "JOIN channel_facts AS f ON f.generation = m.generation "
                "AND f.event_id = m.event_id "
                f"WHERE m.generation = %(g)s AND {member_of} AND {in_window('m')} "
                "AND m.known_from <= %(k)s AND m.known_to > %(k)s "
                "AND (f.retracted_at IS NULL OR f.retracted_at > %(k)s)"
                ") AS x GROUP BY x.channel, x.type"
            ),
            params,
        )
        found: dict[str, dict[str, int]] = defaultdict(dict)
        for row in c.fetchall():
            found[row["channel"]][row["type"]] = row["n"]
        return found


def _like(text: str) -> str:
    """`text` as a literal part of a LIKE pattern (escape character `!`)."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _micros_at_most(retraction: Retraction, known_at: int) -> bool:
    return micros(retraction.recorded_at) <= known_at
