"""The one dependency graph of a project's services.

Edges come from `depends_on`, which the loader completes as Compose does with the
services that `links`, `volumes_from` and `network_mode: service:X` name. `up` walks the
graph forwards (dependencies first), `down` backwards (dependents first), and a cycle is
one error that names the services and where each edge is written.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future
from concurrent.futures import wait as wait_for
from graphlib import CycleError, TopologicalSorter
from typing import Any, TypeVar

from vpmigrate.compose.model import Service, link_parts, volumes_from_parts
from vpmigrate.errors import UserError

T = TypeVar("T")


class DependencyGraph:
    """Services and what each needs, restricted to the services given: an edge to a
    service outside the set (an inactive `required: false` dependency) is left out."""

    def __init__(self, services: Iterable[Service], *, others: Iterable[str] = ()) -> None:
        """`others`: names without a definition (containers of services no longer in
        the files), nodes without edges."""
        by_name = {s.name: s for s in services}
        self._needs: dict[str, tuple[str, ...]] = {name: () for name in others}
        for name, service in by_name.items():
            self._needs[name] = tuple(
                sorted({d.service for d in service.depends_on if d.service in by_name})
            )
        needed_by: dict[str, list[str]] = {name: [] for name in self._needs}
        for name, needs in self._needs.items():
            for dependency in needs:
                needed_by[dependency].append(name)
        self._needed_by = {name: tuple(sorted(users)) for name, users in needed_by.items()}
        self._order = _dependencies_first(self._needs, by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._needs

    def __len__(self) -> int:
        return len(self._needs)

    def dependencies(self, name: str) -> tuple[str, ...]:
        return self._needs[name]

    def dependents(self, name: str) -> tuple[str, ...]:
        return self._needed_by[name]

    def order(self, *, reverse: bool = False) -> list[str]:
        """Dependencies first (ties by name); `reverse`: dependents first."""
        return list(reversed(self._order)) if reverse else list(self._order)

    def walk(
        self, visit: Callable[[str], T], pool: Executor, *, reverse: bool = False
    ) -> dict[str, Future[T]]:
        """Run `visit(name)` for every service once what comes before it has finished:
        its dependencies (forwards) or its dependents (backwards, `reverse`). Independent
        branches run concurrently, and a node never waits for more than its own
        predecessors. A failed predecessor does not stop the walk: `visit` looks at the
        predecessors' futures and decides. Any pool size works: every node is submitted
        after its predecessors."""
        futures: dict[str, Future[T]] = {}
        for name in self.order(reverse=reverse):
            before = [futures[n] for n in (self.dependents if reverse else self.dependencies)(name)]
            futures[name] = pool.submit(_after, before, visit, name)
        return futures


def _after(before: Sequence[Future[Any]], visit: Callable[[str], T], name: str) -> T:
    wait_for(before)
    return visit(name)


def _dependencies_first(
    needs: Mapping[str, tuple[str, ...]], services: Mapping[str, Service]
) -> list[str]:
    sorter = TopologicalSorter(needs)
    try:
        sorter.prepare()
    except CycleError as exc:
        raise _cycle_error(list(exc.args[1]), services) from None
    # graphlib hands out whole batches; a heap keeps the order stable and readable: the
    # first ready name in alphabetical order, then whatever that unblocks.
    ready = list(sorter.get_ready())
    heapq.heapify(ready)
    ordered: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        ordered.append(name)
        sorter.done(name)
        for unblocked in sorter.get_ready():
            heapq.heappush(ready, unblocked)
    return ordered


def _cycle_error(cycle: list[str], services: Mapping[str, Service]) -> UserError:
    # graphlib gives [a, b, ..., a], each node a dependency of the next one: reversed,
    # each needs the next. Start at the first name in alphabetical order.
    path = list(reversed(cycle[1:]))
    start = path.index(min(path))
    path = path[start:] + path[:start]
    steps = []
    for index, name in enumerate(path):
        needed = path[(index + 1) % len(path)]
        key = _edge_key(services[name], needed)
        steps.append(f"{name} needs {needed} ({key} at {services[name].location_of(key)})")
    return UserError(
        "services depend on each other in a cycle: "
        + "; ".join(steps)
        + ". Nothing can start first: remove one of these dependencies."
    )


def _edge_key(service: Service, needed: str) -> str:
    """The key that makes `service` need `needed` (depends_on unless another one implies it)."""
    if any(link_parts(entry)[0] == needed for entry in service.links):
        return "links"
    if service.network_mode == f"service:{needed}":
        return "network_mode"
    if any(volumes_from_parts(entry)[:2] == (needed, False) for entry in service.volumes_from):
        return "volumes_from"
    return "depends_on"
