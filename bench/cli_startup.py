"""Benchmark: how long the `backchannel` command takes to start, before it does any work.

Runs `backchannel --help` and `backchannel status --help` each --runs times in
fresh subprocesses, interleaved (one of each per round, so a busy moment on a
shared machine hits all alike), and, in the same rounds, `python -c pass` as
the interpreter's own floor. Prints the median and the spread (min, max) of the
wall-clock seconds of each, and the median CPU seconds (user + system) of the
child, which a loaded machine inflates less. Exits 1 when a command's median
wall-clock time is over --budget (0.5 s by default).

    python -m bench.cli_startup --runs 10

`python -X importtime -c "import service.cli"` shows where the time goes.
"""

from __future__ import annotations

import argparse
import resource
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


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one run of `argv`, which must exit 0."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


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
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # one untimed run each: a cold disk cache is not news
        timed(argv)
    for _ in range(args.runs):
        for name, argv in commands.items():
            wall, cpu = timed(argv)
            walls[name].append(wall)
            cpus[name].append(cpu)
    print(f"{args.runs} runs each, interleaved; seconds")
    print(f"{'command':<28} {'median':>8} {'min':>8} {'max':>8} {'CPU':>8}")
    over = []
    for name, runs in walls.items():
        median = statistics.median(runs)
        cpu = statistics.median(cpus[name])
        print(f"{name:<28} {median:8.3f} {min(runs):8.3f} {max(runs):8.3f} {cpu:8.3f}")
        if name.startswith("backchannel") and median > args.budget:
            over.append(name)
    if over:
        print(f"over the {args.budget} s budget: {', '.join(over)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
