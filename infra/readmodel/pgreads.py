"""Reads on PostgreSQL in one statement each: one snapshot, one round trip.

A statement sees one snapshot of the database, so a status or a page of the
board is read whole — segment, last contact and the counts of the window, as
JSON — without a transaction around several statements.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from psycopg.sql import Composable

from domain.actors import fold
from domain.events import ACTOR_ID, channel_id
from infra.readmodel.base import TRACKING_PREFIX
from infra.readmodel.countries import BETWEEN
from infra.readmodel.reads import (
    OFFICE_PAIRS,
    SEGMENT_COLUMNS,
    ChannelRead,
    Found,
    Live,
    ViewReads,
    Window,
    in_window,
)
from infra.readmodel.rows import Row, contact_from, contact_sketch, segment_from

LIVE = "live AS (SELECT generation, window_us FROM projection_generations WHERE state = 'live')"
SEGMENT_AT = (  # the row believed at known_at whose valid time holds as_of
    "SELECT {columns} FROM channel_segments AS t "
    "WHERE t.generation = {generation} AND t.channel = {channel} "
    "AND t.valid_from <= %(a)s AND t.known_from <= %(k)s AND t.known_to > %(k)s "
    "ORDER BY t.valid_from DESC LIMIT 1"
)
RECENT = (  # the events per type known at known_at in the window up to as_of, as a JSON
    # object: the channel's own, and those of others the office rule counts for it then
    "(SELECT json_object_agg(x.type, x.n) FROM (SELECT y.type, COUNT(*) AS n FROM ("
    "SELECT f.type FROM channel_facts AS f "
    "WHERE f.generation = live.generation AND f.channel = s.channel "
    f"AND {in_window('f')} AND f.recorded_at <= %(k)s "
    "AND (f.retracted_at IS NULL OR f.retracted_at > %(k)s) "
    "UNION ALL SELECT f.type FROM channel_members AS m JOIN channel_facts AS f "
    "ON f.generation = m.generation AND f.event_id = m.event_id "
    "WHERE m.generation = live.generation AND m.channel = s.channel "
    f"AND {in_window('m')} "
    "AND m.known_from <= %(k)s AND m.known_to > %(k)s "
    "AND (f.retracted_at IS NULL OR f.retracted_at > %(k)s)"
    ") AS y GROUP BY y.type) AS x) AS recent"
)
COMPLETE = (  # each segment with its last contact ({contact}) and window facts
    "SELECT live.generation AS live_generation, live.window_us, s.*, {window}, {contact}, "
    "c.recorded_at AS contact_recorded_at, c.position AS contact_position "
    "FROM live {segments} "
    "LEFT JOIN channel_facts AS c ON c.generation = live.generation AND c.event_id = s.last_contact"
)
FULL_CONTACT = "c.fact AS contact_fact"  # the fact in full, as a status read answers it
# What a board shows of a last contact (service.views.status_view): its type and its
# occurred_at as stated, with the rest of its sketch (rows.contact_sketch); the fact's
# JSON, its summary and sources, is neither sent nor decoded.
CONTACT_SKETCH = (
    "c.type AS contact_type, c.actor AS contact_actor, c.counterpart AS contact_counterpart, "
    "c.fact::json ->> 'occurred_at' AS contact_occurred_at, "
    "c.fact::json ->> 'precision' AS contact_precision"
)
COLUMNS = ", ".join(f"t.{c.strip()}" for c in SEGMENT_COLUMNS.split(","))
ACTOR_NAMED = (  # the actor whose id is %(n)s, else the first registered going by folded %(f)s
    "SELECT x.* FROM live CROSS JOIN LATERAL ("
    "(SELECT 0 AS rank, a.* FROM actors AS a "
    "WHERE a.generation = live.generation AND a.actor_id = %({n})s) "
    "UNION ALL "
    "(SELECT 1 AS rank, a.* FROM actor_names AS n JOIN actors AS a "
    "ON a.generation = n.generation AND a.actor_id = n.actor_id "
    "WHERE n.generation = live.generation AND n.folded = %({f})s ORDER BY a.registered LIMIT 1)"
    ") AS x ORDER BY x.rank LIMIT 1"
)
ACTOR_BY_ID = (  # the actor whose id is %(n)s
    "SELECT a.actor_id FROM live JOIN actors AS a "
    "ON a.generation = live.generation AND a.actor_id = %({n})s"
)
# A channel id as domain.events.channel_id makes it: the two ids in code point order
# (UTF-8 bytes, collation "C"), joined by `~`.
PAIR = (
    'SELECT LEAST(f.actor_id COLLATE "C", x.actor_id COLLATE "C") || \'~\' || '
    'GREATEST(f.actor_id COLLATE "C", x.actor_id COLLATE "C") AS channel '
    "FROM first AS f, second AS x WHERE f.actor_id <> x.actor_id"
)
TRACKED = (  # the live generation's position (NULL before any)
    "(SELECT MAX(t.notification_id) FROM {tracking} AS t "
    "WHERE t.application_name = %(tracking)s::text || live.generation::text) AS tracked"
)
HEAD = "(SELECT MAX(e.notification_id) FROM {log} AS e) AS head"


class PostgresReads(ViewReads):
    """`status_of` and `board_of` as single statements."""

    def status_of(self, channel: str, at: Window) -> tuple[Live | None, Found]:
        segment = SEGMENT_AT.format(columns=COLUMNS, generation="live.generation", channel="%(c)s")
        statement = COMPLETE.format(
            window=RECENT,
            contact=FULL_CONTACT,
            segments=f"LEFT JOIN LATERAL ({segment}) AS s ON true",
        )
        rows = self._query(f"WITH {LIVE} {statement}", {**self._params(at), "c": channel})
        if not rows:
            return None, Found(channel, None)
        return _live(rows[0]), _found(rows[0], channel)

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
        segment = SEGMENT_AT.format(
            columns=COLUMNS, generation="ch.generation", channel="ch.channel"
        )
        pairs = OFFICE_PAIRS.format(g="live.generation") if offices else "channels"
        page = (
            f"SELECT s.* FROM {pairs} AS ch CROSS JOIN LATERAL ({segment}) AS s "
            "WHERE ch.generation = live.generation AND ch.channel > %(after)s "
            + ("AND (ch.actor_a = %(actor)s OR ch.actor_b = %(actor)s) " if actor else "")
            + (f"AND {BETWEEN} " if countries else "")
            + "AND s.event_count > 0 "
            + ("AND s.status = %(status)s " if status else "")
            + "ORDER BY ch.channel "
            + ("LIMIT %(limit)s" if limit is not None else "")
        )
        statement = COMPLETE.format(
            window=RECENT, contact=CONTACT_SKETCH, segments=f"CROSS JOIN LATERAL ({page}) AS s"
        )
        params = {
            **self._params(at),
            "after": after or "",
            "actor": actor,
            "status": status,
            "limit": limit,
            "c1": countries[0] if countries else None,
            "c2": countries[1] if countries else None,
        }
        rows = self._query(f"WITH {LIVE} {statement} ORDER BY s.channel", params)
        if not rows:
            return self._live_only(), []
        return _live(rows[0]), [_found(row, row["channel"]) for row in rows]

    def progress(self) -> tuple[int, int]:
        rows = self._query(self._statements["progress"], {"tracking": TRACKING_PREFIX})
        return _progress(rows[0])

    def channel_read(self, first: str, second: str, at: Window) -> ChannelRead:
        params = {**self._params(at), "tracking": TRACKING_PREFIX, "na": first, "nb": second}
        if ACTOR_ID.match(first) and ACTOR_ID.match(second):
            # Named by id, as most clients do: the channel is known before the read, which
            # only checks that both ids are actors' (a third of the statement's cost), and
            # not even that for ids it has found before: actors are never removed.
            known = self.known_id(first) and self.known_id(second)
            by = "by_known_ids" if known else "by_ids"
            row = self._query(self._statements[by], {**params, "c": channel_id(first, second)})[0]
            if None not in (row["first"], row["second"], row["live_generation"]):
                if not known:
                    self.found_ids(first, second)
                return _channel_read(row)
        # Either name may be an alias (or no actor's): resolved by the statement itself.
        params |= {"fa": fold(first), "fb": fold(second)}
        return _channel_read(self._query(self._statements["channel"], params)[0])

    @cached_property
    def _statements(self) -> dict[str, str]:
        """The statements that name the library's tables (in the store's schema)."""
        tracked = TRACKED.format(tracking=self._tracking_table().as_string())
        head = HEAD.format(log=self._log_table().as_string())

        def channel(
            actors: str,
            pair: str,
            channel: str,
            ids: str = "(SELECT f.actor_id FROM first AS f) AS first, "
            "(SELECT x.actor_id FROM second AS x) AS second, ",
        ) -> str:
            """A channel's status read: `actors` defines `first` and `second` (each
            an actor's id, or none) that `ids` selects, `pair` the rows joined ahead
            of the segment."""
            segment = SEGMENT_AT.format(
                columns=COLUMNS, generation="live.generation", channel=channel
            )
            return (
                f"WITH {LIVE}{actors} "
                f"SELECT live.generation AS live_generation, live.window_us, {tracked}, {head}, "
                f"{ids}s.*, {RECENT}, c.fact AS contact_fact, "
                "c.recorded_at AS contact_recorded_at, c.position AS contact_position "
                f"FROM (SELECT 1) AS one LEFT JOIN live ON true {pair}"
                f"LEFT JOIN LATERAL ({segment}) AS s ON true "
                "LEFT JOIN channel_facts AS c "
                "ON c.generation = live.generation AND c.event_id = s.last_contact"
            )

        named = (
            f", first AS ({ACTOR_NAMED.format(n='na', f='fa')}), "
            f"second AS ({ACTOR_NAMED.format(n='nb', f='fb')}), pair AS ({PAIR})"
        )
        by_ids = (
            f", first AS ({ACTOR_BY_ID.format(n='na')}), second AS ({ACTOR_BY_ID.format(n='nb')})"
        )
        progress = (
            f"WITH {LIVE} SELECT {tracked}, {head} FROM (SELECT 1) AS one LEFT JOIN live ON true"
        )
        return {
            "channel": channel(named, "LEFT JOIN pair ON true ", "pair.channel"),
            "by_ids": channel(by_ids, "", "%(c)s"),
            "by_known_ids": channel(
                "", "", "%(c)s", "%(na)s::text AS first, %(nb)s::text AS second, "
            ),
            "progress": progress,
        }

    def _tracking_table(self) -> Composable:
        raise NotImplementedError

    def _log_table(self) -> Composable:
        raise NotImplementedError

    def _params(self, at: Window) -> dict[str, Any]:
        return {"a": at.as_of, "k": at.known_at, "lo": at.as_of - at.window}

    def _query(self, statement: str, params: dict[str, Any]) -> list[Row]:
        with self.datastore.get_connection() as connection, connection.cursor() as c:  # type: ignore[attr-defined]
            c.execute(statement, params)
            return list(c.fetchall())

    def _live_only(self) -> Live | None:
        rows = self._query(
            f"WITH {LIVE} SELECT generation AS live_generation, window_us FROM live", {}
        )
        return _live(rows[0]) if rows else None


def _progress(row: Row) -> tuple[int, int]:
    position = int(row["tracked"] or 0)
    return position, max(position, int(row["head"] or 0))


def _channel_read(row: Row) -> ChannelRead:
    position, head = _progress(row)
    first, second = row["first"], row["second"]
    live = None if row["live_generation"] is None else _live(row)
    found = None
    if live is not None and first is not None and second is not None and first != second:
        found = _found(row, channel_id(first, second))
    return ChannelRead(position, head, first, second, live, found)


def _live(row: Row) -> Live:
    return Live(row["live_generation"], row["window_us"])


def _found(row: Row, channel: str) -> Found:
    if row["valid_from"] is None:  # no segment: nothing known of the channel then
        return Found(channel, None)
    contact = None
    if row["contact_position"] is not None:  # the segment names a last contact
        if "contact_fact" in row:  # a status read: the fact in full
            contact = contact_from(
                {
                    "fact": row["contact_fact"],
                    "recorded_at": row["contact_recorded_at"],
                    "position": row["contact_position"],
                }
            )
        else:  # a board's: what it shows
            contact = contact_sketch(row)
    return Found(channel, segment_from(row), contact, row["recent"] or {})
