"""Which compose service needs which: `depends_on`, environment values or commands that
name another service (mlflow's `MLFLOW_S3_ENDPOINT_URL=http://minio:9000`), a proxy's
routes (Traefik labels on the services it routes to), and the volumes a one-shot job
shares with the service it prepares (certbot writes the certificates nginx reads).

A value that comes from an env file several services read says nothing about which of
them needs which (a shared `.env` with `REDIS_URL` does not make the database need
Redis): only a service's own `environment:` and env files of its own make edges."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from vpmigrate.codescan.composefacts import shared_env_files
from vpmigrate.codescan.index import SignalIndex, pointed_at
from vpmigrate.compose.model import Project

_ENV_KEY = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=", re.MULTILINE)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    how: str  # "depends_on" | "environment KEY" | "command" | "routes" | "shares volume V"
    file: Path
    line: int


def compose_edges(project: Project, index: SignalIndex) -> list[Edge]:
    edges: set[Edge] = set()
    facts = index.facts
    shared = shared_env_files(facts)
    for name, service in project.services.items():
        file, start = service.location.file, service.location.line
        for dependency in service.depends_on:
            if dependency.service in project.services and dependency.service != name:
                line = _line_of(file, start, dependency.service + ":", dependency.service)
                edges.add(Edge(name, dependency.service, "depends_on", file, line))
        fact = facts.get(name)
        own = set(fact.own_env) if fact else set(service.environment)
        if fact:
            for env_file in fact.env_files:
                if env_file not in shared:
                    own |= _env_file_keys(env_file)
        for key, value in service.environment.items():
            if key not in own:
                continue  # from an env file other services read too
            for target in pointed_at(index, value, key) - {name}:
                edges.add(
                    Edge(name, target, f"environment {key}", file, _line_of(file, start, key))
                )
        for words, label in ((service.command, "command"), (service.entrypoint, "entrypoint")):
            if not words:
                continue
            for target in {
                s
                for m in index.targets(" ".join(words))
                for s in m.services
                if m.category in ("host", "port")
            } - {name}:
                edges.add(Edge(name, target, label, file, _line_of(file, start, label + ":")))
    edges |= _routes(project, index)
    edges |= _shared_volumes(project, index)
    return sorted(edges, key=lambda e: (e.source, e.target, e.how))


def _routes(project: Project, index: SignalIndex) -> set[Edge]:
    """A Traefik proxy routes to every service that carries `traefik.*` labels."""
    proxies = [n for n in project.services if index.services[n].family == "traefik"]
    edges = set()
    for name, service in project.services.items():
        if name in proxies or not any(k.startswith("traefik.") for k in service.labels):
            continue
        line = _line_of(service.location.file, service.location.line, "traefik.")
        for proxy in proxies:
            edges.add(Edge(proxy, name, "routes (traefik labels)", service.location.file, line))
    return edges


def _shared_volumes(project: Project, index: SignalIndex) -> set[Edge]:
    """A one-shot job (or certbot-like helper) prepares what it shares a volume with."""
    edges = set()
    for name, service in project.services.items():
        if index.services[name].role != "job":
            continue
        mine = {(m.type, m.source) for m in service.volumes if m.source and m.type != "tmpfs"}
        for other, theirs in project.services.items():
            if other == name:
                continue
            common = mine & {(m.type, m.source) for m in theirs.volumes if m.source}
            for kind, source in sorted(common, key=str):
                shown = Path(source).name if kind == "bind" else source
                line = _line_of(service.location.file, service.location.line, "volumes:")
                edges.add(Edge(name, other, f"shares volume {shown}", service.location.file, line))
    return edges


@lru_cache(maxsize=64)
def _env_file_keys(path: Path) -> frozenset[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:1_000_000]
    except OSError:
        return frozenset()
    return frozenset(_ENV_KEY.findall(text))


def _line_of(file: Path, start: int, *needles: str) -> int:
    """The first line from the service's definition on that contains a needle."""
    lines = _lines(file)
    for number in range(start, min(len(lines), start + 400) + 1):
        text = lines[number - 1]
        if any(needle in text for needle in needles):
            return number
    return start


@lru_cache(maxsize=16)
def _lines(file: Path) -> tuple[str, ...]:
    try:
        return tuple(file.read_text(encoding="utf-8", errors="replace").splitlines())
    except OSError:
        return ()
