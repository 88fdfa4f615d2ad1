"""Helpers for tests that use the real Docker engine: a busybox image built FROM scratch
(no registry needed) and clean-up of everything a Compose project left behind."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import uuid
from pathlib import Path
from typing import Any

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")

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
            f"these tests need a running Docker engine ({exc}); .ci/run installs and starts one"
        ) from exc
    return client


def busybox_binary() -> Path:
    for candidate in BUSYBOX_CANDIDATES:
        path = Path(candidate)
        if path.exists():
            return path
    found = shutil.which("busybox")
    if found is None:
        raise RuntimeError("busybox-static is not installed (apt-get install busybox-static)")
    return Path(found)


def build_busybox_image(client: Any, tag: str) -> str:
    """Build a ~2 MB image FROM scratch with busybox's applets in /bin; returns its ID."""
    dockerfile = (
        "FROM scratch\n"
        "COPY busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin '
        '&& mkdir -p /tmp /data /etc && chmod 1777 /tmp"]\n'
        'CMD ["sh"]\n'
    )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
        archive.add(str(busybox_binary()), arcname="busybox")
    buffer.seek(0)
    image, _ = client.images.build(fileobj=buffer, custom_context=True, tag=tag, rm=True)
    return str(image.id)


def unique_name(prefix: str = "vpmt") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def remove_project(client: Any, project: str) -> None:
    """Remove every container, network and volume labelled with the Compose project."""
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


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for running `inv` in a subprocess: no stray Compose settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    env.update(extra)
    return env
