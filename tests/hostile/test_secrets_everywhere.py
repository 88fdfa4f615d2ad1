"""Issue 15: no secret in any output of any task. Marker secrets are planted in every
source a task reads — `.env`, the environment, env files, compose literals under
secret-looking names, URL passwords, build args, secrets and configs with
`environment:` / `content:` sources, `${NAME}` in railway.yml, variables read back
from Railway, the Railway tokens, MLflow tracking credentials and S3 keys — and every
task in `inv --list` runs on its success paths and its error paths (bad input, an
unreachable engine or server, a refused token, a server that echoes the request),
with `--json` where it has one. No marker may appear on stdout or stderr, nor in a
file the task wrote unless the user's own file it read holds it literally.

Real parts: the Docker engine with a busybox image (devkit/dockerkit.py), the Railway
stand-in (devkit/railway_standin.py) as a real HTTP server, the real `inv` CLI.
`test_every_task_is_swept` fails when a task exists that no case here runs.
"""

from __future__ import annotations

import base64
import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devkit import dockerkit
from tests.hostile.sweep import (
    REPO,
    Outcome,
    assert_clean,
    marker,
    run_and_collect,
    task_names,
    task_of,
)


@dataclass(frozen=True)
class Case:
    """One run: `args` may hold `{dir}` (the world's folder) and `{project}`."""

    name: str
    args: tuple[str, ...]
    code: int = 0
    phrases: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    verdict: bool = False  # a non-zero exit that is a result (a check), not an `error:`


SWEPT: list[Case] = []  # every case of every world, for test_every_task_is_swept


def cases(*given: Case) -> list[Any]:
    SWEPT.extend(given)
    return [pytest.param(case, id=case.name) for case in given]


def fill(text: str, world: Any) -> str:
    return text.replace("{dir}", str(world.folder)).replace(
        "{project}", getattr(world, "project", "")
    )


# ---------------------------------------------------------------------------------------
# local.*: a stack on the real engine whose services hold every kind of compose secret.

LOCAL = {
    "DotenvPassword": marker("DotenvPassword"),
    "DotenvS3Key": marker("DotenvS3Key"),
    "DotenvUrlPw": marker("DotenvUrlPw"),
    "EnvToken": marker("EnvToken"),
    "EnvTrackingPw": marker("EnvTrackingPw"),
    "EnvAwsSecret": marker("EnvAwsSecret"),
    "EnvFilePw": marker("EnvFilePw"),
    "EnvFileUrlPw": marker("EnvFileUrlPw"),
    "LiteralToken": marker("LiteralToken"),
    "LiteralUrlPw": marker("LiteralUrlPw"),
    "BuildArg": marker("BuildArg"),
    "ConfigContent": marker("ConfigContent"),
    "DockerHostPw": marker("DockerHostPw"),
}
LOCAL_ENV = {
    "SHELL_API_TOKEN": LOCAL["EnvToken"],
    "MLFLOW_TRACKING_PASSWORD": LOCAL["EnvTrackingPw"],
    "AWS_SECRET_ACCESS_KEY": LOCAL["EnvAwsSecret"],
}
IDLE = dockerkit.IDLE_COMMAND  # already written for compose (`$$` is a `$`)
# Every container prints what it holds, so `local.logs` and the failure report of
# `local.up` meet the secrets as the user's own programs would print them.
TELL = (
    'echo "db=$$DB_PASSWORD url=$$DATABASE_URL envfile=$$ENVFILE_PASSWORD '
    'hook=$$WEBHOOK_URL token=$$API_TOKEN shell=$$SHELL_TOKEN"; '
    "cat /run/secrets/db_password /inline /from_env 2>/dev/null; echo"
)
SECRET_ENVIRONMENT = f"""\
      DB_PASSWORD: ${{POSTGRES_PASSWORD}}
      S3_SECRET: ${{S3_SECRET_KEY}}
      DATABASE_URL: ${{DATABASE_URL}}
      API_TOKEN: {LOCAL["LiteralToken"]}
      WEBHOOK_URL: https://hook:{LOCAL["LiteralUrlPw"]}@hooks.example/x
      SHELL_TOKEN: ${{SHELL_API_TOKEN}}
      TRACKING_PASSWORD: ${{MLFLOW_TRACKING_PASSWORD}}
      NOTE: ${{PLAIN_SETTING}}
"""
COMPOSE = """\
services:
  app:
    image: @APP_IMAGE@
    build:
      context: .
      args:
        NPM_TOKEN: @BuildArg@
        PLAIN_ARG: plain
    command: ["sh", "-c", '@TELL@; @IDLE@']
    environment:
@SECRET_ENVIRONMENT@    env_file: [app.env]
    secrets: [db_password]
    configs:
      - source: inline
        target: /inline
      - source: from_env
        target: /from_env
    ports: ["127.0.0.1::8080"]
  postgres:
    image: @BUSYBOX@
    command: ["sh", "-c", '@IDLE@']
    environment:
      POSTGRES_USER: admin
      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}
    ports: ["127.0.0.1::5432"]
  mlflow:
    image: @BUSYBOX@
    command: ["sh", "-c", '@IDLE@']
    environment:
      MLFLOW_BACKEND_STORE_URI: postgresql://admin:${POSTGRES_PASSWORD}@postgres/mlflow
      MLFLOW_DEFAULT_ARTIFACT_ROOT: s3://bucket/mlflow-artifacts
      MLFLOW_S3_ENDPOINT_URL: http://s3.invalid:9000
      AWS_ACCESS_KEY_ID: key-id
      AWS_SECRET_ACCESS_KEY: ${AWS_SECRET_ACCESS_KEY}
    ports: ["127.0.0.1::5000"]
  broken:
    image: @BUSYBOX@
    profiles: [broken]
    restart: "no"
    command: ["sh", "-c", '@TELL@; exit 3']
    environment:
@SECRET_ENVIRONMENT@    env_file: [app.env]
  after-broken:
    image: @BUSYBOX@
    profiles: [broken]
    command: ["sh", "-c", '@IDLE@']
    depends_on:
      broken:
        condition: service_completed_successfully
  clash:
    image: @BUSYBOX@
    profiles: [clash]
    command: ["sh", "-c", '@IDLE@']
    environment:
      DB_PASSWORD: ${POSTGRES_PASSWORD}
    ports: ["127.0.0.1:@PORT@:80"]
  holder:
    image: @BUSYBOX@
    command: ["sh", "-c", '@IDLE@']
    ports: ["127.0.0.1:@PORT@:80"]
secrets:
  db_password:
    environment: POSTGRES_PASSWORD
configs:
  inline:
    content: "password=@ConfigContent@"
  from_env:
    environment: SHELL_API_TOKEN
"""
DOTENV = f"""\
POSTGRES_PASSWORD={LOCAL["DotenvPassword"]}
S3_SECRET_KEY={LOCAL["DotenvS3Key"]}
DATABASE_URL=postgres://app:{LOCAL["DotenvUrlPw"]}@postgres:5432/app
PLAIN_SETTING=plain-value
"""
APP_ENV = f"""\
ENVFILE_PASSWORD={LOCAL["EnvFilePw"]}
ENVFILE_URL=redis://:{LOCAL["EnvFileUrlPw"]}@cache:6379/0
"""
DOCKERFILE = """\
FROM {busybox}
ARG NPM_TOKEN
RUN echo "building with token $NPM_TOKEN"
"""


