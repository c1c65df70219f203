"""The composition root: Settings in, the service's parts out, wired to each other.

`bootstrap` opens the application (the write side) on the store the settings
name. `Service` is what a serving process runs: the application, the read
model it answers reads from, and, when this process keeps the read model
current itself, the projector, told of every append by the application.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.actors import suggest
from infra import schema
from infra.readmodel import open_view
from infra.settings import Settings
from infra.store import eventsourcing_env
from service.application import Backchannel, Clock, utcnow
from service.projection import actors_in_log
from service.projector import Projector
from service.queries import ReadModel


def migrate(settings: Settings) -> str:
    """Create the library's tables (log, tracking; idempotent), bring ours to head, and
    delete what a revision retired (the projector rebuilds it from the log)."""
    Backchannel(eventsourcing_env(settings, create_table=True)).close()
    view = open_view(settings, create_table=True)
    try:
        revision = schema.upgrade(settings)
        view.drop_retired()
    finally:
        view.close()
    return revision


SUGGESTION_WAIT = 1.0  # seconds a serving process waits for its read model to reach the log


def suggestions(readmodel: ReadModel, app: Backchannel, name: str, *, wait: float) -> list[str]:
    """Ids of the actors closest to an unknown `name`: from the read model once it has
    projected the log's head (waiting up to `wait` seconds, so an actor registered just
    before is among them), else from the log's actor events."""
    if readmodel.wait(app.head(), wait):
        return readmodel.suggestions(name)
    return suggest(name, actors_in_log(app))


def _suggestions_of(settings: Settings, app: Backchannel, name: str) -> list[str]:
    readmodel = ReadModel.open(settings)
    try:
        return suggestions(readmodel, app, name, wait=0)
    finally:
        readmodel.close()


def bootstrap(
    settings: Settings,
    *,
    check_schema: bool = True,
    clock: Clock = utcnow,
    application: type[Backchannel] = Backchannel,
) -> Backchannel:
    """Open the store named by the settings; refuse an out-of-date schema."""
    if check_schema:
        schema.check_at_head(settings)
    app = application(eventsourcing_env(settings), clock=clock, window=settings.window)
    app.suggest = lambda name: _suggestions_of(settings, app, name)
    return app


@dataclass
class Service:
    """A serving process's parts: the application, the read model, perhaps the projector."""

    settings: Settings
    app: Backchannel
    readmodel: ReadModel
    projector: Projector | None
    owns_app: bool = field(default=True)

    def start(self) -> None:
        if self.projector is not None:
            self.projector.start()

    def close(self) -> None:
        if self.projector is not None:
            self.projector.stop()
        self.readmodel.close()
        if self.owns_app:
            self.app.close()


def service(
    settings: Settings, app: Backchannel | None = None, *, projector: bool | None = None
) -> Service:
    """Wire a serving process: the read model, the projector when this process runs it
    (`settings.embedded_projector` unless told), and the application's listeners.

    An application passed in belongs to the caller and is not closed with the service.
    """
    application = bootstrap(settings) if app is None else app
    readmodel = ReadModel.open(settings)
    application.suggest = lambda name: suggestions(
        readmodel, application, name, wait=SUGGESTION_WAIT
    )
    runs = settings.embedded_projector if projector is None else projector
    follower = Projector(settings, app=application) if runs else None
    if follower is not None:
        application.listeners.append(lambda _position: follower.poke())
    return Service(settings, application, readmodel, follower, owns_app=app is None)
