"""Where the checks connect, read from the compose project the stack was started from.

Credentials come from the services' environment (interpolated by the loader); host
addresses from the ports the running containers actually publish (so ports the engine
picked work too). MLflow's own configuration (its command line or MLFLOW_* variables)
says where its artifacts go and which S3 endpoint and keys it uses: the checks use
the same, as the training services must.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlparse

from vpmigrate.compose.model import Project, Service
from vpmigrate.engine.state import ContainerState
from vpmigrate.verify.result import Problem, Redactor


@dataclass(frozen=True)
class PostgresTarget:
    service: str
    host: str
    port: int
    user: str
    database: str
    password: str = field(repr=False)

    def describe(self) -> str:
        return f"database {self.database} as {self.user} at {self.host}:{self.port}"


@dataclass(frozen=True)
class MlflowTarget:
    service: str
    url: str  # reachable from this machine


@dataclass(frozen=True)
class S3Target:
    endpoint_url: str | None  # reachable from this machine; None: AWS's own endpoint
    region: str
    bucket: str
    prefix: str  # the artifact root inside the bucket, without slashes at either end
    access_key_id: str
    secret_access_key: str = field(repr=False)
    configured_by: str = ""  # the service whose environment named endpoint and keys
    bucket_jobs: tuple[str, ...] = ()  # one-shot services MLflow waits for

    @property
    def root(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


@dataclass(frozen=True)
class StackTargets:
    postgres: PostgresTarget | Problem
    mlflow: MlflowTarget | Problem
    s3: S3Target | Problem
    redact: Redactor


SECRET_MARKERS = ("PASSWORD", "SECRET", "TOKEN", "PASSWD")


def find_targets(
    project: Project,
    services: Sequence[Service],
    containers: Mapping[str, ContainerState],
    up_hint: str,
) -> StackTargets:
    """Targets for the checks among `services` (the active ones), given the project's
    containers by service name. `up_hint` is the command that starts the stack."""
    locate = _Locator(project, containers, up_hint)
    secrets = [
        value
        for service in services
        for key, value in service.environment.items()
        if any(marker in key.upper() for marker in SECRET_MARKERS)
    ]
    mlflow_service = _find_mlflow(services)
    postgres = _postgres_target(_find_postgres(services), locate, up_hint)
    if mlflow_service is None:
        missing = Problem(
            "no MLflow service among the active services",
            "the stack needs a service running `mlflow server` (the mvp profile has one): "
            f"check the profile, then {up_hint}",
        )
        return StackTargets(postgres, missing, missing, Redactor.of(secrets))
    options = _server_options(mlflow_service)
    for uri in (options.get("backend-store-uri"), options.get("artifacts-destination")):
        if uri:
            secrets.append(urlparse(uri).password or "")
    mlflow = _mlflow_target(mlflow_service, options, locate)
    s3 = _s3_target(mlflow_service, options, locate)
    return StackTargets(postgres, mlflow, s3, Redactor.of(secrets))


class _Locator:
    """Host address of a service's container port, as published on this machine."""

    def __init__(
        self, project: Project, containers: Mapping[str, ContainerState], up_hint: str
    ) -> None:
        self.project = project
        self.containers = containers
        self.up_hint = up_hint

    def address(self, service: str, port: int) -> tuple[str, int] | Problem:
        state = self.containers.get(service)
        if state is None or state.status != "running":
            now = "has no container" if state is None else f"is {state.description}"
            return Problem(
                f"service {service} {now}",
                f"start the stack: {self.up_hint}; then `inv local.status` and "
                f"`inv local.logs {service}`",
            )
        for published in state.ports:
            if published.target == port and published.protocol == "tcp":
                host = published.host_ip
                if host in ("", "0.0.0.0", "::"):
                    host = "127.0.0.1"
                return host, published.host_port
        return Problem(
            f"service {service} publishes no host port for its port {port}",
            f'add `ports: ["127.0.0.1:{port}:{port}"]` to service {service} in the compose '
            "file, then run `inv local.up` again",
        )

    def service_named(self, host: str) -> str | None:
        """The project service a hostname on the stack's network refers to."""
        for name, service in self.project.services.items():
            names = {name, service.container_name or "", service.hostname or ""}
            names.update(alias for net in service.networks for alias in net.aliases)
            if host in names:
                return name
        return None


def _tokens(service: Service) -> list[str]:
    """Entry point and command as words; a shell string (`sh -c "..."`) is split too."""
    words: list[str] = []
    for part in (*(service.entrypoint or ()), *(service.command or ())):
        if " " in part.strip():
            try:
                words.extend(shlex.split(part))
            except ValueError:
                words.extend(part.split())
        else:
            words.append(part)
    return words


