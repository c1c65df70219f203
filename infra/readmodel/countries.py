"""Country pairs, read from the segments: each pair's channels counted per status in SQL.

A pair's channels are the board's (the `channels` table, each channel's segment at
(as_of, known_at) with an event in it, as `board_of` reads them) whose two actors,
neither an office, are of the pair's two countries. Each channel costs one indexed
segment lookup, whatever its length; the counts and the latest contact are
aggregated in the statement, over the whole pair, never over a page of channels.
The statement is the same on both stores (PostgreSQL puts the correlated lookup in
the index condition, as SQLite does).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from domain.actors import ActorKind
from domain.countries import Countries, CountryPair
from domain.events import RecordedContact
from domain.status import Status
from infra.readmodel.base import Cursor
from infra.readmodel.reads import LIVE_GENERATION, Live, ViewReads, Window
from infra.readmodel.rows import Row, contact_from

OFFICE = ActorKind.OFFICE.value
# The pair of x's and y's countries, the lower code first (codes are [A-Z]{2}, so every
# collation orders them alike).
LOW = "CASE WHEN x.country <= y.country THEN x.country ELSE y.country END"
HIGH = "CASE WHEN x.country <= y.country THEN y.country ELSE x.country END"
# `ch` (a row of the channels table) joins an actor of %(c1)s to one of %(c2)s, neither
# an office: the `countries` filter of the board, the pair's channels exactly.
BETWEEN = (
    "EXISTS (SELECT 1 FROM actors AS x, actors AS y "
    "WHERE x.generation = ch.generation AND x.actor_id = ch.actor_a "
    "AND y.generation = ch.generation AND y.actor_id = ch.actor_b "
    f"AND x.kind <> '{OFFICE}' AND y.kind <> '{OFFICE}' "
    "AND ((x.country = %(c1)s AND y.country = %(c2)s) "
    "OR (x.country = %(c2)s AND y.country = %(c1)s)))"
)
# Every board channel at (as_of, known_at) between two actors that are not offices: its
# pair, status, last contact and when that happened. The joins are written in the order
# they must run (SQLite keeps the order of CROSS JOINs): each channel, its two actors, its
# one segment at (as_of, known_at) and that segment's last contact, each by primary key,
# so the cost is a lookup per channel, never a scan of segments or facts.
BOARD = (
    f"SELECT {LOW} AS c1, {HIGH} AS c2, s.status, s.last_contact, "
    "f.valid_from AS contact_at, f.position AS contact_position "
    "FROM channels AS ch CROSS JOIN actors AS x CROSS JOIN actors AS y "
    "CROSS JOIN channel_segments AS s "
    "LEFT JOIN channel_facts AS f ON f.generation = s.generation AND f.event_id = s.last_contact "
    "WHERE ch.generation = %(g)s "
    "AND x.generation = ch.generation AND x.actor_id = ch.actor_a "
    "AND y.generation = ch.generation AND y.actor_id = ch.actor_b "
    f"AND x.kind <> '{OFFICE}' AND y.kind <> '{OFFICE}' "
    "AND s.generation = ch.generation AND s.channel = ch.channel "
    "AND s.valid_from = (SELECT t.valid_from FROM channel_segments AS t "
    "  WHERE t.generation = ch.generation AND t.channel = ch.channel "
    "  AND t.valid_from <= %(a)s AND t.known_from <= %(k)s AND t.known_to > %(k)s "
    "  ORDER BY t.valid_from DESC LIMIT 1) "
    "AND s.known_from <= %(k)s AND s.known_to > %(k)s AND s.event_count > 0"
)
ONE = f" AND {LOW} = %(c1)s AND {HIGH} = %(c2)s"
AFTER = f" AND ({LOW} > %(p1)s OR ({LOW} = %(p1)s AND {HIGH} > %(p2)s))"
# Per pair of the page and status: how many channels, and the pair's latest contact
# (greatest occurred_at, then position), whose fact is read by its key.
PAIRS = (
    "WITH board AS MATERIALIZED ({board}), "
    "page AS (SELECT c1, c2 FROM board GROUP BY c1, c2 ORDER BY c1, c2{limit}), "
    "counted AS (SELECT b.c1, b.c2, b.status, COUNT(*) AS n FROM board AS b "
    "  JOIN page AS p ON p.c1 = b.c1 AND p.c2 = b.c2 GROUP BY b.c1, b.c2, b.status), "
    "ranked AS (SELECT b.c1, b.c2, b.last_contact, ROW_NUMBER() OVER (PARTITION BY b.c1, b.c2 "
    "  ORDER BY b.contact_at DESC, b.contact_position DESC) AS r "
    "  FROM board AS b JOIN page AS p ON p.c1 = b.c1 AND p.c2 = b.c2 "
    "  WHERE b.last_contact IS NOT NULL) "
    "SELECT n.c1, n.c2, n.status, n.n, f.fact, f.recorded_at, f.position FROM counted AS n "
    "LEFT JOIN ranked AS l ON l.c1 = n.c1 AND l.c2 = n.c2 AND l.r = 1 "
    "LEFT JOIN channel_facts AS f ON f.generation = %(g)s AND f.event_id = l.last_contact "
    "ORDER BY n.c1, n.c2"
)


class CountryReads(ViewReads):
    """Country pairs from the live generation."""

    def pairs_of(
        self, at: Window, *, after: Countries | None = None, limit: int | None = None
    ) -> tuple[Live | None, list[CountryPair]]:
        """Up to `limit` pairs after `after`, by their codes, each with a channel on the
        board at `at`."""
        where, params = (AFTER, {"p1": after[0], "p2": after[1]}) if after else ("", {})
        with self._reading() as c:
            live = self._live(c)
            if live is None:
                return None, []
            return live, self._pairs(c, live, at, where, params, limit)

    def pair_of(
        self, countries: Countries, at: Window
    ) -> tuple[Live | None, set[str], CountryPair]:
        """The pair `countries` at `at` (no channels: no counts), and which of its codes
        some actor has, from one snapshot."""
        empty = CountryPair(countries)
        with self._reading() as c:
            known = self._countries_known(c, countries)
            live = self._live(c)
            if live is None:
                return None, known, empty
            params = {"c1": countries[0], "c2": countries[1]}
            found = self._pairs(c, live, at, ONE, params, None)
            return live, known, found[0] if found else empty

    def _countries_known(self, c: Cursor, countries: Countries) -> set[str]:
        condition, params = self._in("country", "n", sorted(set(countries)))
        c.execute(
            self._sql(
                f"SELECT DISTINCT country FROM actors WHERE generation = {LIVE_GENERATION} "
                f"AND {condition}"
            ),
            params,
        )
        return {row["country"] for row in c.fetchall()}

    def _pairs(
        self,
        c: Cursor,
        live: Live,
        at: Window,
        where: str,
        params: dict[str, Any],
        limit: int | None,
    ) -> list[CountryPair]:
        statement = PAIRS.format(
            board=BOARD + where, limit="" if limit is None else " LIMIT %(limit)s"
        )
        c.execute(self._sql(statement), {**params, **at.params(live.number), "limit": limit})
        counts: dict[Countries, dict[Status, int]] = defaultdict(dict)
        contacts: dict[Countries, RecordedContact] = {}
        for row in c.fetchall():
            countries = (row["c1"], row["c2"])
            counts[countries][Status(row["status"])] = int(row["n"])
            if row["fact"] is not None and countries not in contacts:
                contacts[countries] = _contact(row)
        return [
            CountryPair(
                countries,
                {s: tally[s] for s in Status if s in tally},
                contacts.get(countries),
            )
            for countries, tally in counts.items()
        ]


def _contact(row: Row) -> RecordedContact:
    return contact_from(
        {"fact": row["fact"], "recorded_at": row["recorded_at"], "position": row["position"]}
    )
