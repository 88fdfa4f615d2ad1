"""Create mlflow-service on Railway when it is missing; converge its settings when not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vpmigrate.errors import UserError
from vpmigrate.railway.api import RailwayBackend
from vpmigrate.railway.desired import DesiredState
from vpmigrate.railway.target import Target

# Serves on Railway's $PORT and binds the IPv6 wildcard: Railway's private network
# is IPv6, so 0.0.0.0 would be unreachable from the training services. MLflow
# passes host:port to gunicorn, which needs the bracketed form of "::".
MLFLOW_SERVE_SCRIPT = (
    'exec mlflow server --host "[::]" --port "${PORT:-5000}" '
    '--backend-store-uri "$MLFLOW_BACKEND_STORE_URI" '
    '--default-artifact-root "$MLFLOW_DEFAULT_ARTIFACT_ROOT"'
)
# The same as deploy/mlflow/Dockerfile's CMD, so a plain image serves the same way.
MLFLOW_START_COMMAND = f"sh -c '{MLFLOW_SERVE_SCRIPT}'"


@dataclass(frozen=True)
class ProvisionResult:
    service_id: str
    created: bool
    updated: bool
    domain: str | None
    domain_created: bool


def _nothing(message: str) -> None:
    return None


def provision_mlflow(
    desired: DesiredState,
    backend: RailwayBackend,
    target: Target,
    *,
    public_domain: bool = False,
    progress: Callable[[str], None] = _nothing,
) -> ProvisionResult:
    """Make sure mlflow-service exists with the desired start command (and a public
    domain when asked). Each step checks first, so a re-run only does what is left."""
    mlflow = desired.mlflow
    name = mlflow.service
    created = False
    service_id = target.services.get(name)
    if service_id is None:
        source = _source(desired)
        variables = {v.name: v.value for v in desired.services.get(name, ())}
        service_id = backend.create_service(
            target.project_id, target.environment_id, name, source, variables
        )
        created = True
        progress(f"{name}: created with {len(variables)} variables")
    instance = backend.service_instance(target.environment_id, service_id)
    settings: dict[str, object] = {}
    if instance.start_command and instance.start_command != MLFLOW_START_COMMAND:
        # Someone configured this service by hand: theirs stays.
        progress(f"{name}: has its own start command; left unchanged")
    elif not instance.start_command:
        # Also completes a creation that failed right after serviceCreate.
        settings["startCommand"] = MLFLOW_START_COMMAND
        settings["healthcheckPath"] = "/health"
        if mlflow.repo and mlflow.dockerfile:
            settings["dockerfilePath"] = mlflow.dockerfile
    if settings:
        backend.update_service_instance(target.environment_id, service_id, settings)
        progress(f"{name}: start command set")
    domain = instance.domains[0] if instance.domains else None
    domain_created = False
    if public_domain and domain is None:
        domain = backend.create_domain(target.environment_id, service_id, mlflow.port)
        domain_created = True
        progress(f"{name}: public domain {domain} created")
    return ProvisionResult(service_id, created, bool(settings), domain, domain_created)


def _source(desired: DesiredState) -> dict[str, str]:
    mlflow = desired.mlflow
    if mlflow.source_problem:
        raise UserError(mlflow.source_problem)
    if mlflow.image:
        return {"image": mlflow.image}
    if mlflow.repo:
        return {"repo": mlflow.repo}
    raise UserError(
        f"{mlflow.location}: mlflow.source needs `image:` (built from deploy/mlflow/Dockerfile) "
        "or `repo:` (owner/name of the GitHub repository holding it) to create the service."
    )
