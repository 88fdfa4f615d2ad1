"""What the compose files say about each service beyond the loaded model: its `build:`
(context, Dockerfile, target), the keys its own `environment:` sets (as opposed to those
that come from an `env_file`), the env files it reads, and `expose:`.

Read from the raw YAML (anchors and `<<` merged, not interpolated): enough to tell
where a value came from, which the merged model no longer says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vpmigrate.compose.model import Project

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?+-][^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Build:
    context: Path
    dockerfile: Path
    target: str | None = None


@dataclass
class ServiceFacts:
    build: Build | None = None
    own_env: set[str] = field(default_factory=set)  # keys under `environment:`
    env_files: list[Path] = field(default_factory=list)
    expose: set[int] = field(default_factory=set)


def compose_facts(project: Project) -> dict[str, ServiceFacts]:
    """Facts per service, merged over the project's files in order (later files win)."""
    from vpmigrate.compose.yamlsource import load_yaml_file

    facts: dict[str, ServiceFacts] = {name: ServiceFacts() for name in project.services}
    for file in project.config_files:
        try:
            document = load_yaml_file(file)
        except Exception:  # noqa: BLE001 - the loader already accepted it; facts are extras
            continue
        services = document.get("services") if isinstance(document, Mapping) else None
        if not isinstance(services, Mapping):
            continue
        for name, raw in services.items():
            if name not in facts or not isinstance(raw, Mapping):
                continue
            _merge(facts[name], raw, project)
    return facts


def _merge(facts: ServiceFacts, raw: Mapping[str, Any], project: Project) -> None:
    environ = project.environment
    base = project.working_dir
    build = raw.get("build")
    if isinstance(build, str | Mapping):
        spec = {"context": build} if isinstance(build, str) else build
        context = base / _expand(str(spec.get("context") or "."), environ)
        dockerfile = context / _expand(str(spec.get("dockerfile") or "Dockerfile"), environ)
        target = spec.get("target")
        facts.build = Build(
            context.resolve(), dockerfile.resolve(), str(target) if target else None
        )
    environment = raw.get("environment")
    if isinstance(environment, Mapping):
        facts.own_env |= {str(k) for k in environment}
    elif isinstance(environment, list):
        facts.own_env |= {str(item).split("=", 1)[0] for item in environment}
    env_file = raw.get("env_file")
    if env_file is not None:
        items = env_file if isinstance(env_file, list) else [env_file]
        files = []
        for item in items:
            path = item.get("path") if isinstance(item, Mapping) else item
            if path:
                files.append((base / _expand(str(path), environ)).resolve())
        facts.env_files = files
    expose = raw.get("expose")
    if isinstance(expose, list):
        for item in expose:
            text = str(item).split("/", 1)[0].split("-", 1)[0]
            if text.isdigit():
                facts.expose.add(int(text))


def _expand(text: str, environ: Mapping[str, str]) -> str:
    """`${VAR}` / `${VAR:-default}` as Compose would, well enough for a path."""

    def value(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name in environ:
            return environ[name]
        default = re.search(r":?-(.*)\}$", m.group(0))
        return default.group(1) if default else ""

    return _VARIABLE.sub(value, text)


def shared_env_files(facts: Mapping[str, ServiceFacts]) -> set[Path]:
    """Env files that more than one service reads: their values configure many services
    at once, so they say nothing about which one needs which."""
    seen: dict[Path, int] = {}
    for item in facts.values():
        for path in set(item.env_files):
            seen[path] = seen.get(path, 0) + 1
    return {path for path, count in seen.items() if count > 1}
