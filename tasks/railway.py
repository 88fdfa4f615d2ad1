"""Tasks of the `railway` namespace: MLflow and S3 variables on Railway (docs/railway.md).

Tokens come from the environment or `.env` only; no task takes one as an argument.
httpx, graphql and the core modules load inside the task bodies so `inv --list` stays fast.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from invoke import Context, Exit

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
    from vpmigrate.railway.api import GraphQLRailway, Variables
    from vpmigrate.railway.desired import DesiredFile, DesiredState
    from vpmigrate.railway.plan import Plan
    from vpmigrate.railway.secrets import Masker
    from vpmigrate.railway.settings import Connection
    from vpmigrate.railway.target import Project, Target
    from vpmigrate.railway.transport import GraphQLTransport, RetryPolicy

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
        "timeout": 30.0,  # overall deadline per request, the whole answer included
        "max_response_mb": 16,  # largest answer accepted, after decompression
    },
}

# `railway.status --check`: Terraform's `plan -detailed-exitcode` convention.
EXIT_DRIFT = 2

ENVIRONMENT_HELP = (
    "Railway environment (repeatable; default: production, config railway.environment)."
)
ALL_ENVIRONMENTS_HELP = "Every environment the desired-state file declares."
FILE_HELP = "Desired-state file (default: env/railway.yml)."
S3_HELP = "aws, r2 or minio: overrides s3.provider in the file."
VERBOSE_HELP = "At the end, print the requests sent and Railway's rate-limit headers."


@dataclass
class _Session:
    connection: Connection
    transport: GraphQLTransport
    backend: GraphQLRailway
    file: DesiredFile
    fingerprint_key: str
    mask: Masker
    project: Project | None = None

    def target(self, environment: str) -> Target:
        """The environment's IDs; the project is read once, on first use (so that the
        desired state is checked before Railway is contacted)."""
        from vpmigrate.railway.target import load_project, target_for

        if self.project is None:
            self.project = load_project(self.backend, self.connection)
            info(f"Railway project '{self.mask.safe(self.project.info.name, 80)}'")
        return target_for(self.project, environment)

    def desired(self, environment: str) -> DesiredState:
        """The file's environment; its secret values join the mask (a literal URL
        password included), so no message can show them."""
        state = self.file.environment(environment)
        for variables in state.scopes().values():
            self.mask.add(*(v.value for v in variables if v.secret))
        return state

    def read(self, target: Target, scopes: dict[str, str | None]) -> dict[str, Variables]:
        """Variables of ``scopes`` in one request; what Railway holds joins the mask."""
        from vpmigrate.railway.api import SHARED

        current = self.backend.read_variables(target.project_id, target.environment_id, scopes)
        for scope, variables in current.items():
            for name, value in variables.items():
                provided = scope != SHARED and name.startswith("RAILWAY_")
                if value and not provided and not value.startswith("${{"):
                    self.mask.add(value)
        return current


@contextmanager
def _session(c: Context, file: str | None, s3_provider: str | None) -> Iterator[_Session]:
    from vpmigrate.railway.api import GraphQLRailway
    from vpmigrate.railway.desired import DesiredFile
    from vpmigrate.railway.secrets import Masker, is_secret_name
    from vpmigrate.railway.settings import connection_from, merged_environment, read_dotenv
    from vpmigrate.railway.transport import GraphQLTransport

    dotenv = repo_path(setting(c, "railway", "dotenv"))
    env = merged_environment(dotenv)
    mask = Masker(read_dotenv(dotenv).values())
    mask.add(*(v for k, v in env.items() if is_secret_name(k)))
    connection = connection_from(env)
    desired_file = DesiredFile(
        repo_path(setting(c, "railway", "file", file)), env, s3_provider=s3_provider
    )
    policy = retry_policy(c)
    key = env.get("RAILWAY_FINGERPRINT_KEY") or connection.credentials.token
    mask.add(key)
    with GraphQLTransport(connection, policy, mask=mask) as transport:
        backend = GraphQLRailway(transport, notice=info)
        yield _Session(connection, transport, backend, desired_file, key, mask)


def retry_policy(c: Context) -> RetryPolicy:
    """The Railway client's retry and size limits: config `railway.retry` over DEFAULTS."""
    from vpmigrate.railway.transport import RetryPolicy

    retry = {**DEFAULTS["retry"], **dict(setting(c, "railway", "retry") or {})}
    return RetryPolicy(
        attempts=int(retry["attempts"]),
        backoff=float(retry["backoff"]),
        max_backoff=float(retry["max_backoff"]),
        max_retry_after=float(retry["max_retry_after"]),
        timeout=float(retry["timeout"]),
        max_response_bytes=int(float(retry["max_response_mb"]) * 1024 * 1024),
    )


