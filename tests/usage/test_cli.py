"""`inv cleanup.unused` as a user runs it: the three formats, exit codes, errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.usage.conftest import SMALL_LIMIT, run_cleanup
from tests.usage.test_audit import EXPECTED


def cli(platform: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cleanup(
        platform,
        "--path",
        "mvp",
        "--file",
        "compose/docker-compose.yml",
        "--env-file",
        "fixture.env",
        *extra,
        INVOKE_CLEANUP_MAX_FILE_BYTES=str(SMALL_LIMIT),
    )


def test_json_lists_every_service_with_its_evidence(platform: Path) -> None:
    result = cli(platform, "--format", "json")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert {s["service"]: s["verdict"] for s in services} == EXPECTED
    for service in services:
        for item in service["evidence"]:
            assert set(item) == {"file", "line", "signal", "kind"}
            assert item["kind"] in ("use", "declared", "mentioned")
    mlflow = next(s for s in services if s["service"] == "mlflow")
    assert {
        "file": "mvp/training/adapters/base.py",
        "line": 3,
        "signal": "import mlflow",
        "kind": "use",
    } in mlflow["evidence"]
    assert "scanned" in result.stderr  # the summary goes to stderr, stdout stays JSON


def test_table_and_markdown(platform: Path) -> None:
    table = cli(platform)
    assert table.returncode == 0, table.stderr
    rows = {line.split()[0]: line.split()[1] for line in table.stdout.splitlines()[2:]}
    assert rows == EXPECTED
    mlflow_row = next(line for line in table.stdout.splitlines() if line.startswith("mlflow "))
    assert mlflow_row.endswith("import mlflow (use)")
    markdown = cli(platform, "--format", "markdown")
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout.startswith("| service | verdict | evidence | strongest evidence |")
    assert "| redis | unused | " in markdown.stdout


def test_errors_are_one_clear_paragraph(platform: Path) -> None:
    for extra, expected in (
        (("--format", "xml"), "--format 'xml' is not known"),
        (("--volumes",), "--volumes only makes sense with --apply"),
        (("--path", "nowhere"), "does not exist"),
    ):
        result = cli(platform, *extra)
        assert result.returncode == 1
        assert expected in result.stderr and "Traceback" not in result.stderr
