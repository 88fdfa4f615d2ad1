"""Helpers for tests and benchmarks that use the real Docker engine: a busybox image built
FROM scratch (no registry needed) and clean-up of everything a Compose project left behind."""

from __future__ import annotations

import os
import uuid
from typing import Any

# Re-exported: the tests and benchmarks build their service image with the core's builder.
from vpmigrate.engine.busybox import build_busybox_image as build_busybox_image

# A service that exits at once on SIGTERM (PID 1 ignores signals it has no handler for).
IDLE_COMMAND = 'trap "exit 0" TERM; while true; do sleep 1 & wait $$!; done'


def docker_client() -> Any:
    """The engine's client; fails (never skips) when no engine answers."""
    import docker

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # pragma: no cover - only without an engine
        raise RuntimeError(
            f"the tests and benchmarks need a running Docker engine ({exc}); "
            ".ci/run installs and starts one"
        ) from exc
    return client


def unique_name(prefix: str = "vpmt") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def remove_project(client: Any, project: str) -> None:
    """Remove every container, network, volume and built image labelled with the Compose
    project."""
    label = f"com.docker.compose.project={project}"
    for container in client.api.containers(all=True, filters={"label": label}):
        client.api.remove_container(container["Id"], force=True, v=True)
    for network in client.api.networks(filters={"label": label}):
        try:
            client.api.remove_network(network["Id"])
        except Exception:
            pass
    for volume in client.api.volumes(filters={"label": label}).get("Volumes") or []:
        try:
            client.api.remove_volume(volume["Name"], force=True)
        except Exception:
            pass
    # Images built for the project (by us or by `docker compose build`) carry its label.
    for image in client.api.images(filters={"label": label}):
        try:
            client.api.remove_image(image["Id"], force=True)
        except Exception:
            pass


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for running `inv` in a subprocess: no stray Compose settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    env.update(extra)
    return env
