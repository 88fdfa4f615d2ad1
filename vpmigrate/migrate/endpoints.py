"""Where the two sides are by default.

- Source: the local stack's tracking server, found as `inv local.verify` finds it (the
  compose model and the running containers: host port, `MLFLOW_S3_ENDPOINT_URL` and the
  AWS keys of the MLflow service).
- Target: Railway's `mlflow-service` as env/railway.yml declares it. Its S3 endpoint and
  keys are the values that file gives the service (resolved from the environment and
  `.env`, as `inv railway.sync-env` sends them). Its URL is `--target`, else
  MLFLOW_TARGET_URI, else the service's public domain on Railway, else its private
  address, which only other Railway services can reach (then the advice below is shown).

Tracking-server credentials: MLFLOW_TRACKING_USERNAME / _PASSWORD / _TOKEN apply to both
sides; MLFLOW_SOURCE_TRACKING_* and MLFLOW_TARGET_TRACKING_* override them per side.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlparse

from vpmigrate.errors import UserError
from vpmigrate.migrate.artifacts import S3Config
from vpmigrate.migrate.migration import Endpoint
from vpmigrate.migrate.rest import TrackingServer
from vpmigrate.railway.desired import DesiredState
from vpmigrate.verify.result import Problem
from vpmigrate.verify.targets import S3Target, StackTargets

TARGET_URL_VARIABLE = "MLFLOW_TARGET_URI"


def private_hint(service: str, port: int) -> str:
    return (
        f"Railway's {service} is private unless env/railway.yml sets mlflow.public_domain: "
        f"true. To migrate, either give it a public domain for the migration (`inv "
        f"railway.provision --public-domain`, then pass --target https://<its domain>, and "
        "remove the domain in Railway's dashboard afterwards: MLflow has no authentication), "
        f"or run the migration inside the Railway project (a one-off service with "
        f"--target http://{service}.railway.internal:{port}), or set {TARGET_URL_VARIABLE} "
        "to a tunnel you opened to it."
    )


def credentials(role: str, env: Mapping[str, str]) -> dict[str, str | None]:
    side = f"MLFLOW_{role.upper()}_TRACKING_"

    def pick(name: str) -> str | None:
        return env.get(side + name) or env.get(f"MLFLOW_TRACKING_{name}") or None

    return {"username": pick("USERNAME"), "password": pick("PASSWORD"), "token": pick("TOKEN")}


def _credential_names(role: str) -> str:
    return (
        f"MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (or MLFLOW_{role.upper()}_"
        "TRACKING_USERNAME / _PASSWORD for this side only)"
    )


def check_url(url: str, role: str) -> str:
    parsed = urlparse(url)
    if parsed.username or parsed.password:
        raise UserError(
            f"--{role} carries credentials in the URL; command lines are visible to other "
            f"users: set {_credential_names(role)} in .env instead."
        )
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UserError(
            f"--{role} {url!r} is not an http(s) URL of an MLflow tracking server "
            "(e.g. http://127.0.0.1:5000)."
        )
    return url.rstrip("/")


def source_endpoint(
    targets: StackTargets | None, url: str | None, env: Mapping[str, str], up_hint: str
) -> Endpoint:
    """The local stack's MLflow (or `url`), with the stack's S3 endpoint and keys."""
    s3 = None
    stack_url = None
    if targets is not None:
        if isinstance(targets.s3, S3Target):
            s3 = _s3_from_stack(targets.s3)
        if not isinstance(targets.mlflow, Problem):
            stack_url = targets.mlflow.url
        elif url is None:
            problem = targets.mlflow
            raise UserError(
                f"the default source is the local stack's MLflow, and {problem.reason}: "
                f"{problem.hint}. Or pass --source http://HOST:PORT."
            )
    chosen = check_url(url, "source") if url else stack_url
    if chosen is None:
        raise UserError("no source: pass --source http://HOST:PORT or start the local stack.")
    server = TrackingServer(
        "source",
        chosen,
        **credentials("source", env),
        unreachable_hint=(
            f"start the local stack ({up_hint}) and check `inv local.status`"
            if url is None
            else "check the URL and that the server is running"
        ),
        credential_names=_credential_names("source"),
    )
    return Endpoint(server, s3)


def _s3_from_stack(target: S3Target) -> S3Config:
    return S3Config(
        role="source",
        endpoint_url=target.endpoint_url,
        region=target.region,
        access_key_id=target.access_key_id,
        secret_access_key=target.secret_access_key,
        configured_by=f"service {target.configured_by} of the compose file",
    )


def target_endpoint(
    desired: DesiredState | None,
    desired_problem: str | None,
    url: str | None,
    public_domain: str | None,
    env: Mapping[str, str],
) -> Endpoint:
    """The target; when its S3 keys are unknown, `s3_unknown` says why (told to the
    user only if the target's artifact root turns out to be in S3).

    `desired`: env/railway.yml for the chosen environment (None if it could not be
    loaded, `desired_problem` says why); `public_domain`: mlflow-service's domain on
    Railway when it has one (looked up by the caller)."""
    service, port = "mlflow-service", 5000
    if desired is not None:
        service, port = desired.mlflow.service, desired.mlflow.port
    hint = private_hint(service, port)
    if url:
        chosen = check_url(url, "target")
        hint = "check the URL and that the server is running. " + (
            hint if ".railway.internal" in chosen or "railway.app" in chosen else ""
        )
    elif env.get(TARGET_URL_VARIABLE):
        chosen = check_url(env[TARGET_URL_VARIABLE], "target")
    elif public_domain:
        chosen = f"https://{public_domain}"
    else:
        chosen = f"http://{service}.railway.internal:{port}"
    server = TrackingServer(
        "target",
        chosen,
        **credentials("target", env),
        unreachable_hint=hint.strip(),
        credential_names=_credential_names("target"),
    )
    s3, why = _s3_from_desired(desired, desired_problem)
    return Endpoint(server, s3, why)


def _s3_from_desired(
    desired: DesiredState | None, problem: str | None
) -> tuple[S3Config | None, str | None]:
    if desired is None:
        return None, problem
    variables = {v.name: v.value for v in desired.services.get(desired.mlflow.service, ())}
    where = f"{desired.path}, service {desired.mlflow.service}"
    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    missing = [k for k in keys if not variables.get(k)]
    if missing:
        return None, f"{where} sets no {' / '.join(missing)}"
    endpoint = variables.get("MLFLOW_S3_ENDPOINT_URL") or None
    references = [v for v in (endpoint, *(variables[k] for k in keys)) if v and "${{" in v]
    if references:
        return None, (
            f"{where} gives the S3 endpoint or keys as Railway references, which only "
            "Railway resolves"
        )
    region = variables.get("AWS_DEFAULT_REGION") or variables.get("AWS_REGION") or "us-east-1"
    config = S3Config(
        role="target",
        endpoint_url=endpoint,
        region=region,
        access_key_id=variables[keys[0]],
        secret_access_key=variables[keys[1]],
        configured_by=where,
    )
    return config, None
