"""The throwaway PostgreSQL server that fault tests stop and restart under the service."""

from __future__ import annotations

import psycopg
import pytest

from tests.postgres_server import ThrowawayServer, server_url

pytestmark = pytest.mark.postgres


def test_a_stopped_server_refuses_connections_and_serves_its_data_again_once_started(
    throwaway_postgres: ThrowawayServer,
) -> None:
    url = server_url(throwaway_postgres)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (word text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")

    throwaway_postgres.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)

    throwaway_postgres.start()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT word FROM kept").fetchall() == [("still here",)]


def test_a_throwaway_server_is_not_the_shared_one(
    throwaway_postgres: ThrowawayServer, postgres_server: str
) -> None:
    assert server_url(throwaway_postgres) != postgres_server
    with psycopg.connect(server_url(throwaway_postgres)) as conn:
        port = conn.execute("SHOW port").fetchone()
    assert port == (str(throwaway_postgres.port),)
