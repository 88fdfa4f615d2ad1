"""Where `inv local.verify` connects: read from a compose file (through the real loader)
and the ports the containers publish."""

from __future__ import annotations

from pathlib import Path

from vpmigrate.compose.loader import load_project
from vpmigrate.engine.state import ContainerState, PublishedPort
from vpmigrate.verify.result import Problem
from vpmigrate.verify.targets import MlflowTarget, PostgresTarget, S3Target, find_targets

UP = "`inv local.up --profile mvp`"

STACK = """
services:
  postgres:
    image: postgres:16-alpine
    environment:
      POSTGRES_DB: vision_platform
      POSTGRES_USER: admin
      POSTGRES_PASSWORD: s3cret-pg
    ports: ["127.0.0.1:5432:5432"]
  minio:
    image: minio/minio
    ports: ["9000:9000"]
  minio-init:
    image: minio/mc
  mlflow:
    image: mlflow
    depends_on:
      minio-init: {condition: service_completed_successfully}
    command: >-
      mlflow server --host 0.0.0.0 --port 5000
      --backend-store-uri postgresql://admin:s3cret-pg@postgres:5432/vision_platform
      --default-artifact-root s3://vision-platform-dev/mlflow-artifacts/
    environment:
      MLFLOW_S3_ENDPOINT_URL: http://minio:9000
      AWS_ACCESS_KEY_ID: minioadmin
      AWS_SECRET_ACCESS_KEY: s3cret-minio
    ports: ["127.0.0.1:15000:5000"]
"""


def running(service: str, *ports: tuple[int, str, int]) -> ContainerState:
    return ContainerState(
        id=f"id-{service}",
        name=f"p-{service}-1",
        service=service,
        status="running",
        exit_code=0,
        health="healthy",
        config_hash="",
        image_label="",
        ports=tuple(PublishedPort(ip, host, target, "tcp") for target, ip, host in ports),
        networks=("p_default",),
    )


def load(tmp_path: Path, text: str = STACK):  # type: ignore[no-untyped-def]
    path = tmp_path / "compose.yml"
    path.write_text(text)
    project = load_project([path], project_name="p", env_files=[])
    return project, list(project.services.values())


CONTAINERS = {
    "postgres": running("postgres", (5432, "127.0.0.1", 5432)),
    "minio": running("minio", (9000, "0.0.0.0", 49153)),
    "mlflow": running("mlflow", (5000, "127.0.0.1", 15000)),
}


def test_targets_come_from_the_services_and_the_published_ports(tmp_path: Path) -> None:
    project, services = load(tmp_path)

    targets = find_targets(project, services, CONTAINERS, UP)

    assert targets.postgres == PostgresTarget(
        "postgres", "127.0.0.1", 5432, "admin", "vision_platform", "s3cret-pg"
    )
    assert targets.mlflow == MlflowTarget("mlflow", "http://127.0.0.1:15000")
    assert isinstance(targets.s3, S3Target)
    assert targets.s3.root.rstrip("/") == "s3://vision-platform-dev/mlflow-artifacts"
    # MLflow's endpoint names the service on the stack network; from this machine it is
    # the port the engine published (on every interface, so reached via 127.0.0.1).
    assert targets.s3.endpoint_url == "http://127.0.0.1:49153"
    assert (targets.s3.bucket, targets.s3.prefix) == ("vision-platform-dev", "mlflow-artifacts")
    assert (targets.s3.access_key_id, targets.s3.secret_access_key) == (
        "minioadmin",
        "s3cret-minio",
    )
    assert targets.s3.bucket_jobs == ("minio-init",)
    assert targets.redact("pw s3cret-pg and s3cret-minio") == "pw *** and ***"
    assert "s3cret" not in repr(targets.postgres) + repr(targets.s3)


def test_mlflow_settings_from_its_environment_and_an_outside_endpoint(tmp_path: Path) -> None:
    text = STACK.replace(
        """    command: >-
      mlflow server --host 0.0.0.0 --port 5000
      --backend-store-uri postgresql://admin:s3cret-pg@postgres:5432/vision_platform
      --default-artifact-root s3://vision-platform-dev/mlflow-artifacts/
""",
        """    command: ["sh", "-c", "pip install boto3 && mlflow server --host 0.0.0.0"]
""",
    ).replace(
        "MLFLOW_S3_ENDPOINT_URL: http://minio:9000",
        "MLFLOW_S3_ENDPOINT_URL: https://acct.r2.cloudflarestorage.com\n"
        "      MLFLOW_DEFAULT_ARTIFACT_ROOT: s3://vision-platform-prod/runs",
    )
    project, services = load(tmp_path, text)

    targets = find_targets(project, services, CONTAINERS, UP)

    assert isinstance(targets.mlflow, MlflowTarget)
    assert targets.mlflow.url == "http://127.0.0.1:15000"
    assert isinstance(targets.s3, S3Target)
    assert targets.s3.endpoint_url == "https://acct.r2.cloudflarestorage.com"
    assert targets.s3.root == "s3://vision-platform-prod/runs"


def test_a_stopped_service_or_an_unpublished_port_says_what_to_do(tmp_path: Path) -> None:
    project, services = load(tmp_path)
    containers = dict(CONTAINERS)
    del containers["postgres"]
    containers["minio"] = running("minio")  # publishes nothing

    targets = find_targets(project, services, containers, UP)

    assert isinstance(targets.postgres, Problem)
    assert targets.postgres.reason == "service postgres has no container"
    assert UP in targets.postgres.hint
    assert isinstance(targets.s3, Problem)
    assert "publishes no host port for its port 9000" in targets.s3.reason
    assert "127.0.0.1:9000:9000" in targets.s3.hint


def test_an_artifact_root_outside_s3_is_a_problem(tmp_path: Path) -> None:
    text = STACK.replace(
        "--default-artifact-root s3://vision-platform-dev/mlflow-artifacts/",
        "--default-artifact-root /mlflow/artifacts",
    )
    project, services = load(tmp_path, text)

    targets = find_targets(project, services, CONTAINERS, UP)

    assert isinstance(targets.s3, Problem)
    assert "/mlflow/artifacts, not an s3:// bucket" in targets.s3.reason
    assert "--default-artifact-root s3://" in targets.s3.hint


def test_without_mlflow_every_mlflow_and_s3_check_has_a_reason(tmp_path: Path) -> None:
    project, services = load(tmp_path)
    services = [s for s in services if s.name != "mlflow"]

    targets = find_targets(project, services, CONTAINERS, UP)

    assert isinstance(targets.postgres, PostgresTarget)
    assert isinstance(targets.mlflow, Problem) and isinstance(targets.s3, Problem)
    assert "no MLflow service" in targets.mlflow.reason
