"""`cleanup.unused --apply` against the real engine: comments survive the compose edit,
only the unused service's containers go, a removed volume comes back from its backup,
a service of an unknown image is left alone, and a second run has nothing left to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devkit import dockerkit
from tests.codescan.conftest import run_cleanup
from vpmigrate.codescan.backup import restore_volume

COMPOSE = """\
# Apply test stack: every comment here must survive --apply.
name: {project}

services:
  # the database the code talks to
  postgres:
    image: {busybox}
    command: ["sh", "-c", {idle!r}]
    volumes:
      - pg-data:/data

  # planned cache, nothing uses it yet
  cache:
    image: {redis}  # busybox, tagged as a redis image
    profiles: [mvp]  # will move to future
    command: ["sh", "-c", {idle!r}]
    volumes:
      - cache-data:/data

  # an image the signature table does not know: never retired by guesswork
  sidecar:
    image: {busybox}
    command: ["sh", "-c", {idle!r}]

volumes:
  pg-data:
  cache-data:  # holds the greeting the test restores
"""


def _container(client: Any, image: str, project: str, service: str, volume: str | None) -> None:
    client.containers.run(
        image,
        ["sh", "-c", dockerkit.IDLE_COMMAND],
        name=f"{project}-{service}-1",
        detach=True,
        volumes={volume: {"bind": "/data", "mode": "rw"}} if volume else None,
        labels={
            "com.docker.compose.project": project,
            "com.docker.compose.service": service,
            "com.docker.compose.container-number": "1",
            "com.docker.compose.oneoff": "False",
        },
    )


def test_apply_retires_the_unused_service_and_its_volume_restores(
    tmp_path: Path, docker_client: Any, busybox_image: str
) -> None:
    client = docker_client
    project = dockerkit.unique_name("vpmcleanup")
    redis_image = f"redis:{project}"
    restored = f"{project}_restored"
    compose = COMPOSE.format(
        project=project, busybox=busybox_image, redis=redis_image, idle=dockerkit.IDLE_COMMAND
    )
    (tmp_path / "compose.yml").write_text(compose)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "db.py").write_text(
        'URL = "postgresql://app@postgres:5432/app"  # the only service the code needs\n'
    )
    args = ("--file", str(tmp_path / "compose.yml"), "--path", str(tmp_path / "code"))
    backups_env = {"INVOKE_CLEANUP_BACKUPS": str(tmp_path / "backups")}
    try:
        client.images.get(busybox_image).tag("redis", project)
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
        _container(client, redis_image, project, "cache", f"{project}_cache-data")
        _container(client, busybox_image, project, "sidecar", None)

        refused = run_cleanup(tmp_path, *args, "--apply", "--volumes", **backups_env)
        assert refused.returncode != 0  # no --yes and no terminal to ask on
        assert "--yes" in refused.stderr and "Traceback" not in refused.stderr
        assert (tmp_path / "compose.yml").read_text() == compose

        done = run_cleanup(tmp_path, *args, "--apply", "--volumes", "--yes", **backups_env)
        assert done.returncode == 0, done.stderr
        assert "plan: retire cache" in done.stdout
        assert "not retiring sidecar" in done.stderr

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
        assert names == {f"{project}-postgres-1", f"{project}-sidecar-1"}
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

        again = run_cleanup(tmp_path, *args, "--apply", "--volumes", "--yes", **backups_env)
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
        try:
            client.api.remove_image(redis_image)  # the tag only: busybox stays for others
        except Exception:
            pass
