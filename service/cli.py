"""The `backchannel` command line: run the service, manage its store, read the board.

Every command reads its settings once (BACKCHANNEL_* environment variables),
writes what it was asked for to stdout (rich) and its logs to stderr
(structlog). Expected failures — a bad date, an unknown actor, a bad line in a
file, a store that is not migrated or not reachable — end with one line on
stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO, NoReturn

import typer

from service.changes_cli import revisions, transitions
from service.command_group import CommandGroup
from service.projections_cli import projections, projector
from service.terms_cli import terms

# What the commands need is imported inside them: alembic, SQLAlchemy, eventsourcing,
# pydantic, structlog, rich and the web stack cost seconds, and `--help` needs none of
# them (bench/cli_startup.py measures it).
if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID
    from rich.table import Table
    from structlog.stdlib import BoundLogger

    from domain.actors import ActorProfile
    from domain.record import Record
    from domain.status import ChannelStatus
    from domain.time import Instant
    from infra.settings import Settings
    from service.application import Backchannel
    from service.transfer import Meter

app = typer.Typer(
    name="backchannel",
    cls=CommandGroup,
    help="Who talked to whom, and who refused to: an event-sourced record of contact.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain help: typer's rich one imports rich.markdown & co.
)
WIDE = 160  # columns for tables written to a file or a pipe, so channel ids never wrap


class Failure(Exception):
    """An expected failure: reported as one line, exit code 1."""


def _log() -> BoundLogger:
    from infra.logging import get_logger

    return get_logger("backchannel.cli")


def _out() -> Console:
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=WIDE)
    return console


def _fail(message: str) -> NoReturn:
    from rich.console import Console

    Console(stderr=True, width=WIDE, highlight=False).print(
        f"[bold red]error:[/] {message}", markup=True, soft_wrap=True
    )
    raise typer.Exit(code=1)


@contextmanager
def _reported() -> Iterator[None]:
    """Turn the failures a user can cause or fix into one line and exit code 1."""
    from psycopg import OperationalError as PsycopgOperationalError
    from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError

    from domain.errors import DomainError
    from infra.schema import SchemaOutOfDate

    try:
        yield
    except Failure as failure:
        _fail(str(failure))
    except SchemaOutOfDate as stale:
        _fail(str(stale))
    except DomainError as error:
        _fail(str(error))
    except (SQLAlchemyOperationalError, PsycopgOperationalError) as error:
        first = str(getattr(error, "orig", None) or error).strip().splitlines()
        _fail(f"cannot use the database: {first[0] if first else type(error).__name__}")


def _settings(*, schema_logs: bool = False) -> Settings:
    """The settings, with logging configured; alembic's chatter only where it is news."""
    from pydantic import ValidationError

    from infra.logging import configure_logging
    from infra.settings import Settings

    try:
        settings = Settings()
    except ValidationError as invalid:
        problems = "; ".join(
            f"BACKCHANNEL_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
            for e in invalid.errors()
        )
        _fail(f"invalid settings: {problems}")
    configure_logging(settings.log_format, settings.log_level)
    if not schema_logs:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    return settings


@contextmanager
def _opened(settings: Settings) -> Iterator[Backchannel]:
    """The application on a migrated store, closed afterwards."""
    from service.bootstrap import bootstrap

    backchannel = bootstrap(settings)
    try:
        yield backchannel
    finally:
        backchannel.close()


def _instant(text: str, option: str) -> Instant:
    from domain.time import parse_instant

    try:
        return parse_instant(text)
    except ValueError:
        raise Failure(
            f"{option} {text!r} is not an ISO 8601 date or datetime (e.g. 2022-03-24)"
        ) from None


def _actor(record: Record, name: str) -> ActorProfile:
    from domain.actors import suggest

    found = record.resolve(name)
    if found is None:
        close = suggest(name, record.actors.values())
        hint = f"; did you mean {', '.join(repr(s) for s in close)}?" if close else ""
        raise Failure(f"unknown actor {name!r}{hint}")
    return found


# -- commands -----------------------------------------------------------------


@app.command("migrate")
def migrate_store() -> None:
    """Create the event log's tables and bring the schema to head (idempotent)."""
    from infra.store import describe
    from service.bootstrap import migrate

    settings = _settings(schema_logs=True)
    with _reported():
        revision = migrate(settings)
    _log().info("migrated", database=describe(settings), revision=revision)
    _out().print(f"Schema of {describe(settings)} is at revision {revision}.", highlight=False)


