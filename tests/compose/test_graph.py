"""The one dependency graph: order forwards and backwards, implied edges, one cycle error,
and a walk that starts each service as soon as what it needs has finished."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.compose.conftest import ComposeFolder
from vpmigrate.compose.graph import DependencyGraph
from vpmigrate.errors import UserError

# web needs api and static; api needs db and cache; worker needs db; static is alone.
STACK = """\
services:
  web: {image: x, depends_on: [api, static]}
  api: {image: x, depends_on: {db: {condition: service_healthy}}, links: ["cache:memo"]}
  db: {image: x}
  cache: {image: x}
  worker: {image: x, volumes_from: [db]}
  static: {image: x}
"""


def graph_of(folder: ComposeFolder, text: str) -> DependencyGraph:
    folder.write("compose.yml", text)
    return DependencyGraph(folder.load().services.values())


def test_order_is_dependencies_first_ties_by_name_and_backwards_for_down(
    folder: ComposeFolder,
) -> None:
    graph = graph_of(folder, STACK)
    assert graph.order() == ["cache", "db", "api", "static", "web", "worker"]
    assert graph.order(reverse=True) == ["worker", "web", "static", "api", "db", "cache"]
    assert graph.dependencies("api") == ("cache", "db")  # `cache` through links
    assert graph.dependencies("worker") == ("db",)  # through volumes_from
    assert graph.dependents("db") == ("api", "worker")


def test_edges_to_services_outside_the_set_are_left_out(folder: ComposeFolder) -> None:
    folder.write("compose.yml", STACK)
    services = folder.load().services
    graph = DependencyGraph([services["api"], services["db"]], others=["orphan"])
    assert graph.order() == ["db", "api", "orphan"]
    assert graph.dependencies("api") == ("db",)
    assert graph.dependencies("orphan") == ()


def test_a_cycle_names_each_step_and_the_key_that_makes_it(folder: ComposeFolder) -> None:
    path = folder.root / "compose.yml"
    with pytest.raises(UserError) as caught:
        graph_of(
            folder,
            """\
            services:
              a: {image: x, depends_on: [b]}
              b: {image: x, network_mode: "service:c"}
              c: {image: x, links: [a]}
              d: {image: x, depends_on: [a]}
            """.replace("            ", ""),
        )
    message = str(caught.value)
    assert message.startswith("services depend on each other in a cycle: a needs b (depends_on")
    assert "b needs c (network_mode at " in message and "c needs a (links at " in message
    for line in (2, 3, 4):  # each service's own line, at least
        assert f"{path}:{line}" in message
    assert "d needs" not in message  # d is not part of the cycle


def test_walk_forwards_runs_each_service_after_its_dependencies(folder: ComposeFolder) -> None:
    graph = graph_of(folder, STACK)
    finished: list[str] = []
    lock = threading.Lock()

    def visit(name: str) -> str:
        with lock:
            finished.append(name)
        return name.upper()

    with ThreadPoolExecutor(max_workers=2) as pool:  # fewer workers than services is fine
        futures = graph.walk(visit, pool)
    assert {name: f.result() for name, f in futures.items()}["api"] == "API"
    for name in finished:
        assert all(finished.index(dep) < finished.index(name) for dep in graph.dependencies(name))


def test_walk_backwards_runs_each_service_after_its_dependents(folder: ComposeFolder) -> None:
    graph = graph_of(folder, STACK)
    finished: list[str] = []

    def visit(name: str) -> None:
        if name == "web":
            raise RuntimeError("engine error")  # a failure does not hold up the others
        finished.append(name)

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = graph.walk(visit, pool, reverse=True)
    assert isinstance(futures["web"].exception(), RuntimeError)
    assert set(finished) == {"worker", "static", "api", "db", "cache"}
    for name in finished:
        assert all(
            finished.index(user) < finished.index(name)
            for user in graph.dependents(name)
            if user != "web"
        )


def test_independent_branches_do_not_wait_for_each_other(folder: ComposeFolder) -> None:
    # static has nothing to wait for: it may finish while db is still busy.
    graph = graph_of(folder, STACK)
    db_may_finish = threading.Event()

    def visit(name: str) -> None:
        if name == "db":
            assert db_may_finish.wait(timeout=10)
        if name == "static":
            db_may_finish.set()

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = graph.walk(visit, pool)
    assert all(f.exception() is None for f in futures.values())
