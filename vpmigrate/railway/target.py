"""From names (environment, services) to the IDs Railway's API wants."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from vpmigrate.errors import UserError
from vpmigrate.railway.api import ProjectInfo, RailwayBackend
from vpmigrate.railway.secrets import printable
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
    return f" Did you mean '{printable(lowered[match[0]], 80)}'?" if match else ""


@dataclass(frozen=True)
class Project:
    """The project as one request returned it, and the environment a project token
    is bound to (None for an account token)."""

    info: ProjectInfo
    bound_environment_id: str | None = None


def load_project(backend: RailwayBackend, connection: Connection) -> Project:
    """The project (RAILWAY_PROJECT_ID, or the project token's own) with its services
    and environments: one request either way."""
    if connection.credentials.is_project_token:
        scope, info = backend.token_project()
        return Project(info, scope.environment_id)
    if connection.project_id is None:  # connection_from() guarantees one of the two
        raise UserError("no Railway project: set RAILWAY_PROJECT_ID.")
    return Project(backend.project(connection.project_id))


def target_for(project: Project, environment: str) -> Target:
    """The environment ``environment`` of ``project``, checked against a project
    token's binding."""
    info = project.info
    name = printable(info.name, 80)
    if environment not in info.environments:
        existing = ", ".join(sorted(printable(e, 80) for e in info.environments)) or "none"
        raise UserError(
            f"Railway project '{name}' has no environment '{printable(environment, 80)}'; it "
            f"has {existing}.{_closest(environment, info.environments)} Pass --environment."
        )
    environment_id = info.environments[environment]
    bound = project.bound_environment_id
    if bound is not None and bound != environment_id:
        bound_name = next((n for n, i in info.environments.items() if i == bound), "?")
        raise UserError(
            f"the project token in RAILWAY_TOKEN is bound to environment "
            f"'{printable(bound_name, 80)}', not '{printable(environment, 80)}'; pass "
            f"--environment {printable(bound_name, 80)} or use a token for that environment."
        )
    return Target(info.id, info.name, environment, environment_id, info.services)


def resolve_target(backend: RailwayBackend, connection: Connection, environment: str) -> Target:
    """load_project() then target_for(), for one environment."""
    return target_for(load_project(backend, connection), environment)


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
        lines.append(f"'{printable(name, 80)}' not found.{hint}")
    existing = ", ".join(sorted(printable(s, 80) for s in target.services)) or "none"
    raise UserError(
        f"Railway project '{printable(target.project_name, 80)}', environment "
        f"'{printable(target.environment, 80)}': "
        + " ".join(lines)
        + f" Existing services: {existing}. Fix the name "
        "in the desired-state file or pass --service to sync only existing ones."
    )
