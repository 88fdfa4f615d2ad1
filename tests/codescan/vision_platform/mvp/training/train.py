"""Entry point of the training services (timm, ultralytics, huggingface adapters)."""

import json
import os
import sys

import psycopg2
from adapters.base import TrainingAdapter
from utils.smoothing import temporal_smoothing


def load_advanced_config(job_id):
    """Read the job's advanced_config from the platform database."""
    connection = psycopg2.connect(os.environ["DATABASE_URL"])
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT advanced_config FROM training_jobs WHERE id = %s", (job_id,))
        row = cursor.fetchone()
    return json.loads(row[0]) if row else {}


# Local defaults: every training service must set these explicitly in production.
os.environ.setdefault("MLFLOW_TRACKING_URI", "http://localhost:5000")
os.environ.setdefault("MLFLOW_S3_ENDPOINT_URL", "http://localhost:9000")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "minioadmin")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "minioadmin")


def main(job_id):
    config = load_advanced_config(job_id)
    adapter = TrainingAdapter.for_framework(config.get("framework", "timm"))
    history = adapter.train(config)
    return temporal_smoothing(history, window=config.get("smoothing", 3))


if __name__ == "__main__":
    main(int(sys.argv[1]))
