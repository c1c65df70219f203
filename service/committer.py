"""Group commit: appends that arrive while the log is busy share its next transaction.

Every write of the application goes through one `GroupCommit`. A writer hands it
a build: a function that, given the stamp of the group, returns the events to
append. Whoever finds no commit running leads: it takes every build queued so
far, stamps them, and stores all their events in one `save()`; the others wait
for their own result. While a group is being stored the next one gathers, so a
busy log commits many writes per transaction and an idle one commits each write
at once, without waiting for company.

Each writer gets its own outcome. A build that raises fails alone. When the
store refuses a group (IntegrityError: some event's version is taken), the
writers whose events collide with what the log holds, or with an earlier
member of the group, are told IntegrityError (they re-read the log and answer
for themselves), and the group is stored again without them; should that fail
too (another process won a race meanwhile), each remaining member is stored
alone. Any other store error is every member's outcome.

Stamps are taken by the leader, in order, each a microsecond at least after the
last one it gave: within a process recorded_at strictly increases along the log
(the store's own lock orders the transactions of several processes).

Every wait is bounded: a writer that cannot get its result within `wait_seconds`
(the store's own timeouts, a few times over) gives up with OperationalError,
which the API answers with 503, and a build still queued then is withdrawn.

A coroutine appends with `append_async`: it queues its build and awaits the
outcome, while the committer's own thread (started at the first such append)
leads the groups that nobody else leads; the event loop never waits for the
store, and no worker thread is taken per write.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Collection, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, NoReturn
from uuid import UUID

from eventsourcing.persistence import IntegrityError, OperationalError, Recording

from domain.time import TICK
from infra.logging import get_logger

Stamp = Callable[[], datetime]
# Given the group's stamp, the events one writer appends (their versions set).
Build = Callable[[Stamp], Sequence[Any]]
Store = Callable[[Sequence[Any]], Sequence[Recording[UUID]]]
# The last stored version of each aggregate among the ids that has any.
Versions = Callable[[Collection[UUID]], dict[UUID, int]]

MAX_GROUP = 256  # writers per transaction
_log = get_logger("backchannel.committer")


class CommitTimeout(OperationalError):
    """The group commit did not answer in time (the store is away or very slow)."""


def utc_stamp() -> datetime:
    return datetime.now(UTC)


class _Ticket:
    __slots__ = ("build", "error", "events", "finished", "recordings", "wake")

    def __init__(self, build: Build, wake: Callable[[], None] | None = None) -> None:
        self.build = build
        self.events: list[Any] = []
        self.recordings: list[Recording[UUID]] = []
        self.error: BaseException | None = None
        self.finished = False
        self.wake = wake  # told (from the thread that stored it) once it is finished

    def fail(self, error: BaseException) -> None:
        self.error = error
        self._finish()

    def done(self, recordings: list[Recording[UUID]]) -> None:
        self.recordings = recordings
        self._finish()

    def outcome(self) -> list[Recording[UUID]]:
        """The recordings of a finished ticket, or the error it failed with."""
        if self.error is not None:
            raise self.error
        return self.recordings

    def _finish(self) -> None:
        self.finished = True
        if self.wake is not None:
            self.wake()


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class GroupCommit:
    """Appends of many writers, coalesced into as few transactions as the load allows."""

    def __init__(
        self,
        store: Store,
        versions: Versions,
        *,
        wait_seconds: float,
        clock: Stamp = utc_stamp,
        max_group: int = MAX_GROUP,
    ) -> None:
        self._store = store
        self._versions = versions
        self.wait_seconds = wait_seconds
        self._clock = clock
        self._max_group = max_group
        self._changed = threading.Condition(threading.Lock())
        self._queue: list[_Ticket] = []
        self._leading = False
        self._last = datetime.min.replace(tzinfo=UTC)
        self.groups = 0  # transactions that stored something
        self.hooks: list[Callable[[int], None]] = []  # told each stored group's writer count
        self._thread: threading.Thread | None = None  # leads for coroutines
        self._closed = False

    def append(self, build: Build) -> list[Recording[UUID]]:
        """Store what `build` returns, in the next group; its recordings, in event order.

        Raises what the build raised, IntegrityError when the events collide with
        stored ones, the store's errors, or CommitTimeout.
        """
        ticket = _Ticket(build)
        deadline = time.monotonic() + self.wait_seconds
        with self._changed:
            self._queue.append(ticket)
            while not ticket.finished:
                if not self._leading:
                    self._lead()
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._give_up(ticket)
                self._changed.wait(remaining)
        return ticket.outcome()

    async def append_async(self, build: Build) -> list[Recording[UUID]]:
        """`append`, awaited: the committer's thread stores the group, the loop goes on."""
        loop = asyncio.get_running_loop()
        finished: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            with suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, finished)

        ticket = _Ticket(build, wake)
        with self._changed:
            if self._closed:
                raise CommitTimeout("the log's committer is closed")
            self._queue.append(ticket)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="group-commit", daemon=True
                )
                self._thread.start()
            self._changed.notify_all()
        try:
            await asyncio.wait_for(asyncio.shield(finished), self.wait_seconds)
        except TimeoutError:
            with self._changed:
                if not ticket.finished:
                    self._give_up(ticket)
        return ticket.outcome()

    def _give_up(self, ticket: _Ticket) -> NoReturn:
        """Withdraw `ticket` if it is still queued, and say so (the condition held)."""
        if ticket in self._queue:
            self._queue.remove(ticket)
        raise CommitTimeout(f"no answer from the log within {self.wait_seconds:g} s")

    def close(self) -> None:
        """Stop the committer's thread (writers already queued are stored first)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.wait_seconds)

    def _serve(self) -> None:
        """The committer's thread: lead every group that no writer's thread leads."""
        try:
            with self._changed:
                while True:
                    if self._queue and not self._leading:
                        self._lead()
                        continue
                    if self._closed and not self._queue:
                        return
                    self._changed.wait()
        except BaseException:
            _log.exception("group commit thread stopped")
            raise
        finally:
            with self._changed:
                self._thread = None  # the next awaited append starts another

    def waiting(self) -> int:
        """How many writers are queued for the next group."""
        with self._changed:
            return len(self._queue)

    def _lead(self) -> None:
        """Store the queued group (called and returning with the condition held)."""
        self._leading = True
        group, self._queue = self._queue[: self._max_group], self._queue[self._max_group :]
        self._changed.release()
        try:
            self._commit(group)
        except BaseException as error:  # every member hears of it
            for ticket in group:
                if not ticket.finished:
                    ticket.fail(error)
            if not isinstance(error, Exception):
                raise
        finally:
            self._changed.acquire()
            self._leading = False
            self._changed.notify_all()

    def _stamp(self) -> datetime:
        now = self._clock()
        if now <= self._last:
            # Never the same instant twice: the projection takes a transaction time it
            # has already seen for a channel as a race, and re-tells the channel.
            now = self._last + TICK
        self._last = now
        return now

    def _built(self, tickets: list[_Ticket]) -> list[_Ticket]:
        """Each ticket's events, stamped now; a build that raises fails its ticket alone.

        A ticket whose event takes a version an earlier member takes is told
        IntegrityError: it answers once the earlier one is stored."""
        built: list[_Ticket] = []
        taken: set[tuple[UUID, int]] = set()
        for ticket in tickets:
            try:
                ticket.events = list(ticket.build(self._stamp))
            except Exception as error:  # the build's own outcome
                ticket.fail(error)
                continue
            keys = {(e.originator_id, e.originator_version) for e in ticket.events}
            if keys & taken:
                ticket.fail(IntegrityError("an event of the same version is being stored"))
                continue
            taken |= keys
            built.append(ticket)
        return built

    def _commit(self, tickets: list[_Ticket]) -> None:
        built = self._built(tickets)
        try:
            self._save(built)
            return
        except IntegrityError as refused:
            stored = self._versions({e.originator_id for t in built for e in t.events})

            def collides(ticket: _Ticket) -> bool:
                return any(
                    e.originator_version <= stored.get(e.originator_id, 0) for e in ticket.events
                )

            rest = []
            for ticket in built:
                if collides(ticket):
                    ticket.fail(refused)
                else:
                    rest.append(ticket)
        _log.debug("group_refused", members=len(built), retried=len(rest))
        try:
            self._save(self._built(rest))
            return
        except IntegrityError:
            pass
        for ticket in rest:  # a race with another process: each on its own
            if ticket.finished:
                continue
            try:
                self._save(self._built([ticket]))
            except IntegrityError as error:
                ticket.fail(error)

    def _save(self, built: list[_Ticket]) -> None:
        members = [t for t in built if t.events]
        for ticket in built:
            if not ticket.events:
                ticket.done([])
        if not members:
            return
        recordings = list(self._store([e for t in members for e in t.events]))
        self.groups += 1
        start = 0
        for ticket in members:
            end = start + len(ticket.events)
            ticket.done(recordings[start:end])
            start = end
        for hook in self.hooks:
            hook(len(members))
