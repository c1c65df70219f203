"""Archives and streaming imports, on both stores.

An archive restored into a fresh store answers every question as the source did; a
damaged archive, or a store that is not empty, stores nothing; an event import killed
midway and run again ends with exactly the file's events.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from psycopg import sql

from domain.errors import Conflict
from domain.events import EventType, channel_id
from infra.settings import Settings
from service.application import Backchannel
from service.archive import NotEmpty, export_archive, import_archive
from service.bootstrap import bootstrap, migrate
from service.replay import Replay
from service.transfer import BadLine, import_event_stream, line_id, seed
from tests.e2e.processes import command

PEOPLE = ["ann", "bob", "cat", "dan"]
REQUESTS = {EventType.CALL_REFUSED: EventType.CALL_REQUESTED}


class Stores:
    """Makes fresh migrated stores of the same kind as `store_url`, dropped afterwards."""

    def __init__(self, store_url: str, request: pytest.FixtureRequest, tmp: Path) -> None:
        self.postgres = not store_url.startswith("sqlite")
        self.server = str(request.getfixturevalue("postgres_server")) if self.postgres else ""
        self.tmp = tmp

    @contextmanager
    def fresh(self) -> Iterator[Backchannel]:
        name = f"backchannel_test_{uuid.uuid4().hex[:12]}"
        if self.postgres:
            with psycopg.connect(self.server, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            url = f"{self.server.rpartition('/')[0]}/{name}"
        else:
            url = f"sqlite:///{self.tmp / name}.sqlite3"
        settings = Settings(database_url=url, log_format="console")
        migrate(settings)
        app = bootstrap(settings)
        try:
            yield app
        finally:
            app.close()
            if self.postgres:
                with psycopg.connect(self.server, autocommit=True) as conn:
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(name)
                        )
                    )


@pytest.fixture
def stores(store_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Stores:
    return Stores(store_url, request, tmp_path)


def archive_of(app: Backchannel) -> io.BytesIO:
    return io.BytesIO("".join(line + "\n" for line in export_archive(app)).encode("utf-8"))


def records(archive: io.BytesIO) -> list[dict[str, Any]]:
    """The archive's records, without their checks (chained from the header's export time)."""
    lines = [json.loads(line) for line in archive.getvalue().decode().splitlines()]
    for line in lines:
        line.pop("check")
    return lines[1:-1]


# -- histories ------------------------------------------------------------------

SECTORS = ("MIL", "DIP", "GOV", "GOVMED")
step = st.tuples(
    st.sampled_from(
        [
            "actor",
            "rename",
            "alias",
            "role",
            "sector",
            "wikidata",
            "fact",
            "fact",
            "fact",
            "retract",
            "term",
            "unterm",
        ]
    ),
    st.integers(0, 1_000_000),
    st.integers(0, 1_000_000),
    st.sampled_from(list(EventType)),
    st.dates(date(2021, 12, 1), date(2022, 4, 30)),
)


OFFICE = "envoy"  # the one office of a history, held by its people in turn


def play(app: Backchannel, steps: list[tuple[str, int, int, EventType, date]]) -> None:
    """Apply a history of actor changes, backdated facts and retractions, and an office's
    terms and their retractions, to `app`."""
    actors: list[str] = []
    facts: list[dict[str, Any]] = []
    terms: list[uuid.UUID] = []
    office = False
    for kind, n, m, event_type, day in steps:
        if kind == "term" and len(actors) >= 2:
            if not office:
                app.register_actor(
                    {"id": OFFICE, "name": "Envoy", "kind": "office", "country": "US"}
                )
                office = True
            end = None if m % 4 == 0 else (day + timedelta(days=1 + m % 40)).isoformat()
            held = {"person": actors[n % len(actors)], "from": day.isoformat(), "to": end}
            with suppress(Conflict):  # it overlaps a standing term of the office
                terms.append(app.record_term(OFFICE, held).term.id)
            continue
        if kind == "unterm":
            if terms:
                app.retract_term(terms.pop(n % len(terms)), f"misdated {m}")
            continue
        if kind == "actor" or len(actors) < 2:
            slug = PEOPLE[len(actors) % len(PEOPLE)] + (f"-{len(actors)}" if actors else "")
            actors.append(slug)
            profile = {"id": slug, "name": slug.title(), "kind": "person", "country": "US"}
            if m % 3:  # some actors are registered with a sector and a Wikidata id, some without
                profile |= {"sector": SECTORS[m % len(SECTORS)], "wikidata": f"Q{n + 1}"}
            app.register_actor(profile)
        elif kind == "rename":
            app.update_actor(actors[n % len(actors)], name=f"Name {m % 5}")
        elif kind == "alias":
            app.update_actor(actors[n % len(actors)], aliases=[f"Alias {m % 7}"])
        elif kind == "role":
            app.update_actor(actors[n % len(actors)], role=f"Role {m % 3}")
        elif kind == "sector":
            app.update_actor(actors[n % len(actors)], sector=SECTORS[m % len(SECTORS)])
        elif kind == "wikidata":
            app.update_actor(actors[n % len(actors)], wikidata=f"Q{m % 4 + 1}")
        elif kind == "retract" and facts:
            fact = facts.pop(n % len(facts))
            app.retract(uuid.UUID(fact["id"]), f"withdrawn {m}")
        else:
            a = actors[n % len(actors)]
            b = actors[(n + 1 + m % (len(actors) - 1)) % len(actors)]
            fact = {
                "id": str(uuid.uuid4()),
                "type": event_type.value,
                "occurred_at": day.isoformat(),
                "actor": a,
                "counterpart": b,
            }
            wanted = REQUESTS.get(event_type)
            asked = [
                f
                for f in facts
                if f["type"] == wanted
                and channel_id(f["actor"], f["counterpart"]) == channel_id(a, b)
            ]
            if asked:
                fact["details"] = {"in_response_to": asked[m % len(asked)]["id"]}
            app.record_fact(fact)
            facts.append(fact)


def moments(app: Backchannel, picks: list[int]) -> list[tuple[datetime, datetime]]:
    """(as_of, known_at) pairs: valid times across the facts, transaction times around
    every recorded_at (just before, at, just after), including before each retraction."""
    record = Replay(app).refresh()
    stamps = [c.recorded_at for c in record.contacts.values()]
    stamps += [r.recorded_at for r in record.retractions.values()]
    stamps += [t.recorded_at for t in record.terms.values()]
    stamps += [r.recorded_at for r in record.term_retractions.values()]
    tick = timedelta(microseconds=1)
    known = sorted({t + d for t in stamps for d in (-tick, timedelta(0), tick)})
    known.append(datetime.now(UTC))
    valid = [datetime(2021, 11, 1, tzinfo=UTC) + timedelta(days=d) for d in range(0, 200, 3)]
    return [(valid[p % len(valid)], known[(p // 7) % len(known)]) for p in picks]


def answers(app: Backchannel, at: list[tuple[datetime, datetime]]) -> list[object]:
    """Every board, timeline and event list the record gives at those moments."""
    record = Replay(app).refresh()
    found: list[object] = [sorted(record.actors.items())]
    found.append(sorted((t.id, t.term, t.recorded_at) for t in record.terms.values()))
    found.append(
        sorted((r.term_id, r.reason, r.recorded_at) for r in record.term_retractions.values())
    )
    people = sorted(a for a, p in record.actors.items() if p.kind.value == "person")
    for as_of, known_at in at:
        found.append(list(record.board(as_of=as_of, known_at=known_at, window=app.window)))
        if OFFICE in record.actors:  # the office's channels, under the office rule
            for person in people:
                found.append(
                    record.status(OFFICE, person, as_of=as_of, known_at=known_at, window=app.window)
                )
                found.append(record.timeline(OFFICE, person, known_at=known_at, window=app.window))
        found.append(record.events(known_at=known_at))
        found.append(record.events(known_at=known_at, retracted=True))
        for channel in sorted(record.by_channel):
            a, _, b = channel.partition("~")
            found.append(record.timeline(a, b, known_at=known_at, window=app.window))
            found.append(record.status(a, b, as_of=as_of, known_at=known_at, window=app.window))
    return found


@hypothesis_settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(step, min_size=3, max_size=25),
    picks=st.lists(st.integers(0, 10_000), min_size=5, max_size=12),
)
def test_a_restored_archive_answers_every_question_as_its_source_did(
    stores: Stores, steps: list[tuple[str, int, int, EventType, date]], picks: list[int]
) -> None:
    with stores.fresh() as source, stores.fresh() as target:
        play(source, steps)
        archive = archive_of(source)
        stored, present = import_archive(target, archive)
        assert (stored, present) == (json.loads(archive.getvalue().splitlines()[-1])["count"], 0)
        assert target.head() == source.head()
        at = moments(source, picks)
        assert answers(target, at) == answers(source, at)
        assert records(archive_of(target)) == records(archive)


# -- damaged archives and other stores ------------------------------------------------


@pytest.fixture
def seeded_archive(backchannel: Backchannel) -> bytes:
    seed(backchannel)
    event = next(iter(Replay(backchannel).refresh().contacts))
    backchannel.retract(event, "misreported")
    backchannel.update_actor("sergei-shoigu", aliases=["Shoygu"])
    term = next(iter(Replay(backchannel).refresh().terms))
    backchannel.retract_term(term, "misdated")
    return archive_of(backchannel).getvalue()


def test_a_truncated_archive_is_refused_naming_its_last_line_and_stores_nothing(
    seeded_archive: bytes, stores: Stores
) -> None:
    lines = seeded_archive.splitlines(keepends=True)
    for cut in (b"".join(lines[:-1]), b"".join(lines)[:-30]):
        with stores.fresh() as target, pytest.raises(BadLine) as refused:
            import_archive(target, io.BytesIO(cut))
        last = len(cut.splitlines())
        assert refused.value.line == last
        with stores.fresh() as target:
            assert target.head() == 0


def test_an_edited_archive_is_refused_naming_the_edited_line(
    seeded_archive: bytes, stores: Stores
) -> None:
    lines = seeded_archive.decode().splitlines()
    edited = next(i for i, line in enumerate(lines) if '"retraction"' in line)
    lines[edited] = lines[edited].replace("misreported", "confirmed")
    with stores.fresh() as target:
        with pytest.raises(BadLine, match="check does not match") as refused:
            import_archive(target, io.BytesIO("\n".join(lines).encode()))
        assert refused.value.line == edited + 1
        assert target.head() == 0


def test_a_dropped_line_is_refused_at_the_line_after_it(
    seeded_archive: bytes, stores: Stores
) -> None:
    lines = seeded_archive.decode().splitlines()
    del lines[5]
    with stores.fresh() as target:
        with pytest.raises(BadLine) as refused:
            import_archive(target, io.BytesIO("\n".join(lines).encode()))
        assert refused.value.line == 6
        assert target.head() == 0


def test_restore_into_a_store_that_is_not_empty_is_refused_with_the_reason(
    seeded_archive: bytes, stores: Stores
) -> None:
    with stores.fresh() as target:
        target.register_actor({"id": "ann", "name": "Ann", "kind": "person", "country": "US"})
        with pytest.raises(NotEmpty, match=r"not empty.*--as-new"):
            import_archive(target, io.BytesIO(seeded_archive))
        assert target.head() == 1


def test_as_new_appends_the_records_once_and_a_repeat_stores_nothing(
    seeded_archive: bytes, stores: Stores, backchannel: Backchannel
) -> None:
    source = Replay(backchannel).refresh()
    with stores.fresh() as target:
        target.register_actor({"id": "ann", "name": "Ann", "kind": "person", "country": "US"})
        stored, present = import_archive(target, io.BytesIO(seeded_archive), as_new=True)
        records = json.loads(seeded_archive.splitlines()[-1])["count"]
        assert (stored, present) == (records, 0)
        record = Replay(target).refresh()
        assert set(record.contacts) == set(source.contacts)
        assert set(record.retractions) == set(source.retractions)
        assert record.actors["sergei-shoigu"] == source.actors["sergei-shoigu"]
        latest = max(c.recorded_at for c in source.contacts.values())
        assert all(c.recorded_at > latest for c in record.contacts.values())
        assert set(record.terms) == set(source.terms)
        assert set(record.term_retractions) == set(source.term_retractions)
        again = import_archive(target, io.BytesIO(seeded_archive), as_new=True)
        assert again == (0, records)
        assert target.head() == source.position + 1


# -- event files: ids from content, interruption, memory -------------------------------

ACTORS = [{"id": p, "name": p.title(), "kind": "person", "country": "US"} for p in PEOPLE]


def event_file(path: Path, lines: int) -> Path:
    """`lines` distinct id-less facts between the actors of ACTORS."""
    start = date(2000, 1, 1)
    with path.open("w", encoding="utf-8") as out:
        for n in range(lines):
            fact = {
                "type": "call_held",
                "occurred_at": (start + timedelta(days=n % 8000)).isoformat(),
                "actor": PEOPLE[n % 4],
                "counterpart": PEOPLE[(n + 1) % 4],
                "summary": f"call {n}",
            }
            out.write(json.dumps(fact) + "\n")
    return path


def test_an_id_less_file_imported_twice_stores_its_events_once(
    backchannel: Backchannel, tmp_path: Path
) -> None:
    for actor in ACTORS:
        backchannel.register_actor(actor)
    path = event_file(tmp_path / "events.jsonl", 30)
    with path.open("rb") as stream:
        assert import_event_stream(backchannel, stream) == (30, 0)
    with path.open("rb") as stream:
        assert import_event_stream(backchannel, stream) == (0, 30)
    first = json.loads(path.read_text().splitlines()[0])
    assert line_id(first) in Replay(backchannel).refresh().contacts
    assert len(Replay(backchannel).refresh().contacts) == 30


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKCHANNEL_")}
    return env | {
        "BACKCHANNEL_DATABASE_URL": settings.database_url,
        "BACKCHANNEL_LOG_FORMAT": "json",
    }


def test_an_import_killed_midway_and_run_again_ends_with_exactly_the_files_events(
    backchannel: Backchannel, settings: Settings, tmp_path: Path
) -> None:
    for actor in ACTORS:
        backchannel.register_actor(actor)
    lines = 20_000
    path = event_file(tmp_path / "events.jsonl", lines)
    actors = len(ACTORS)
    process = subprocess.Popen(
        [*command(), "import", str(path)],
        env=_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and process.poll() is None:
            held = backchannel.head() - actors
            if 0 < held < lines:
                break
            time.sleep(0.01)
        assert process.poll() is None, "the import ended before it could be interrupted"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert 0 < backchannel.head() - actors < lines
    done = subprocess.run(
        [*command(), "import", str(path)],
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    expected = {line_id(json.loads(line)) for line in path.read_text().splitlines()}
    assert set(Replay(backchannel).refresh().contacts) == expected
    assert backchannel.head() - actors == lines


def peak_rss_of_import(settings: Settings, path: Path) -> int:
    """The peak resident memory (bytes) of a `backchannel import` process, from the kernel."""
    process = subprocess.Popen(
        [*command(), "import", str(path)],
        env=_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    return usage.ru_maxrss * 1024


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_import_memory_does_not_grow_with_the_file(
    backchannel: Backchannel, settings: Settings, tmp_path: Path
) -> None:
    for actor in ACTORS:
        backchannel.register_actor(actor)
    small = peak_rss_of_import(settings, event_file(tmp_path / "small.jsonl", 10_000))
    large = peak_rss_of_import(settings, event_file(tmp_path / "large.jsonl", 50_000))
    print(f"peak RSS: 10k lines {small / 2**20:.1f} MiB, 50k lines {large / 2**20:.1f} MiB")
    assert large < small * 1.15 + 8 * 2**20
