"""Reads across time: the timelines' boundaries in a range, and what the record learned.

Both read the segments (see tables.py): a boundary is a segment believed at
`known_at` whose status differs from the segment just before it in valid
time; a revision compares the segments believed at two transaction times.
Neither replays facts.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.changes import Answer, Revision, Transition
from domain.status import Status
from infra.readmodel.base import Cursor
from infra.readmodel.countries import BETWEEN
from infra.readmodel.reads import Live, ViewReads
from infra.readmodel.rows import Row, instant, micros

NOTHING = Status.NO_CONTACT.value  # the answer where no segment is believed
RUN_CHUNK = 4  # segments of each channel read at first while gathering a run's evidence
RUN_CHUNK_MAX = 256
RUN_COLUMNS = "s.channel, s.valid_from, s.status, s.evidence"
RUN_GROUP = 200  # channels per statement (SQLite allows 500 parts to a compound SELECT)
BELIEVED = "{t}.known_from <= %({k})s AND {t}.known_to > %({k})s"
BEFORE = (  # the status of the segment just before s in valid time, believed at %(k)s
    "(SELECT p.status FROM channel_segments AS p WHERE p.generation = s.generation "
    "AND p.channel = s.channel AND p.valid_from < s.valid_from AND "
    + BELIEVED.format(t="p", k="k")
    + " ORDER BY p.valid_from DESC LIMIT 1)"
)
ANSWER_AT = (  # a column of the segment holding %(a)s believed at %({k})s
    "(SELECT t.{column} FROM channel_segments AS t WHERE t.generation = ch.generation "
    "AND t.channel = ch.channel AND t.valid_from <= %(a)s AND "
    + BELIEVED.format(t="t", k="{k}")
    + " ORDER BY t.valid_from DESC LIMIT 1)"
)


@dataclass(frozen=True)
class Channels:
    """Which of the board's channels a read is about: every condition given."""

    actor: str | None = None
    channel: str | None = None
    countries: tuple[str, str] | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        """Conditions on `ch` (a row of the channels table) and their parameters."""
        conditions: list[str] = []
        params: dict[str, Any] = {}
        if self.actor is not None:
            conditions.append("(ch.actor_a = %(actor)s OR ch.actor_b = %(actor)s)")
            params["actor"] = self.actor
        if self.channel is not None:
            conditions.append("ch.channel = %(channel)s")
            params["channel"] = self.channel
        if self.countries is not None:  # the pair's channels, as /v1/countries counts them
            conditions.append(BETWEEN)
            params["c1"], params["c2"] = self.countries
        return "".join(f" AND {c}" for c in conditions), params


def transition_key(transition: Transition) -> tuple[int, str]:
    """The transitions' list order as a key (valid time in µs, then channel): what a
    page of transitions is keyed by, and what the next page starts after."""
    return micros(transition.at), transition.channel


