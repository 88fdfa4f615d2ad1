"""Platform SDK: initialises MLflow tracking for the training services."""

import os

import mlflow as tracking


def init_tracking(experiment):
    tracking.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    tracking.set_experiment(experiment)
