"""Reads on PostgreSQL in one statement each: one snapshot, one round trip.

A statement sees one snapshot of the database, so a status or a page of the
board is read whole — segment, last contact and the facts in the window, as
JSON — without a transaction around several statements.
"""

from __future__ import annotations

from typing import Any

from infra.readmodel.reads import SEGMENT_COLUMNS, SKETCH, Found, Live, ViewReads, Window
from infra.readmodel.rows import Row, contact_from, segment_from, sketch_from

LIVE = "live AS (SELECT generation, window_us FROM projection_generations WHERE state = 'live')"
SEGMENT_AT = (  # the row believed at known_at whose valid time holds as_of
    "SELECT {columns} FROM channel_segments AS t "
    "WHERE t.generation = {generation} AND t.channel = {channel} "
    "AND t.valid_from <= %(a)s AND t.known_from <= %(k)s AND t.known_to > %(k)s "
    "ORDER BY t.valid_from DESC LIMIT 1"
)
WINDOW_FACTS = (  # the facts known at known_at in the window up to as_of, as a JSON list
    "(SELECT json_agg(json_build_array("
    + ", ".join(f"f.{k}" for k in SKETCH)
    + ")) FROM channel_facts AS f WHERE f.generation = live.generation AND f.channel = s.channel "
    "AND f.valid_from >= %(lo)s AND f.valid_from <= %(a)s AND f.recorded_at <= %(k)s "
    "AND (f.retracted_at IS NULL OR f.retracted_at > %(k)s)) AS window_facts"
)
COMPLETE = (  # each segment with its last contact and window facts
    "SELECT live.generation AS live_generation, live.window_us, s.*, {window}, "
    "c.fact AS contact_fact, c.recorded_at AS contact_recorded_at, c.position AS contact_position "
    "FROM live {segments} "
    "LEFT JOIN channel_facts AS c ON c.generation = live.generation AND c.event_id = s.last_contact"
)
COLUMNS = ", ".join(f"t.{c.strip()}" for c in SEGMENT_COLUMNS.split(","))


class PostgresReads(ViewReads):
    """`status_of` and `board_of` as single statements."""

    def status_of(self, channel: str, at: Window) -> tuple[Live | None, Found]:
        segment = SEGMENT_AT.format(columns=COLUMNS, generation="live.generation", channel="%(c)s")
        statement = COMPLETE.format(
            window=WINDOW_FACTS, segments=f"LEFT JOIN LATERAL ({segment}) AS s ON true"
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
    ) -> tuple[Live | None, list[Found]]:
        segment = SEGMENT_AT.format(
            columns=COLUMNS, generation="ch.generation", channel="ch.channel"
        )
        page = (
            f"SELECT s.* FROM channels AS ch CROSS JOIN LATERAL ({segment}) AS s "
            "WHERE ch.generation = live.generation AND ch.channel > %(after)s "
            + ("AND (ch.actor_a = %(actor)s OR ch.actor_b = %(actor)s) " if actor else "")
            + "AND s.event_count > 0 "
            + ("AND s.status = %(status)s " if status else "")
            + "ORDER BY ch.channel "
            + ("LIMIT %(limit)s" if limit is not None else "")
        )
        statement = COMPLETE.format(
            window=WINDOW_FACTS, segments=f"CROSS JOIN LATERAL ({page}) AS s"
        )
        params = {
            **self._params(at),
            "after": after or "",
            "actor": actor,
            "status": status,
            "limit": limit,
        }
        rows = self._query(f"WITH {LIVE} {statement} ORDER BY s.channel", params)
        if not rows:
            return self._live_only(), []
        return _live(rows[0]), [_found(row, row["channel"]) for row in rows]

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


def _live(row: Row) -> Live:
    return Live(row["live_generation"], row["window_us"])


def _found(row: Row, channel: str) -> Found:
    if row["valid_from"] is None:  # no segment: nothing known of the channel then
        return Found(channel, None)
    contact = None
    if row["contact_fact"] is not None:
        contact = contact_from(
            {
                "fact": row["contact_fact"],
                "recorded_at": row["contact_recorded_at"],
                "position": row["contact_position"],
            }
        )
    nearby = [
        sketch_from(dict(zip(SKETCH, item, strict=True))) for item in row["window_facts"] or ()
    ]
    return Found(channel, segment_from(row), contact, nearby)
