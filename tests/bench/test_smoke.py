"""`python -m bench` runs end to end (its cheapest part only: benchmarks are not tests,
and nothing here looks at a time)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULTS = REPO_ROOT / "bench" / "RESULTS.md"


def _stamp() -> float | None:
    return RESULTS.stat().st_mtime_ns if RESULTS.exists() else None


def _startup_only(*command: str, output: Path) -> subprocess.CompletedProcess[str]:
    """`command` (python's -m runner and module) running only the start-up benchmark once."""
    return subprocess.run(
        [sys.executable, "-m", *command, "--only", "startup", "--runs", "1"]
        + ["--output", str(output)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_one_part_prints_the_table_and_writes_only_where_asked(tmp_path: Path) -> None:
    before = _stamp()
    output = tmp_path / "results.md"

    done = _startup_only("bench", output=output)

    assert done.returncode == 0, done.stderr
    header, _, row = done.stdout.splitlines()[:3]
    assert header.split()[:3] == ["benchmark", "ours", "reference"]
    assert row.startswith("inv --list start-up") and "python -c pass" in row
    written = output.read_text()
    assert "| inv --list start-up |" in written
    assert "Machine:" in written and "- python: " in written
    assert _stamp() == before  # a partial run leaves the full table alone


def test_an_unknown_part_is_refused_by_name() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "stacks"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2
    assert "stacks" in done.stderr and "stack" in done.stderr
    assert "Traceback" not in done.stderr


def test_inv_bench_finds_the_bench_package_not_its_own_task_module(tmp_path: Path) -> None:
    """Invoke puts tasks/ first on sys.path, where tasks/bench.py would pass for `bench`."""
    output = tmp_path / "results.md"

    done = _startup_only("invoke", "bench", output=output)

    assert done.returncode == 0, done.stderr
    assert "| inv --list start-up |" in output.read_text()
