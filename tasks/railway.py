"""Tasks of the `railway` namespace: MLflow and S3 variables on Railway (docs/railway.md).

Tokens come from the environment or `.env` only; no task takes one as an argument.
httpx, graphql and the core modules load inside the task bodies so `inv --list` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from invoke import Context

from tasks._cli import (
    DRY_READ_ONLY,
    confirm,
    info,
    namespace,
    out,
    render_table,
    repo_path,
    setting,
    task,
)

if TYPE_CHECKING:
    from vpmigrate.railway.api import RailwayBackend
    from vpmigrate.railway.desired import DesiredState
    from vpmigrate.railway.settings import Connection
    from vpmigrate.railway.target import Target

DEFAULTS: dict[str, Any] = {
    "file": "env/railway.yml",
    "dotenv": ".env",
    "environment": "production",
    # Override in invoke.yaml or as INVOKE_RAILWAY_RETRY_<KEY> (e.g. INVOKE_RAILWAY_RETRY_BACKOFF).
    "retry": {
        "attempts": 5,
        "backoff": 0.5,
        "max_backoff": 8.0,
        "max_retry_after": 60.0,
        "timeout": 30.0,
    },
}


@dataclass
class _Session:
    connection: Connection
    backend: RailwayBackend
    desired: DesiredState
    target: Target
    fingerprint_key: str


@contextmanager
def _session(
    c: Context,
    file: str | None,
    environment: str | None,
    s3_provider: str | None,
    services: list[str] | None = None,
) -> Iterator[_Session]:
    from vpmigrate.railway.api import GraphQLRailway
    from vpmigrate.railway.desired import load_desired
    from vpmigrate.railway.settings import connection_from, merged_environment
    from vpmigrate.railway.target import resolve_target
    from vpmigrate.railway.transport import GraphQLTransport, RetryPolicy

    env = merged_environment(repo_path(setting(c, "railway", "dotenv")))
    connection = connection_from(env)
    environment = setting(c, "railway", "environment", environment)
    desired = load_desired(
        repo_path(setting(c, "railway", "file", file)), environment, env, s3_provider=s3_provider
    ).only(services or [])
    retry = {**DEFAULTS["retry"], **dict(setting(c, "railway", "retry"))}
    policy = RetryPolicy(
        attempts=int(retry["attempts"]),
        backoff=float(retry["backoff"]),
        max_backoff=float(retry["max_backoff"]),
        max_retry_after=float(retry["max_retry_after"]),
        timeout=float(retry["timeout"]),
    )
    key = env.get("RAILWAY_FINGERPRINT_KEY") or connection.credentials.token
    with GraphQLTransport(connection, policy) as transport:
        backend = GraphQLRailway(transport)
        target = resolve_target(backend, connection, environment)
        info(f"Railway project {target.project_name!r}, environment {target.environment!r}")
        yield _Session(connection, backend, desired, target, key)


@task(
    iterable=["service"],
    dry="dry_run",
    help={
        "environment": "Railway environment name (default: production).",
        "service": "Only this service (repeatable); default: every service in the file.",
        "dry_run": "Print the plan and stop: no mutation is sent.",
        "prune": "Also remove variables the file does not declare (asks unless --yes).",
        "yes": "Confirm --prune without asking.",
        "no_deploy": "Write variables but do not redeploy the changed services.",
        "redeploy": "Also redeploy the selected services whose variables are already in sync.",
        "json": "Print the plan as JSON (service, name, action, secret; never secret values).",
        "file": "Desired-state file (default: env/railway.yml).",
        "s3_provider": "aws, r2 or minio: overrides s3.provider in the file.",
    },
)
def sync_env(
    c: Context,
    environment: str | None = None,
    service: list[str] | None = None,
    dry_run: bool = False,
    prune: bool = False,
    yes: bool = False,
    no_deploy: bool = False,
    redeploy: bool = False,
    json: bool = False,
    file: str | None = None,
    s3_provider: str | None = None,
) -> None:
    """Push the desired MLflow/S3 variables to Railway services (plan, then apply)."""
    as_json = json
    from vpmigrate.railway.apply import apply_plan
    from vpmigrate.railway.plan import make_plan, plan_json, plan_rows
    from vpmigrate.railway.target import require_services

    with _session(c, file, environment, s3_provider, service) as s:
        require_services(s.target, list(s.desired.services), s.desired.mlflow.service)
        current = {
            name: s.backend.variables(
                s.target.project_id, s.target.environment_id, s.target.services[name]
            )
            for name in s.desired.services
        }
        plan = make_plan(s.desired, current, prune=prune)
        pending = plan.pending
        if as_json:
            out(_json_dump(plan_json(plan, s.fingerprint_key)))
        elif pending:
            out(
                render_table(
                    ["service", "variable", "action", "current", "desired"],
                    plan_rows(plan, s.fingerprint_key),
                )
            )
        unchanged = len(plan.changes) - len(pending)
        info(
            f"plan: {len(pending)} change(s) on {len(plan.services_to_write())} service(s), "
            f"{unchanged} unchanged"
        )
        if dry_run:
            info("dry run: nothing sent.")
            return
        if not pending and not (redeploy and not no_deploy):
            info("in sync: nothing to do.")
            return
        if plan.removals and not yes:
            count = len(plan.removals)
            confirm(
                f"Remove {count} variable(s) listed above?",
                f"--prune would remove {count} variable(s) listed above; nothing was changed. "
                "Re-run with --yes to confirm.",
            )
        result = apply_plan(
            plan,
            s.backend,
            s.target,
            deploy=not no_deploy,
            redeploy_all=redeploy,
            progress=info,
        )
        info(
            f"applied to {', '.join(result.written) or 'no service'}; verified. "
            + (
                f"Redeployed: {', '.join(result.redeployed)}."
                if result.redeployed
                else "Not redeployed (--no-deploy): the new values apply on the next deploy."
            )
        )


def _json_dump(data: Any) -> str:
    return json.dumps(data, indent=2)


@task(
    dry=DRY_READ_ONLY,
    help={
        "environment": "Railway environment name (default: production).",
        "file": "Desired-state file (default: env/railway.yml).",
        "s3_provider": "aws, r2 or minio: overrides s3.provider in the file.",
    },
)
def status(
    c: Context,
    environment: str | None = None,
    file: str | None = None,
    s3_provider: str | None = None,
) -> None:
    """Compare each service on Railway with the desired state: missing, different, extra."""
    from vpmigrate.railway.plan import make_plan, status_rows

    with _session(c, file, environment, s3_provider) as s:
        present = {n: v for n, v in s.desired.services.items() if n in s.target.services}
        current = {
            name: s.backend.variables(
                s.target.project_id, s.target.environment_id, s.target.services[name]
            )
            for name in present
        }
        plan = make_plan(s.desired, current, prune=True)
        rows = []
        for name in s.desired.services:
            if name not in s.target.services:
                hint = "inv railway.provision" if name == s.desired.mlflow.service else ""
                rows.append([name, "", "service missing", hint])
            else:
                rows.extend(r for r in status_rows(plan, s.fingerprint_key) if r[0] == name)
        out(render_table(["service", "variable", "state", "detail"], rows))
        drift = sum(1 for r in rows if r[2] != "ok")
        info(
            "in sync."
            if not drift
            else f"{drift} difference(s); `inv railway.sync-env` fixes them."
        )


@task(
    help={
        "environment": "Railway environment name (default: production).",
        "public_domain": "Also give mlflow-service a public *.up.railway.app domain "
        "(MLflow has no authentication: off by default).",
        "file": "Desired-state file (default: env/railway.yml).",
        "s3_provider": "aws, r2 or minio: overrides s3.provider in the file.",
    }
)
def provision(
    c: Context,
    environment: str | None = None,
    public_domain: bool = False,
    file: str | None = None,
    s3_provider: str | None = None,
) -> None:
    """Create mlflow-service on Railway when it is missing (idempotent)."""
    from vpmigrate.railway.provision import provision_mlflow

    with _session(c, file, environment, s3_provider) as s:
        result = provision_mlflow(
            s.desired, s.backend, s.target, public_domain=public_domain, progress=info
        )
        name = s.desired.mlflow.service
        if result.created:
            out(f"{name}: created ({result.service_id}).")
        elif result.updated or result.domain_created:
            out(f"{name}: already existed; settings brought up to date.")
        else:
            out(f"{name}: already exists; nothing to do.")
        if result.domain:
            out(f"{name}: public domain https://{result.domain}")
        info("next: `inv railway.sync-env` to set the variables of the other services.")


ns = namespace("railway", sync_env, status, provision, defaults=DEFAULTS)
