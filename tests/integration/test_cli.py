"""The `backchannel` command line, on both stores, through typer's test runner."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner, Result

from service.cli import app
from tests.article import ARTICLE_BOARD
from tests.conftest import SEEDS
from tests.factories import seed_lines


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI configures the root logger for its process; give pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.NOTSET)


class Cli:
    """Runs `backchannel …` in-process against one database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner()

    def __call__(self, *args: str, expect: int = 0, stdin: str | None = None) -> Result:
        env: dict[str, str | None] = {
            "BACKCHANNEL_DATABASE_URL": self.url,
            "BACKCHANNEL_LOG_FORMAT": "json",
            "FORCE_COLOR": None,  # plain tables, whatever the terminal running the tests
            "TTY_COMPATIBLE": None,
        }
        result = self.runner.invoke(app, list(args), env=env, input=stdin)
        assert result.exit_code == expect, (
            f"`backchannel {' '.join(args)}` exited {result.exit_code}, not {expect}:\n"
            f"{result.output}"
        )
        assert "Traceback" not in result.output
        return result


@pytest.fixture
def cli(store_url: str) -> Cli:
    return Cli(store_url)


@pytest.fixture
def seeded(cli: Cli) -> Cli:
    cli("migrate")
    cli("seed")
    return cli


