"""`cleanup.unused --apply` against the real engine: comments survive the compose edit,
only the unused service's containers go, a removed volume comes back from its backup,
and a second run has nothing left to do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from tests import dockerkit
from vpmigrate.usage.backup import restore_volume

REPO = Path(__file__).resolve().parents[2]
INV = str(Path(sys.executable).with_name("inv"))

COMPOSE = """\
# Apply test stack: every comment here must survive --apply.
name: {project}

services:
  # the database the code talks to
  postgres:
    image: {image}
    command: ["sh", "-c", {idle!r}]
    volumes:
      - pg-data:/data

  # planned cache, nothing uses it yet
  cache:
    image: {image}  # a stand-in image
    profiles: [mvp]  # will move to future
    command: ["sh", "-c", {idle!r}]
    volumes:
      - cache-data:/data

volumes:
  pg-data:
  cache-data:  # holds the greeting the test restores
"""


def _container(client: Any, image: str, project: str, service: str, volume: str) -> None:
    client.containers.run(
        image,
        ["sh", "-c", dockerkit.IDLE_COMMAND],
        name=f"{project}-{service}-1",
        detach=True,
        volumes={volume: {"bind": "/data", "mode": "rw"}},
        labels={
            "com.docker.compose.project": project,
            "com.docker.compose.service": service,
            "com.docker.compose.container-number": "1",
            "com.docker.compose.oneoff": "False",
        },
    )


def _cli(tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        INV,
        "cleanup.unused",
        "--file",
        str(tmp / "compose.yml"),
        "--path",
        str(tmp / "code"),
        *extra,
    ]
    env = dockerkit.cli_env(INVOKE_CLEANUP_BACKUPS=str(tmp / "backups"))
    return subprocess.run(
        command,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


def test_apply_retires_the_unused_service_and_its_volume_restores(
    tmp_path: Path, docker_client: Any, busybox_image: str
) -> None:
    client = docker_client
    project = dockerkit.unique_name("vpmcleanup")
    restored = f"{project}_restored"
    compose = COMPOSE.format(project=project, image=busybox_image, idle=dockerkit.IDLE_COMMAND)
    (tmp_path / "compose.yml").write_text(compose)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "db.py").write_text(
        'URL = "postgresql://app@postgres:5432/app"  # the only service the code needs\n'
    )
    try:
        for key in ("pg-data", "cache-data"):
            client.volumes.create(
                f"{project}_{key}",
                labels={"com.docker.compose.project": project, "com.docker.compose.volume": key},
            )
        client.containers.run(
            busybox_image,
            ["sh", "-c", "echo hello > /data/greeting"],
            remove=True,
            volumes={f"{project}_cache-data": {"bind": "/data", "mode": "rw"}},
        )
        _container(client, busybox_image, project, "postgres", f"{project}_pg-data")
        _container(client, busybox_image, project, "cache", f"{project}_cache-data")

        refused = _cli(tmp_path, "--apply", "--volumes")  # no --yes, no terminal
        assert refused.returncode != 0
        assert "--yes" in refused.stderr and "Traceback" not in refused.stderr
        assert (tmp_path / "compose.yml").read_text() == compose

        done = _cli(tmp_path, "--apply", "--volumes", "--yes")
        assert done.returncode == 0, done.stderr
        assert "plan: retire cache" in done.stdout

        edited = (tmp_path / "compose.yml").read_text()
        for line in compose.splitlines():
            if "#" in line and "profiles" not in line:
                assert line in edited.splitlines()
        assert "profiles: [future]" in edited
        assert edited.count("profiles") == 1

        names = {
            c.name
            for c in client.containers.list(
                all=True, filters={"label": f"com.docker.compose.project={project}"}
            )
        }
        assert names == {f"{project}-postgres-1"}
        volumes = {
            v.name
            for v in client.volumes.list(filters={"label": f"com.docker.compose.project={project}"})
        }
        assert volumes == {f"{project}_pg-data"}

        backups = list((tmp_path / "backups").glob(f"{project}_cache-data-*.tar.gz"))
        assert len(backups) == 1
        assert f"backup: {backups[0]}" in done.stdout
        restore_volume(client, busybox_image, backups[0], restored)
        greeting = client.containers.run(
            busybox_image,
            ["cat", "/volume/greeting"],
            remove=True,
            volumes={restored: {"bind": "/volume", "mode": "ro"}},
        )
        assert greeting.decode().strip() == "hello"

        again = _cli(tmp_path, "--apply", "--volumes", "--yes")
        assert again.returncode == 0, again.stderr
        assert "nothing left to do" in again.stdout
        assert (tmp_path / "compose.yml").read_text() == edited
    finally:
        dockerkit.remove_project(client, project)
        for volume in (restored, f"{project}_cache-data", f"{project}_pg-data"):
            try:
                client.api.remove_volume(volume, force=True)
            except Exception:
                pass
