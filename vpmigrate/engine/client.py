"""Connecting to the Docker engine, with a message that says how to start it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from vpmigrate.errors import UserError

if TYPE_CHECKING:
    from vpmigrate.engine.backend import DockerEngine


def connect() -> DockerEngine:
    """The engine named by DOCKER_HOST (default: the local socket)."""
    import docker
    from docker.errors import DockerException

    from vpmigrate.engine.backend import DockerEngine

    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException as exc:
        raise UserError(
            f"the Docker daemon is not reachable at {where} ({_reason(exc)}). Start it "
            "(`sudo systemctl start docker`, or `sudo dockerd &` where there is no systemd; "
            "on a desktop, start Docker Desktop), or point DOCKER_HOST at a running engine, "
            "then re-run the command."
        ) from None
    return DockerEngine(client)


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("No such file or directory", "Connection refused", "Permission denied"):
        if marker in text:
            return marker.lower()
    return text.splitlines()[0][:160] if text else type(exc).__name__
