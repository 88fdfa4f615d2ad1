"""`inv local.verify` on a stack that is not running: every row fails, the hints name the
commands for this very stack, the exit code is 1, and no secret is printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from devkit import dockerkit

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = "tests/e2e/compose/mvp-stack.yml"


def test_verify_of_a_stack_that_is_not_up_fails_every_check_with_its_commands() -> None:
    dockerkit.docker_client()  # fails (never skips) without an engine
    project = dockerkit.unique_name("vpm-verify")
    password = "pw-never-printed-42"
    env = dockerkit.cli_env(VPM_E2E_IMAGE="vpm-e2e-stack:absent", POSTGRES_PASSWORD=password)
    stack = f"--file {COMPOSE_FILE} --project-name {project}"

    done = subprocess.run(
        [sys.executable, "-m", "invoke", "local.verify", "--profile", "mvp", *stack.split()],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )

    assert done.returncode == 1, done.stdout + done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if "has no container" in line]
    assert [row[:2] for row in rows] == [
        ["postgres", "FAIL"],
        ["mlflow-health", "FAIL"],
        ["mlflow-tracking", "FAIL"],
        ["s3-bucket", "FAIL"],
        ["s3-roundtrip", "FAIL"],
        ["mlflow-artifact", "FAIL"],
    ]
    assert (
        f"hint (postgres): start the stack: `inv local.up --profile mvp {stack}`; then "
        f"`inv local.status {stack}` and `inv local.logs postgres {stack}`"
    ) in done.stdout
    assert "hint (mlflow-health, mlflow-tracking, mlflow-artifact):" in done.stdout
    assert "error: 6 of 6 checks failed" in done.stderr
    assert "Traceback" not in done.stderr
    assert password not in done.stdout + done.stderr
