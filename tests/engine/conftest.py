"""Fixtures for the local-stack tests: a Compose project in a temp folder, driven through
the real `inv` command line against the real engine, and removed afterwards."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devkit import dockerkit

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stack:
    """A compose project under test: its file, name and the commands to drive it."""

    client: Any
    image: str
    folder: Path
    name: str
    files: list[Path] = field(default_factory=list)

    def write(self, text: str, filename: str = "compose.yml") -> Path:
        path = self.folder / filename
        path.write_text(text.replace("IMAGE", self.image))
        if path not in self.files:
            self.files.append(path)
        return path

    def inv(
        self, task: str, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "invoke", task]
        for path in self.files:
            command += ["--file", str(path)]
        command += ["--project-name", self.name, *args]
        result = subprocess.run(
            command,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            env=dockerkit.cli_env(**(env or {})),
            timeout=600,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def compose(self, project: str, *args: str, env: dict[str, str] | None = None) -> str:
        """Run Docker Compose v2 on the same files under another project name (the
        reference the tests compare with); its stdout."""
        command = ["docker", "compose", "-p", project]
        for path in self.files:
            command += ["-f", str(path)]
        done = subprocess.run(
            [*command, *args],
            check=True,
            capture_output=True,
            text=True,
            env=dockerkit.cli_env(**(env or {})),
        )
        return done.stdout

    def containers(self) -> dict[str, dict[str, Any]]:
        """service -> inspect data of its container."""
        found = self.client.api.containers(
            all=True, filters={"label": f"com.docker.compose.project={self.name}"}
        )
        from docker.errors import NotFound

        result = {}
        for summary in found:
            try:
                attrs = self.client.api.inspect_container(summary["Id"])
            except NotFound:
                continue  # removed between listing and inspecting (tests poll while up runs)
            result[attrs["Config"]["Labels"]["com.docker.compose.service"]] = attrs
        return result

    def ids(self) -> dict[str, str]:
        return {service: attrs["Id"] for service, attrs in self.containers().items()}

    def volumes(self) -> list[str]:
        found = self.client.api.volumes(
            filters={"label": f"com.docker.compose.project={self.name}"}
        )
        return sorted(v["Name"] for v in found.get("Volumes") or [])


@pytest.fixture
def stack(docker_client: Any, busybox_image: str, tmp_path: Path) -> Iterator[Stack]:
    name = dockerkit.unique_name()
    folder = tmp_path / "proj"
    folder.mkdir()
    yield Stack(docker_client, busybox_image, folder, name)
    dockerkit.remove_project(docker_client, name)
