"""Throwaway PostgreSQL servers for the tests, started from the installed binaries.

`throwaway_server()` initialises a new cluster in a temporary directory, starts it
on a free port of 127.0.0.1 with pytest-postgresql's `PostgreSQLExecutor` (trust
auth, user `postgres`), and removes it afterwards. The server it yields can be
`stop()`ped and `start()`ed again (same port, same data), which is what fault tests
need; `server_url()` gives the address to connect to.

The binaries are the newest `/usr/lib/postgresql/*/bin/pg_ctl`, or the `pg_ctl` in
BACKCHANNEL_TEST_POSTGRES_BINDIR when that is set (point it at an empty directory to
see how the tests behave without PostgreSQL). PostgreSQL refuses to run as root, so
when the tests are root its commands run as the `postgres` user, through a generated
`pg_ctl` that calls the real one under `runuser`.

When no server can be started, `unavailable()` skips the calling test with the
reason, or fails it when BACKCHANNEL_REQUIRE_POSTGRES=1 (set by .ci/run).
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, Self

import pytest
from mirakuru.exceptions import ProcessFinishedWithError
from port_for import get_port
from pytest_postgresql.executors import PostgreSQLExecutor

BINDIR_VARIABLE = "BACKCHANNEL_TEST_POSTGRES_BINDIR"
INSTALLED = Path("/usr/lib/postgresql")
REQUIRE_POSTGRES = os.environ.get("BACKCHANNEL_REQUIRE_POSTGRES", "") not in ("", "0", "no")
HOST = "127.0.0.1"
USER = "postgres"


class ThrowawayServer(PostgreSQLExecutor):
    """pytest-postgresql's executor, whose `start()` returns only once the server takes
    connections: the port opens while it is still starting up ("the database system is
    starting up"), and its launcher, `pg_ctl start -w`, exits when it is ready."""

    def start(self) -> Self:
        super().start()
        if self.process is not None:
            returncode = self.process.wait(timeout=self._timeout)
            if returncode != 0:
                raise ProcessFinishedWithError(self, returncode)
        return self


class Unavailable(Exception):
    """No throwaway server can be started here; the message says why."""


def unavailable(reason: str) -> NoReturn:
    """Skip the calling test for this reason, or fail it when PostgreSQL is required."""
    if REQUIRE_POSTGRES:
        pytest.fail(f"{reason}, and BACKCHANNEL_REQUIRE_POSTGRES is set", pytrace=False)
    pytest.skip(f"{reason}; PostgreSQL cases skipped")


def find_pg_ctl() -> Path:
    """The `pg_ctl` to start servers with: from BACKCHANNEL_TEST_POSTGRES_BINDIR, or
    the newest installed version."""
    override = os.environ.get(BINDIR_VARIABLE)
    if override:
        pg_ctl = Path(override) / "pg_ctl"
        if os.access(pg_ctl, os.X_OK):
            return pg_ctl
        raise Unavailable(f"no pg_ctl in {BINDIR_VARIABLE}={override}")
    found = sorted(
        (path for path in INSTALLED.glob("*/bin/pg_ctl") if path.parent.parent.name.isdigit()),
        key=lambda path: int(path.parent.parent.name),
    )
    if not found:
        raise Unavailable(
            f"no {INSTALLED}/*/bin/pg_ctl to start a throwaway PostgreSQL"
            " (apt-get install postgresql)"
        )
    return found[-1]


def _server_user() -> pwd.struct_passwd | None:
    """The user to run PostgreSQL as, when it cannot be the current one (root)."""
    if os.geteuid() != 0:
        return None
    if shutil.which("runuser") is None:
        raise Unavailable("running as root and runuser is missing")
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        raise Unavailable(f"running as root and there is no {USER!r} user") from None


def server_url(server: PostgreSQLExecutor, dbname: str = "postgres") -> str:
    """The address of a database on a throwaway server, as user `postgres`."""
    return f"postgresql://{server.user}@{server.host}:{server.port}/{dbname}"


@contextmanager
def throwaway_server() -> Iterator[ThrowawayServer]:
    """A new, running PostgreSQL server of its own, stopped and deleted afterwards
    (raises `Unavailable` when there are no binaries to start one)."""
    pg_ctl = find_pg_ctl()
    owner = _server_user()
    with tempfile.TemporaryDirectory(prefix="backchannel-postgres-") as scratch:
        root = Path(scratch)
        home = root / "server"
        home.mkdir()
        executable = pg_ctl
        if owner is not None:
            root.chmod(0o711)
            os.chown(home, owner.pw_uid, owner.pw_gid)
            executable = root / "pg_ctl"
            executable.write_text(
                "#!/bin/sh\n"
                f'cd / && exec runuser -u {owner.pw_name} -- {shlex.quote(str(pg_ctl))} "$@"\n'
            )
            executable.chmod(0o755)
        server = ThrowawayServer(
            executable=str(executable),
            host=HOST,
            port=get_port(None),
            datadir=str(home / "data"),
            unixsocketdir=str(home),
            logfile=str(home / "postgresql.log"),
            startparams="-w",
            dbname="postgres",
            user=USER,
        )
        server.start()
        try:
            yield server
        finally:
            if server.running():
                server.stop()
