"""`status` and `logs`: what a project's services look like on the engine right now."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from vpmigrate.compose.model import Project
from vpmigrate.engine.backend import Engine
from vpmigrate.engine.state import ContainerState, ContainerStatus, Health
from vpmigrate.errors import UserError


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    profiles: tuple[str, ...]
    container: str  # "" when there is none
    state: ContainerStatus | Literal["not created"]
    health: Health
    exit_code: int | None
    ports: tuple[str, ...]  # published ports as URLs
    in_compose_file: bool = True

    def as_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "profiles": list(self.profiles),
            "container": self.container or None,
            "state": self.state,
            "health": self.health or None,
            "exit_code": self.exit_code,
            "ports": list(self.ports),
            "orphan": not self.in_compose_file,
        }


def project_status(engine: Engine, project: Project) -> list[ServiceStatus]:
    """One row per container of the project (a service with replicas has several), one
    `not created` row per service of the files without a container, and the containers
    of services no longer in the files (orphans); sorted by service, then number."""
    by_service: dict[str, list[ContainerState]] = {}
    for found in engine.containers(project.name):
        by_service.setdefault(found.service, []).append(found)
    rows = []
    for name in sorted(set(project.services) | set(by_service)):
        service = project.services.get(name)
        profiles = service.profiles if service else ()
        containers = sorted(by_service.get(name, []), key=lambda c: c.number)
        if not containers:
            rows.append(ServiceStatus(name, profiles, "", "not created", "", None, ()))
        for container in containers:
            rows.append(
                ServiceStatus(
                    service=name,
                    profiles=profiles,
                    container=container.name,
                    state=container.status,
                    health=container.health,
                    exit_code=container.exit_code if container.status == "exited" else None,
                    ports=tuple(str(p) for p in container.ports),
                    in_compose_file=service is not None,
                )
            )
    return rows


def service_logs(
    engine: Engine,
    project: Project,
    service: str,
    *,
    follow: bool,
    tail: int | None,
) -> Iterator[bytes]:
    """The output (stdout and stderr) of the service's containers, optionally followed.
    One container: as it wrote it. Several (replicas): line by line as they come, each
    prefixed with `<service>-<n> | ` as Compose does."""
    if service not in project.services:
        known = ", ".join(sorted(project.services))
        raise UserError(f"unknown service {service!r}: the compose files define {known}.")
    found = sorted(engine.containers(project.name, service), key=lambda c: c.number)
    if not found:
        raise UserError(
            f"service {service!r} has no container in project {project.name!r}: start it with "
            "`inv local.up"
            + "".join(f" --profile {p}" for p in project.services[service].profiles[:1])
            + "`."
        )
    if len(found) == 1:
        yield from engine.logs(found[0].id, tail=tail, follow=follow)
        return
    names = [f"{service}-{c.number}" for c in found]
    width = max(len(n) for n in names) + 1
    lines: queue.Queue[bytes | None] = queue.Queue()

    def pump(container: ContainerState, prefix: bytes) -> None:
        try:
            for line in _lines(engine.logs(container.id, tail=tail, follow=follow)):
                lines.put(prefix + line)
        finally:
            lines.put(None)  # this container's stream ended

    for container, name in zip(found, names, strict=True):
        prefix = f"{name:<{width}} | ".encode()
        threading.Thread(target=pump, args=(container, prefix), daemon=True).start()
    running = len(found)
    while running:
        line = lines.get()
        if line is None:
            running -= 1
        else:
            yield line


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Whole lines (ending in a newline) from a stream of arbitrary chunks."""
    rest = b""
    for chunk in chunks:
        rest += chunk
        *complete, rest = rest.split(b"\n")
        for line in complete:
            yield line + b"\n"
    if rest:
        yield rest + b"\n"
