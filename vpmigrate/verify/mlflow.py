"""MLflow: /health answers; a run takes a metric and gives it back; an artifact logged
through MLflow lands in the bucket under the configured artifact root.

The client is MLflow's own (mlflow-skinny), configured through the environment
variables the training code uses (MLFLOW_S3_ENDPOINT_URL and the AWS keys), so the
check exercises the same path. Runs go to the experiment `vpmigrate-verify`.
"""

from __future__ import annotations

import io
import os
import random
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from vpmigrate.verify.result import CheckResult, Problem, first_line
from vpmigrate.verify.s3 import error_code, failure_hint, s3_client
from vpmigrate.verify.targets import MlflowTarget, S3Target

EXPERIMENT = "vpmigrate-verify"
METRIC = "vpmigrate_verify"
ARTIFACT_NAME = "vpmigrate-verify.txt"
HEALTH_TIMEOUT_S = 5
# The client otherwise retries a dead server for minutes; a check should answer fast.
CLIENT_SETTINGS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}


@contextmanager
def client_environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) variables for the MLflow client, restoring them after.

    The client also prints "View run ..." links on stdout; they are swallowed so the
    task's stdout stays its table."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        with redirect_stdout(io.StringIO()):
            yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


class MlflowSession:
    """State the MLflow checks share: whether /health answered, and the run they use."""

    def __init__(self, target: MlflowTarget, s3: S3Target | Problem) -> None:
        self.target = target
        self.s3 = s3
        self.healthy = False
        self.run_id: str | None = None
        self._client: Any = None

    def environment(self) -> dict[str, str | None]:
        values: dict[str, str | None] = dict(CLIENT_SETTINGS)
        values["MLFLOW_TRACKING_URI"] = self.target.url
        if isinstance(self.s3, S3Target):
            values.update(
                MLFLOW_S3_ENDPOINT_URL=self.s3.endpoint_url,
                AWS_ACCESS_KEY_ID=self.s3.access_key_id,
                AWS_SECRET_ACCESS_KEY=self.s3.secret_access_key,
                AWS_SESSION_TOKEN=None,
                AWS_PROFILE=None,
                AWS_DEFAULT_REGION=self.s3.region,
            )
        return values

    def client(self) -> Any:
        if self._client is None:
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=self.target.url)
        return self._client

    def experiment_id(self) -> str:
        from mlflow.exceptions import MlflowException

        client = self.client()
        found = client.get_experiment_by_name(EXPERIMENT)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                client.restore_experiment(found.experiment_id)
            return str(found.experiment_id)
        try:
            return str(client.create_experiment(EXPERIMENT))
        except MlflowException:
            again = client.get_experiment_by_name(EXPERIMENT)  # created meanwhile
            if again is None:
                raise
            return str(again.experiment_id)

    def finish(self) -> None:
        if self.run_id is None:
            return
        try:
            with client_environment(self.environment()):
                self.client().set_terminated(self.run_id, "FINISHED")
        except Exception:  # noqa: BLE001 - best effort: the checks have already reported
            pass


class MlflowHealthCheck:
    name = "mlflow-health"

    def __init__(self, session: MlflowSession) -> None:
        self.session = session

    def run(self) -> CheckResult:
        import httpx

        t = self.session.target
        url = f"{t.url}/health"
        try:
            response = httpx.get(url, timeout=HEALTH_TIMEOUT_S)
        except httpx.HTTPError as exc:
            return CheckResult(
                self.name,
                False,
                f"GET {url}: {first_line(exc)}",
                f"MLflow does not answer: `inv local.status` shows whether {t.service} is "
                f"healthy; `inv local.logs {t.service}` says why not",
            )
        if response.status_code != 200:
            return CheckResult(
                self.name,
                False,
                f"GET {url}: HTTP {response.status_code}",
                f"MLflow answers but is not healthy: see `inv local.logs {t.service}`",
            )
        self.session.healthy = True
        return CheckResult(self.name, True, f"GET {url}: {response.text.strip()[:40]}")