@app.command()
def seed() -> None:
    """Load the reference article's actors and events; loading twice stores nothing new."""
    from service import transfer

    settings = _settings()
    with _reported(), _opened(settings) as backchannel:
        counts = transfer.seed(backchannel)
    _log().info("seeded", **{k: {"stored": s, "present": p} for k, (s, p) in counts.items()})
    out = _out()
    for kind, (stored, present) in counts.items():
        out.print(f"{kind}: {stored} stored, {present} already present", highlight=False)


@app.command("import")
def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSON Lines file: events, actors (--actors) or an archive; - for stdin"
        ),
    ],
    actors: Annotated[
        bool, typer.Option("--actors", help="The file holds actors, not events.")
    ] = False,
    as_new: Annotated[
        bool,
        typer.Option(
            "--as-new",
            help="Append an archive's records as new ones (recorded now, ids kept) into a"
            " store that is not empty.",
        ),
    ] = False,
) -> None:
    """Import events, actors or an archive: every line is checked before any is stored.

    An event file is streamed (memory does not grow with it); a line without an id
    gets one derived from its content, so importing a file again stores nothing new.
    An archive (from `export --archive`) restores into an empty store with every
    recorded_at it had.
    """
    from service import archive, transfer

    settings = _settings()
    what = "actors" if actors else "events"
    with _reported(), _input(file) as stream:
        try:
            with _opened(settings) as backchannel:
                if actors:
                    stored, present = transfer.import_actors(
                        backchannel, transfer.iter_lines(stream)
                    )
                elif archive.is_archive(stream):
                    what = "records"
                    with _meter() as meter:
                        stored, present = archive.import_archive(
                            backchannel, stream, as_new=as_new, meter=meter
                        )
                else:
                    if as_new:
                        raise Failure(f"{file}: --as-new is for archives; this is an event file")
                    with _meter() as meter:
                        stored, present = transfer.import_event_stream(
                            backchannel, stream, meter=meter
                        )
        except transfer.BadLine as bad:
            raise Failure(f"{file}: {bad}; nothing was stored") from None
        except archive.NotEmpty as refused:
            raise Failure(f"{file}: {refused}; nothing was stored") from None
        except OSError as error:
            raise Failure(f"cannot read {file}: {error.strerror or error}") from None
    _log().info("imported", kind=what, file=str(file), stored=stored, present=present)
    _out().print(f"{what}: {stored} stored, {present} already present", highlight=False)


@contextmanager
def _input(file: Path) -> Iterator[BinaryIO]:
    """The file as a seekable binary stream; standard input is spooled to a temporary file."""
    import shutil
    import tempfile

    if str(file) == "-":
        with tempfile.TemporaryFile(prefix="backchannel-stdin-") as spool:
            shutil.copyfileobj(sys.stdin.buffer, spool)
            spool.seek(0)
            yield spool
        return
    try:
        stream = file.open("rb")
    except OSError as error:
        raise Failure(f"cannot read {file}: {error.strerror or error}") from None
    with stream:
        yield stream