def _environments(
    c: Context, given: list[str] | None, all_environments: bool, file: DesiredFile
) -> list[str]:
    from vpmigrate.errors import UserError

    if all_environments:
        if given:
            raise UserError("--environment and --all-environments: give one or the other.")
        if not file.environments:
            raise UserError(f"{file.path}: declares no environment.")
        return list(file.environments)
    names = setting(c, "railway", "environment", given)
    if isinstance(names, str):
        names = [names]
    return list(dict.fromkeys(names))


def _report_traffic(s: _Session, verbose: bool) -> None:
    if not verbose:
        return
    traffic = s.transport.traffic
    by_operation = ", ".join(f"{op} {n}" for op, n in traffic.by_operation.items())
    info(f"requests sent: {traffic.requests} ({by_operation or 'none'})")
    if traffic.rate_limit:
        seen = ", ".join(f"{k}: {v}" for k, v in sorted(traffic.rate_limit.items()))
        info(f"rate-limit headers last seen: {seen}")
    else:
        info("rate-limit headers last seen: none")


@dataclass
class _Planned:
    target: Target
    desired: DesiredState
    current: dict[str, Variables]
    plan: Plan


def _read_scopes(desired: DesiredState, target: Target, *, every_service: bool) -> dict:
    """What to read: the desired scopes, and every service of the environment when the
    shared variables are in play (to know which services reference them)."""
    from vpmigrate.railway.api import SHARED

    scopes: dict[str, str | None] = {}
    if desired.shared is not None or every_service:
        scopes[SHARED] = None
    for name in desired.services:
        if name in target.services:
            scopes[name] = target.services[name]
    if desired.shared is not None or every_service:
        for name, service_id in target.services.items():
            scopes.setdefault(name, service_id)
    return scopes


@task(
    iterable=["service", "environment"],
    dry="dry_run",
    help={
        "environment": ENVIRONMENT_HELP,
        "all_environments": ALL_ENVIRONMENTS_HELP,
        "service": "Only this service (repeatable; `shared` for the shared variables); "
        "default: everything in the file.",
        "dry_run": "Print the plan and stop: no mutation is sent (also `inv --dry`).",
        "prune": "Also remove variables the file does not declare (asks unless --yes).",
        "yes": "Confirm --prune without asking.",
        "no_deploy": "Write variables but do not redeploy the changed services.",
        "redeploy": "Also redeploy the selected services whose variables are already in sync.",
        "json": "Print the plan as JSON (fingerprints, never secret values).",
        "file": FILE_HELP,
        "s3_provider": S3_HELP,
        "verbose": VERBOSE_HELP,
    },
)
def sync_env(
    c: Context,
    environment: list[str] | None = None,
    all_environments: bool = False,
    service: list[str] | None = None,
    dry_run: bool = False,
    prune: bool = False,
    yes: bool = False,
    no_deploy: bool = False,
    redeploy: bool = False,
    json: bool = False,
    file: str | None = None,
    s3_provider: str | None = None,
    verbose: bool = False,
) -> None:
    """Push the desired shared and service variables to Railway (plan, then apply)."""
    from vpmigrate.errors import UserError
    from vpmigrate.railway.apply import apply_plan
    from vpmigrate.railway.plan import make_plan, plan_json, plan_rows
    from vpmigrate.railway.target import require_services

    with _session(c, file, s3_provider) as s:
        try:
            planned: list[_Planned] = []
            names = _environments(c, environment, all_environments, s.file)
            wanted = [s.desired(name).only(service or []) for name in names]
            for desired in wanted:
                target = s.target(desired.environment)
                require_services(target, list(desired.services), desired.mlflow.service)
                current = s.read(target, _read_scopes(desired, target, every_service=False))
                planned.append(
                    _Planned(target, desired, current, make_plan(desired, current, prune=prune))
                )
            key = s.fingerprint_key
            if json:
                document = {"environments": [plan_json(p.plan, key) for p in planned]}
                out(jsonlib.dumps(document, indent=2))
            for p in planned:
                pending = p.plan.pending
                if pending and not json:
                    if len(planned) > 1:
                        out(f"environment {p.target.environment}:")
                    headers = ["service", "variable", "action", "current", "desired"]
                    out(render_table(headers, plan_rows(p.plan, key)))
                unchanged = len(p.plan.changes) - len(pending)
                info(
                    f"plan for {p.target.environment}: {len(pending)} change(s) on "
                    f"{len(p.plan.services_to_write())} scope(s), {unchanged} unchanged"
                )
            if dry_run:
                info("dry run: nothing sent.")
                return
            deploying = redeploy and not no_deploy
            if not any(p.plan.pending for p in planned) and not deploying:
                info("in sync: nothing to do.")
                return
            removals = sum(len(p.plan.removals) for p in planned)
            if removals and not yes:
                confirm(
                    f"Remove {removals} variable(s) listed above?",
                    f"--prune would remove {removals} variable(s) listed above; nothing was "
                    "changed. Re-run with --yes to confirm.",
                )
            failures = []
            for p in planned:
                if not p.plan.pending and not deploying:
                    continue
                result = apply_plan(
                    p.plan,
                    s.backend,
                    p.target,
                    current=p.current,
                    deploy=not no_deploy,
                    redeploy_all=redeploy,
                    progress=info,
                )
                if not result.ok:
                    failures.append(f"environment {result.environment}: {result.failure_message()}")
                    continue
                redeployed = (
                    f"redeployed: {', '.join(result.redeployed)}."
                    if result.redeployed
                    else "not redeployed (--no-deploy): the new values apply on the next deploy."
                    if no_deploy
                    else "nothing to redeploy."
                )
                info(
                    f"{result.environment}: applied to "
                    f"{', '.join(result.written) or 'nothing'}; {redeployed}"
                )
            if failures:
                raise UserError(" ".join(failures))
        finally:
            _report_traffic(s, verbose)