@pytest.fixture
def other_store_url(
    store_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A second empty database on the same kind of store as `store_url`."""
    if store_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.sqlite3'}"
        return
    server = str(request.getfixturevalue("postgres_server"))
    name = f"backchannel_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{server.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def board(result: Result) -> dict[str, str]:
    """The rows of a printed board, as {channel: status}."""
    rows = {}
    for line in result.stdout.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) > 3 and "~" in cells[1]:
            rows[cells[1]] = cells[2]
    return rows


def exported(result: Result) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def without_store_fields(events: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in e.items() if k not in ("recorded_at", "position")} for e in events]


def test_migrate_is_idempotent_and_says_the_revision(cli: Cli) -> None:
    assert "revision" in cli("migrate").stdout
    assert "revision" in cli("migrate").stdout


def test_seeding_twice_stores_nothing_the_second_time(cli: Cli) -> None:
    cli("migrate")
    first = cli("seed").stdout
    second = cli("seed").stdout
    actors = seed_lines("actors")
    assert f"actors: {actors} stored, 0 already present" in first
    assert "events: 0 stored" not in first
    assert f"actors: 0 stored, {actors} already present" in second
    assert "events: 0 stored" in second
    assert len(exported(cli("export"))) == sum(1 for _ in (SEEDS / "events.jsonl").open())


def test_board_as_of_the_article_date_reads_the_way_the_article_does(seeded: Cli) -> None:
    rows = board(seeded("status", "--as-of", "2022-03-24"))
    for channel, status in ARTICLE_BOARD.items():
        assert rows.get(channel) == status, f"{channel}: {rows.get(channel)}, expected {status}"


def test_board_before_the_invasion_shows_the_defence_channels_open(seeded: Cli) -> None:
    rows = board(seeded("status", "--as-of", "2022-02-20"))
    assert rows["lloyd-austin~sergei-shoigu"] == "open"
    assert rows["mark-milley~valery-gerasimov"] == "open"


def test_board_known_at_before_anything_was_recorded_is_empty(seeded: Cli) -> None:
    result = seeded("status", "--as-of", "2022-03-24", "--known-at", "2000-01-01T00:00:00Z")
    assert board(result) == {}


def test_channel_option_finds_actors_by_alias_in_either_order(seeded: Cli) -> None:
    result = seeded("status", "--as-of", "2022-03-24", "--channel", "Shoygu", "lloyd-austin")
    rows = board(result)
    assert rows == {"lloyd-austin~sergei-shoigu": "refused"}
    assert "call_held 2022-02-18" in result.stdout
    assert "sergei-shoigu 1" in result.stdout  # who is refusing


def test_channel_between_actors_that_never_met_is_no_contact(seeded: Cli) -> None:
    result = seeded("status", "--channel", "olaf-scholz", "sergei-shoigu")
    assert board(result) == {"olaf-scholz~sergei-shoigu": "no_contact"}


def test_unknown_actor_is_one_line_with_a_suggestion(seeded: Cli) -> None:
    result = seeded("status", "--channel", "sergei-shoygu", "lloyd-austin", expect=1)
    assert result.stdout == ""
    assert "unknown actor 'sergei-shoygu'" in result.stderr
    assert "sergei-shoigu" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_date_is_one_line_and_a_non_zero_exit(seeded: Cli) -> None:
    result = seeded("status", "--as-of", "2022-02-30", expect=1)
    assert "--as-of '2022-02-30'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_bad_line_three_stores_nothing_and_is_named(seeded: Cli, tmp_path: Path) -> None:
    lines = (SEEDS / "events.jsonl").read_text(encoding="utf-8").splitlines()
    fresh = [json.loads(line) | {"id": str(uuid.uuid4())} for line in lines[:4]]
    fresh[2]["counterpart"] = fresh[2]["actor"]  # an actor cannot contact itself
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in fresh), encoding="utf-8")
    before = exported(seeded("export"))
    result = seeded("import", str(path), expect=1)
    assert "line 3" in result.stderr
    assert "nothing was stored" in result.stderr
    assert exported(seeded("export")) == before


def test_a_line_that_is_not_json_is_named(seeded: Cli, tmp_path: Path) -> None:
    lines = (SEEDS / "events.jsonl").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "events.jsonl"
    path.write_text(f"{lines[0]}\n{lines[1]}\n{{not json\n", encoding="utf-8")
    result = seeded("import", str(path), expect=1)
    assert "line 3: not JSON" in result.stderr


def test_an_event_naming_an_unknown_actor_is_refused_with_its_line(
    seeded: Cli, tmp_path: Path
) -> None:
    event = json.loads((SEEDS / "events.jsonl").read_text(encoding="utf-8").splitlines()[0])
    event |= {"id": str(uuid.uuid4()), "counterpart": "sergei-shoygu"}
    path = tmp_path / "events.jsonl"
    path.write_text("\n" + json.dumps(event) + "\n", encoding="utf-8")
    result = seeded("import", str(path), expect=1)
    assert "line 2" in result.stderr
    assert "did you mean 'sergei-shoigu'" in result.stderr


def test_a_bad_actor_line_stores_no_actor(cli: Cli, tmp_path: Path) -> None:
    cli("migrate")
    actors = (SEEDS / "actors.jsonl").read_text(encoding="utf-8").splitlines()[:4]
    actors[2] = json.dumps(json.loads(actors[2]) | {"kind": "planet"})
    path = tmp_path / "actors.jsonl"
    path.write_text("\n".join(actors) + "\n", encoding="utf-8")
    result = cli("import", "--actors", str(path), expect=1)
    assert "line 3" in result.stderr
    assert "kind" in result.stderr
    assert f"actors: {seed_lines('actors')} stored" in cli("seed").stdout  # nothing was kept


def test_import_reads_standard_input_for_a_dash(cli: Cli) -> None:
    cli("migrate")
    actors = (SEEDS / "actors.jsonl").read_text(encoding="utf-8")
    count = seed_lines("events")
    assert (
        f"actors: {seed_lines('actors')} stored"
        in cli("import", "--actors", "-", stdin=actors).stdout
    )
    events = (SEEDS / "events.jsonl").read_text(encoding="utf-8")
    assert f"events: {count} stored" in cli("import", "-", stdin=events).stdout
    assert f"events: 0 stored, {count} already present" in cli("seed").stdout


def test_missing_file_is_one_line(cli: Cli, tmp_path: Path) -> None:
    cli("migrate")
    result = cli("import", str(tmp_path / "nowhere.jsonl"), expect=1)
    assert "cannot read" in result.stderr


def test_import_then_export_round_trips_into_a_fresh_store(
    seeded: Cli, other_store_url: str, tmp_path: Path
) -> None:
    original = tmp_path / "original.jsonl"
    seeded("export", "--output", str(original))
    other = Cli(other_store_url)
    other("migrate")
    actors, events = seed_lines("actors"), seed_lines("events")
    assert (
        f"actors: {actors} stored"
        in other("import", "--actors", str(SEEDS / "actors.jsonl")).stdout
    )
    assert f"events: {events} stored" in other("import", str(original)).stdout
    assert f"events: 0 stored, {events} already present" in other("import", str(original)).stdout
    again = exported(other("export"))
    first = [json.loads(line) for line in original.read_text(encoding="utf-8").splitlines()]
    assert without_store_fields(again) == without_store_fields(first)
    assert [e["position"] for e in again] == sorted(e["position"] for e in again)


def test_every_command_but_migrate_refuses_an_unmigrated_store(cli: Cli) -> None:
    for command in (["status"], ["seed"], ["export"], ["serve", "--port", "0"]):
        result = cli(*command, expect=1)
        assert "run `backchannel migrate`" in result.stderr, command
        assert len(result.stderr.strip().splitlines()) == 1


def test_bad_database_url_is_reported_as_a_setting(tmp_path: Path) -> None:
    result = Cli("mysql://localhost/x")("status", expect=1)
    assert "BACKCHANNEL_DATABASE_URL" in result.stderr


def test_the_read_model_commands_are_mounted(seeded: Cli) -> None:
    assert "generation" in seeded("projections", "status").stdout
    assert "projector" in seeded("--help").stdout


def test_an_id_less_file_imported_twice_stores_nothing_the_second_time(
    seeded: Cli, tmp_path: Path
) -> None:
    event = json.loads((SEEDS / "events.jsonl").read_text(encoding="utf-8").splitlines()[0])
    del event["id"]
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(event) + "\n", encoding="utf-8")
    assert "events: 1 stored, 0 already present" in seeded("import", str(path)).stdout
    assert "events: 0 stored, 1 already present" in seeded("import", str(path)).stdout


def test_an_archive_restores_into_an_empty_store_and_is_refused_by_a_full_one(
    seeded: Cli, other_store_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "archive.jsonl"
    seeded("export", "--archive", "--output", str(path))
    refused = seeded("import", str(path), expect=1)
    assert "not empty" in refused.stderr and "nothing was stored" in refused.stderr
    other = Cli(other_store_url)
    other("migrate")
    # one record per actor, event and term of the seeds (the seeds retract nothing)
    records = sum(seed_lines(name) for name in ("actors", "events", "terms"))
    assert f"records: {records} stored, 0 already present" in other("import", str(path)).stdout
    assert exported(other("export")) == exported(seeded("export"))
    held = ["terms", "list", "ru-minister-of-defence"]  # the same rows, below the title
    assert seeded(*held).stdout.splitlines()[1:] == other(*held).stdout.splitlines()[1:]
    again = other("import", "--as-new", str(path)).stdout
    assert f"records: 0 stored, {records} already present" in again


def test_terms_are_added_listed_and_retracted_as_the_api_does(seeded: Cli) -> None:
    held = seeded("terms", "list", "Russian Minister of Defense").stdout
    assert "sergei-shoigu" in held and "andrei-belousov" in held
    overlapping = seeded(
        "terms", "add", "ru-minister-of-defence", "lloyd-austin", "--from", "2024-01-01", expect=1
    )
    assert "overlaps this one" in overlapping.stderr
    term_id = str(uuid.uuid4())
    added = ["terms", "add", "us-ambassador-to-russia", "lloyd-austin", "--from", "2030-01-01"]
    added += ["--id", term_id, "--source", "Example=https://example.org/appointed"]
    assert "recorded (position" in seeded(*added).stdout
    assert "already recorded, nothing stored" in seeded(*added).stdout
    listed = seeded("terms", "list", "lloyd-austin").stdout
    assert term_id in listed and "us-secretary-of-defense" in listed
    assert (
        "retracted (position"
        in seeded("terms", "retract", term_id, "--reason", "never appointed").stdout
    )
    again = seeded("terms", "retract", term_id, "--reason", "twice", expect=1)
    assert "already retracted" in again.stderr
    assert "never appointed" in seeded("terms", "list", "us-ambassador-to-russia").stdout
    before = seeded("terms", "list", "us-ambassador-to-russia", "--known-at", "2020-01-01")
    assert "No term was recorded by then." in before.stdout
