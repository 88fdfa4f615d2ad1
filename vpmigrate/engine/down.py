"""`down`: remove a project's containers (all, or one profile's), then unused networks,
and named volumes only when asked."""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vpmigrate.compose.graph import DependencyGraph
from vpmigrate.compose.model import Project, Service
from vpmigrate.engine import labels
from vpmigrate.engine.events import Event, Reporter, silent
from vpmigrate.engine.resources import exclusive_volumes
from vpmigrate.engine.state import RUNNING, ContainerState, project_containers, volume_exists

if TYPE_CHECKING:
    import docker


@dataclass(frozen=True)
class DownPlan:
    containers: tuple[ContainerState, ...]
    volumes: tuple[str, ...]  # engine names of the named volumes to remove
    kept_volumes: tuple[str, ...]  # named volumes of removed services that stay


def plan_down(
    client: docker.DockerClient,
    project: Project,
    services: Collection[str] | None,
    *,
    remove_volumes: bool,
) -> DownPlan:
    """What `down` would remove. `services=None` means the whole project, orphans included."""
    everything = project_containers(client, project.name)
    if services is None:
        chosen = everything
    else:
        chosen = [c for c in everything if c.service in services]
    if services is None:
        names = exclusive_volumes(project, project.services, ())
        names = sorted(set(names) | set(_labelled_volumes(client, project.name)))
    else:
        # A volume still used by a service that stays is not ours to remove.
        removed_services = {c.service for c in chosen}
        names = exclusive_volumes(project, removed_services, set(project.services) - set(services))
    existing = [n for n in names if volume_exists(client, n)]
    return DownPlan(
        containers=tuple(chosen),
        volumes=tuple(existing) if remove_volumes else (),
        kept_volumes=() if remove_volumes else tuple(existing),
    )


def down(
    client: docker.DockerClient,
    project: Project,
    plan: DownPlan,
    *,
    report: Reporter = silent,
) -> None:
    """Carry out a plan: stop dependents before their dependencies, remove containers,
    then the project's networks that no container uses, then the planned volumes."""
    from docker.errors import NotFound

    by_service: dict[str, list[ContainerState]] = {}
    for container in plan.containers:
        by_service.setdefault(container.service or container.name, []).append(container)
    graph = DependencyGraph(
        [project.services[name] for name in by_service if name in project.services],
        others=[name for name in by_service if name not in project.services],
    )

    def remove(name: str) -> None:
        # Each service goes as soon as every service that needs it is gone (the walk
        # backwards), so independent branches never wait for each other.
        for container in by_service[name]:
            remove_container(client, container, project.services.get(name))
            report(Event(name, "removed", container.name))

    with ThreadPoolExecutor(max_workers=max(1, len(graph))) as pool:
        futures = graph.walk(remove, pool, reverse=True)
    for future in futures.values():
        future.result()  # the first engine error, once every branch has finished

    for network in client.api.networks(filters={"label": f"{labels.PROJECT}={project.name}"}):
        info = client.api.inspect_network(network["Id"])
        if info.get("Containers"):
            continue
        try:
            client.api.remove_network(network["Id"])
        except NotFound:
            continue
        report(Event(network["Name"], "removed", "network"))

    for volume in plan.volumes:
        try:
            client.api.remove_volume(volume)
        except NotFound:
            continue
        report(Event(volume, "removed", "volume"))


def remove_container(
    client: docker.DockerClient, container: ContainerState, service: Service | None
) -> None:
    """Stop (within the service's stop_grace_period, else the container's own stop
    timeout) and remove; a container already gone is fine."""
    from docker.errors import NotFound

    grace = service.stop_grace_period_s if service is not None else None
    try:
        if container.status in RUNNING:
            client.api.stop(container.id, timeout=int(grace) if grace is not None else None)
        client.api.remove_container(container.id, force=True)
    except NotFound:
        pass


def _labelled_volumes(client: docker.DockerClient, project_name: str) -> list[str]:
    found = client.api.volumes(filters={"label": f"{labels.PROJECT}={project_name}"})
    return [v["Name"] for v in (found.get("Volumes") or [])]
