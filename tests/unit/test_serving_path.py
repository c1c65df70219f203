"""No serving process holds a copy of the log: the reference replay stays out of its imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_no_module_of_the_api_or_dashboard_imports_the_replay() -> None:
    sources = [*(ROOT / "service" / "api").rglob("*.py"), *(ROOT / "service" / "web").rglob("*.py")]
    assert sources
    assert [p for p in sources if "domain.record" in p.read_text(encoding="utf-8")] == []


def test_serving_the_api_never_loads_the_replay(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from infra.settings import Settings\n"
        "from service.bootstrap import migrate\n"
        "import service.cli\n"
        "from service.api import create_app\n"
        f"settings = Settings(database_url='sqlite:///{tmp_path / 'b.sqlite3'}')\n"
        "migrate(settings)\n"
        "create_app(settings)\n"
        "print(sorted(m for m in sys.modules if m in ('domain.record', 'service.replay')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
