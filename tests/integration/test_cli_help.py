"""`backchannel --help` in a real process: every command listed, and none of the heavy imports.

The commands import alembic, SQLAlchemy, eventsourcing and the web stack themselves, so
that the help starts at once; bench/cli_startup.py times it, these tests check what it
lists and what it loads, not how long it takes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import typer

from service.cli import app
from tests.e2e.processes import command

COMMANDS = {"migrate", "seed", "import", "export", "status", "serve", "projector", "projections"}
COMMANDS |= {"transitions", "revisions", "terms"}
PROJECTIONS_COMMANDS = {"rebuild", "status"}
TERMS_COMMANDS = {"add", "list", "retract"}
# What only the commands themselves need; none of it may load for the help.
HEAVY = ["alembic", "sqlalchemy", "eventsourcing", "psycopg", "fastapi", "starlette", "uvicorn"]
HEAVY += ["pydantic", "structlog", "rich", "domain", "infra"]


def help_of(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKCHANNEL_")}
    done = subprocess.run(
        [*command(), *args, "--help"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def listed(help_text: str) -> set[str]:
    """The command names of a help text's "Commands:" section."""
    section = help_text.split("Commands:", 1)[1]
    return {m.group(1) for m in re.finditer(r"^  (\S+)", section, flags=re.MULTILINE)}


def test_help_lists_every_command_of_the_command_line() -> None:
    registered = set(typer.main.get_group(app).commands)
    assert registered == COMMANDS
    assert listed(help_of()) == COMMANDS


def test_projections_help_lists_rebuild_and_status() -> None:
    assert listed(help_of("projections")) == PROJECTIONS_COMMANDS


def test_terms_help_lists_add_list_and_retract() -> None:
    assert listed(help_of("terms")) == TERMS_COMMANDS
    for option in ("--from", "--to", "--id", "--source"):
        assert option in help_of("terms", "add")


def test_status_help_shows_its_options() -> None:
    text = help_of("status")
    for option in ("--as-of", "--known-at", "--channel"):
        assert option in text


@pytest.mark.parametrize(
    "args", [["--help"], ["status", "--help"], ["projections", "status", "--help"]]
)
def test_help_loads_no_store_logging_or_web_modules(args: list[str]) -> None:
    probe = (
        "import atexit, json, sys\n"
        f"heavy = {HEAVY!r}\n"
        "atexit.register(lambda: print(json.dumps(sorted("
        "{m.split('.')[0] for m in sys.modules} & set(heavy)))))\n"
        "from service.cli import app\n"
        f"app({args!r})\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []
