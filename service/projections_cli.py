"""Commands for the channel read model: `projections rebuild`, `projections status`, `projector`.

`projections` is a typer app to mount under the `backchannel` command;
`projector` runs the projector as its own process. `python -m
service.projections_cli` runs both without the main command line.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

import typer

from service.command_group import CommandGroup

# rich, structlog, pydantic, the stores and the projector are imported by the commands
# that use them, so that `backchannel --help` starts at once (bench/cli_startup.py).
if TYPE_CHECKING:
    from rich.progress import ProgressColumn, Task
    from rich.text import Text

    from infra.settings import Settings

projections = typer.Typer(
    name="projections",
    cls=CommandGroup,
    help="The channel read model: rebuild it from the log, see how far behind it is.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help, like the main command's
)


def _fail(message: str) -> NoReturn:
    from rich.console import Console

    Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code=1)


def _settings() -> Settings:
    from pydantic import ValidationError

    from infra.logging import configure_logging
    from infra.settings import Settings

    try:
        settings = Settings()
    except ValidationError as invalid:
        _fail(f"invalid settings: {invalid.errors()[0]['msg']}")
    configure_logging(settings.log_format, settings.log_level)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return settings


@contextmanager
def _reported() -> Iterator[None]:
    """Expected failures as one line and exit code 1, never a traceback."""
    from infra.schema import SchemaOutOfDate
    from service.projector import WindowMismatch

    try:
        yield
    except (SchemaOutOfDate, WindowMismatch) as error:
        _fail(str(error))
    except OSError as error:  # the drivers' connection errors are OSErrors or wrap them
        _fail(f"cannot use the database: {error}")
    except Exception as error:
        if type(error).__module__.startswith(("psycopg", "sqlite3", "eventsourcing")):
            _fail(f"cannot use the database: {str(error).strip().splitlines()[0]}")
        raise


def _rate_column() -> ProgressColumn:
    """Events per second, over the last few updates (rich is imported only by the rebuild)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(
                f"{speed:,.0f} events/s" if speed else "… events/s", style="progress.data.speed"
            )

    return RateColumn()


@projections.command("rebuild")
def rebuild_command(
    batch: int = typer.Option(2000, min=1, help="Log positions per transaction."),
) -> None:
    """Rebuild the read model from position 0 into fresh tables; switch over once caught up."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from infra.logging import get_logger
    from infra.schema import check_at_head
    from service.rebuild import rebuild

    settings = _settings()
    with _reported():
        check_at_head(settings)
        with Progress(
            TextColumn("[bold]rebuilding"),
            BarColumn(),
            MofNCompleteColumn(),
            _rate_column(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        ) as bar:
            task = bar.add_task("rebuild", total=None)

            def advance(position: int, target: int) -> None:
                bar.update(task, completed=position, total=max(target, position))

            done = rebuild(settings, progress=advance, batch_size=batch)
    get_logger("backchannel.projections").info(
        "rebuilt",
        generation=done.generation,
        position=done.position,
        seconds=round(done.seconds, 1),
        per_second=round(done.rate),
    )
    Console().print(
        f"Generation {done.generation} is live at position {done.position:,}: "
        f"rebuilt in {done.seconds:,.1f} s ({done.rate:,.0f} events/s); "
        f"{done.channels_dropped:,} channels of the replaced generation deleted.",
        highlight=False,
    )


@projections.command("status")
def status_command() -> None:
    """Show each generation of the read model: position, the log's head, and lag."""
    from rich.console import Console
    from rich.table import Table

    from infra.readmodel import open_view
    from infra.schema import check_at_head
    from infra.store import describe

    settings = _settings()
    with _reported():
        check_at_head(settings)
        view = open_view(settings)
        try:
            head = view.head()
            generations = view.generations()
        finally:
            view.close()
    table = Table(title=f"read model of {describe(settings)}", title_justify="left")
    for column in ("generation", "state", "W (days)", "position", "head", "lag"):
        table.add_column(column, justify="left" if column == "state" else "right")
    for g in generations:
        table.add_row(
            str(g.number),
            g.state,
            str(g.window.days),
            f"{g.position:,}",
            f"{head:,}",
            f"{head - g.position:,}",
        )
    Console().print(table)
    if not generations:
        Console().print(f"No read model yet; the log's head is {head:,}.", highlight=False)
    built_for = [g.window for g in generations if g.state == "live"]
    if generations and settings.window not in built_for:
        Console().print(
            f"The live generation was not built for W = {settings.window_days} days: "
            "run `backchannel projections rebuild`.",
            highlight=False,
        )


def run_projector(settings: Settings) -> None:
    """Follow the log into the read model until SIGTERM or Ctrl-C (`backchannel projector`).

    A store that cannot be used at start is one line and exit code 1; once
    following, a lost store is retried with back-off (`Projector.run`), never an exit.
    """
    from infra.logging import get_logger
    from infra.schema import check_at_head
    from infra.store import describe
    from service.projector import Projector

    log = get_logger("backchannel.projections")
    check_at_head(settings)
    runner = Projector(settings, quiet_gc=True)

    def interrupted(signum: int, frame: FrameType | None) -> None:
        runner.interrupt()

    previous = {s: signal.signal(s, interrupted) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        runner.attach()
        log.info(
            "projector following the log",
            database=describe(settings),
            position=runner.position,
            head=runner.head(),
        )
        runner.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        runner.stop()
    log.info("projector stopped", position=runner.position)


def projector() -> None:
    """Run the read model's projector as its own process (API workers then share it)."""
    settings = _settings()
    with _reported():
        run_projector(settings)


def main() -> None:
    """`python -m service.projections_cli`: the projections commands and the projector."""
    cli = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
    cli.add_typer(projections, name="projections")
    cli.command("projector")(projector)
    cli()


if __name__ == "__main__":
    main()