class MlflowTrackingCheck:
    name = "mlflow-tracking"

    def __init__(self, session: MlflowSession) -> None:
        self.session = session

    def run(self) -> CheckResult:
        s = self.session
        if not s.healthy:
            return CheckResult(
                self.name, False, "skipped: /health failed", "fix mlflow-health first"
            )
        value = round(random.uniform(0, 1000), 6)
        try:
            with client_environment(s.environment()):
                client = s.client()
                run = client.create_run(
                    s.experiment_id(), run_name="vpmigrate-verify", tags={"vpmigrate": "verify"}
                )
                s.run_id = run.info.run_id
                client.log_metric(s.run_id, METRIC, value, step=1)
                history = client.get_metric_history(s.run_id, METRIC)
        except Exception as exc:  # noqa: BLE001 - MLflow wraps HTTP and store errors alike
            return CheckResult(
                self.name,
                False,
                f"create run / log metric: {first_line(exc)}",
                "MLflow's backend store (--backend-store-uri) may be unreachable or "
                f"misconfigured: see `inv local.logs {s.target.service}`",
            )
        if not any(abs(m.value - value) < 1e-9 for m in history):
            return CheckResult(
                self.name,
                False,
                f"run {s.run_id}: metric {METRIC}={value} not read back ({len(history)} values)",
                f"see `inv local.logs {s.target.service}`",
            )
        return CheckResult(
            self.name,
            True,
            f"run {s.run_id} in experiment {EXPERIMENT}: metric {METRIC} logged and read back",
        )


class MlflowArtifactCheck:
    name = "mlflow-artifact"

    def __init__(self, session: MlflowSession) -> None:
        self.session = session

    def run(self) -> CheckResult:
        s = self.session
        if isinstance(s.s3, Problem):
            return CheckResult(self.name, False, f"skipped: {s.s3.reason}", s.s3.hint)
        if s.run_id is None:
            return CheckResult(
                self.name, False, "skipped: no run to log to", "fix mlflow-tracking first"
            )
        s3 = s.s3
        content = f"vpmigrate verify artifact {uuid.uuid4().hex}\n".encode()
        try:
            with client_environment(s.environment()), tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / ARTIFACT_NAME
                path.write_bytes(content)
                s.client().log_artifact(s.run_id, str(path))
                artifact_uri = s.client().get_run(s.run_id).info.artifact_uri
        except Exception as exc:  # noqa: BLE001 - boto3 and MLflow errors both land here
            hint = (
                failure_hint(s3, exc)
                if error_code(exc) or "Endpoint" in type(exc).__name__
                else "MLflow clients upload artifacts straight to S3: every training service "
                "needs MLFLOW_S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "set to the values the MLflow service uses"
            )
            return CheckResult(self.name, False, f"log_artifact: {first_line(exc)}", hint)
        located = bucket_location(artifact_uri, s3)
        if isinstance(located, Problem):
            return located.as_result(self.name)
        bucket, folder_key = located
        key = f"{folder_key}/{ARTIFACT_NAME}" if folder_key else ARTIFACT_NAME
        if bucket != s3.bucket or not (key.startswith(s3.prefix + "/") or not s3.prefix):
            return CheckResult(
                self.name,
                False,
                f"run {s.run_id} stores artifacts at {artifact_uri}, outside {s3.root}",
                f"experiment {EXPERIMENT} was created when the artifact root was different; "
                "experiments keep the location they were created with. New experiments use "
                f"{s3.root}",
            )
        try:
            stored = s3_client(s3).get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:  # noqa: BLE001 - botocore's error family
            return CheckResult(
                self.name, False, f"s3://{bucket}/{key}: {first_line(exc)}", failure_hint(s3, exc)
            )
        if stored != content:
            return CheckResult(
                self.name,
                False,
                f"s3://{bucket}/{key} holds {len(stored)} bytes, not the artifact logged",
                "MLflow and this check reach different S3 servers: compare "
                "MLFLOW_S3_ENDPOINT_URL of the MLflow service with the S3 service",
            )
        return CheckResult(self.name, True, f"artifact of run {s.run_id} is at s3://{bucket}/{key}")


def bucket_location(artifact_uri: str, s3: S3Target) -> tuple[str, str] | Problem:
    """(bucket, key prefix) where a run's artifacts are stored."""
    parsed = urlparse(artifact_uri)
    if parsed.scheme == "s3":
        return parsed.netloc, parsed.path.strip("/")
    if parsed.scheme == "mlflow-artifacts" or "/mlflow-artifacts/artifacts" in parsed.path:
        # Proxied artifacts: the server stores them under its --artifacts-destination.
        relative = parsed.path.split("/mlflow-artifacts/artifacts", 1)[-1].strip("/")
        prefix = f"{s3.prefix}/{relative}" if s3.prefix else relative
        return s3.bucket, prefix.strip("/")
    return Problem(
        f"runs store artifacts at {artifact_uri}, not in S3",
        "start MLflow with `--default-artifact-root s3://<bucket>/mlflow-artifacts`",
    )
