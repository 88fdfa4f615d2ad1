"""Benchmark 4: how long `inv --list` takes against a bare `python -c pass` (what the
task tree costs before any work starts), and against importing Invoke alone (the
part of that cost that is ours: task modules, their imports, building the tree)."""

from __future__ import annotations

import sys

from bench.common import GNU_TIME, Report, Row, clean_env, inv_command, median, run_timed

TARGET_OVERHEAD_S = 0.3


def run(runs: int, report: Report) -> None:
    env = clean_env()
    commands = {
        "inv --list": [*inv_command(), "--list"],
        "python -c pass": [sys.executable, "-c", "pass"],
        "import invoke": [sys.executable, "-c", "import invoke.main"],
    }
    for argv in commands.values():  # warm the page cache and .pyc files
        run_timed(argv, env=env).check(" ".join(argv))
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    rss: dict[str, list[int]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            done = run_timed(argv, env=env).check(" ".join(argv))
            seconds[name].append(done.seconds)
            rss[name].append(done.max_rss_kb)
    ours = median(seconds["inv --list"])
    for name in ("python -c pass", "import invoke"):
        reference = median(seconds[name])
        memory = (
            f"; peak memory {median(rss['inv --list']) / 1024:.0f} MB vs "
            f"{median(rss[name]) / 1024:.0f} MB"
            if GNU_TIME
            else ""
        )
        bare = name == "python -c pass"
        report.rows.append(
            Row(
                "inv --list start-up",
                ours,
                "python -c pass" if bare else "python -c 'import invoke.main'",
                reference,
                "s",
                f"< +{TARGET_OVERHEAD_S:g} s" if bare else "",
                (ours - reference < TARGET_OVERHEAD_S) if bare else None,
                f"{ours - reference:+.3f} s{memory}",
            )
        )