def fill_compose(text: str, app_image: str, busybox: str, port: int) -> str:
    words = {
        "APP_IMAGE": app_image,
        "BUSYBOX": busybox,
        "PORT": str(port),
        "SECRET_ENVIRONMENT": SECRET_ENVIRONMENT,
        "TELL": TELL,
        "IDLE": IDLE,
        **LOCAL,
    }
    for word, value in words.items():
        text = text.replace(f"@{word}@", value)
    return text


@dataclass
class LocalWorld:
    folder: Path
    project: str
    up: Outcome  # the cold `local.up` that started the stack
    compose_bytes: bytes


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def local_world(docker_client: Any, busybox_image: str) -> Iterator[LocalWorld]:
    folder = Path(tempfile.mkdtemp(prefix="vpm-secrets-"))
    project = dockerkit.unique_name("vpmsecrets")
    compose = fill_compose(COMPOSE, f"{project}-app:built", busybox_image, _free_port())
    (folder / "compose.yml").write_text(compose)
    (folder / ".env").write_text(DOTENV)
    (folder / "app.env").write_text(APP_ENV)
    (folder / "Dockerfile").write_text(DOCKERFILE.format(busybox=busybox_image))
    try:
        up = run_and_collect(
            folder,
            "local.up",
            "--file",
            folder / "compose.yml",
            "--project-name",
            project,
            "--timeout",
            "120",
            env=LOCAL_ENV,
        )
        yield LocalWorld(folder, project, up, compose.encode())
    finally:
        dockerkit.remove_project(docker_client, project)
        try:
            docker_client.api.remove_image(f"{project}-app:built", force=True)
        except Exception:
            pass
        shutil.rmtree(folder, ignore_errors=True)


STACK = ("--file", "{dir}/compose.yml", "--project-name", "{project}")

LOCAL_CASES = cases(
    Case("status", ("local.status", *STACK)),
    Case("status-json", ("local.status", *STACK, "--json")),
    Case("logs", ("local.logs", "app", *STACK)),
    Case("logs-tail", ("local.logs", "app", "--tail", "5", *STACK)),
    Case("logs-unknown-service", ("local.logs", "nosuch", *STACK), 1),
    Case("config-yaml", ("local.config", *STACK)),
    Case("config-json", ("local.config", *STACK, "--format", "json")),
    Case("config-every-profile", ("local.config", *STACK, "--profile", "broken")),
    Case("config-bad-format", ("local.config", *STACK, "--format", "toml"), 1),
    Case("build", ("local.build", *STACK)),
    Case("build-no-cache", ("local.build", *STACK, "--service", "app", "--no-cache")),
    Case("build-not-buildable", ("local.build", *STACK, "--service", "postgres"), 1),
    Case("up-again", ("local.up", *STACK, "--timeout", "60")),
    Case(
        "up-failing-job",
        ("local.up", *STACK, "--profile", "broken", "--timeout", "60"),
        1,
        ("broken",),
    ),
    Case("up-port-taken", ("local.up", *STACK, "--profile", "clash", "--timeout", "60"), 1),
    Case("up-unknown-profile", ("local.up", *STACK, "--profile", "nosuch"), 1),
    Case("verify-checks-fail", ("local.verify", *STACK), 1, ("FAIL",)),
    Case("down-dry-run", ("local.down", *STACK, "--volumes", "--dry-run")),
    Case("inv-dry-down", ("--dry", "local.down", *STACK)),
    Case("down-unknown-profile", ("local.down", *STACK, "--profile", "nosuch"), 1),
    Case("down-empty-profile", ("local.down", *STACK, "--profile", ""), 1),
    Case("inv-dry-up", ("--dry", "local.up", *STACK), 1),
    Case(
        "engine-unreachable",
        ("local.status", *STACK),
        1,
        env={"DOCKER_HOST": f"tcp://admin:{LOCAL['DockerHostPw']}@127.0.0.1:9"},
    ),
    Case(
        "engine-unreachable-up",
        ("local.up", *STACK),
        1,
        env={"DOCKER_HOST": f"tcp://admin:{LOCAL['DockerHostPw']}@127.0.0.1:9"},
    ),
    Case(
        "password-as-port",
        ("local.status", "--file", "{dir}/bad.yml", "--env-file", "{dir}/.env"),
        1,
        ("bad.yml",),
    ),
)


