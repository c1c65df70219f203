"""The read side: the questions of domain/record.py, answered from the channel read model.

`ReadModel` mirrors `Record.status`, `Record.board` and `Record.timeline` and
returns the same domain types, so a caller can switch from replaying the log
to reading the view with one line. The answers are the pure functions' (see
domain.segments), read from indexed tables: none of them replays the log,
and none grows with its length.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import partial

from domain.events import channel_id
from domain.segments import answer, timeline_of
from domain.status import ChannelStatus, Interval, Status, timeline
from infra.readmodel import ChannelView, Found, Live, Window, open_view, retrying
from infra.readmodel.rows import MICROSECOND, micros
from infra.settings import Settings

PAGE = 101  # channels per query when a board is read lazily (an API page and one more)


class ReadModelUnavailable(RuntimeError):
    """The view cannot answer for these settings (built for another W: rebuild it)."""


class ReadModel:
    """Channel statuses and timelines from the live generation of the view."""

    def __init__(self, view: ChannelView, window: timedelta) -> None:
        self.view = view
        self.window = window

    @classmethod
    def open(cls, settings: Settings) -> ReadModel:
        """A read model on its own connections to the store the settings name."""
        return cls(open_view(settings), settings.window)

    def close(self) -> None:
        self.view.close()

    def status(
        self,
        a: str,
        b: str,
        *,
        as_of: datetime,
        known_at: datetime,
        window: timedelta | None = None,
    ) -> ChannelStatus:
        """The status of channel {a, b} at (as_of, known_at), as `Record.status` answers."""
        self._check(window)
        channel = channel_id(a, b)
        at = self._at(as_of, known_at)
        live, found = retrying(lambda: self.view.status_of(channel, at))
        self._check_live(live)
        return self._answer(found, as_of, known_at)

    def board(
        self,
        *,
        as_of: datetime,
        known_at: datetime,
        window: timedelta | None = None,
        status: Status | None = None,
        actor: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> Iterator[ChannelStatus]:
        """Channels with an event visible at (as_of, known_at), by id, as `Record.board`.

        Lazily, a page of channels per query: a caller that stops after 100
        items reads about 100 channels. `after` (a channel id) starts after
        that channel; `limit` stops after that many.
        """
        self._check(window)
        at = self._at(as_of, known_at)
        left = limit
        while left is None or left > 0:
            size = PAGE if left is None else min(PAGE, left)
            live, found = retrying(
                partial(
                    self.view.board_of,
                    at,
                    status=status.value if status is not None else None,
                    actor=actor,
                    after=after,
                    limit=size,
                )
            )
            self._check_live(live)
            for item in found:
                yield self._answer(item, as_of, known_at)
            if len(found) < size:
                return
            after = found[-1].channel
            left = None if left is None else left - len(found)

    def timeline(
        self, a: str, b: str, *, known_at: datetime, window: timedelta | None = None
    ) -> list[Interval]:
        """The channel's status intervals over valid time as known at `known_at`."""
        self._check(window)
        channel = channel_id(a, b)
        live, parts = retrying(lambda: self.view.timeline_of(channel, micros(known_at)))
        self._check_live(live)
        return timeline_of(parts) if parts else timeline([], self.window)

    def position(self) -> int:
        """How far the read model has processed the log."""
        return retrying(self.view.position)

    def wait(self, position: int, timeout: float) -> bool:
        """Block until the read model has processed `position`; False on timeout."""
        deadline = time.monotonic() + timeout
        pause = 0.005
        while self.position() < position:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.1)
        return True

    # -- helpers ----------------------------------------------------------------

    def _at(self, as_of: datetime, known_at: datetime) -> Window:
        return Window(micros(as_of), micros(known_at), self.window // MICROSECOND)

    def _answer(self, found: Found, as_of: datetime, known_at: datetime) -> ChannelStatus:
        return answer(
            found.channel,
            found.segment,
            as_of=as_of,
            known_at=known_at,
            window=self.window,
            last_contact=found.last_contact,
            window_facts=found.window_facts,
        )

    def _check(self, window: timedelta | None) -> None:
        if window is not None and window != self.window:
            raise ValueError(
                f"the read model answers for W = {self.window}, not {window}; "
                "replay the log (domain.record) for another window"
            )

    def _check_live(self, live: Live | None) -> None:
        if live is not None and live.window_us != self.window // MICROSECOND:
            raise ReadModelUnavailable(
                "the read model was built for another window W: "
                "run `backchannel projections rebuild`"
            )
