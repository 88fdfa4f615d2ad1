"""`status` and `logs`: what a project's services look like on the engine right now."""

from __future__ import annotations

from collections.abc import Iterator
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
    """One row per service of the compose files, plus containers of services no longer
    in them (orphans), sorted by service name."""
    by_service: dict[str, ContainerState] = {}
    for found in engine.containers(project.name):
        by_service.setdefault(found.service, found)
    rows = []
    for name in sorted(set(project.services) | set(by_service)):
        container = by_service.get(name)
        service = project.services.get(name)
        rows.append(
            ServiceStatus(
                service=name,
                profiles=service.profiles if service else (),
                container=container.name if container else "",
                state=container.status if container else "not created",
                health=container.health if container else "",
                exit_code=container.exit_code
                if container and container.status == "exited"
                else None,
                ports=tuple(str(p) for p in container.ports) if container else (),
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
    """The service container's output (stdout and stderr), optionally followed."""
    if service not in project.services:
        known = ", ".join(sorted(project.services))
        raise UserError(f"unknown service {service!r}: the compose files define {known}.")
    found = engine.containers(project.name, service)
    if not found:
        raise UserError(
            f"service {service!r} has no container in project {project.name!r}: start it with "
            "`inv local.up"
            + "".join(f" --profile {p}" for p in project.services[service].profiles[:1])
            + "`."
        )
    yield from engine.logs(found[0].id, tail=tail, follow=follow)