@pytest.mark.xdist_group("secrets-local")
def test_local_up_prints_no_secret(local_world: LocalWorld) -> None:
    assert_clean(
        local_world.up,
        LOCAL,
        code=0,
        phrases=("is up",),
        carried=[local_world.compose_bytes],
    )


@pytest.mark.xdist_group("secrets-local")
@pytest.mark.parametrize("case", LOCAL_CASES)
def test_local_tasks_print_no_secret(local_world: LocalWorld, case: Case) -> None:
    bad = local_world.folder / "bad.yml"
    if not bad.exists():
        bad.write_text('services:\n  db:\n    image: x\n    ports: ["${POSTGRES_PASSWORD}:5432"]\n')
    args = [fill(a, local_world) for a in case.args]
    outcome = run_and_collect(local_world.folder, *args, env={**LOCAL_ENV, **case.env})
    assert_clean(
        outcome, LOCAL, code=case.code, phrases=case.phrases, carried=[local_world.compose_bytes]
    )


@pytest.mark.xdist_group("secrets-local")
def test_local_down_prints_no_secret(local_world: LocalWorld, docker_client: Any) -> None:
    args = [fill(a, local_world) for a in STACK]
    outcome = run_and_collect(local_world.folder, "local.down", *args, "--volumes", env=LOCAL_ENV)
    assert_clean(outcome, LOCAL, code=0)
    label = f"com.docker.compose.project={local_world.project}"
    assert docker_client.api.containers(all=True, filters={"label": label}) == []


SWEPT.append(Case("down", ("local.down",)))
SWEPT.append(Case("up", ("local.up",)))


# ---------------------------------------------------------------------------------------
# railway.*: the stand-in holds planted values; the tokens, .env, the environment and
# railway.yml hold the rest.

RW = {
    name: marker(name)
    for name in (
        "RwAccessKey",
        "RwSecretKey",
        "RwR2Secret",
        "RwDotenvPlain",
        "RwEnvPlain",
        "RwAccountToken",
        "RwProjectToken",
        "RwRefusedToken",
        "RwFingerprintKey",
        "RwYamlUrlPw",
        "RwYamlLiteral",
        "RwReadPlain",
        "RwReadDsn",
        "RwReadUrlPw",
        "RwReadJwt",
        "RwReadShared",
        "RwApiUrlPw",
    )
}
RW_DOTENV = f"""\
AWS_ACCESS_KEY_ID={RW["RwAccessKey"]}
AWS_SECRET_ACCESS_KEY={RW["RwSecretKey"]}
R2_ACCESS_KEY_ID=r2-key-id
R2_SECRET_ACCESS_KEY={RW["RwR2Secret"]}
PLAIN_NOTE={RW["RwDotenvPlain"]}
"""
RW_SERVICES = f"""\
      mlflow-service:
        PORT: ${{mlflow.port}}
        MLFLOW_BACKEND_STORE_URI: ${{{{Postgres.DATABASE_URL}}}}
        MLFLOW_DEFAULT_ARTIFACT_ROOT: s3://${{s3.bucket}}/mlflow-artifacts
        AWS_SECRET_ACCESS_KEY: ${{{{shared.AWS_SECRET_ACCESS_KEY}}}}
      backend:
        MLFLOW_TRACKING_URI: ${{mlflow.tracking_uri}}
        NOTES_FROM_DOTENV: ${{PLAIN_NOTE}}
        NOTES_FROM_SHELL: ${{SHELL_NOTE}}
        BROKER_URL: amqp://app:{RW["RwYamlUrlPw"]}@mq/
        SENTRY_AUTH_TOKEN: {RW["RwYamlLiteral"]}
      timm-service:
        MLFLOW_TRACKING_URI: ${{mlflow.tracking_uri}}
        AWS_SECRET_ACCESS_KEY: ${{{{shared.AWS_SECRET_ACCESS_KEY}}}}
"""
RW_SHARED = """\
    shared:
      MLFLOW_S3_ENDPOINT_URL: ${s3.endpoint}
      AWS_ACCESS_KEY_ID: ${s3.access_key_id}
      AWS_SECRET_ACCESS_KEY: ${s3.secret_access_key}
"""
RW_FILE = f"""\
version: 1
s3:
  provider: aws
  bucket: vision-platform-prod
  aws:
    region: ap-northeast-2
    access_key_id: ${{AWS_ACCESS_KEY_ID}}
    secret_access_key: ${{AWS_SECRET_ACCESS_KEY}}
  r2:
    account_id: account0123
    access_key_id: ${{R2_ACCESS_KEY_ID}}
    secret_access_key: ${{R2_SECRET_ACCESS_KEY}}
mlflow:
  service: mlflow-service
  port: 5000
  source:
    repo: vision-team/vision-platform
    dockerfile: deploy/mlflow/Dockerfile
environments:
  production:
{RW_SHARED}    services:
{RW_SERVICES}  staging:
{RW_SHARED}    services:
{RW_SERVICES}"""
# Values Railway holds that the desired state does not declare, whatever their names.
RW_PLANTED = {
    "NOTES": RW["RwReadPlain"],
    "SENTRY_DSN": f"https://{RW['RwReadDsn']}@o1.ingest.example/7",
    "DATABASE_URL": f"postgresql://app:{RW['RwReadUrlPw']}@db:5432/app",
    "JWT_SECRET": RW["RwReadJwt"],
}


