"""`down`: remove a project's containers (all, or one profile's), then unused networks,
and named volumes only when asked."""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from vpmigrate.compose.graph import DependencyGraph
from vpmigrate.compose.model import Project
from vpmigrate.engine.backend import Engine
from vpmigrate.engine.events import Event, Reporter, silent
from vpmigrate.engine.resources import exclusive_volumes
from vpmigrate.engine.state import ContainerState


@dataclass(frozen=True)
class DownPlan:
    containers: tuple[ContainerState, ...]
    volumes: tuple[str, ...]  # engine names of the named volumes to remove
    kept_volumes: tuple[str, ...]  # named volumes of removed services that stay


def plan_down(
    engine: Engine,
    project: Project,
    services: Collection[str] | None,
    *,
    remove_volumes: bool,
) -> DownPlan:
    """What `down` would remove. `services=None` means the whole project, orphans included."""
    everything = engine.containers(project.name)
    if services is None:
        chosen = everything
    else:
        chosen = [c for c in everything if c.service in services]
    if services is None:
        names = exclusive_volumes(project, project.services, ())
        names = sorted(set(names) | set(engine.volumes(project.name)))
    else:
        # A volume still used by a service that stays is not ours to remove.
        removed_services = {c.service for c in chosen}
        names = exclusive_volumes(project, removed_services, set(project.services) - set(services))
    existing = [n for n in names if engine.volume_exists(n)]
    return DownPlan(
        containers=tuple(chosen),
        volumes=tuple(existing) if remove_volumes else (),
        kept_volumes=() if remove_volumes else tuple(existing),
    )


def down(
    engine: Engine,
    project: Project,
    plan: DownPlan,
    *,
    report: Reporter = silent,
) -> None:
    """Carry out a plan: stop dependents before their dependencies, remove containers,
    then the project's networks that no container uses, then the planned volumes."""
    by_service: dict[str, list[ContainerState]] = {}
    for container in plan.containers:
        by_service.setdefault(container.service or container.name, []).append(container)
    graph = DependencyGraph(
        [project.services[name] for name in by_service if name in project.services],
        others=[name for name in by_service if name not in project.services],
    )

    def remove_one(container: ContainerState) -> None:
        service = project.services.get(container.service)
        engine.stop_and_remove(container, service.stop_grace_period_s if service else None)
        report(Event(container.service or container.name, "removed", container.name))

    with ThreadPoolExecutor(max_workers=max(1, len(plan.containers))) as containers:

        def remove(name: str) -> None:
            # Each service goes as soon as every service that needs it is gone (the walk
            # backwards), so independent branches never wait for each other; a
            # service's replicas stop together.
            for removal in [containers.submit(remove_one, c) for c in by_service[name]]:
                removal.result()

        with ThreadPoolExecutor(max_workers=max(1, len(graph))) as services:
            futures = graph.walk(remove, services, reverse=True)
    for future in futures.values():
        future.result()  # the first engine error, once every branch has finished

    for network in engine.networks(project.name):
        if not network.in_use and engine.remove_network(network.id):
            report(Event(network.name, "removed", "network"))

    for volume in plan.volumes:
        if engine.remove_volume(volume):
            report(Event(volume, "removed", "volume"))
