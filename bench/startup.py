"""Benchmark 4: how long `inv --list` takes against a bare `python -c pass` (what the
task tree's imports cost before any work starts)."""

from __future__ import annotations

import sys

from bench.common import GNU_TIME, Report, Row, clean_env, inv_command, median, run_timed

TARGET_OVERHEAD_S = 0.3


def run(runs: int, report: Report) -> None:
    env = clean_env()
    commands = {"inv": [*inv_command(), "--list"], "python": [sys.executable, "-c", "pass"]}
    for argv in commands.values():  # warm the page cache and .pyc files
        run_timed(argv, env=env).check(" ".join(argv))
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    rss: dict[str, list[int]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            done = run_timed(argv, env=env).check(" ".join(argv))
            seconds[name].append(done.seconds)
            rss[name].append(done.max_rss_kb)
    ours, bare = median(seconds["inv"]), median(seconds["python"])
    memory = (
        f"; peak memory {median(rss['inv']) / 1024:.0f} MB vs {median(rss['python']) / 1024:.0f} MB"
        if GNU_TIME
        else ""
    )
    report.rows.append(
        Row(
            "inv --list start-up",
            ours,
            "python -c pass",
            bare,
            "s",
            f"< +{TARGET_OVERHEAD_S:g} s",
            ours - bare < TARGET_OVERHEAD_S,
            f"+{ours - bare:.3f} s{memory}",
        )
    )