class HistoryReads(ViewReads):
    """Transitions and revisions, from the live generation."""

    def transitions_of(
        self,
        known_at: datetime,
        start: datetime,
        end: datetime,
        which: Channels,
        *,
        after: tuple[int, str] | None,
        limit: int,
    ) -> tuple[Live | None, list[Transition]]:
        """Up to `limit` boundaries of the timelines believed at `known_at`, at valid times
        `start < at <= end`, by at then channel, after the key `after` (transition_key)."""
        where, params = which.where()
        keyset = ""
        if after is not None:
            keyset = (
                " AND (s.valid_from > %(av)s OR (s.valid_from = %(av)s AND s.channel > %(ac)s))"
            )
            params["av"], params["ac"] = after
        statement = (
            f"SELECT * FROM (SELECT s.channel, s.valid_from, s.status, {BEFORE} AS prior "
            "FROM channels AS ch JOIN channel_segments AS s "
            "ON s.generation = ch.generation AND s.channel = ch.channel "
            f"WHERE ch.generation = %(g)s{where} "
            "AND s.valid_from > %(lo)s AND s.valid_from <= %(hi)s AND "
            + BELIEVED.format(t="s", k="k")
            + keyset
            + ") AS b WHERE b.prior IS NOT NULL AND b.prior <> b.status "
            "ORDER BY b.valid_from, b.channel LIMIT %(limit)s"
        )
        with self._reading() as c:
            live = self._live(c)
            if live is None:
                return None, []
            k = micros(known_at)
            params.update(g=live.number, k=k, lo=micros(start), hi=micros(end), limit=limit)
            c.execute(self._sql(statement), params)
            rows = list(c.fetchall())
            starts: dict[str, list[int]] = defaultdict(list)
            for row in rows:
                starts[row["channel"]].append(row["valid_from"])
            evidence = self._runs(c, live.number, k, starts) if starts else {}
            return live, [
                Transition(
                    row["channel"],
                    instant(row["valid_from"]),
                    Status(row["prior"]),
                    Status(row["status"]),
                    evidence[row["channel"], row["valid_from"]],
                )
                for row in rows
            ]

    def _runs(
        self, c: Cursor, generation: int, known_at: int, starts: dict[str, list[int]]
    ) -> dict[tuple[str, int], tuple[UUID, ...]]:
        """The evidence of each run of one status beginning at one of a channel's `starts`
        (in order): every id its segments name, in the order they first appear (as
        domain.status.merge). A few segments of every channel per statement, more for the
        runs that go on."""
        runs = {channel: Run(channel, ats) for channel, ats in starts.items()}
        found: dict[tuple[str, int], tuple[UUID, ...]] = {}
        size = RUN_CHUNK
        while runs:
            for group in _groups(list(runs.values()), RUN_GROUP):
                self._gather(c, generation, known_at, group, size, found)
            runs = {channel: run for channel, run in runs.items() if not run.done}
            size = min(size * 4, RUN_CHUNK_MAX)
        return found

    def _gather(
        self,
        c: Cursor,
        generation: int,
        known_at: int,
        group: list[Run],
        size: int,
        found: dict[tuple[str, int], tuple[UUID, ...]],
    ) -> None:
        """The next `size` segments of each run's channel, in one statement."""
        rows: dict[str, list[Row]] = defaultdict(list)
        for row in self._segments_from(c, generation, known_at, group, size):
            rows[row["channel"]].append(row)
        for run in group:
            run.done = run.take(rows.get(run.channel, []), size, found)

    def _segments_from(
        self, c: Cursor, generation: int, known_at: int, group: list[Run], size: int
    ) -> list[Row]:
        """Up to `size` segments (channel, valid_from, status, evidence) believed at
        `known_at` of each run's channel, from its cursor on, each channel's in order."""
        parts: list[str] = []
        params: dict[str, Any] = {"g": generation, "k": known_at, "n": size}
        for index, run in enumerate(group):
            parts.append(
                f"SELECT * FROM (SELECT {RUN_COLUMNS} FROM channel_segments AS s "
                f"WHERE s.generation = %(g)s AND s.channel = %(c{index})s "
                f"AND s.valid_from >= %(v{index})s AND "
                + BELIEVED.format(t="s", k="k")
                + f" ORDER BY s.valid_from LIMIT %(n)s) AS r{index}"
            )
            params[f"c{index}"], params[f"v{index}"] = run.channel, run.cursor
        c.execute(self._sql(" UNION ALL ".join(parts)), params)
        return list(c.fetchall())

    def revisions_of(
        self,
        since: datetime,
        until: datetime,
        as_of: datetime,
        which: Channels,
        *,
        after: str | None,
        limit: int,
    ) -> tuple[Live | None, list[Revision]]:
        """Up to `limit` channels after `after`, by id, whose answer at `as_of` reads
        differently believed at `since` and at `until`; with the events recorded and
        retracted in (since, until]."""
        where, params = which.where()
        answers = ", ".join(
            ANSWER_AT.format(column=column, k=k) + f" AS {column}_{k}"
            for k in ("k1", "k2")
            for column in ("status", "since")
        )
        touched = (
            "SELECT DISTINCT f.channel FROM channel_facts AS f WHERE f.generation = %(g)s "
            "AND ((f.recorded_at > %(k1)s AND f.recorded_at <= %(k2)s) "
            "OR (f.retracted_at > %(k1)s AND f.retracted_at <= %(k2)s))"
        )
        statement = (
            f"SELECT * FROM (SELECT ch.channel, {answers} FROM channels AS ch "
            f"WHERE ch.generation = %(g)s AND ch.channel > %(after)s{where} "
            f"AND ch.channel IN ({touched})) AS r "
            f"WHERE COALESCE(r.status_k1, '{NOTHING}') <> COALESCE(r.status_k2, '{NOTHING}') "
            "OR r.since_k1 <> r.since_k2 "
            "OR (CASE WHEN r.since_k1 IS NULL THEN 1 ELSE 0 END) "
            "<> (CASE WHEN r.since_k2 IS NULL THEN 1 ELSE 0 END) "
            "ORDER BY r.channel LIMIT %(limit)s"
        )
        with self._reading() as c:
            live = self._live(c)
            if live is None:
                return None, []
            k1, k2 = micros(since), micros(until)
            params.update(
                g=live.number, k1=k1, k2=k2, a=micros(as_of), after=after or "", limit=limit
            )
            c.execute(self._sql(statement), params)
            rows = list(c.fetchall())
            learned = self._learned(c, live.number, k1, k2, [r["channel"] for r in rows])
            return live, [
                Revision(
                    row["channel"],
                    as_of,
                    _answer(row, "k1"),
                    _answer(row, "k2"),
                    *learned.get(row["channel"], ((), ())),
                )
                for row in rows
            ]

    def _learned(
        self, c: Cursor, generation: int, since: int, until: int, channels: list[str]
    ) -> dict[str, tuple[tuple[UUID, ...], tuple[UUID, ...]]]:
        """Per channel, the events recorded and those retracted in (since, until], in log order."""
        if not channels:
            return {}
        condition, params = self._in("channel", "c", channels)
        c.execute(
            self._sql(
                "SELECT channel, event_id, recorded_at, position, retracted_at, "
                "retraction_position FROM channel_facts WHERE generation = %(g)s AND "
                f"{condition} AND ((recorded_at > %(k1)s AND recorded_at <= %(k2)s) "
                "OR (retracted_at > %(k1)s AND retracted_at <= %(k2)s))"
            ),
            {**params, "g": generation, "k1": since, "k2": until},
        )
        recorded: dict[str, list[tuple[int, UUID]]] = defaultdict(list)
        retracted: dict[str, list[tuple[int, UUID]]] = defaultdict(list)
        for row in c.fetchall():
            event = UUID(row["event_id"])
            if since < row["recorded_at"] <= until:
                recorded[row["channel"]].append((row["position"], event))
            at = row["retracted_at"]
            if at is not None and since < at <= until:
                retracted[row["channel"]].append((row["retraction_position"], event))
        return {
            channel: (
                tuple(e for _, e in sorted(recorded.get(channel, []))),
                tuple(e for _, e in sorted(retracted.get(channel, []))),
            )
            for channel in channels
        }


