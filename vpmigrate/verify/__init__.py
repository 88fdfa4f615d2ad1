"""Checks that a running local stack works the way the training services use it.

PostgreSQL (connect and query), MLflow (health, a run with a metric read back, an
artifact that lands in the bucket under the artifact root) and S3 (keys, bucket, an
object round trip), each reported as a frozen `CheckResult` with a hint on failure.
The client libraries (psycopg, boto3, mlflow-skinny) are the optional `verify`
dependency group and are imported only when a check runs.
"""
