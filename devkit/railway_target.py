"""env/railway.yml as a user writes it for a migration target that is not on Railway:
`mlflow-service` with `s3://` artifacts on an S3 server whose endpoint and keys come from
the environment (TARGET_S3_ENDPOINT, TARGET_S3_KEY, TARGET_S3_SECRET), never from a
command line. Used by the migration's e2e test and the benchmark."""

from __future__ import annotations

TEMPLATE = """\
version: 1
s3:
  provider: minio
  bucket: {bucket}
  minio:
    endpoint: ${{TARGET_S3_ENDPOINT}}
    access_key_id: ${{TARGET_S3_KEY}}
    secret_access_key: ${{TARGET_S3_SECRET}}
mlflow:
  service: mlflow-service
environments:
  production:
    services:
      mlflow-service:
        MLFLOW_DEFAULT_ARTIFACT_ROOT: s3://${{s3.bucket}}/mlflow-artifacts
        MLFLOW_S3_ENDPOINT_URL: ${{s3.endpoint}}
        AWS_ACCESS_KEY_ID: ${{s3.access_key_id}}
        AWS_SECRET_ACCESS_KEY: ${{s3.secret_access_key}}
        AWS_DEFAULT_REGION: ${{s3.region}}
"""


def railway_file(bucket: str) -> str:
    """The file's text for a target whose artifacts go to `bucket`."""
    return TEMPLATE.format(bucket=bucket)
