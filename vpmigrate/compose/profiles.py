"""Compose profiles: which services a command acts on."""

from __future__ import annotations

from collections.abc import Sequence

from vpmigrate.compose.graph import DependencyGraph
from vpmigrate.compose.model import Project, Service
from vpmigrate.errors import UserError


def active_profiles(requested: Sequence[str], project: Project) -> frozenset[str]:
    """The profiles from `--profile` (repeatable) or else COMPOSE_PROFILES; "*" is all."""
    source = "--profile"
    names = [name.strip() for name in requested if name.strip()]
    if not names:
        source = "COMPOSE_PROFILES"
        raw = project.environment.get("COMPOSE_PROFILES", "")
        names = [name.strip() for name in raw.split(",") if name.strip()]
    known = project.profiles
    if "*" in names:
        return known
    unknown = sorted(set(names) - known)
    if unknown:
        listed = ", ".join(sorted(known)) if known else "none: no service has `profiles:`"
        raise UserError(
            f"Unknown profile {', '.join(repr(n) for n in unknown)} (from {source}). "
            f"Known profiles: {listed}."
        )
    return frozenset(names)


def select_services(
    project: Project, profiles: frozenset[str], services: Sequence[str] = ()
) -> list[Service]:
    """The services to act on, dependencies first (ties by name).

    Without `services`: every active service (no `profiles:` means always active).
    With `services`: those (whatever their profiles, as Compose does for services
    named on the command line) plus what they depend on. A required dependency that
    is not active is an error; an optional one (`required: false`) is left out.
    """
    unknown = [name for name in services if name not in project.services]
    if unknown:
        raise UserError(
            f"No such service: {', '.join(unknown)}. Known services: "
            f"{', '.join(sorted(project.services))}."
        )
    named = set(services)
    roots = (
        sorted(named)
        if services
        else sorted(
            name for name, service in project.services.items() if service.is_active(profiles)
        )
    )

    def usable(name: str) -> bool:
        return name in named or project.services[name].is_active(profiles)

    selected: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in selected:
            continue
        selected.add(name)
        service = project.services[name]
        if service.problems:  # Compose checks a service's references when it runs it
            raise UserError(service.problems[0])
        for dependency in service.depends_on:
            if usable(dependency.service):
                pending.append(dependency.service)
            elif dependency.required:
                raise _inactive_dependency(service, dependency.service, project)
    # The order of the whole project's graph, kept for the selected services.
    order = DependencyGraph(project.services.values()).order()
    return [project.services[name] for name in order if name in selected]


def _inactive_dependency(service: Service, dependency: str, project: Project) -> UserError:
    needed = project.services[dependency].profiles
    flags = " ".join(f"--profile {p}" for p in needed)
    return UserError(
        f"Service '{service.name}' depends on '{dependency}', which is only in profile(s) "
        f"{', '.join(needed)} and is not active. Add {flags} (or set COMPOSE_PROFILES), or "
        f"mark the dependency `required: false` under depends_on of '{service.name}' "
        f"({service.location})."
    )
