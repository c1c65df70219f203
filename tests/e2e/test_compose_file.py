"""docker-compose.yml as Debian's docker-compose reads it: `docker-compose config`.

Skipped when docker-compose is not installed (.ci/run installs it). No container is
started: `config` interpolates the environment and validates the file, which is
where a missing password, a published interface or a healthcheck is decided.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
PASSWORD = "pw-" + "x" * 20


@pytest.fixture(scope="module")
def docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    return found


def config(
    docker_compose: str, tmp_path: Path, **variables: str
) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` with exactly these variables (no .env, none inherited)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POSTGRES_", "BACKCHANNEL_", "COMPOSE_"))
    }
    empty = tmp_path / "empty.env"
    empty.write_text("")
    return subprocess.run(
        [docker_compose, "-f", str(COMPOSE), "--env-file", str(empty), "config"],
        env=env | variables,
        capture_output=True,
        text=True,
        timeout=60,
    )


def services(docker_compose: str, tmp_path: Path, **variables: str) -> dict[str, Any]:
    done = config(docker_compose, tmp_path, **variables)
    assert done.returncode == 0, done.stderr
    parsed: dict[str, Any] = yaml.safe_load(done.stdout)
    return parsed


@pytest.mark.parametrize("variables", [{}, {"POSTGRES_PASSWORD": ""}], ids=["unset", "empty"])
def test_compose_refuses_to_start_without_postgres_password(
    docker_compose: str, tmp_path: Path, variables: dict[str, str]
) -> None:
    done = config(docker_compose, tmp_path, **variables)
    assert done.returncode != 0
    assert "set POSTGRES_PASSWORD" in done.stderr


def test_compose_passes_the_password_to_the_database_and_the_service(
    docker_compose: str, tmp_path: Path
) -> None:
    parsed = services(docker_compose, tmp_path, POSTGRES_PASSWORD=PASSWORD)["services"]
    assert parsed["db"]["environment"]["POSTGRES_PASSWORD"] == PASSWORD
    url = parsed["app"]["environment"]["BACKCHANNEL_DATABASE_URL"]
    assert url == f"postgresql://backchannel:{PASSWORD}@db:5432/backchannel"


def test_compose_publishes_the_port_on_loopback_unless_told_otherwise(
    docker_compose: str, tmp_path: Path
) -> None:
    default = services(docker_compose, tmp_path, POSTGRES_PASSWORD=PASSWORD)
    assert default["services"]["app"]["ports"] == ["127.0.0.1:8000:8000/tcp"]
    assert "ports" not in default["services"]["db"]
    told = services(
        docker_compose,
        tmp_path,
        POSTGRES_PASSWORD=PASSWORD,
        BACKCHANNEL_BIND="0.0.0.0",
        BACKCHANNEL_PORT="8080",
    )
    assert told["services"]["app"]["ports"] == ["0.0.0.0:8080:8000/tcp"]


def test_compose_app_is_healthy_when_readyz_answers_without_curl(
    docker_compose: str, tmp_path: Path
) -> None:
    app = services(docker_compose, tmp_path, POSTGRES_PASSWORD=PASSWORD)["services"]["app"]
    test = app["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    assert "http://127.0.0.1:8000/readyz" in test[3]


def test_only_the_database_keeps_a_volume(docker_compose: str, tmp_path: Path) -> None:
    parsed = services(docker_compose, tmp_path, POSTGRES_PASSWORD=PASSWORD)
    assert set(parsed["volumes"]) == {"pgdata"}
    assert "volumes" not in parsed["services"]["app"]
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
    assert not [line for line in dockerfile if line.startswith("VOLUME")]


def test_every_service_takes_the_password_and_none_has_a_default(
    docker_compose: str, tmp_path: Path
) -> None:
    parsed = services(docker_compose, tmp_path, POSTGRES_PASSWORD=PASSWORD)["services"]
    urls = {
        name: service["environment"]["BACKCHANNEL_DATABASE_URL"]
        for name, service in parsed.items()
        if "BACKCHANNEL_DATABASE_URL" in service.get("environment", {})
    }
    assert set(urls) == {"migrate", "projector", "app"}
    assert set(urls.values()) == {f"postgresql://backchannel:{PASSWORD}@db:5432/backchannel"}
    text = COMPOSE.read_text(encoding="utf-8")
    assert "POSTGRES_PASSWORD:-" not in text


def test_compose_runs_one_migration_one_projector_and_stateless_workers(
    docker_compose: str, tmp_path: Path
) -> None:
    parsed = services(docker_compose, tmp_path, POSTGRES_PASSWORD=PASSWORD, BACKCHANNEL_WORKERS="3")
    found = parsed["services"]
    assert found["migrate"]["command"] == ["backchannel", "migrate"]
    assert found["projector"]["command"] == ["backchannel", "projector"]
    assert found["app"]["command"][-2:] == ["--workers", "3"]
    assert found["app"]["environment"]["BACKCHANNEL_EMBEDDED_PROJECTOR"] == "false"
    for name in ("projector", "app"):
        assert found[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
