"""Create mlflow-service on Railway when it is missing; converge its settings when not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vpmigrate.errors import UserError
from vpmigrate.railway.api import RailwayBackend
from vpmigrate.railway.desired import DesiredState
from vpmigrate.railway.secrets import printable
from vpmigrate.railway.target import Target
from vpmigrate.railway.transport import AnswerLost

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
    service_id: str | None  # None only in a dry run that would create the service
    created: bool
    updated: bool
    domain: str | None
    domain_created: bool
    dry_run: bool = False


# How often a creation whose answer was lost is read back and, when absent, sent again.
CREATE_ATTEMPTS = 3


def _nothing(message: str) -> None:
    return None


def provision_mlflow(
    desired: DesiredState,
    backend: RailwayBackend,
    target: Target,
    *,
    public_domain: bool = False,
    dry_run: bool = False,
    progress: Callable[[str], None] = _nothing,
) -> ProvisionResult:
    """Make sure mlflow-service exists with the desired start command (and a public
    domain when asked). Each step checks first, so a re-run only does what is left.

    Creations are not repeated blindly: when the answer to serviceCreate or
    serviceDomainCreate is lost, Railway is read back, and the request is sent again
    only if what it creates is absent. ``dry_run`` says what would be done, sending
    no mutation."""
    mlflow = desired.mlflow
    name = mlflow.service
    created = False
    service_id = target.services.get(name)
    if service_id is None:
        source = _source(desired)
        variables = {v.name: v.value for v in desired.services.get(name, ())}
        if dry_run:
            progress(f"{name}: would be created with {len(variables)} variables")
            return ProvisionResult(None, True, True, None, public_domain, dry_run=True)
        service_id = _create_service(backend, target, name, source, variables, progress)
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
        if dry_run:
            progress(f"{name}: start command would be set")
        else:
            # Setting the same values twice changes nothing: safe to retry.
            backend.update_service_instance(target.environment_id, service_id, settings)
            progress(f"{name}: start command set")
    domain = instance.domains[0] if instance.domains else None
    domain_created = False
    if public_domain and domain is None:
        domain_created = True
        if dry_run:
            progress(f"{name}: a public domain would be created")
        else:
            domain = _create_domain(backend, target, service_id, mlflow.port, name, progress)
            progress(f"{name}: public domain {printable(domain, 120)} created")
    return ProvisionResult(
        service_id, created, bool(settings), domain, domain_created, dry_run=dry_run
    )


def _create_service(
    backend: RailwayBackend,
    target: Target,
    name: str,
    source: dict[str, str],
    variables: dict[str, str],
    progress: Callable[[str], None],
) -> str:
    for _ in range(CREATE_ATTEMPTS):
        try:
            return backend.create_service(
                target.project_id, target.environment_id, name, source, variables
            )
        except AnswerLost as exc:
            progress(f"{name}: {exc.message} Reading the project back.")
            services = backend.project(target.project_id).services
            if name in services:
                progress(f"{name}: it was created.")
                return services[name]
            progress(f"{name}: not created; sending serviceCreate again.")
    raise UserError(
        f"the answers to serviceCreate for {name} were lost {CREATE_ATTEMPTS} times, and each "
        "read-back showed no such service: nothing was created. Railway may be degraded "
        "(status.railway.com); re-run later."
    )


def _create_domain(
    backend: RailwayBackend,
    target: Target,
    service_id: str,
    port: int,
    name: str,
    progress: Callable[[str], None],
) -> str:
    for _ in range(CREATE_ATTEMPTS):
        try:
            return backend.create_domain(target.environment_id, service_id, port)
        except AnswerLost as exc:
            progress(f"{name}: {exc.message} Reading the service's domains back.")
            domains = backend.service_instance(target.environment_id, service_id).domains
            if domains:
                return domains[0]
            progress(f"{name}: no domain yet; sending serviceDomainCreate again.")
    raise UserError(
        f"the answers to serviceDomainCreate for {name} were lost {CREATE_ATTEMPTS} times, "
        "and each read-back showed no domain: none was created. Re-run later."
    )


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
