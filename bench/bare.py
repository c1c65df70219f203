"""The bare endpoints the service is measured against: FastAPI + psycopg, one statement each.

`POST /insert` inserts one row and commits; `GET /row/{key}` is one indexed
SELECT by key. Run with `uvicorn --factory bench.bare:app` and BENCH_BARE_URL set.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from fastapi import FastAPI, HTTPException
from psycopg_pool import ConnectionPool

TABLE = "bare_rows"


def setup(url: str, rows: int) -> None:
    """A table of `rows` rows keyed by text, as the read model keys a channel."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(f"CREATE TABLE {TABLE} (key text PRIMARY KEY, body text NOT NULL)")
        conn.execute(
            f"INSERT INTO {TABLE} SELECT 'k' || i, repeat('x', 200) FROM generate_series(1, %s) i",
            (rows,),
        )
        conn.execute(f"ANALYZE {TABLE}")


def app() -> FastAPI:
    pool = ConnectionPool(os.environ["BENCH_BARE_URL"], min_size=4, max_size=16, open=True)
    web = FastAPI()

    @web.post("/insert", status_code=201)
    def insert(body: dict[str, Any]) -> dict[str, str]:
        key = str(uuid.uuid4())
        with pool.connection() as conn:
            conn.execute(f"INSERT INTO {TABLE} (key, body) VALUES (%s, %s)", (key, str(body)))
        return {"key": key}

    @web.get("/row/{key}")
    def row(key: str) -> dict[str, str]:
        with pool.connection() as conn:
            found = conn.execute(f"SELECT body FROM {TABLE} WHERE key = %s", (key,)).fetchone()
        if found is None:
            raise HTTPException(404)
        return {"key": key, "body": found[0]}

    return web
