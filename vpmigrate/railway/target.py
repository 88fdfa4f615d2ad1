"""From names (environment, services) to the IDs Railway's API wants."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from vpmigrate.errors import UserError
from vpmigrate.railway.api import ProjectInfo, RailwayBackend
from vpmigrate.railway.settings import Connection


@dataclass(frozen=True)
class Target:
    """One Railway environment of one project, with every service's ID."""

    project_id: str
    project_name: str
    environment: str
    environment_id: str
    services: Mapping[str, str]  # name -> id


def _closest(name: str, candidates: Iterable[str]) -> str:
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.75)
    return f" Did you mean {lowered[match[0]]!r}?" if match else ""


def resolve_target(backend: RailwayBackend, connection: Connection, environment: str) -> Target:
    """Find the project (RAILWAY_PROJECT_ID, or the project token's own) and the environment."""
    scope = backend.token_scope() if connection.credentials.is_project_token else None
    project_id = scope.project_id if scope else connection.project_id
    if project_id is None:  # connection_from() guarantees one of the two
        raise UserError("no Railway project: set RAILWAY_PROJECT_ID.")
    project: ProjectInfo = backend.project(project_id)
    if environment not in project.environments:
        existing = ", ".join(sorted(project.environments)) or "none"
        raise UserError(
            f"Railway project {project.name!r} has no environment {environment!r}; it has "
            f"{existing}.{_closest(environment, project.environments)} Pass --environment."
        )
    environment_id = project.environments[environment]
    if scope and scope.environment_id != environment_id:
        bound = next((n for n, i in project.environments.items() if i == scope.environment_id), "?")
        raise UserError(
            f"the project token in RAILWAY_TOKEN is bound to environment {bound!r}, not "
            f"{environment!r}; pass --environment {bound} or use a token for {environment!r}."
        )
    return Target(project.id, project.name, environment, environment_id, project.services)


def require_services(target: Target, names: Iterable[str], mlflow_service: str) -> None:
    """Fail with one message for every desired service that does not exist on Railway."""
    missing = [n for n in names if n not in target.services]
    if not missing:
        return
    lines = []
    for name in missing:
        hint = _closest(name, target.services)
        if name == mlflow_service:
            hint += " Create it with `inv railway.provision`."
        lines.append(f"{name!r} not found.{hint}")
    raise UserError(
        f"Railway project {target.project_name!r}, environment {target.environment!r}: "
        + " ".join(lines)
        + f" Existing services: {', '.join(sorted(target.services)) or 'none'}. Fix the name "
        "in the desired-state file or pass --service to sync only existing ones."
    )
