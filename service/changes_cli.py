"""`backchannel transitions` and `backchannel revisions`: what changed, as tables.

Like `status`, they replay the log (the reference replay) and ask the domain's
definitions (domain/changes.py); the API answers the same questions from the
read model. What they need is imported inside them, so `--help` stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.table import Table

    from domain.changes import Revision, Transition


KnownAtOption = Annotated[
    str | None,
    typer.Option("--known-at", help="What the log held then (a date: its end). Default: now."),
]


def transitions(
    start: Annotated[
        str | None,
        typer.Option(
            "--from", help="Exclusive; a date means its end, UTC. Default: --to - 7 days."
        ),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Inclusive; a date means its end. Default: now.")
    ] = None,
    known_at: KnownAtOption = None,
) -> None:
    """Print every change of status in valid time (from, to], lapses included."""
    from datetime import UTC, datetime, timedelta

    from domain.changes import in_order
    from domain.changes import transitions as boundaries
    from domain.time import end_of, format_instant
    from service import cli

    settings = cli._settings()
    with cli._reported():
        now = datetime.now(UTC)
        until = end_of(cli._instant(end, "--to")) if end else now
        since = end_of(cli._instant(start, "--from")) if start else until - timedelta(days=7)
        known = end_of(cli._instant(known_at, "--known-at")) if known_at else now
        with cli._opened(settings) as backchannel:
            from service.replay import Replay

            record = Replay(backchannel).refresh()
            found = in_order(
                t
                for channel in record.by_channel
                for t in boundaries(
                    channel,
                    record.timeline(*channel.split("~"), known_at=known, window=settings.window),
                    since,
                    until,
                )
            )
    title = (
        f"from {format_instant(since)} to {format_instant(until)}, known at {format_instant(known)}"
    )
    cli._out().print(_transitions(found, title))
    if not found:
        cli._out().print("No channel changed status in that range.", highlight=False)


def revisions(
    since: Annotated[str, typer.Option("--since", help="The earlier transaction time.")],
    until: Annotated[
        str | None, typer.Option("--until", help="The later transaction time. Default: now.")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Valid time to compare at (a date: its end). Default: --until."
        ),
    ] = None,
) -> None:
    """Print the channels whose status at --as-of the record revised between --since and
    --until, with the events recorded and retracted in between."""
    from datetime import UTC, datetime

    from domain.changes import revision
    from domain.time import end_of, format_instant
    from service import cli

    settings = cli._settings()
    with cli._reported():
        now = datetime.now(UTC)
        earlier = end_of(cli._instant(since, "--since"))
        later = end_of(cli._instant(until, "--until")) if until else now
        when = end_of(cli._instant(as_of, "--as-of")) if as_of else later
        with cli._opened(settings) as backchannel:
            from service.replay import Replay

            record = Replay(backchannel).refresh()
            found = []
            for channel in sorted(record.by_channel):
                a, b = channel.split("~")
                before = record.status(a, b, as_of=when, known_at=earlier, window=settings.window)
                after = record.status(a, b, as_of=when, known_at=later, window=settings.window)
                learned = revision(
                    before,
                    after,
                    record.channel_events(channel),
                    record.channel_retractions(channel),
                    earlier,
                    later,
                )
                if learned is not None:
                    found.append(learned)
    title = (
        f"as of {format_instant(when)}, known at {format_instant(earlier)} "
        f"and at {format_instant(later)}"
    )
    cli._out().print(_revisions(found, title))
    if not found:
        cli._out().print("No channel's status was revised in between.", highlight=False)


def _transitions(rows: list[Transition], title: str) -> Table:
    from rich.table import Table

    from service.views import boundary

    table = Table(title=title, title_justify="left", highlight=False)
    for name in ("at", "channel", "before", "after", "evidence"):
        table.add_column(name, no_wrap=name != "evidence")
    for t in rows:
        table.add_row(
            boundary(t.at) or "",
            t.channel,
            t.before.value,
            t.after.value,
            " ".join(str(e)[:8] for e in t.evidence),
        )
    return table


def _revisions(rows: list[Revision], title: str) -> Table:
    from rich.table import Table

    from service.views import boundary

    table = Table(title=title, title_justify="left", highlight=False)
    for name in ("channel", "before", "after", "recorded", "retracted"):
        table.add_column(name, no_wrap=name in ("channel", "before", "after"))
    for r in rows:
        table.add_row(
            r.channel,
            f"{r.before.status.value} since {boundary(r.before.since) or '-'}",
            f"{r.after.status.value} since {boundary(r.after.since) or '-'}",
            " ".join(str(e)[:8] for e in r.recorded),
            " ".join(str(e)[:8] for e in r.retracted),
        )
    return table
