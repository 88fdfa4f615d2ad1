"""Shared by the split tests: paths, a scratch copy of the compose folder, and
Docker Compose v2 as the reference that judges the outputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MONOLITH = REPO / "compose" / "docker-compose.yml"
PLAN = REPO / "compose" / "split-plan.yml"
INV = REPO / ".venv" / "bin" / "inv"


def example_env() -> dict[str, str]:
    """The variables env/.env.example documents: what the compose files need."""
    values: dict[str, str] = {}
    for line in (REPO / "env" / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def scratch_repo(tmp_path: Path) -> Path:
    """A copy of compose/ and env/ (outputs resolve `../env/local.env` from compose/);
    returns the copied compose folder."""
    shutil.copytree(REPO / "env", tmp_path / "env")
    compose = tmp_path / "compose"
    compose.mkdir()
    shutil.copy(MONOLITH, compose / MONOLITH.name)
    shutil.copy(PLAN, compose / PLAN.name)
    return compose


def compose_config(
    file: Path, *profiles: str, extra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    """`docker compose config --format json` of one file with these profiles active.

    Fails the test (CalledProcessError with Compose's message) when Compose rejects it.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    env.update(example_env())
    env.update(extra_env or {})
    command = ["docker", "compose", "-f", str(file), "--project-directory", str(file.parent)]
    for profile in profiles:
        command += ["--profile", profile]
    command += ["config", "--format", "json"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"docker compose rejected {file}: {result.stderr.strip()}")
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def run_split(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`inv compose.split ARGS` through the real CLI."""
    return subprocess.run(
        [str(INV), "compose.split", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