@dataclass(frozen=True)
class RailwayCase(Case):
    """`faults`: (kind, options) for the stand-in; `bare`: no mlflow-service yet;
    `token`: which token variable the run uses (`account`, `project`, `refused`,
    `refused-project`)."""

    faults: tuple[tuple[str, dict[str, Any]], ...] = ()
    bare: bool = False
    token: str = "account"


@dataclass
class RailwayWorld:
    folder: Path
    api: Any
    env: dict[str, str]
    desired_bytes: bytes


@pytest.fixture
def railway_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RailwayWorld]:
    from devkit.railway_standin import RailwayStandIn, RailwayState
    from tests.railway.conftest import seed

    case: RailwayCase = request.node.callspec.params["case"]
    state = RailwayState()
    project = seed(state, with_mlflow=not case.bare)
    state.account_tokens.add(RW["RwAccountToken"])
    production = state.env_id(project, "production")
    state.project_tokens[RW["RwProjectToken"]] = (project.id, production)
    state.vars_of(project, "production", "backend").update(RW_PLANTED)
    state.vars_of(project, "staging", "backend").update(RW_PLANTED)
    state.shared_of(project, "production")["LEGACY_PLAIN"] = RW["RwReadShared"]
    (tmp_path / ".env").write_text(RW_DOTENV)
    (tmp_path / "railway.yml").write_text(RW_FILE)
    with RailwayStandIn(state) as api:
        for kind, options in case.faults:
            api.fail(kind, **options)
        token = {
            "account": {"RAILWAY_API_TOKEN": RW["RwAccountToken"]},
            "project": {"RAILWAY_TOKEN": RW["RwProjectToken"]},
            "refused": {"RAILWAY_API_TOKEN": RW["RwRefusedToken"]},
            "refused-project": {"RAILWAY_TOKEN": RW["RwRefusedToken"]},
        }[case.token]
        env = {
            "RAILWAY_API_URL": api.url,
            "RAILWAY_PROJECT_ID": project.id,
            "RAILWAY_FINGERPRINT_KEY": RW["RwFingerprintKey"],
            "SHELL_NOTE": RW["RwEnvPlain"],
            "INVOKE_RAILWAY_DOTENV": str(tmp_path / ".env"),
            "INVOKE_RAILWAY_FILE": str(tmp_path / "railway.yml"),
            "INVOKE_RAILWAY_RETRY_BACKOFF": "0.01",
            "INVOKE_RAILWAY_RETRY_MAX_BACKOFF": "0.02",
            **token,
        }
        yield RailwayWorld(tmp_path, api, env, RW_FILE.encode())


def _echo(operation: str) -> tuple[str, dict[str, Any]]:
    return ("echo", {"operation": operation, "message": "Problem processing request"})


def _always(kind: str, **options: Any) -> tuple[str, dict[str, Any]]:
    return (kind, {"times": 99, **options})


