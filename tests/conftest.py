"""Fixtures shared by every suite: one store fixture, parametrised over SQLite and PostgreSQL.

PostgreSQL comes from BACKCHANNEL_TEST_POSTGRES_URL (default: the local server).
When it cannot be reached the PostgreSQL cases are skipped with the reason,
unless BACKCHANNEL_REQUIRE_POSTGRES=1 (set by .ci/run), in which case they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from infra.settings import Settings
from service.bootstrap import bootstrap, migrate
from service.replay import ReplayingBackchannel

POSTGRES_URL = os.environ.get(
    "BACKCHANNEL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("BACKCHANNEL_REQUIRE_POSTGRES", "") not in ("", "0", "no")
ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"

STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of a reachable PostgreSQL server (skip or fail if there is none)."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            pass
    except psycopg.OperationalError as error:
        message = f"PostgreSQL not reachable at {POSTGRES_URL}: {error}".strip()
        if REQUIRE_POSTGRES:
            pytest.fail(message + " (BACKCHANNEL_REQUIRE_POSTGRES is set)", pytrace=False)
        pytest.skip(message + " — set BACKCHANNEL_TEST_POSTGRES_URL to run these")
    return POSTGRES_URL


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
