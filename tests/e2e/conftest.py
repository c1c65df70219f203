"""Fixtures of the end-to-end suites."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SCREENSHOTS = "BACKCHANNEL_SCREENSHOTS"  # a directory: `make screenshots` names docs/screenshots


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests save their screenshots: the directory `BACKCHANNEL_SCREENSHOTS`
    names (`make screenshots` refreshes README.md's), else a temporary one, so that a test
    run leaves the working tree as it found it."""
    where = os.environ.get(SCREENSHOTS)
    path = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path