RAILWAY_CASES = cases(
    RailwayCase("status", ("railway.status",)),
    RailwayCase("status-json", ("railway.status", "--json")),
    RailwayCase("status-check-drift", ("railway.status", "--check"), 2),
    RailwayCase("status-prune-json", ("railway.status", "--prune", "--json")),
    RailwayCase("status-all-verbose", ("railway.status", "--all-environments", "--verbose")),
    RailwayCase("status-project-token", ("railway.status", "--json"), token="project"),
    RailwayCase("sync-dry-run", ("railway.sync-env", "--dry-run", "--prune")),
    RailwayCase("sync-dry-run-json", ("railway.sync-env", "--dry-run", "--prune", "--json")),
    RailwayCase("sync-r2-dry-run", ("railway.sync-env", "--dry-run", "--s3-provider", "r2")),
    RailwayCase("sync-apply", ("railway.sync-env", "--prune", "--yes", "--verbose")),
    RailwayCase(
        "sync-apply-every-environment", ("railway.sync-env", "--all-environments", "--redeploy")
    ),
    RailwayCase(
        "sync-apply-project-token", ("railway.sync-env", "--service", "backend"), token="project"
    ),
    RailwayCase("sync-prune-unconfirmed", ("railway.sync-env", "--prune"), 1),
    RailwayCase("sync-unknown-service", ("railway.sync-env", "--service", "nosuch"), 1),
    RailwayCase("inv-dry-sync", ("--dry", "railway.sync-env", "--prune", "--yes")),
    RailwayCase("provision-exists", ("railway.provision",)),
    RailwayCase("provision-dry-run", ("railway.provision", "--dry-run"), bare=True),
    RailwayCase("provision-create", ("railway.provision", "--public-domain"), bare=True),
    RailwayCase("refused-token", ("railway.status",), 1, token="refused"),
    RailwayCase("refused-token-sync", ("railway.sync-env",), 1, token="refused"),
    RailwayCase("refused-project-token", ("railway.status",), 1, token="refused-project"),
    RailwayCase("echo-on-project", ("railway.status",), 1, faults=(_echo("Project"),)),
    RailwayCase("echo-on-read", ("railway.sync-env",), 1, faults=(_echo("Variables"),)),
    RailwayCase(
        "echo-on-write",
        ("railway.sync-env", "--all-environments"),
        1,
        faults=(_echo("VariableWrites"),),
    ),
    RailwayCase("echo-on-redeploy", ("railway.sync-env",), 1, faults=(_echo("Redeploys"),)),
    RailwayCase(
        "echo-on-create", ("railway.provision",), 1, faults=(_echo("ServiceCreate"),), bare=True
    ),
    RailwayCase(
        "echo-on-project-token",
        ("railway.status",),
        1,
        faults=(_echo("ProjectToken"),),
        token="project",
    ),
    RailwayCase(
        "server-errors",
        ("railway.status",),
        1,
        faults=(_always("server_error"),),
        env={"INVOKE_RAILWAY_RETRY_ATTEMPTS": "2"},
    ),
    RailwayCase(
        "html-pages",
        ("railway.sync-env",),
        1,
        faults=(_always("html"),),
        env={"INVOKE_RAILWAY_RETRY_ATTEMPTS": "2"},
    ),
    RailwayCase(
        "http-403",
        ("railway.status", "--json"),
        1,
        faults=(_always("status", status=403, body=b"Forbidden", content_type="text/plain"),),
    ),
    RailwayCase("rate-limited-then-answered", ("railway.status",), faults=(("rate_limit", {}),)),
    RailwayCase(
        "answer-lost-after-write",
        ("railway.sync-env", "--prune", "--yes"),
        faults=(("drop", {"operation": "VariableWrites"}),),
    ),
    RailwayCase(
        "graphql-error",
        ("railway.sync-env",),
        1,
        faults=(("graphql_error", {"operation": "VariableWrites", "message": "Invalid input"}),),
    ),
    RailwayCase(
        "server-unreachable",
        ("railway.status",),
        1,
        env={
            "RAILWAY_API_URL": "http://127.0.0.1:9/graphql/v2",
            "INVOKE_RAILWAY_RETRY_ATTEMPTS": "2",
        },
    ),
    RailwayCase(
        "api-url-with-password",
        ("railway.status",),
        1,
        env={"RAILWAY_API_URL": f"https://me:{RW['RwApiUrlPw']}@backboard.railway.com/graphql/v2"},
    ),
    RailwayCase(
        "desired-file-error",
        ("railway.sync-env", "--dry-run", "--file", "{dir}/broken.yml"),
        1,
    ),
    RailwayCase(
        "desired-variable-unset",
        ("railway.sync-env", "--dry-run", "--file", "{dir}/unset.yml"),
        1,
    ),
)


@pytest.mark.parametrize("case", RAILWAY_CASES)
def test_railway_tasks_print_no_secret(railway_world: RailwayWorld, case: RailwayCase) -> None:
    folder = railway_world.folder
    (folder / "broken.yml").write_text(
        RW_FILE.replace("BROKER_URL: amqp://", "BROKER_URL: ${oops amqp://")
    )
    (folder / "unset.yml").write_text(RW_FILE.replace("${SHELL_NOTE}", "${NOT_SET_ANYWHERE}"))
    args = [fill(a, railway_world) for a in case.args]
    outcome = run_and_collect(folder, *args, env={**railway_world.env, **case.env})
    assert_clean(
        outcome, RW, code=case.code, phrases=case.phrases, carried=[railway_world.desired_bytes]
    )


# ---------------------------------------------------------------------------------------
# compose.split: the monolith holds literal secrets and `${...}` of planted ones; the split
# must never interpolate, and its diffs and messages show no value.

SPLIT = {
    name: marker(name)
    for name in ("SplitDotenv", "SplitEnv", "SplitLiteral", "SplitUrlPw", "SplitEdited", "SplitBad")
}
SPLIT_ENV = {"MINIO_ROOT_PASSWORD": SPLIT["SplitEnv"]}
SPLIT_LINES = (
    f"      BACKUP_TOKEN: {SPLIT['SplitLiteral']}\n"
    f"      REPLICA_URL: postgres://rep:{SPLIT['SplitUrlPw']}@replica/db\n"
)


@dataclass(frozen=True)
class SplitCase(Case):
    """`outputs`: the state of the outputs before the run: absent, current (as the split
    writes them), hand-edited (a secret added by hand) or broken-source."""

    outputs: str = "absent"


@dataclass
class SplitWorld:
    folder: Path
    carried: list[bytes]


