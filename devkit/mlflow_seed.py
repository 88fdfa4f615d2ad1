"""Seed a tracking server with the kind of history a team accumulates, through MLflow's
own client (as the training code logs it): experiments with tags, a deleted one, nested
runs, long metric histories, params, dataset inputs, artifact trees and a large file,
a deleted run, and registered models with versions, stages, aliases and tags.

Used by the migration tests and the benchmark (bench/mlflow_migrate.py), with sizes to
suit each. Everything is deterministic for a given `Sizes`, except run ids.
"""

from __future__ import annotations

import io
import os
import random
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASE_TIME = 1_760_000_000_000  # ms


@dataclass(frozen=True)
class Sizes:
    sweep_children: int = 3  # child runs under the sweep's parent
    extra_runs: int = 2  # more top-level runs in the baseline experiment
    points: int = 1500  # metric points per key of the long histories
    keys: int = 3  # metrics with a long history per run
    tree_files: int = 6  # files in the artifact directory tree of each run
    big_file_mb: int = 1  # one large artifact (in the baseline's first run)


@dataclass
class Seeded:
    experiments: dict[str, str]  # name -> id
    runs: dict[str, str]  # run name -> id
    points: int
    files: int
    bytes: int
    models: dict[str, int]  # model name -> versions


@contextmanager
def client_env(tracking_uri: str, s3: Mapping[str, str] | None) -> Iterator[Any]:
    saved = dict(os.environ)
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ["DO_NOT_TRACK"] = "true"
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "2"
    for key, value in (s3 or {}).items():
        os.environ[key] = value
    try:
        from mlflow.tracking import MlflowClient

        with redirect_stdout(io.StringIO()):
            yield MlflowClient(tracking_uri=tracking_uri)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def seed(tracking_uri: str, s3: Mapping[str, str] | None = None, sizes: Sizes = Sizes()) -> Seeded:
    """Log the history; `s3`: MLFLOW_S3_ENDPOINT_URL and AWS keys when artifacts go to S3."""
    from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag

    rng = random.Random(7)
    out = Seeded({}, {}, 0, 0, 0, {})
    with client_env(tracking_uri, s3) as client, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)

        def experiment(name: str, tags: dict[str, str]) -> str:
            found = client.get_experiment_by_name(name)
            experiment_id = (
                found.experiment_id if found else client.create_experiment(name, tags=tags)
            )
            out.experiments[name] = experiment_id
            return experiment_id

        def run(experiment_id: str, name: str, index: int, parent: str | None = None) -> str:
            tags = {"team": "vision", "mlflow.source.type": "LOCAL"}
            if parent:
                tags["mlflow.parentRunId"] = parent
            created = client.create_run(
                experiment_id, start_time=BASE_TIME + index * 60_000, tags=tags, run_name=name
            )
            run_id = created.info.run_id
            out.runs[name] = run_id
            params = [Param(f"p{i}", f"{name}-{i}") for i in range(12)]
            params.append(Param("lr", str(0.001 * (index + 1))))
            metrics = []
            for k in range(sizes.keys):
                for step in range(sizes.points):
                    value = rng.random() if step % 97 else float("nan") if k == 1 else 0.0
                    metrics.append(Metric(f"m{k}", value, BASE_TIME + index * 60_000 + step, step))
            metrics.append(Metric("final_acc", 0.5 + index / 100, BASE_TIME + index, 0))
            # the same step logged twice with different timestamps, as retries do
            metrics.append(Metric("final_acc", 0.6 + index / 100, BASE_TIME + index + 5, 0))
            for i in range(0, len(metrics), 1000):
                first = i == 0
                client.log_batch(
                    run_id,
                    metrics=metrics[i : i + 1000],
                    params=params if first else [],
                    tags=[RunTag("phase", "train")] if first else [],
                )
            out.points += len(metrics)
            dataset = Dataset(name="coco-mini", digest=f"d{index % 2}", source_type="s3",
                              source='{"uri": "s3://datasets/coco-mini"}')  # fmt: skip
            client.log_inputs(
                run_id, [DatasetInput(dataset, [InputTag("mlflow.data.context", "training")])]
            )
            tree = work / name
            for i in range(sizes.tree_files):
                path = tree / f"plots/epoch-{i % 3}" / f"f{i}.txt"
                path.parent.mkdir(parents=True, exist_ok=True)
                data = (f"{name} {i}\n" * (50 + 40 * i)).encode()
                path.write_bytes(data)
                out.files += 1
                out.bytes += len(data)
            model = tree / "model"
            model.mkdir(parents=True, exist_ok=True)
            (model / "MLmodel").write_text(f"run_id: {run_id}\nartifact_path: model\n")
            (model / "weights.bin").write_bytes(rng.randbytes(20_000))
            out.files += 2
            out.bytes += len((model / "MLmodel").read_bytes()) + 20_000
            client.log_artifacts(run_id, str(tree))
            client.set_terminated(run_id, "FINISHED", end_time=BASE_TIME + index * 60_000 + 50_000)
            return run_id

        baseline = experiment("vision-baseline", {"owner": "ml-team", "task": "classification"})
        sweep = experiment("vision-sweep", {"owner": "ml-team"})
        index = 0
        first = run(baseline, "baseline-0", index)
        for i in range(1, sizes.extra_runs + 1):
            index += 1
            run(baseline, f"baseline-{i}", index)
        if sizes.big_file_mb:
            big = work / "big.bin"
            with big.open("wb") as handle:
                for _ in range(sizes.big_file_mb):
                    handle.write(rng.randbytes(1024 * 1024))
            client.log_artifact(first, str(big), "checkpoints")
            out.files += 1
            out.bytes += sizes.big_file_mb * 1024 * 1024
        index += 1
        parent = run(sweep, "sweep", index)
        for i in range(sizes.sweep_children):
            index += 1
            run(sweep, f"sweep-trial-{i}", index, parent=parent)
        # a run that failed and one that was deleted
        index += 1
        failed = client.create_run(sweep, run_name="crashed", start_time=BASE_TIME + index)
        client.log_param(failed.info.run_id, "lr", "10")
        client.set_terminated(failed.info.run_id, "FAILED", end_time=BASE_TIME + index + 10)
        out.runs["crashed"] = failed.info.run_id
        gone = client.create_run(sweep, run_name="discarded")
        client.set_terminated(gone.info.run_id, "KILLED")
        client.delete_run(gone.info.run_id)
        old = experiment("old-trials", {"note": "superseded"})
        client.set_terminated(client.create_run(old, run_name="old").info.run_id)
        client.delete_experiment(old)

        client.create_registered_model("vision-classifier", tags={"framework": "timm"},
                                       description="image classifier")  # fmt: skip
        info = client.get_run(first).info
        v1 = client.create_model_version("vision-classifier", f"{info.artifact_uri}/model", first,
                                         tags={"val_acc": "0.91"}, description="first")  # fmt: skip
        second = out.runs["sweep-trial-0"] if sizes.sweep_children else parent
        info2 = client.get_run(second).info
        v2 = client.create_model_version("vision-classifier", f"{info2.artifact_uri}/model", second)
        client.transition_model_version_stage("vision-classifier", v1.version, "Staging")
        client.transition_model_version_stage("vision-classifier", v2.version, "Production")
        client.set_registered_model_alias("vision-classifier", "champion", v2.version)
        client.set_registered_model_alias("vision-classifier", "baseline", v1.version)
        client.create_registered_model("vision-detector")
        v3 = client.create_model_version("vision-detector", f"runs:/{parent}/model", parent)
        client.set_registered_model_alias("vision-detector", "candidate", v3.version)
        out.models = {"vision-classifier": 2, "vision-detector": 1}
    return out
