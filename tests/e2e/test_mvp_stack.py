"""The MVP stack end to end: real PostgreSQL, MLflow and S3 started by `inv local.up`,
checked by `inv local.verify`, used by an MLflow client the way the training code uses
it, and nothing lost across `down` + `up` until `down --volumes`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

BUCKET = "vision-platform-dev"
ARTIFACT_ROOT = f"s3://{BUCKET}/mlflow-artifacts"
S3_KEYS = {"AWS_ACCESS_KEY_ID": "minioadmin", "AWS_SECRET_ACCESS_KEY": "minioadmin"}
UP = ("local.up", "--profile", "mvp", "--no-pull", "--timeout", "600")
CHECKS = {
    "postgres",
    "mlflow-health",
    "mlflow-tracking",
    "s3-bucket",
    "s3-roundtrip",
    "mlflow-artifact",
}


def verify_rows(stdout: str) -> dict[str, str]:
    """CHECK -> RESULT from the table `inv local.verify` prints."""
    rows = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in CHECKS:
            rows[parts[0]] = parts[1]
    return rows


def s3_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=S3_KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}),
    )


def use_stack(monkeypatch: pytest.MonkeyPatch, urls: dict[str, str]) -> None:
    """Point MLflow's client at the stack through the variables train.py sets."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", urls["mlflow"])
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", urls["s3"])
    for name, value in S3_KEYS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


def artifact_key(artifact_uri: str, name: str) -> str:
    assert artifact_uri.startswith(ARTIFACT_ROOT + "/"), artifact_uri
    return f"{artifact_uri[len(f's3://{BUCKET}/') :]}/{name}"


def test_mvp_stack_keeps_runs_and_artifacts_until_volumes_are_removed(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient

    stack.inv(*UP)

    verified = stack.inv("local.verify", "--profile", "mvp")
    assert verify_rows(verified.stdout) == dict.fromkeys(CHECKS, "pass"), verified.stdout
    assert_verify_reports_a_wrong_password(stack)

    # A training job's view: MLflow's fluent API, artifacts straight to S3.
    urls = stack.urls()
    use_stack(monkeypatch, urls)
    artifact = tmp_path / "confusion-matrix.txt"
    artifact.write_text("cat dog\n9 1\n2 8\n")
    mlflow.set_experiment("e2e-training")
    with mlflow.start_run() as run:
        mlflow.log_metric("val_loss", 0.125, step=3)
        mlflow.log_artifact(str(artifact))
    run_id = run.info.run_id
    key = artifact_key(MlflowClient().get_run(run_id).info.artifact_uri, artifact.name)
    stored = s3_client(urls["s3"]).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert stored == artifact.read_bytes()

    # down keeps the named volumes: the run, its metric and the object come back.
    stack.inv("local.down")
    stack.inv(*UP)
    urls = stack.urls()
    use_stack(monkeypatch, urls)
    back = MlflowClient().get_run(run_id)
    assert back.data.metrics["val_loss"] == 0.125
    assert [a.path for a in MlflowClient().list_artifacts(run_id)] == [artifact.name]
    stored = s3_client(urls["s3"]).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert stored == artifact.read_bytes()

    # down --volumes removes the data: a fresh stack knows neither run nor object.
    stack.inv("local.down", "--volumes")
    stack.inv(*UP)
    urls = stack.urls()
    use_stack(monkeypatch, urls)
    assert MlflowClient().get_experiment_by_name("e2e-training") is None
    listed = s3_client(urls["s3"]).list_objects_v2(Bucket=BUCKET, Prefix="mlflow-artifacts/")
    assert listed.get("KeyCount", 0) == 0

    # Secrets never reach the output of any command.
    assert not any(stack.password in entry for entry in stack.transcript)


def assert_verify_reports_a_wrong_password(stack: Stack) -> None:
    """A .env password that differs from the one the data volume was created with: verify
    fails that row only, says what to do, and never prints the password."""
    wrong = f"not-{stack.password}"
    env = {**stack.env, "POSTGRES_PASSWORD": wrong}
    result = stack.inv("local.verify", "--profile", "mvp", check=False, env=env)

    assert result.returncode == 1, result.stdout + result.stderr
    rows = verify_rows(result.stdout)
    assert rows.pop("postgres") == "FAIL"
    assert rows == dict.fromkeys(CHECKS - {"postgres"}, "pass")  # MLflow keeps its settings
    assert "hint (postgres):" in result.stdout and "POSTGRES_PASSWORD" in result.stdout
    assert "1 of 6 checks failed" in result.stderr
    assert wrong not in result.stdout + result.stderr