@pytest.fixture
def split_world(request: pytest.FixtureRequest, tmp_path: Path) -> SplitWorld:
    case: SplitCase = request.node.callspec.params["case"]
    shutil.copytree(REPO / "env", tmp_path / "env")
    compose = tmp_path / "compose"
    compose.mkdir()
    monolith = (REPO / "compose" / "docker-compose.yml").read_text()
    anchor = "      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD"
    at = monolith.index(anchor)
    monolith = monolith[:at] + SPLIT_LINES + monolith[at:]
    if case.outputs == "broken-source":
        monolith += f'\nx-broken:\n  BAD_PASSWORD: "{SPLIT["SplitBad"]}\n  other: [1\n'
    (compose / "docker-compose.yml").write_text(monolith)
    shutil.copy(REPO / "compose" / "split-plan.yml", compose / "split-plan.yml")
    (compose / ".env").write_text(f"POSTGRES_PASSWORD={SPLIT['SplitDotenv']}\n")
    (tmp_path / ".env").write_text(f"POSTGRES_PASSWORD={SPLIT['SplitDotenv']}\n")
    if case.outputs in ("current", "hand-edited"):
        done = run_and_collect(tmp_path, *_split_args(tmp_path), env=SPLIT_ENV)
        assert done.result.returncode == 0, done.shown
    if case.outputs == "hand-edited":
        full = compose / "docker-compose.full.yml"
        text = full.read_text().replace(
            SPLIT_LINES, SPLIT_LINES + f"      EDITED_PASSWORD: {SPLIT['SplitEdited']}\n", 1
        )
        full.write_text(text)
    carried = [p.read_bytes() for p in compose.glob("docker-compose*.yml")]
    return SplitWorld(tmp_path, carried)


def _split_args(folder: Path) -> tuple[str, ...]:
    return (
        "compose.split",
        "--source",
        str(folder / "compose" / "docker-compose.yml"),
        "--plan",
        str(folder / "compose" / "split-plan.yml"),
    )


SPLIT_ARGS = (
    "--source",
    "{dir}/compose/docker-compose.yml",
    "--plan",
    "{dir}/compose/split-plan.yml",
)
SPLIT_CASES = cases(
    SplitCase("dry-run-new", ("compose.split", *SPLIT_ARGS, "--dry-run")),
    SplitCase("write-new", ("compose.split", *SPLIT_ARGS), phrases=("wrote",)),
    SplitCase("check-missing", ("compose.split", *SPLIT_ARGS, "--check"), 1, verdict=True),
    SplitCase("check-in-sync", ("compose.split", *SPLIT_ARGS, "--check"), outputs="current"),
    SplitCase(
        "check-hand-edited",
        ("compose.split", *SPLIT_ARGS, "--check"),
        1,
        outputs="hand-edited",
        verdict=True,
    ),
    SplitCase(
        "dry-run-hand-edited",
        ("compose.split", *SPLIT_ARGS, "--dry-run"),
        outputs="hand-edited",
    ),
    SplitCase("refuse-hand-edited", ("compose.split", *SPLIT_ARGS), 1, outputs="hand-edited"),
    SplitCase(
        "force-hand-edited",
        ("compose.split", *SPLIT_ARGS, "--force"),
        phrases=(".bak",),
        outputs="hand-edited",
    ),
    SplitCase("inv-dry", ("--dry", "compose.split", *SPLIT_ARGS, "--force"), outputs="hand-edited"),
    SplitCase("invalid-source", ("compose.split", *SPLIT_ARGS), 1, outputs="broken-source"),
    SplitCase(
        "unknown-plan",
        (
            "compose.split",
            "--source",
            "{dir}/compose/docker-compose.yml",
            "--plan",
            "{dir}/nope.yml",
        ),
        1,
    ),
)


@pytest.mark.parametrize("case", SPLIT_CASES)
def test_split_prints_no_secret(split_world: SplitWorld, case: SplitCase) -> None:
    args = [fill(a, split_world) for a in case.args]
    outcome = run_and_collect(split_world.folder, *args, env={**SPLIT_ENV, **case.env})
    assert_clean(
        outcome,
        SPLIT,
        code=case.code,
        phrases=case.phrases,
        carried=split_world.carried,
        verdict=case.verdict,
    )


# ---------------------------------------------------------------------------------------
# cleanup.unused: the compose file and the scanned code hold secrets.

CLEAN = {
    name: marker(name)
    for name in (
        "CleanDotenv",
        "CleanEnv",
        "CleanLiteral",
        "CleanComposeUrlPw",
        "CleanCodeUrlPw",
        "CleanCodeKey",
    )
}
CLEAN_COMPOSE = f"""\
services:
  postgres:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: ${{POSTGRES_PASSWORD}}
      REPLICATION_PASSWORD: ${{REPLICATION_PASSWORD}}
    volumes: [pgdata:/var/lib/postgresql/data]
  redis:
    image: redis:7
    environment:
      REDIS_PASSWORD: {CLEAN["CleanLiteral"]}
      MASTER_URL: redis://:{CLEAN["CleanComposeUrlPw"]}@master:6379/0
    volumes: [cache:/data]
  app:
    image: busybox
    environment:
      DATABASE_URL: postgresql://app:${{POSTGRES_PASSWORD}}@postgres:5432/app
volumes:
  pgdata:
  cache:
"""
CLEAN_CODE = f"""\
import psycopg2

DATABASE_URL = "postgresql://app:{CLEAN["CleanCodeUrlPw"]}@postgres:5432/app"
API_KEY = "{CLEAN["CleanCodeKey"]}"
"""


@dataclass
class CleanWorld:
    folder: Path
    project: str
    carried: list[bytes]


@pytest.fixture
def clean_world(tmp_path: Path, docker_client: Any) -> Iterator[CleanWorld]:
    (tmp_path / "compose.yml").write_text(CLEAN_COMPOSE)
    (tmp_path / ".env").write_text(f"POSTGRES_PASSWORD={CLEAN['CleanDotenv']}\n")
    code = tmp_path / "code"
    code.mkdir()
    (code / "db.py").write_text(CLEAN_CODE)
    (tmp_path / "bad.yml").write_text(
        'services:\n  db:\n    image: x\n    ports: ["${POSTGRES_PASSWORD}:5432"]\n'
    )
    project = dockerkit.unique_name("vpmsecrets")
    yield CleanWorld(tmp_path, project, [CLEAN_COMPOSE.encode(), CLEAN_CODE.encode()])
    dockerkit.remove_project(docker_client, project)


