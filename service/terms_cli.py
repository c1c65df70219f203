"""`backchannel terms add|list|retract`: who held an office when, from the command line.

`add` and `retract` go through the application, as `POST /v1/actors/{office}/terms`
and `POST /v1/terms/{id}/retract` do (same checks, same answers); `list` replays the
log (the reference replay), as `status` does. What they need is imported inside them,
so `--help` stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from service.changes_cli import KnownAtOption
from service.command_group import CommandGroup

if TYPE_CHECKING:
    from rich.table import Table

    from domain.offices import RecordedTerm, TermRetraction

terms = typer.Typer(
    cls=CommandGroup,
    help="Offices' holders over time: record a term, list them, retract one.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help, like the main command's
)


@terms.command("add")
def add(
    office: Annotated[str, typer.Argument(help="The office's actor id.")],
    person: Annotated[str, typer.Argument(help="The person's actor id.")],
    start: Annotated[str, typer.Option("--from", help="First day (or instant) held.")],
    end: Annotated[
        str | None,
        typer.Option("--to", help="The day (or instant) it ended; omitted: still held."),
    ] = None,
    term_id: Annotated[
        str | None,
        typer.Option("--id", help="The term's id (a UUID); the same id again stores nothing."),
    ] = None,
    source: Annotated[
        list[str] | None,
        typer.Option("--source", help="A source, as NAME or NAME=URL; may be repeated."),
    ] = None,
) -> None:
    """Record that PERSON held OFFICE from --from until --to (as the API's terms route)."""
    from service import cli

    data: dict[str, object] = {"person": person, "from": start, "to": end}
    if term_id is not None:
        data["id"] = term_id
    if source:
        data["sources"] = [_source(s) for s in source]
    settings = cli._settings()
    with cli._reported(), cli._opened(settings) as backchannel:
        written = backchannel.record_term(office, data)
    held = written.term.term
    verb = "recorded" if written.created else "already recorded, nothing stored"
    cli._out().print(
        f"term {held.id}: {held.person} as {held.office}, {_span(written.term)} — {verb} "
        f"(position {written.position})",
        highlight=False,
    )


@terms.command("list")
def list_terms(
    actor: Annotated[str, typer.Argument(help="An office (its holders) or a person (offices).")],
    known_at: KnownAtOption = None,
) -> None:
    """Print an office's holders, or a person's offices, by `from`; retracted ones marked."""
    from datetime import UTC, datetime

    from domain.time import end_of, format_instant
    from service import cli

    settings = cli._settings()
    with cli._reported():
        known = end_of(cli._instant(known_at, "--known-at")) if known_at else datetime.now(UTC)
        with cli._opened(settings) as backchannel:
            from service.replay import Replay

            record = Replay(backchannel).refresh()
            profile = cli._actor(record, actor)
            found = sorted(
                (
                    (t, r if r is not None and r.recorded_at <= known else None)
                    for t in record.terms.values()
                    if t.recorded_at <= known and profile.id in (t.term.office, t.term.person)
                    for r in [record.term_retractions.get(t.id)]
                ),
                key=lambda pair: (pair[0].term.valid_from, pair[0].position),
            )
    cli._out().print(_table(found, f"terms of {profile.id}, known at {format_instant(known)}"))
    if not found:
        cli._out().print("No term was recorded by then.", highlight=False)


@terms.command("retract")
def retract(
    term_id: Annotated[str, typer.Argument(help="The term's id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the term is withdrawn.")],
) -> None:
    """Withdraw a term from now on (it stays in the log, marked retracted)."""
    from uuid import UUID

    from service import cli

    try:
        wanted = UUID(term_id)
    except ValueError:
        cli._fail(f"{term_id!r} is not a term id (a UUID)")
    settings = cli._settings()
    with cli._reported(), cli._opened(settings) as backchannel:
        written = backchannel.retract_term(wanted, reason)
    cli._out().print(
        f"term {wanted} retracted (position {written.position}): {reason.strip()}",
        highlight=False,
    )


def _source(text: str) -> dict[str, object]:
    name, _, url = text.partition("=")
    return {"name": name.strip(), "url": url.strip() or None}


def _span(recorded: RecordedTerm) -> str:
    held = recorded.term.to_dict()
    return f"from {held['from']} " + (f"to {held['to']}" if held["to"] else "on")


def _table(found: list[tuple[RecordedTerm, TermRetraction | None]], title: str) -> Table:
    from rich.table import Table

    from domain.time import format_instant

    table = Table(title=title, title_justify="left", highlight=False)
    for name in ("office", "person", "from", "to", "recorded at", "retracted", "id"):
        table.add_column(name, no_wrap=name != "retracted")
    for recorded, retraction in found:
        held = recorded.term.to_dict()
        table.add_row(
            held["office"],
            held["person"],
            held["from"],
            held["to"] or "—",
            format_instant(recorded.recorded_at),
            "—"
            if retraction is None
            else f"{format_instant(retraction.recorded_at)}: {retraction.reason}",
            held["id"],
        )
    return table
