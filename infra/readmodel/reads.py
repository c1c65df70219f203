"""The readers' side of the view: one channel, a page of the board, a timeline.

Every read runs in one transaction over one snapshot, in the live generation
it looks up first, so a switch to a rebuilt generation is seen whole or not at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from domain.events import RecordedContact
from domain.segments import Segment
from infra.readmodel.base import Cursor, ViewBase, tracking_name
from infra.readmodel.rows import Row, contact_from, segment_from, sketch_from

SEGMENT_COLUMNS = (
    "channel, valid_from, valid_to, known_from, known_to, status, since, event_count, "
    "last_contact, evidence, requests, refusals"
)
SKETCH_COLUMNS = "event_id, channel, type, actor, counterpart, valid_from, recorded_at, position"
KNOWN = "recorded_at <= %(k)s AND (retracted_at IS NULL OR retracted_at > %(k)s)"


@dataclass(frozen=True)
class Live:
    """The generation a read was answered from, and the window it was built for."""

    number: int
    window_us: int


@dataclass(frozen=True)
class Found:
    """What the view holds for one channel at (as_of, known_at)."""

    channel: str
    segment: Segment | None
    last_contact: RecordedContact | None = None
    window_facts: list[RecordedContact] = field(default_factory=list)


@dataclass(frozen=True)
class Window:
    """The times a read is about, as microseconds."""

    as_of: int
    known_at: int
    window: int

    def params(self, generation: int) -> dict[str, Any]:
        return {"g": generation, "a": self.as_of, "k": self.known_at}


class ViewReads(ViewBase):
    """Reads of the live generation."""

    def position(self) -> int:
        """How far the live generation has processed the log (0 before any)."""
        with self._reading() as c:
            live = self._live(c)
            if live is None:
                return 0
            return self._tracked(c, tracking_name(live.number)) or 0

    def status_of(self, channel: str, at: Window) -> tuple[Live | None, Found]:
        with self._reading() as c:
            live = self._live(c)
            if live is None:
                return None, Found(channel, None)
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
                return live, Found(channel, None)
            return live, self._complete(c, live.number, at, [row])[0]

    def board_of(
        self,
        at: Window,
        *,
        status: str | None,
        actor: str | None,
        after: str | None,
        limit: int | None,
    ) -> tuple[Live | None, list[Found]]:
        """Channels after `after` with at least one event visible at `at`, by id."""
        with self._reading() as c:
            live = self._live(c)
            if live is None:
                return None, []
            params = {
                **at.params(live.number),
                "after": after or "",
                "actor": actor,
                "status": status,
                "limit": -1 if limit is None else limit,
            }
            rows = self._board_rows(c, params, actor is not None, status is not None)
            return live, self._complete(c, live.number, at, rows)

    def timeline_of(self, channel: str, known_at: int) -> tuple[Live | None, list[Segment]]:
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
                {"g": live.number, "c": channel, "k": known_at},
            )
            return live, [segment_from(row) for row in c.fetchall()]

    # -- helpers ----------------------------------------------------------------

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
        nearby = self._window_facts(c, generation, at, [ch for ch, _ in segments])
        return [
            Found(
                channel,
                segment,
                contacts.get(str(segment.last_contact)) if segment.last_contact else None,
                nearby.get(channel, []),
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

    def _window_facts(
        self, c: Cursor, generation: int, at: Window, channels: list[str]
    ) -> dict[str, list[RecordedContact]]:
        condition, params = self._in("channel", "c", channels)
        c.execute(
            self._sql(
                f"SELECT {SKETCH_COLUMNS} FROM channel_facts WHERE generation = %(g)s "
                f"AND {condition} AND valid_from >= %(lo)s AND valid_from <= %(a)s AND {KNOWN}"
            ),
            {**params, **at.params(generation), "lo": at.as_of - at.window},
        )
        found: dict[str, list[RecordedContact]] = defaultdict(list)
        for row in c.fetchall():
            found[row["channel"]].append(sketch_from(row))
        return found