class Run:
    """Gathers the evidence of a channel's runs that begin at `starts`, segment by segment."""

    def __init__(self, channel: str, starts: list[int]) -> None:
        self.channel = channel
        self.starts = starts
        self.wanted = set(starts)
        self.cursor = starts[0]  # the next statement reads from here on
        self.run: tuple[int, str] | None = None
        self.gathered: dict[UUID, None] = {}
        self.done = False

    def take(
        self, rows: list[Row], size: int, found: dict[tuple[str, int], tuple[UUID, ...]]
    ) -> bool:
        """Take the next segments (up to `size`, in order); True once every run is gathered."""
        for row in rows:
            if self.run is not None and row["status"] == self.run[1]:
                self.gathered.update(dict.fromkeys(_ids(row["evidence"])))
                continue
            if self.run is not None:
                found[self.channel, self.run[0]] = tuple(self.gathered)
                self.run = None
            if row["valid_from"] in self.wanted:
                self.run, self.gathered = (row["valid_from"], row["status"]), {}
                self.gathered.update(dict.fromkeys(_ids(row["evidence"])))
            elif row["valid_from"] > self.starts[-1]:
                return True
        if len(rows) < size:
            if self.run is not None:
                found[self.channel, self.run[0]] = tuple(self.gathered)
            return True
        self.cursor = rows[-1]["valid_from"] + 1
        return False


def _groups(runs: list[Run], size: int) -> list[list[Run]]:
    return [runs[i : i + size] for i in range(0, len(runs), size)]


def _ids(text: str) -> list[UUID]:
    return [UUID(e) for e in json.loads(text)] if text != "[]" else []


def _answer(row: Row, k: str) -> Answer:
    """The answer a row read believed at `k`: no segment means nothing known (no_contact)."""
    status, since = row[f"status_{k}"], row[f"since_{k}"]
    if status is None:
        return Answer(Status.NO_CONTACT, None)
    return Answer(Status(status), None if since is None else instant(since))
