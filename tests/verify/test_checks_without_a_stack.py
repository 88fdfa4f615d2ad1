"""With nothing listening, every check fails fast, says what to do, and leaks no secret.
Real client libraries (psycopg, httpx, boto3, MLflow) against a closed local port."""

from __future__ import annotations

import socket

from vpmigrate.verify.result import Redactor
from vpmigrate.verify.runner import run_checks
from vpmigrate.verify.targets import MlflowTarget, PostgresTarget, S3Target, StackTargets


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_every_check_fails_with_a_hint_when_nothing_answers() -> None:
    port = closed_port()
    targets = StackTargets(
        postgres=PostgresTarget("postgres", "127.0.0.1", port, "admin", "db", "pg-secret-1"),
        mlflow=MlflowTarget("mlflow", f"http://127.0.0.1:{port}"),
        s3=S3Target(
            endpoint_url=f"http://127.0.0.1:{port}",
            region="us-east-1",
            bucket="bucket",
            prefix="root",
            access_key_id="key-id",
            secret_access_key="s3-secret-2",
            configured_by="mlflow",
            bucket_jobs=("minio-init",),
        ),
        redact=Redactor.of(["pg-secret-1", "s3-secret-2"]),
    )

    results = run_checks(targets)

    assert [r.name for r in results] == [
        "postgres",
        "mlflow-health",
        "mlflow-tracking",
        "s3-bucket",
        "s3-roundtrip",
        "mlflow-artifact",
    ]
    assert not any(r.passed for r in results)
    by_name = {r.name: r for r in results}
    assert f"nothing answers at 127.0.0.1:{port}" in by_name["postgres"].hint
    assert "inv local.logs mlflow" in by_name["mlflow-health"].hint
    assert by_name["mlflow-tracking"].hint == "fix mlflow-health first"
    assert f"nothing answers at http://127.0.0.1:{port}" in by_name["s3-bucket"].hint
    assert all(r.hint for r in results)
    text = " ".join(f"{r.detail} {r.hint}" for r in results)
    assert "pg-secret-1" not in text and "s3-secret-2" not in text