@contextmanager
def _meter() -> Iterator[Meter]:
    """A progress bar with rate and ETA on a terminal (stderr); nothing otherwise."""
    from rich.console import Console

    from service.transfer import Silent

    console = Console(stderr=True)
    if not console.is_terminal:
        yield Silent()
        return
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description:<8}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[lines]:>9,} lines"),
        TextColumn("{task.fields[rate]:>8,.0f} lines/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        bar = _Bar(progress)
        yield bar
        bar.flush()


class _Bar:
    """Meter on a rich Progress: one task per phase, advanced by bytes, rate in lines."""

    def __init__(self, progress: Progress) -> None:
        import time

        self.progress = progress
        self.task: TaskID | None = None
        self.lines = 0
        self.started = 0.0
        self.shown = 0.0
        self.clock = time.monotonic

    def phase(self, name: str, total: int | None) -> None:
        self.flush()
        self.lines = 0
        self.started = self.shown = self.clock()
        self.task = self.progress.add_task(name, total=total, lines=0, rate=0.0)

    def advance(self, size: int, lines: int) -> None:
        assert self.task is not None
        self.lines += lines
        self.progress.advance(self.task, size)
        if self.clock() - self.shown >= 0.1:
            self.flush()

    def flush(self) -> None:
        """Show the current count and rate (updates are otherwise a tenth of a second apart)."""
        if self.task is None:
            return
        self.shown = now = self.clock()
        rate = self.lines / max(now - self.started, 1e-6)
        self.progress.update(self.task, lines=self.lines, rate=rate)


@app.command()
def export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    archive: Annotated[
        bool,
        typer.Option(
            "--archive",
            help="The whole log (actors and their changes, events, retractions, each with"
            " its recorded_at), checked line by line; restores with `import`.",
        ),
    ] = False,
    form: Annotated[
        str,
        typer.Option(
            "--format",
            help="jsonl (the API's event shape), csv (one row per event) or plover"
            " (PLOVER records as JSON Lines; retracted events left out).",
        ),
    ] = "jsonl",
) -> None:
    """Export every event, in log order, as JSON Lines (the API's event shape), CSV or
    PLOVER, or an archive."""
    from service import transfer

    if form not in ("jsonl", "csv", "plover"):
        raise typer.BadParameter(
            f"{form!r} is not one of jsonl, csv, plover", param_hint="--format"
        )
    settings = _settings()
    with _reported(), _opened(settings) as backchannel:
        write_lines: Callable[[Iterator[str], Callable[[str], object]], int] = _write_lines
        if archive:
            from service.archive import export_archive

            lines = export_archive(backchannel)
        elif form == "jsonl":
            lines = transfer.export_events(backchannel)
        else:
            from service.exports import log_file

            lines, write_lines = log_file(backchannel, form), _write_pieces
        if output is None:
            count = write_lines(lines, sys.stdout.write)
        else:
            try:
                with output.open("w", encoding="utf-8", newline="") as stream:
                    count = write_lines(lines, stream.write)
            except OSError as error:
                raise Failure(f"cannot write {output}: {error.strerror or error}") from None
    _log().info(
        "exported",
        form="archive" if archive else form,
        lines=count,
        output=str(output) if output else "stdout",
    )


def _write_lines(lines: Iterator[str], write: Callable[[str], object]) -> int:
    count = 0
    for line in lines:
        write(line + "\n")
        count += 1
    return count


def _write_pieces(pieces: Iterator[str], write: Callable[[str], object]) -> int:
    """Write a file's pieces as they come (each ends its own lines); how many lines."""
    count = 0
    for piece in pieces:
        write(piece)
        count += piece.count("\n")
    return count


@app.command()
def status(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Valid time: a date (its end, UTC) or a datetime. Default: now."
        ),
    ] = None,
    known_at: Annotated[
        str | None,
        typer.Option(
            "--known-at",
            help="Transaction time: what the log held then (a date: its end). Default: now.",
        ),
    ] = None,
    channel: Annotated[
        tuple[str, str] | None,
        typer.Option("--channel", help="Only the channel between these two actors (id or alias)."),
    ] = None,
) -> None:
    """Print the board: the status of every channel, computed by replaying the log."""
    from datetime import UTC, datetime

    from domain.time import end_of, format_instant

    settings = _settings()
    with _reported():
        now = datetime.now(UTC)
        as_of_at = end_of(_instant(as_of, "--as-of")) if as_of else now
        known_at_at = end_of(_instant(known_at, "--known-at")) if known_at else now
        with _opened(settings) as backchannel:
            from service.replay import Replay  # the reference replay, for this command only

            record = Replay(backchannel).refresh()
            if channel and all(channel):
                a, b = (_actor(record, name) for name in channel)
                if a.id == b.id:
                    raise Failure(f"a channel needs two different actors, not {a.id!r} twice")
                rows = [
                    record.status(
                        a.id, b.id, as_of=as_of_at, known_at=known_at_at, window=settings.window
                    )
                ]
            else:
                rows = list(
                    record.board(as_of=as_of_at, known_at=known_at_at, window=settings.window)
                )
    title = f"as of {format_instant(as_of_at)}, known at {format_instant(known_at_at)}"
    _out().print(_board(rows, title))
    if not rows:
        _out().print("No channel has events at that time.", highlight=False)