def _find_mlflow(services: Sequence[Service]) -> Service | None:
    for service in sorted(services, key=lambda s: s.name):
        words = _tokens(service)
        for i, word in enumerate(words[:-1]):
            if word.rsplit("/", 1)[-1] == "mlflow" and "server" in words[i + 1 :]:
                return service
    return next((s for s in services if s.name == "mlflow"), None)


def _server_options(service: Service) -> dict[str, str]:
    """`mlflow server` options from the command line, else MLflow's environment names."""
    words = _tokens(service)
    options: dict[str, str] = {}
    for i, word in enumerate(words):
        if not word.startswith("--"):
            continue
        name, eq, value = word[2:].partition("=")
        if eq:
            options[name] = value
        elif i + 1 < len(words) and not words[i + 1].startswith("-"):
            options[name] = words[i + 1]
    env_names = {
        "backend-store-uri": "MLFLOW_BACKEND_STORE_URI",
        "default-artifact-root": "MLFLOW_DEFAULT_ARTIFACT_ROOT",
        "artifacts-destination": "MLFLOW_ARTIFACTS_DESTINATION",
        "port": "MLFLOW_PORT",
    }
    for option, variable in env_names.items():
        if option not in options and service.environment.get(variable):
            options[option] = service.environment[variable]
    return options


def _find_postgres(services: Sequence[Service]) -> Service | None:
    candidates = [s for s in services if "POSTGRES_PASSWORD" in s.environment]
    named = [s for s in candidates if s.name == "postgres"]
    ordered = named or sorted(candidates, key=lambda s: s.name)
    return ordered[0] if ordered else None


def _postgres_target(
    service: Service | None, locate: _Locator, up_hint: str
) -> PostgresTarget | Problem:
    if service is None:
        return Problem(
            "no PostgreSQL service among the active services (none sets POSTGRES_PASSWORD)",
            f"the mvp profile has one: check the profile, then {up_hint}",
        )
    where = locate.address(service.name, int(service.environment.get("PGPORT") or 5432))
    if isinstance(where, Problem):
        return where
    user = service.environment.get("POSTGRES_USER") or "postgres"
    return PostgresTarget(
        service=service.name,
        host=where[0],
        port=where[1],
        user=user,
        database=service.environment.get("POSTGRES_DB") or user,
        password=service.environment.get("POSTGRES_PASSWORD", ""),
    )


def _mlflow_target(
    service: Service, options: Mapping[str, str], locate: _Locator
) -> MlflowTarget | Problem:
    try:
        port = int(options.get("port") or 5000)
    except ValueError:
        port = 5000
    where = locate.address(service.name, port)
    if isinstance(where, Problem):
        return where
    return MlflowTarget(service.name, f"http://{where[0]}:{where[1]}")


def _s3_target(
    service: Service, options: Mapping[str, str], locate: _Locator
) -> S3Target | Problem:
    root = options.get("default-artifact-root") or options.get("artifacts-destination") or ""
    parsed_root = urlparse(root)
    if parsed_root.scheme != "s3" or not parsed_root.netloc:
        return Problem(
            f"MLflow's artifact root is {root or 'not set'}, not an s3:// bucket",
            f"start service {service.name} with `--default-artifact-root "
            "s3://<bucket>/mlflow-artifacts` (the training services log artifacts there)",
        )
    env = service.environment
    key_id, secret = env.get("AWS_ACCESS_KEY_ID", ""), env.get("AWS_SECRET_ACCESS_KEY", "")
    if not key_id or not secret:
        return Problem(
            f"service {service.name} sets no AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
            f"set both in service {service.name}'s environment (the S3 server's keys)",
        )
    endpoint = env.get("MLFLOW_S3_ENDPOINT_URL") or None
    if endpoint:
        parsed = urlparse(endpoint)
        in_project = locate.service_named(parsed.hostname or "")
        if in_project is not None:
            default_port = 443 if parsed.scheme == "https" else 80
            where = locate.address(in_project, parsed.port or default_port)
            if isinstance(where, Problem):
                return where
            endpoint = f"{parsed.scheme}://{where[0]}:{where[1]}"
    jobs = tuple(
        d.service for d in service.depends_on if d.condition == "service_completed_successfully"
    )
    return S3Target(
        endpoint_url=endpoint,
        region=env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or "us-east-1",
        bucket=parsed_root.netloc,
        prefix=parsed_root.path.strip("/"),
        access_key_id=key_id,
        secret_access_key=secret,
        configured_by=service.name,
        bucket_jobs=jobs,
    )
