"""Which compose service needs which: `depends_on`, and environment values or
commands that name another service (mlflow's `MLFLOW_S3_ENDPOINT_URL=http://minio:9000`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from vpmigrate.codescan.index import SignalIndex, pointed_at
from vpmigrate.compose.model import Project


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    how: str  # "depends_on" | "environment KEY" | "command"
    file: Path
    line: int


def compose_edges(project: Project, index: SignalIndex) -> list[Edge]:
    edges: set[Edge] = set()
    for name, service in project.services.items():
        file, start = service.location.file, service.location.line
        for dependency in service.depends_on:
            if dependency.service in project.services and dependency.service != name:
                line = _line_of(file, start, dependency.service + ":", dependency.service)
                edges.add(Edge(name, dependency.service, "depends_on", file, line))
        for key, value in service.environment.items():
            for target in pointed_at(index, value) - {name}:
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
    return sorted(edges, key=lambda e: (e.source, e.target, e.how))


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
