"""Benchmark: how long the `backchannel` command takes to start, before it does any work.

Runs `backchannel --help` and `backchannel status --help` each --runs times in
fresh subprocesses, interleaved (one of each per round, so a busy moment on a
shared machine hits both alike), and, in the same rounds, `python -c pass` as
the interpreter's own floor. Prints the median and the spread (min, max) of the
wall-clock seconds of each, and exits 1 when a command's median is over
--budget (0.5 s by default).

    python -m bench.cli_startup --runs 10

`python -X importtime -c "import service.cli"` shows where the time goes.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path


def backchannel() -> list[str]:
    """The installed console script beside this interpreter, or the module through it."""
    script = Path(sys.executable).with_name("backchannel")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from service.cli import app; app()"]


def timed(argv: list[str]) -> float:
    """Wall-clock seconds of one run of `argv`, which must exit 0."""
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each command (at least 5)")
    parser.add_argument("--budget", type=float, default=0.5, help="seconds a median may take")
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "backchannel --help": [*backchannel(), "--help"],
        "backchannel status --help": [*backchannel(), "status", "--help"],
    }
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # one untimed run each: a cold disk cache is not news
        timed(argv)
    for _ in range(args.runs):
        for name, argv in commands.items():
            seconds[name].append(timed(argv))
    print(f"{args.runs} runs each, interleaved; wall-clock seconds")
    print(f"{'command':<28} {'median':>8} {'min':>8} {'max':>8}")
    over = []
    for name, runs in seconds.items():
        median = statistics.median(runs)
        print(f"{name:<28} {median:8.3f} {min(runs):8.3f} {max(runs):8.3f}")
        if name.startswith("backchannel") and median > args.budget:
            over.append(name)
    if over:
        print(f"over the {args.budget} s budget: {', '.join(over)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
