"""The README's "HTTP API quick tour", run with bash against a real `backchannel serve`.

The store is migrated and seeded first, as `make run` does, and the tour gets what a
reader gets: `API` and `TOKEN` in its environment. The block's comment lines say what
each command answers, in a form this test checks:

- `# → …` right after a command expects one line of that command's output; several
  `# →` lines expect that many lines, in order. A comment line of `#` and at least two
  spaces continues the expectation above it (long JSON broken across lines).
- An expectation starting with `{` or `[` is JSON with `…` as a wildcard: a member
  `…` of an object allows the keys not shown (without it the keys must be exactly
  those shown), a value `…` allows any value, an element `…` of an array allows any
  further elements, and `…` inside a string allows any text there. Key order is free.
- Any other expectation is the line itself, with `…` matching any text.
- Other comment lines are prose; commands without an expectation are not checked,
  but the block runs under `set -euo pipefail`, so none of them may fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from infra.settings import Settings
from service.bootstrap import bootstrap, migrate
from service.transfer import seed
from tests.e2e.processes import environment, serving

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTION = "## HTTP API quick tour"
ELLIPSIS = "…"
ANY = "\x00any"  # a value `…`
REST = "\x00rest"  # a member `…` of an object, an element `…` of an array
MARKER = "@@tour-step-{}@@"


# -- the block and its expectations ---------------------------------------------


@dataclass
class Step:
    """One logical command of the block (backslash continuations joined)."""

    command: str
    expected: list[str] = field(default_factory=list)


def tour_block(readme: str) -> str:
    """The shell code of the tour: its section's ```sh blocks, in order."""
    start = readme.index(SECTION)
    end = readme.find("\n## ", start + len(SECTION))
    section = readme[start : end if end >= 0 else len(readme)]
    blocks = re.findall(r"^```sh\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)
    assert blocks, f"no ```sh block under {SECTION!r} in README.md"
    return "\n".join(blocks)


def steps_of(block: str) -> list[Step]:
    steps: list[Step] = []
    pending = ""
    expecting = False  # the line above was an expectation (or continued one)
    for line in block.splitlines():
        if pending:
            pending += "\n" + line
        elif line.startswith("# →"):
            assert steps, f"expectation before any command: {line!r}"
            steps[-1].expected.append(line.removeprefix("# →").strip())
            expecting = True
            continue
        elif expecting and re.match(r"#\s{2,}\S", line):
            steps[-1].expected[-1] += line[1:].strip()
            continue
        elif not line.strip() or line.lstrip().startswith("#"):
            expecting = False
            continue
        else:
            pending = line
        expecting = False
        if pending.endswith("\\"):
            continue
        steps.append(Step(pending))
        pending = ""
    assert not pending, f"unfinished command at the end of the block: {pending!r}"
    return steps


def script_of(steps: list[Step]) -> str:
    """The block as bash runs it, with a marker line after each command's output."""
    lines = ["set -euo pipefail"]
    for number, step in enumerate(steps):
        lines += [step.command, f"printf '\\n%s\\n' '{MARKER.format(number)}'"]
    return "\n".join(lines) + "\n"


def outputs_of(stdout: str, count: int) -> list[list[str]]:
    """Each command's non-empty output lines, split at the markers."""
    outputs = []
    rest = stdout
    for number in range(count):
        before, found, rest = rest.partition(f"\n{MARKER.format(number)}\n")
        assert found, f"the block stopped before command {number}:\n{stdout[-2000:]}"
        outputs.append([line for line in before.splitlines() if line.strip()])
    return outputs


# -- the `…` matcher ----------------------------------------------------------------


def json_pattern(text: str) -> Any:
    """An expectation in the README's JSON-with-`…` style, as JSON with sentinels."""
    out: list[str] = []
    stack: list[str] = []
    in_string = escaped = False
    last = ""  # the last significant character outside strings
    for char in text:
        if in_string:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string, last = False, '"'
            continue
        if char == ELLIPSIS:
            if stack and stack[-1] == "{" and last in "{,":
                out.append(f"{json.dumps(REST)}:null")
            elif stack and stack[-1] == "[" and last in "[,":
                out.append(json.dumps(REST))
            elif last == ":":
                out.append(json.dumps(ANY))
            else:
                raise ValueError(f"`…` where no value or member can be: {text!r}")
            last = "…"
            continue
        out.append(char)
        if char == '"':
            in_string = True
        elif char in "{[":
            stack.append(char)
        elif char in "}]":
            stack.pop()
        if not char.isspace():
            last = char
    return json.loads("".join(out))


def text_matches(expected: str, actual: str) -> bool:
    return re.fullmatch(".*".join(map(re.escape, expected.split(ELLIPSIS))), actual) is not None


def matches(expected: Any, actual: Any) -> bool:
    if expected == ANY:
        return True
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False
        keys = set(expected) - {REST}
        if REST not in expected and set(actual) != keys:
            return False
        return all(key in actual and matches(expected[key], actual[key]) for key in keys)
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return False
        shown = [item for item in expected if item != REST]
        if REST not in expected and len(actual) != len(shown):
            return False
        if len(actual) < len(shown):
            return False
        return all(matches(e, a) for e, a in zip(shown, actual, strict=False))
    if isinstance(expected, str):
        return isinstance(actual, str) and text_matches(expected, actual)
    return type(expected) is type(actual) and bool(expected == actual)


def line_matches(expected: str, line: str) -> bool:
    if not expected.startswith(("{", "[")):
        return text_matches(expected, line.strip())
    try:
        answer = json.loads(line)
    except ValueError:
        return False
    return matches(json_pattern(expected), answer)


# -- the matcher's own cases --------------------------------------------------------


def test_member_ellipsis_allows_other_keys_and_shown_values_must_agree() -> None:
    answer = '{"status":"refused","since":"2022-02-22","event_count":2}'
    assert line_matches('{"status":"refused",…}', answer)
    assert line_matches('{…,"since":"2022-02-22",…}', answer)
    assert not line_matches('{"status":"open",…}', answer)
    assert not line_matches('{"status":"refused","missing":1,…}', answer)


def test_without_member_ellipsis_the_keys_are_exactly_those_shown() -> None:
    assert line_matches('{"a":1,"b":[1,2]}', '{"b":[1,2],"a":1}')
    assert not line_matches('{"a":1}', '{"a":1,"b":2}')


def test_value_string_and_array_ellipses() -> None:
    answer = '{"id":"7174ca04-aa","position":41,"items":[{"s":"x"},{"s":"y"}]}'
    assert line_matches('{"id":"7174ca04-…","position":…,"items":[{"s":"x"},…]}', answer)
    assert not line_matches('{"id":"0000-…",…}', answer)
    assert not line_matches('{"items":[{"s":"x"}],…}', answer)
    assert not line_matches('{"position":"41",…}', answer)
    assert not line_matches('{"status":"refused",…}', "not json")


def test_plain_expectations_match_the_line_with_ellipsis_as_any_text() -> None:
    assert line_matches("201", "201")
    assert not line_matches("201", "409")
    assert line_matches("revision …", "revision 0002")


def test_tour_steps_carry_their_expectations() -> None:
    block = 'A=1\n# prose\ncurl -s x \\\n  -d y\n# → {"a":1,\n#    "b":2}\n# → 201\n\necho z\n'
    steps = steps_of(block)
    assert [s.command for s in steps] == ["A=1", "curl -s x \\\n  -d y", "echo z"]
    assert [s.expected for s in steps] == [[], ['{"a":1,"b":2}', "201"], []]


# -- the tour against a served store ------------------------------------------------


@pytest.fixture
def served(store_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`backchannel serve` over a migrated, seeded store, like `make run`: (URL, token)."""
    settings = Settings(database_url=store_url, log_format="console")
    migrate(settings)
    app = bootstrap(settings)
    try:
        seed(app)
    finally:
        app.close()
    token = "dev-" + uuid.uuid4().hex
    env = environment(store_url, write_tokens=token)
    with serving(env, tmp_path / "serve.log") as served:
        yield served.url, token


def test_readme_tour_answers_as_its_comments_say(served: tuple[str, str]) -> None:
    for tool in ("bash", "curl", "python3"):
        if shutil.which(tool) is None:
            pytest.skip(f"the tour needs {tool}, which is not on PATH")
    url, token = served
    steps = steps_of(tour_block(README.read_text(encoding="utf-8")))
    assert sum(len(step.expected) for step in steps) >= 5, "the tour lost its expectations"
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "all_proxy")}
    env |= {"API": url, "TOKEN": token}
    done = subprocess.run(
        ["bash", "-c", script_of(steps)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"the tour failed:\n{done.stderr}\n{done.stdout[-2000:]}"
    for step, lines in zip(steps, outputs_of(done.stdout, len(steps)), strict=True):
        if not step.expected:
            continue
        assert len(lines) == len(step.expected), (step.command, lines)
        for expected, line in zip(step.expected, lines, strict=True):
            assert line_matches(expected, line), (
                f"`{step.command}`\n  answered {line}\n  where README.md says {expected}"
            )
