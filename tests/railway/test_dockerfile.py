"""deploy/mlflow/Dockerfile and railway.provision start MLflow the same way."""

from __future__ import annotations

import json

from tests.railway.conftest import REPO_ROOT
from vpmigrate.railway.provision import MLFLOW_SERVE_SCRIPT

DOCKERFILE = REPO_ROOT / "deploy" / "mlflow" / "Dockerfile"


def instructions() -> dict[str, str]:
    found = {}
    for line in DOCKERFILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found[keyword] = rest
    return found


def test_dockerfile_adds_postgres_and_s3_drivers_to_the_mlflow_image() -> None:
    found = instructions()

    assert found["FROM"].startswith("ghcr.io/mlflow/mlflow:")
    assert "psycopg2-binary" in found["RUN"] and "boto3" in found["RUN"]


def test_dockerfile_serves_like_the_provisioned_start_command() -> None:
    assert json.loads(instructions()["CMD"]) == ["sh", "-c", MLFLOW_SERVE_SCRIPT]
    assert '--host "[::]"' in MLFLOW_SERVE_SCRIPT and "${PORT" in MLFLOW_SERVE_SCRIPT