def _board(rows: list[ChannelStatus], title: str) -> Table:
    from rich.table import Table

    from domain.time import format_instant
    from service.views import boundary

    table = Table(title=title, title_justify="left", highlight=False)
    table.add_column("channel", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("since", no_wrap=True)
    table.add_column("last contact", no_wrap=True)
    table.add_column("requests since contact")
    table.add_column("refusals since contact")
    table.add_column("events", justify="right")
    for row in rows:
        last = row.last_contact
        table.add_row(
            row.channel,
            row.status.value,
            boundary(row.since) or "—",
            f"{last.type.value} {format_instant(last.fact.occurred_at)}" if last else "—",
            _counts(row.requests_since_contact),
            _counts(row.refusals_since_contact),
            str(row.event_count),
        )
    return table


def _counts(by_actor: dict[str, int]) -> str:
    return ", ".join(f"{actor} {n}" for actor, n in sorted(by_actor.items())) or "—"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.", min=0, max=65535)] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            help="API worker processes; on PostgreSQL, or with more than one, each is a "
            "process of its own and this one runs the projector they all read from.",
            min=1,
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API and the dashboard (refuses a store whose schema is not at head)."""
    from infra.store import describe
    from service.bootstrap import bootstrap

    settings = _settings()
    # On PostgreSQL the projector never shares an interpreter with the requests: on a
    # busy channel its batches would hold the GIL the API's threads wait for.
    if workers > 1 or (settings.is_postgres and settings.embedded_projector):
        _serve_workers(settings, host, port, workers)
        return
    with _reported():
        backchannel = bootstrap(settings)
    try:
        import uvicorn

        from service.api import create_app

        web = create_app(settings, backchannel)
        _log().info("serving", host=host, port=port, database=describe(settings))
        with _stopped_by_signal():
            uvicorn.run(web, host=host, port=port, log_config=None, access_log=False)
    finally:
        backchannel.close()


def _serve_workers(settings: Settings, host: str, port: int, workers: int) -> None:
    """N uvicorn workers (one or more), each a stateless reader of the read model, and one
    projector (here, in the supervisor) keeping the read model current for all of them;
    none with BACKCHANNEL_EMBEDDED_PROJECTOR=false, when `backchannel projector` runs apart."""
    import os
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from infra.store import describe
    from service.beacon import ENVIRONMENT as BEACON_FILE
    from service.beacon import Beacon
    from service.projector import Projector

    projector = beacon = None
    if settings.embedded_projector:
        with _reported():
            projector = Projector(settings)
        # The workers' /readyz tells how it is doing (service.beacon).
        beacon = Beacon(projector.health)
        os.environ[BEACON_FILE] = str(beacon.path)
    # The workers are fresh processes that read their settings from the environment.
    os.environ["BACKCHANNEL_EMBEDDED_PROJECTOR"] = "false"
    if projector is not None and beacon is not None:
        projector.start()
        beacon.start()
    try:
        _log().info("serving", host=host, port=port, workers=workers, database=describe(settings))
        config = uvicorn.Config(
            "service.api:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            timeout_worker_healthcheck=60,  # a worker's start-up on a busy host
            log_config=None,
            access_log=False,
        )
        # uvicorn.run(workers=N) binds a socket that asyncio does not recognise as TCP,
        # so answers went out under Nagle's algorithm (a 40 ms stall per request against
        # a delayed ACK). Connections accepted from this one inherit TCP_NODELAY.
        listening = config.bind_socket()
        if listening.family in (socket.AF_INET, socket.AF_INET6):
            listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        Multiprocess(config, sockets=[listening]).run()
    finally:
        if beacon is not None:
            beacon.stop()
        if projector is not None:
            projector.stop()


class _Stop(Exception):
    """SIGTERM or SIGINT arrived: uvicorn shuts down gracefully, then re-raises it to us."""


@contextmanager
def _stopped_by_signal() -> Iterator[None]:
    """Make a graceful stop on SIGTERM/SIGINT end the process with 0, not -15 or a traceback."""

    def stop(signum: int, _frame: object) -> None:
        raise _Stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    except _Stop as stopped:
        _log().info("stopped", signal=str(stopped))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


app.command("transitions")(transitions)
app.command("revisions")(revisions)
app.add_typer(terms, name="terms")

# The read model's commands live with it (service/projections_cli.py); listed after ours.
app.add_typer(projections, name="projections")
app.command("projector")(projector)
