"""Fixtures shared by every suite: one store fixture, parametrised over SQLite and PostgreSQL.

PostgreSQL is the server at BACKCHANNEL_TEST_POSTGRES_URL when that is set; otherwise
the tests start a throwaway server of their own from the installed binaries
(tests/postgres_server.py), once per run. Each test gets a fresh database on it.
When there is no server to use (an unreachable URL, no binaries) the PostgreSQL cases
are skipped with the reason, unless BACKCHANNEL_REQUIRE_POSTGRES=1 (set by .ci/run),
in which case they fail.

`throwaway_postgres` is a server of the test's own, for tests that stop and restart
the database under the service.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from infra.settings import Settings
from service.bootstrap import bootstrap, migrate
from service.replay import ReplayingBackchannel
from tests.postgres_server import (
    ThrowawayServer,
    Unavailable,
    find_pg_ctl,
    server_url,
    throwaway_server,
    unavailable,
)

POSTGRES_URL = os.environ.get("BACKCHANNEL_TEST_POSTGRES_URL", "")
ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"

STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The admin URL of a PostgreSQL server: BACKCHANNEL_TEST_POSTGRES_URL's, or a
    throwaway one for the whole run (skip or fail if there is neither)."""
    if not POSTGRES_URL:
        with _own_server("BACKCHANNEL_TEST_POSTGRES_URL is unset and ") as server:
            yield server_url(server)
        return
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            problem = ""
    except psycopg.OperationalError as error:
        problem = str(error).strip().splitlines()[0]
    if problem:
        unavailable(f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}")
    yield POSTGRES_URL


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayServer]:
    """A PostgreSQL server of this test's own, whatever BACKCHANNEL_TEST_POSTGRES_URL says.

    The test may `stop()` and `start()` it (same port, same data); `server_url(server)`
    from tests.postgres_server is its admin URL. It is stopped and deleted afterwards.
    """
    with _own_server() as server:
        yield server


@contextmanager
def _own_server(context: str = "") -> Iterator[ThrowawayServer]:
    """A throwaway server, or the test skipped (failed if required) with the reason."""
    with ExitStack() as stack:
        try:
            server = stack.enter_context(throwaway_server())
        except Unavailable as error:
            reason = str(error)
        else:
            yield server
            return
    unavailable(context + reason)


def pytest_report_header() -> str:
    """Say at the top of the run which PostgreSQL the tests use."""
    if POSTGRES_URL:
        return f"postgresql: {POSTGRES_URL} (BACKCHANNEL_TEST_POSTGRES_URL)"
    try:
        return f"postgresql: a throwaway server from {find_pg_ctl().parent}"
    except Unavailable as error:
        return f"postgresql: none, {error}"


@pytest.fixture
def postgres_database(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards; yields its URL."""
    name = f"backchannel_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base, _, _ = postgres_server.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, unmigrated database URL: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'backchannel.sqlite3'}"
    return str(request.getfixturevalue("postgres_database"))


@pytest.fixture
def settings(store_url: str) -> Settings:
    """Settings for a migrated, empty store."""
    settings = Settings(database_url=store_url, log_format="console")
    migrate(settings)
    return settings


@pytest.fixture
def backchannel(settings: Settings) -> Iterator[ReplayingBackchannel]:
    """The application on a migrated, empty store, with the reference replay of its log
    beside it (`refresh()`, `record`) for the tests to compare answers with."""
    app = bootstrap(settings, application=ReplayingBackchannel)
    try:
        yield app
    finally:
        app.close()
