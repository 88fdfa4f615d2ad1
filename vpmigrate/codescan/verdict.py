"""From evidence to a verdict per service.

- `dev-tool`: the image is a developer tool (pgAdmin, mongo-express, Adminer ...), or a
  signature says `role: dev-tool`. Its dependencies do not count as used through it.
- `required`: code uses it (an import, a URL, a host, a published port on localhost, an
  env variable of it in code), or a required service needs it through the compose file
  (`depends_on`, an env value or command naming it).
- `optional`: used, but only as observability (a `monitoring` family: Prometheus,
  Grafana, Loki/Jaeger/OpenTelemetry), or configured under `cleanup.optional`, or needed
  only by optional services; also an otherwise unused service kept by `cleanup.keep`.
- `unused`: none of that; declarations (a package in requirements) and mentions
  (comments, docstrings, documents) are shown but never make a service used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vpmigrate.codescan.evidence import Evidence, Verdict, display_path
from vpmigrate.codescan.graph import Edge
from vpmigrate.codescan.index import SignalIndex
from vpmigrate.codescan.settings import UsageSettings
from vpmigrate.compose.model import Project
from vpmigrate.errors import UserError

REQUIRED, OPTIONAL, NONE = 2, 1, 0
VERDICT_ORDER = {"required": 0, "optional": 1, "dev-tool": 2, "unused": 3}


@dataclass(frozen=True)
class ServiceReport:
    service: str
    verdict: Verdict
    evidence: tuple[Evidence, ...]  # strongest first
    reason: str = ""  # why, in a few words: "imported in code", "needed by mlflow", ...
    known: bool = True  # its image is in the signature table (or the user gave signals)


def decide(
    project: Project,
    index: SignalIndex,
    evidence: Mapping[str, list[Evidence]],
    edges: list[Edge],
    settings: UsageSettings,
    display_base: Path,
) -> list[ServiceReport]:
    _check_names(project, settings)
    roles = {name: index.services[name].role for name in project.services}
    level = {name: NONE for name in project.services}
    for name in project.services:
        if roles[name] == "dev-tool":
            continue
        if any(e.kind == "use" for e in evidence.get(name, ())):
            optional = roles[name] == "monitoring" or name in settings.optional
            level[name] = OPTIONAL if optional else REQUIRED
    changed = True
    while changed:  # a used service's needs are used at (at most) its own level
        changed = False
        for edge in edges:
            if roles[edge.source] == "dev-tool" or level[edge.source] == NONE:
                continue
            wanted = OPTIONAL if edge.target in settings.optional else level[edge.source]
            if wanted > level[edge.target]:
                level[edge.target] = wanted
                changed = True
    reports = []
    for name in project.services:
        items = list(evidence.get(name, ()))
        for edge in edges:
            if (
                edge.target == name
                and level[edge.source] > NONE
                and roles[edge.source] != "dev-tool"
            ):
                items.append(
                    Evidence(
                        display_path(edge.file.resolve(), display_base.resolve()),
                        edge.line,
                        f"needed by {edge.source} ({edge.how})",
                        "use",
                        "needed-by",
                    )
                )
        verdict: Verdict
        if roles[name] == "dev-tool":
            verdict, reason = "dev-tool", "developer tool"
            service = project.services[name]
            items.append(
                Evidence(
                    display_path(service.location.file.resolve(), display_base.resolve()),
                    service.location.line,
                    f"developer tool image {service.image}",
                    "declared",
                    "role",
                )
            )
        elif level[name] == REQUIRED:
            verdict, reason = "required", _reason(items)
        elif level[name] == OPTIONAL:
            verdict = "optional"
            reason = (
                f"optional: {settings.optional[name]}"
                if name in settings.optional
                else "observability only"
                if roles[name] == "monitoring"
                else "needed by optional services only"
            )
        elif name in settings.keep:
            verdict, reason = "optional", f"kept: {settings.keep[name]}"
            items.append(
                Evidence(
                    "config cleanup.keep", 0, f"keep: {settings.keep[name]}", "declared", "keep"
                )
            )
        else:
            verdict, reason = "unused", "no use in code"
        items.sort(key=lambda e: (-e.strength[0], -e.strength[1], e.file, e.line))
        known = index.services[name].known
        if verdict == "unused" and not known:
            reason = f"no use found, but image {project.services[name].image} has no signature"
        reports.append(ServiceReport(name, verdict, tuple(dict.fromkeys(items)), reason, known))
    reports.sort(key=lambda r: (VERDICT_ORDER[r.verdict], r.service))
    return reports


def _reason(items: list[Evidence]) -> str:
    if any(e.kind == "use" and e.category != "needed-by" for e in items):
        return "used by the code"
    return "needed by a used service"


def _check_names(project: Project, settings: UsageSettings) -> None:
    for section, names in (
        ("cleanup.keep", settings.keep),
        ("cleanup.optional", settings.optional),
    ):
        unknown = sorted(set(names) - set(project.services))
        if unknown:
            raise UserError(
                f"{section} names {', '.join(unknown)}, which the compose file does not define "
                f"(services: {', '.join(sorted(project.services))}); fix the name or remove it."
            )
