"""Fixtures of the end-to-end tests: the stack image, and a stack driven by the real `inv`.

The image is built once per pytest session (or reused when an image with the same
input digest exists) and removed at the session's end if this session built it, unless
VPM_KEEP_E2E_IMAGES=1 asks to keep it for the next run.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devkit import dockerkit
from devkit.e2e_image import ensure_image, remove_image

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = Path(__file__).resolve().parent / "compose" / "mvp-stack.yml"
KEEP_IMAGES = os.environ.get("VPM_KEEP_E2E_IMAGES") == "1"
CLI_TIMEOUT_S = 900


@pytest.fixture(scope="session")
def e2e_image(docker_client: Any) -> Iterator[str]:
    tag, built = ensure_image(docker_client, log=lambda m: print(m, file=sys.stderr))
    yield tag
    if built and not KEEP_IMAGES and not remove_image(docker_client, tag):
        print(f"e2e kit: {tag} is still used by another session's containers", file=sys.stderr)


@dataclass
class Stack:
    """A uniquely named project of the e2e compose file, driven through the `inv` CLI."""

    project: str
    env: dict[str, str]
    password: str
    transcript: list[str] = field(default_factory=list)

    def inv(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "invoke", *args]
        if args and args[0].startswith("local."):
            argv += ["--file", str(COMPOSE_FILE), "--project-name", self.project]
        done = subprocess.run(
            argv,
            cwd=REPO_ROOT,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
        self.transcript.append(f"$ inv {' '.join(args)}\n{done.stdout}{done.stderr}")
        if check and done.returncode != 0:
            raise AssertionError(
                f"inv {' '.join(args)} exited {done.returncode}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return done

    def urls(self) -> dict[str, str]:
        """Published URL of each running service, from `inv local.status --json`."""
        rows = json.loads(self.inv("local.status", "--json").stdout)
        return {row["service"]: row["ports"][0] for row in rows if row["ports"]}


@pytest.fixture
def stack(e2e_image: str, docker_client: Any) -> Iterator[Stack]:
    project = dockerkit.unique_name("vpm-e2e")
    password = f"pw-{secrets.token_hex(8)}"
    env = dockerkit.cli_env(VPM_E2E_IMAGE=e2e_image, POSTGRES_PASSWORD=password)
    for name in ("MLFLOW_BUCKET", "S3_ACCESS_KEY", "S3_SECRET_KEY"):
        env.pop(name, None)
    created = Stack(project, env, password)
    try:
        yield created
    finally:
        try:
            created.inv("local.down", "--volumes", check=False)
        finally:
            # Whatever the CLI left (or if it failed): remove by the project label.
            dockerkit.remove_project(docker_client, project)
