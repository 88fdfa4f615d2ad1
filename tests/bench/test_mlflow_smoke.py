"""`python -m bench --only mlflow` runs end to end on small data: both tools copy the
seeded server and the table has their rows (no figure is judged: benchmarks are not
tests). Needs the e2e image (built when missing) and PyPI for the reference's venv."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_mlflow_part_runs_both_tools(tmp_path: Path) -> None:
    output = tmp_path / "results.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "mlflow", "--quick", "--runs", "1",
         "--output", str(output)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("mlflow migrate")]
    assert any("wall time" in row and "mlflow-export-import" in row for row in rows), done.stdout
    assert any("HTTP requests" in row for row in rows), done.stdout
    assert "| mlflow migrate" in output.read_text()
