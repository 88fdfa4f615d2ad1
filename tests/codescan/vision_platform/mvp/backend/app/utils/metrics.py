"""Prometheus metrics exported by the backend at /metrics."""

from prometheus_client import Counter, Histogram

TRAINING_JOBS = Counter("training_jobs_total", "Training jobs started", ["framework"])
REQUEST_SECONDS = Histogram("request_seconds", "Request latency")