CLEAN_ENV = {"REPLICATION_PASSWORD": CLEAN["CleanEnv"]}
SCAN = ("cleanup.unused", "--file", "{dir}/compose.yml", "--path", "{dir}/code")
APPLY = (*SCAN, "--project-name", "{project}", "--apply")
CLEAN_CASES = cases(
    Case("table", SCAN),
    Case("json", (*SCAN, "--format", "json")),
    Case("markdown", (*SCAN, "--format", "markdown")),
    Case("apply-dry-run", (*APPLY, "--volumes", "--dry-run")),
    Case("apply", (*APPLY, "--volumes", "--yes"), phrases=("retired",)),
    Case("apply-unconfirmed", APPLY, 1),
    Case("inv-dry-apply", ("--dry", *APPLY, "--volumes", "--yes")),
    Case("bad-format", (*SCAN, "--format", "xml"), 1),
    Case(
        "missing-path", ("cleanup.unused", "--file", "{dir}/compose.yml", "--path", "{dir}/no"), 1
    ),
    Case(
        "secret-as-port",
        ("cleanup.unused", "--file", "{dir}/bad.yml", "--path", "{dir}/code"),
        1,
    ),
)


@pytest.mark.parametrize("case", CLEAN_CASES)
def test_cleanup_prints_no_secret(clean_world: CleanWorld, case: Case) -> None:
    args = [fill(a, clean_world) for a in case.args]
    outcome = run_and_collect(clean_world.folder, *args, env={**CLEAN_ENV, **case.env})
    assert_clean(outcome, CLEAN, code=case.code, phrases=case.phrases, carried=clean_world.carried)


# ---------------------------------------------------------------------------------------
# bench.run: the cheapest part (start-up), with secrets in the environment.

BENCH = {"BenchEnvToken": marker("BenchEnvToken"), "BenchEnvAws": marker("BenchEnvAws")}
BENCH_ENV = {"GITHUB_TOKEN": BENCH["BenchEnvToken"], "AWS_SECRET_ACCESS_KEY": BENCH["BenchEnvAws"]}
BENCH_CASES = cases(
    Case(
        "startup",
        ("bench.run", "--only", "startup", "--runs", "1", "--output", "{dir}/results.md"),
        phrases=("start-up",),
    ),
    Case("unknown-part", ("bench.run", "--only", "nosuch"), 2),
    Case("inv-dry", ("--dry", "bench.run", "--only", "startup"), 1),
)


@pytest.mark.parametrize("case", BENCH_CASES)
def test_bench_prints_no_secret(tmp_path: Path, case: Case) -> None:
    world = type("World", (), {"folder": tmp_path})
    args = [fill(a, world) for a in case.args]
    outcome = run_and_collect(tmp_path, *args, env=BENCH_ENV)
    assert_clean(outcome, BENCH, code=case.code, phrases=case.phrases)


# ---------------------------------------------------------------------------------------
# mlflow.migrate: tracking credentials and S3 keys in the environment and .env, against
# MLflow stand-ins (tests/hostile/sweep.py) that answer, fail or echo what they are sent.

ML = {
    name: marker(name)
    for name in (
        "MlPassword",
        "MlToken",
        "MlAwsSecret",
        "MlUrlPw",
        "MlRailwayToken",
        "MlS3Secret",
    )
}
# What Basic authentication sends: the password, base64-encoded, must not show either.
ML["MlBasicAuth"] = base64.b64encode(f"alice:{ML['MlPassword']}".encode()).decode()
ML_BASIC = {"MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": ML["MlPassword"]}


@dataclass(frozen=True)
class MlflowCase(Case):
    """`source` / `target`: a stand-in's fault (`ok` answers; `none`: no server, the
    URL is closed); `token`: MLFLOW_TRACKING_TOKEN from .env instead of Basic
    authentication; `railway_fault`: no --target, the target comes from Railway (the
    stand-in, failing that way)."""

    source: str = "ok"
    target: str = "ok"
    token: bool = False
    railway_fault: str | None = None


@dataclass
class MlflowWorld:
    folder: Path
    source: Any
    target: Any
    env: dict[str, str]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mlflow_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MlflowWorld]:
    from devkit.railway_standin import RailwayStandIn, RailwayState
    from tests.hostile.sweep import MlflowStandIn
    from tests.railway.conftest import seed

    case: MlflowCase = request.node.callspec.params["case"]
    dotenv = (
        f"AWS_ACCESS_KEY_ID=key-id\nAWS_SECRET_ACCESS_KEY={ML['MlS3Secret']}\n"
        f"RAILWAY_API_TOKEN={ML['MlRailwayToken']}\n"
    )
    if case.token:
        dotenv += f"MLFLOW_TRACKING_TOKEN={ML['MlToken']}\n"
    (tmp_path / ".env").write_text(dotenv)
    state = RailwayState()
    project = seed(state)
    state.account_tokens.add(ML["MlRailwayToken"])
    source = MlflowStandIn(["exp-a", "exp-b"], fault=None if case.source == "ok" else case.source)
    target = MlflowStandIn([], fault=None if case.target == "ok" else case.target)
    with source, target, RailwayStandIn(state) as railway:
        if case.railway_fault:
            railway.fail(case.railway_fault, times=99, message="Problem processing request")
        env = {
            **({} if case.token else ML_BASIC),
            "AWS_SECRET_ACCESS_KEY": ML["MlAwsSecret"],
            "INVOKE_RAILWAY_DOTENV": str(tmp_path / ".env"),
            "RAILWAY_API_URL": railway.url,
            "RAILWAY_PROJECT_ID": project.id,
            "INVOKE_MLFLOW_TIMEOUT": "3",
        }
        yield MlflowWorld(tmp_path, source, target, env)


