"""Copy MLflow experiment history from one tracking server to another (`inv mlflow.migrate`).

Talks to both servers through MLflow's REST API (httpx) and, where artifacts live in
S3 and the keys are known, to the stores directly (signed S3 requests over httpx,
vpmigrate.migrate.s3). Every copied object records its source (tags
`vpmigrate.source_*`), so a re-run finds what is there, completes what was cut short
and copies nothing twice. docs/mlflow-migrate.md describes the behaviour.

Not called `mlflow`: a package of that name would shadow the MLflow library.
"""
