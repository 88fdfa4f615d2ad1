"""S3: the keys are accepted, the artifact bucket exists, and an object round-trips."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from vpmigrate.verify.result import CheckResult, first_line
from vpmigrate.verify.targets import S3Target

PROBE_PREFIX = "vpmigrate-verify"  # round-trip objects live (briefly) under this prefix


def s3_client(target: S3Target) -> Any:
    """A boto3 S3 client with the stack's endpoint and keys, failing fast."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=5,
        read_timeout=15,
        retries={"max_attempts": 2, "mode": "standard"},
        # S3-compatible servers on a host:port (MinIO, moto) need path-style URLs.
        s3={"addressing_style": "path" if target.endpoint_url else "auto"},
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=target.endpoint_url,
        region_name=target.region,
        aws_access_key_id=target.access_key_id,
        aws_secret_access_key=target.secret_access_key,
        config=config,
    )


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str((response.get("Error") or {}).get("Code", ""))


def where(target: S3Target) -> str:
    return target.endpoint_url or f"AWS S3 ({target.region})"


def failure_hint(target: S3Target, exc: Exception) -> str:
    code = error_code(exc)
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"):
        return (
            f"the S3 server refused the keys of service {target.configured_by} "
            "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY): they must be the server's keys "
            "(for MinIO: MINIO_ROOT_USER / MINIO_ROOT_PASSWORD)"
        )
    if code in ("NoSuchBucket", "404"):
        jobs = ", ".join(target.bucket_jobs)
        job_hint = f"`inv local.logs {target.bucket_jobs[0]}`" if jobs else "the bucket job's logs"
        return (
            f"bucket {target.bucket} does not exist: the bucket job ({jobs or 'none found'}) "
            f"should have created it: see {job_hint}, then `inv local.up` again"
        )
    if type(exc).__name__ in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError"):
        return (
            f"nothing answers at {where(target)}: `inv local.status` shows whether the S3 "
            "service is running and healthy"
        )
    return f"the S3 server at {where(target)} answered with an error: see its logs"


@dataclass(frozen=True)
class S3AccessCheck:
    target: S3Target
    name: str = "s3-bucket"

    def run(self) -> CheckResult:
        from botocore.exceptions import BotoCoreError, ClientError

        t = self.target
        client = s3_client(t)
        try:
            client.list_buckets()
        except (BotoCoreError, ClientError) as exc:
            return CheckResult(
                self.name, False, f"keys not accepted: {first_line(exc)}", failure_hint(t, exc)
            )
        try:
            client.head_bucket(Bucket=t.bucket)
        except (BotoCoreError, ClientError) as exc:
            return CheckResult(
                self.name, False, f"bucket {t.bucket}: {first_line(exc)}", failure_hint(t, exc)
            )
        return CheckResult(
            self.name, True, f"keys accepted at {where(t)}; bucket {t.bucket} exists"
        )


@dataclass(frozen=True)
class S3RoundTripCheck:
    target: S3Target
    name: str = "s3-roundtrip"

    def run(self) -> CheckResult:
        from botocore.exceptions import BotoCoreError, ClientError

        t = self.target
        client = s3_client(t)
        key = f"{PROBE_PREFIX}/{uuid.uuid4().hex}.txt"
        body = f"vpmigrate verify {uuid.uuid4().hex}".encode()
        try:
            client.put_object(Bucket=t.bucket, Key=key, Body=body)
            try:
                read = client.get_object(Bucket=t.bucket, Key=key)["Body"].read()
            finally:
                client.delete_object(Bucket=t.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            return CheckResult(
                self.name, False, f"s3://{t.bucket}/{key}: {first_line(exc)}", failure_hint(t, exc)
            )
        if read != body:
            return CheckResult(
                self.name,
                False,
                f"s3://{t.bucket}/{key} read back {len(read)} bytes, not the {len(body)} written",
                "the S3 server does not store objects faithfully: see its logs",
            )
        return CheckResult(
            self.name, True, f"wrote, read back and deleted s3://{t.bucket}/{PROBE_PREFIX}/..."
        )