@task(
    iterable=["environment"],
    dry=DRY_READ_ONLY,
    help={
        "environment": ENVIRONMENT_HELP,
        "all_environments": ALL_ENVIRONMENTS_HELP,
        "check": "Exit 0 when in sync, 2 on drift, 1 on error (for CI).",
        "prune": "Count variables the file does not declare as drift too.",
        "json": "Print the state as JSON (fingerprints, never values read from Railway).",
        "file": FILE_HELP,
        "s3_provider": S3_HELP,
        "verbose": VERBOSE_HELP,
    },
)
def status(
    c: Context,
    environment: list[str] | None = None,
    all_environments: bool = False,
    check: bool = False,
    prune: bool = False,
    json: bool = False,
    file: str | None = None,
    s3_provider: str | None = None,
    verbose: bool = False,
) -> None:
    """Compare Railway with the desired state: missing, different, extra; shared variables
    and the services that reference them."""
    from vpmigrate.railway.plan import status_json, status_report, status_table

    drift_total = 0
    with _session(c, file, s3_provider) as s:
        try:
            key = s.fingerprint_key
            reports = []
            names = _environments(c, environment, all_environments, s.file)
            for desired in [s.desired(name) for name in names]:
                target = s.target(desired.environment)
                current = s.read(target, _read_scopes(desired, target, every_service=True))
                report = status_report(desired, target.services, current, prune=prune)
                drift_total += len(report.drift) + len(report.missing)
                reports.append(report)
            if json:
                document = {
                    "in_sync": drift_total == 0,
                    "environments": [status_json(r, key) for r in reports],
                }
                out(jsonlib.dumps(document, indent=2))
            else:
                for r in reports:
                    if len(reports) > 1:
                        out(f"environment {r.environment}:")
                    headers = ["service", "variable", "state", "detail"]
                    out(render_table(headers, status_table(r, key)))
                    if r.shared:
                        rows = [
                            [x.name, x.state, ", ".join(x.referenced_by) or "-"] for x in r.shared
                        ]
                        out()
                        out(render_table(["shared variable", "state", "referenced by"], rows))
            info(
                "in sync."
                if not drift_total
                else f"{drift_total} difference(s); `inv railway.sync-env` fixes them."
            )
        finally:
            _report_traffic(s, verbose)
    if check and drift_total:
        raise Exit(code=EXIT_DRIFT)


@task(
    dry="dry_run",
    help={
        "environment": "Railway environment name (default: production).",
        "public_domain": "Also give mlflow-service a public *.up.railway.app domain "
        "(MLflow has no authentication: off by default).",
        "dry_run": "Say what would be created or set, and send no mutation (also `inv --dry`).",
        "file": FILE_HELP,
        "s3_provider": S3_HELP,
        "verbose": VERBOSE_HELP,
    },
)
def provision(
    c: Context,
    environment: str | None = None,
    public_domain: bool = False,
    dry_run: bool = False,
    file: str | None = None,
    s3_provider: str | None = None,
    verbose: bool = False,
) -> None:
    """Create mlflow-service on Railway when it is missing (idempotent)."""
    from vpmigrate.railway.provision import provision_mlflow

    with _session(c, file, s3_provider) as s:
        try:
            name = setting(c, "railway", "environment", environment)
            if isinstance(name, list):
                name = name[0]
            desired = s.desired(name)
            target = s.target(name)
            result = provision_mlflow(
                desired,
                s.backend,
                target,
                public_domain=public_domain,
                dry_run=dry_run,
                progress=info,
            )
            service = desired.mlflow.service
            if result.dry_run:
                changes = result.created or result.updated or result.domain_created
                out(f"{service}: " + ("changes listed above" if changes else "nothing to do."))
                info("dry run: nothing sent.")
                return
            if result.created:
                out(f"{service}: created ({result.service_id}).")
            elif result.updated or result.domain_created:
                out(f"{service}: already existed; settings brought up to date.")
            else:
                out(f"{service}: already exists; nothing to do.")
            if result.domain:
                out(f"{service}: public domain https://{s.mask.safe(result.domain, 200)}")
            info("next: `inv railway.sync-env` to set the variables of the other services.")
        finally:
            _report_traffic(s, verbose)


ns = namespace("railway", sync_env, status, provision, defaults=DEFAULTS)
