"""Fixtures: a seeded Railway stand-in, and the real `inv` CLI run against it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devkit.railway_standin import SUBSET_SCHEMA, Project, RailwayStandIn, RailwayState

REPO_ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_TOKEN = "acct-token-7c1d9e"
PROJECT_TOKEN = "proj-token-52b0aa"
ACCESS_KEY = "AKIATESTKEY4417"
SECRET_KEY = "s3-secret-value-9f8e7d6c"
POSTGRES_URL = "postgresql://postgres:pg-password-x81@postgres.railway.internal:5432/railway"
TRAINING = ("timm-service", "ultralytics-service", "huggingface-service", "backend")


@dataclass
class World:
    """The stand-in and the seeded project it serves."""

    api: RailwayStandIn
    state: RailwayState
    project: Project
    dotenv: Path

    def vars(self, service: str, env: str = "production") -> dict[str, str]:
        return self.state.vars_of(self.project, env, service)

    def shared(self, env: str = "production") -> dict[str, str]:
        return self.state.shared_of(self.project, env)

    def redeploys(self, service: str, env: str = "production") -> int:
        key = (self.state.env_id(self.project, env), self.state.service_id(self.project, service))
        return self.state.redeploys[key]

    def service_exists(self, name: str) -> bool:
        return name in self.project.services.values()


def seed(state: RailwayState, *, with_mlflow: bool = True) -> Project:
    project = state.add_project("vision-platform", ["production", "staging"])
    state.add_service(
        project, "Postgres", {"DATABASE_URL": POSTGRES_URL, "PGPASSWORD": "pg-password-x81"}
    )
    state.add_service(project, "backend", {"LOG_LEVEL": "info", "JWT_SECRET": "jwt-secret-c0ffee"})
    state.add_service(project, "frontend", {"NEXT_PUBLIC_API_URL": "https://api.example"})
    for name in ("timm-service", "ultralytics-service", "huggingface-service"):
        state.add_service(project, name)
    if with_mlflow:
        state.add_service(project, "mlflow-service")
    state.account_tokens.add(ACCOUNT_TOKEN)
    state.project_tokens[PROJECT_TOKEN] = (project.id, state.env_id(project, "production"))
    return project


def _world(tmp_path: Path, with_mlflow: bool, schema_path: Path | None = None) -> Iterator[World]:
    state = RailwayState()
    project = seed(state, with_mlflow=with_mlflow)
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        f"AWS_ACCESS_KEY_ID={ACCESS_KEY}\nAWS_SECRET_ACCESS_KEY={SECRET_KEY}\n"
        "MLFLOW_SOURCE_REPO=vision-team/vision-platform\n"
    )
    with RailwayStandIn(state, schema_path) as api:
        yield World(api, state, project, dotenv)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """Railway as the audit found it, with mlflow-service already created."""
    yield from _world(tmp_path, with_mlflow=True)


@pytest.fixture
def bare_world(tmp_path: Path) -> Iterator[World]:
    """Railway as it is today: no mlflow-service yet."""
    yield from _world(tmp_path, with_mlflow=False)


@pytest.fixture
def subset_world(tmp_path: Path) -> Iterator[World]:
    """Like bare_world, served from the schema subset used when Railway's schema is absent."""
    yield from _world(tmp_path, with_mlflow=False, schema_path=SUBSET_SCHEMA)


SECRETS = (
    SECRET_KEY,
    ACCESS_KEY,
    ACCOUNT_TOKEN,
    PROJECT_TOKEN,
    "pg-password-x81",
    "jwt-secret-c0ffee",
)


def assert_no_secret(*texts: str, also: tuple[str, ...] = ()) -> None:
    for text in texts:
        for secret in SECRETS + also:
            assert secret not in text


def wide_file(
    path: Path, services: list[str], environments: tuple[str, ...] = ("production",)
) -> Path:
    """A desired-state file for ``services``: the S3 settings shared, every service
    referencing them, plus its own settings."""
    lines = [
        "version: 1",
        "s3:",
        "  provider: aws",
        "  bucket: vision-platform-prod",
        "  aws:",
        "    access_key_id: ${AWS_ACCESS_KEY_ID}",
        "    secret_access_key: ${AWS_SECRET_ACCESS_KEY}",
        "mlflow: {}",
        "environments:",
    ]
    for env in environments:
        lines += [
            f"  {env}:",
            "    shared:",
            "      MLFLOW_S3_ENDPOINT_URL: ${s3.endpoint}",
            "      AWS_ACCESS_KEY_ID: ${s3.access_key_id}",
            "      AWS_SECRET_ACCESS_KEY: ${s3.secret_access_key}",
            "    services:",
        ]
        for name in services:
            lines += [
                f"      {name}:",
                "        MLFLOW_TRACKING_URI: ${mlflow.tracking_uri}",
                "        MLFLOW_S3_ENDPOINT_URL: ${{shared.MLFLOW_S3_ENDPOINT_URL}}",
                "        AWS_ACCESS_KEY_ID: ${{shared.AWS_ACCESS_KEY_ID}}",
                "        AWS_SECRET_ACCESS_KEY: ${{shared.AWS_SECRET_ACCESS_KEY}}",
                f"        SERVICE_LABEL: {name}",
                "        WORKERS: '4'",
            ]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Wide:
    world: World
    services: list[str]
    file: Path


def _wide(tmp_path: Path, count: int) -> Iterator[Wide]:
    state = RailwayState()
    project = state.add_project("vision-platform", ["production", "staging"])
    state.add_service(project, "Postgres", {"DATABASE_URL": POSTGRES_URL})
    names = ["mlflow-service"] + [f"worker-{i:02d}" for i in range(1, count)]
    for name in names:
        state.add_service(project, name, {"KEEP_ME": "1"})
    state.account_tokens.add(ACCOUNT_TOKEN)
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"AWS_ACCESS_KEY_ID={ACCESS_KEY}\nAWS_SECRET_ACCESS_KEY={SECRET_KEY}\n")
    desired = wide_file(tmp_path / "railway.yml", names, ("production", "staging"))
    with RailwayStandIn(state) as api:
        yield Wide(World(api, state, project, dotenv), names, desired)


@pytest.fixture(params=[6, 30], ids=["6-services", "30-services"])
def wide(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Wide]:
    """A project with 6 or 30 services that the desired file all covers."""
    yield from _wide(tmp_path, request.param)


def run_inv(
    world: World,
    *args: str,
    token: str | None = ACCOUNT_TOKEN,
    project_token: str | None = None,
    project_id: bool = True,
    extra_env: dict[str, str] | None = None,
    stdin: int = subprocess.DEVNULL,
) -> subprocess.CompletedProcess[str]:
    """Run the real `inv` CLI against the stand-in; secrets come from the test's .env."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RAILWAY_", "AWS_", "R2_", "MINIO_", "MLFLOW_", "INVOKE_"))
    }
    env.update(
        RAILWAY_API_URL=world.api.url,
        INVOKE_RAILWAY_DOTENV=str(world.dotenv),
        # Fast retries; Retry-After from the stand-in is still honoured.
        INVOKE_RAILWAY_RETRY_BACKOFF="0.01",
        INVOKE_RAILWAY_RETRY_MAX_BACKOFF="0.02",
    )
    if token:
        env["RAILWAY_API_TOKEN"] = token
    if project_token:
        env["RAILWAY_TOKEN"] = project_token
    if project_id:
        env["RAILWAY_PROJECT_ID"] = world.project.id
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        stdin=stdin,
        timeout=120,
    )