def _ends(world: MlflowWorld, case: MlflowCase) -> list[str]:
    closed = f"http://127.0.0.1:{_closed_port()}"
    args = ["--source", closed if case.source == "none" else world.source.url]
    if case.railway_fault is None:
        args += ["--target", closed if case.target == "none" else world.target.url]
    return args


MLFLOW_CASES = cases(
    MlflowCase("dry-run", ("mlflow.migrate", "--dry-run")),
    MlflowCase("dry-run-json", ("mlflow.migrate", "--dry-run", "--json")),
    MlflowCase("migrate", ("mlflow.migrate",), phrases=("verified",)),
    MlflowCase("migrate-json-token", ("mlflow.migrate", "--json"), token=True),
    MlflowCase("inv-dry", ("--dry", "mlflow.migrate")),
    MlflowCase("source-echoes", ("mlflow.migrate",), 1, source="echo"),
    MlflowCase("target-echoes", ("mlflow.migrate",), 1, target="echo"),
    MlflowCase("target-echoes-token", ("mlflow.migrate",), 1, target="echo", token=True),
    MlflowCase("source-500", ("mlflow.migrate", "--dry-run"), 1, source="500"),
    MlflowCase("target-login-page", ("mlflow.migrate",), 1, target="html"),
    MlflowCase("source-refuses-login", ("mlflow.migrate",), 1, source="403"),
    MlflowCase("source-drips", ("mlflow.migrate", "--dry-run"), 1, ("within 3 s",), source="drip"),
    MlflowCase(
        "source-gzip-bomb", ("mlflow.migrate", "--dry-run"), 1, ("64 MiB",), source="gzip-bomb"
    ),
    MlflowCase(
        "target-error-gzip-bomb",
        ("mlflow.migrate", "--dry-run"),
        1,
        ("HTTP 400",),
        target="error-gzip-bomb",
    ),
    MlflowCase("source-unreachable", ("mlflow.migrate",), 1, source="none"),
    MlflowCase("target-unreachable", ("mlflow.migrate",), 1, target="none"),
    MlflowCase(
        "password-in-url",
        ("mlflow.migrate", "--source", f"http://alice:{ML['MlUrlPw']}@127.0.0.1:9"),
        1,
    ),
    MlflowCase("railway-target-echoes", ("mlflow.migrate", "--dry-run"), 1, railway_fault="echo"),
    MlflowCase(
        "railway-target-refused",
        ("mlflow.migrate", "--dry-run"),
        1,
        railway_fault="not_authorized",
    ),
    MlflowCase(
        "no-local-stack",
        ("mlflow.migrate", "--file", "{dir}/compose.yml", "--target", "http://127.0.0.1:9"),
        1,
    ),
)


@pytest.mark.parametrize("case", MLFLOW_CASES)
def test_mlflow_migrate_prints_no_secret(mlflow_world: MlflowWorld, case: MlflowCase) -> None:
    (mlflow_world.folder / "compose.yml").write_text(
        "services:\n  mlflow:\n    image: busybox\n    environment:\n"
        f"      AWS_SECRET_ACCESS_KEY: {ML['MlS3Secret']}\n"
    )
    args = [fill(a, mlflow_world) for a in case.args]
    if "--source" not in args and "--file" not in args:
        args += _ends(mlflow_world, case)
    outcome = run_and_collect(mlflow_world.folder, *args, env={**mlflow_world.env, **case.env})
    assert_clean(outcome, ML, code=case.code, phrases=case.phrases)
    assert mlflow_world.source.writes() == []  # a migration only reads its source
    if case.name in ("dry-run", "dry-run-json", "inv-dry"):
        assert mlflow_world.target.writes() == []
    if case.name == "migrate":
        names = {e["name"] for e in mlflow_world.target.experiments}
        assert names >= {"exp-a", "exp-b"}, outcome.shown


# ---------------------------------------------------------------------------------------


def test_every_task_is_swept() -> None:
    """A task that no case runs, or that is only run on its success path or only on its
    error path, fails here: a new task cannot slip in unswept."""
    successes = {task_of(c.args) for c in SWEPT if c.code == 0}
    failures = {task_of(c.args) for c in SWEPT if c.code != 0}
    tasks = set(task_names())
    assert sorted(tasks - successes - SUCCESS_TOO_COSTLY) == [], "never run to success"
    assert sorted(tasks - failures) == [], "never run on an error path"
    assert tasks >= SUCCESS_TOO_COSTLY


# Tasks whose success path costs minutes (the real MLflow, PostgreSQL and S3 of the
# end-to-end image, or the whole benchmark): their error paths are swept here, their
# success paths in the tests named.
SUCCESS_TOO_COSTLY: set[str] = {
    "local.verify",  # tests/e2e/test_mvp_stack.py
}
