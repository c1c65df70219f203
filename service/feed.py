"""The log as stream messages, once the read model has them (GET /v1/stream).

One `Feed` per serving process follows the read model's tracked position: a
thread polls it (every `poll` seconds, at once when this process's projector
says a batch committed), and turns the log's entries up to that position into
messages — so a message never goes out before a read would show it, whichever
process projects (the embedded projector, or a standalone `backchannel
projector` beside several serving workers). The latest `keep` messages are
held, shared by every subscriber; one that asks for older ones reads them from
the log, a page at a time. Nothing is buffered per subscriber.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain.events import RecordedContact, Retraction, channel_actors
from domain.offices import RecordedTerm, TermRetraction
from infra.logging import get_logger
from service.application import Backchannel
from service.projection import ActorChange, decode
from service.queries import ReadModel
from service.views import actor_view, event_view, retraction_event_view, status_view, term_view

log = get_logger("backchannel.feed")
PAGE = 500  # log entries read at a time


@dataclass(frozen=True)
class Message:
    """One log entry as a stream message: `id` its position, `event` its kind."""

    position: int
    kind: str  # event, retraction, actor, term
    data: dict[str, Any]
    actors: frozenset[str] = field(default_factory=frozenset)
    channel: str | None = None


class Feed:
    """The read model's progress, as messages; see the module's docstring."""

    def __init__(
        self, app: Backchannel, readmodel: ReadModel, *, keep: int = 5000, poll: float = 0.25
    ) -> None:
        self.app = app
        self.readmodel = readmodel
        self.poll = poll
        self.recent: deque[Message] = deque(maxlen=keep)
        self.position = 0  # messages exist for every entry up to here
        self._since = 0  # the feed holds every message after this position
        self._subscribers = 0  # the feed reads the log only while it has any
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Follow from the read model's position now (earlier entries come from the log)."""
        if self._thread is not None:
            return
        self.position = self._since = self.readmodel.position()
        self._thread = threading.Thread(target=self._follow, name="feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def subscribe(self) -> None:
        """A subscriber arrives. With none, the feed reads nothing (no decoding, no status
        reads on the write path's heels); the first one brings it to the read model's
        position, and what came before is read from the log."""
        with self._lock:
            self._subscribers += 1
            if self._subscribers > 1:
                return
        try:
            reached = self.readmodel.position()
        except BaseException:
            self.unsubscribe()
            raise
        with self._lock:
            if reached > self.position:
                self.recent.clear()
                self.position = self._since = reached
        self._wake.set()

    def unsubscribe(self) -> None:
        with self._lock:
            self._subscribers = max(0, self._subscribers - 1)

    def committed(self, position: int) -> None:
        """A projector of this process committed up to `position`: look now."""
        self._wake.set()

    def recent_after(self, position: int) -> tuple[list[Message], int] | None:
        """Up to PAGE held messages after `position`, in log order, and the position they
        bring a reader to; None if the feed no longer holds what follows `position`."""
        with self._lock:
            reached = self.position
            if position >= reached:
                return [], position
            if position < self._since:
                return None
            found = [m for m in self.recent if m.position > position][:PAGE]
        if len(found) == PAGE:
            return found, found[-1].position
        return found, reached

    def from_log(self, position: int) -> tuple[list[Message], int]:
        """The messages of up to PAGE log entries after `position`, read from the log."""
        end = min(self.position, position + PAGE)
        return self.read(position + 1, end), end

    def read(self, start: int, end: int) -> list[Message]:
        """The messages of the log's entries `start`..`end`, from the log."""
        messages: list[Message] = []
        while start <= end:
            batch = self.app.notifications(start=start, limit=min(PAGE, end - start + 1))
            if not batch:
                break
            for notification in batch:
                if notification.id > end:
                    break
                message = self._message(decode(self.app.mapper, notification), notification.id)
                if message is not None:
                    messages.append(message)
            start = batch[-1].id + 1
        return messages

    def _follow(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.poll)
            self._wake.clear()
            if not self._subscribers:
                continue
            try:
                reached = self.readmodel.position()
                begun = self.position
                if reached > begun:
                    found = self.read(begun + 1, reached)
                    with self._lock:
                        if self.position != begun:  # a first subscriber moved it meanwhile
                            continue
                        dropped = len(self.recent) + len(found) - (self.recent.maxlen or 0)
                        if dropped > 0:  # the feed holds every message after `_since`
                            self._since = [*self.recent, *found][dropped - 1].position
                        self.recent.extend(found)
                        self.position = reached
            except Exception as error:  # a store away: try again at the next poll
                log.warning("feed paused", error=str(error))

    def _message(self, item: Any, position: int) -> Message | None:
        now = datetime.now(UTC)
        if isinstance(item, RecordedContact):
            channel = item.fact.channel
            data = {**event_view(item), "statuses": self._statuses(channel, now)}
            return Message(position, "event", data, frozenset(channel_actors(channel)), channel)
        if isinstance(item, Retraction):
            found = self.readmodel.event(item.event_id)
            if found is None:
                return None
            contact = found[0]
            channel = contact.fact.channel
            data = {
                **retraction_event_view(item, contact),
                "statuses": self._statuses(channel, now),
            }
            actors = frozenset(channel_actors(channel))
            return Message(position, "retraction", data, actors, channel)
        if isinstance(item, ActorChange):
            state = self.readmodel.actor_of(item.aggregate_id)
            if state is None:
                return None
            data = actor_view(state.profile, state.position)
            return Message(position, "actor", data, frozenset({state.profile.id}))
        if isinstance(item, RecordedTerm | TermRetraction):
            # A term, or its retraction: the term as the API shows it then, and the office
            # channels of its post (the ones a term can change).
            recorded: RecordedTerm
            retraction: TermRetraction | None = None
            if isinstance(item, RecordedTerm):
                recorded = item
            else:
                stored = self.readmodel.term(item.term_id)
                if stored is None:
                    return None
                recorded, retraction = stored[0], item
            office = recorded.term.office
            statuses = [
                status_view(s)
                for s in self.readmodel.board(as_of=now, known_at=now, actor=office, offices=True)
            ]
            data = {**term_view(recorded, retraction), "statuses": statuses}
            return Message(position, "term", data, frozenset({office, recorded.term.person}))
        return None

    def _statuses(self, channel: str, now: datetime) -> list[dict[str, Any]]:
        a, b = channel_actors(channel)
        return [status_view(self.readmodel.status(a, b, as_of=now, known_at=now))]
