"""Reading one tracking server: experiments, runs, metric histories, registered models.

Metric histories come in bulk where the server offers it (the UI's
`get-history-bulk`: one key for up to 20 runs per request, 25,000 points), else one
paginated `metrics/get-history` per run and key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from typing import Any

from vpmigrate.migrate.artifacts import Locator, S3Service
from vpmigrate.migrate.records import (
    Experiment,
    ModelVersion,
    Point,
    RegisteredModel,
    Run,
    parse_experiment,
    parse_model,
    parse_run,
    parse_version,
    point,
)
from vpmigrate.migrate.rest import API, ApiError, RestClient, incompatible

BULK_RUNS = 20  # MLflow 2.x accepts at most 20 run ids per bulk request (3.x: 100)
BULK_POINTS = 25000  # the server's cap on one bulk answer
PAGE = 1000
HISTORY_PAGE = 25000


class Side:
    """One tracking server (and its S3 service, when its keys are known)."""

    def __init__(self, rest: RestClient, s3: S3Service | None, version: str) -> None:
        self.rest = rest
        self.s3 = s3
        self.version = version
        self.role = rest.server.role
        self.locator = Locator(self.role, rest, s3)
        self._bulk = True

    def _pages(self, path: str, body: dict[str, Any], key: str) -> Iterator[dict[str, Any]]:
        token = None
        while True:
            request = dict(body)
            if token:
                request["page_token"] = token
            data = self.rest.post(path, request)
            yield from data.get(key, [])
            token = data.get("next_page_token")
            if not token:
                return

    def experiments(self, include_deleted: bool) -> list[Experiment]:
        view = "ALL" if include_deleted else "ACTIVE_ONLY"
        body = {"max_results": PAGE, "view_type": view}
        found = self._pages(f"{API}/experiments/search", body, "experiments")
        return [parse_experiment(e) for e in found]

    def create_experiment(self, name: str, tags: dict[str, str]) -> str:
        body = {"name": name, "tags": [{"key": k, "value": v} for k, v in tags.items()]}
        return str(self.rest.post(f"{API}/experiments/create", body)["experiment_id"])

    def runs(self, experiment_ids: list[str], include_deleted: bool) -> list[Run]:
        if not experiment_ids:
            return []
        runs: list[Run] = []
        # The server caps experiment ids per search; 100 is safe on every version.
        for i in range(0, len(experiment_ids), 100):
            body = {
                "experiment_ids": experiment_ids[i : i + 100],
                "max_results": PAGE,
                "run_view_type": "ALL" if include_deleted else "ACTIVE_ONLY",
                "order_by": ["attributes.start_time ASC"],
            }
            runs += [parse_run(r) for r in self._pages(f"{API}/runs/search", body, "runs")]
        return runs

    # -- metric histories ---------------------------------------------------------------

    def histories(self, runs: Iterable[Run], pool: Executor) -> dict[str, list[Point]]:
        """Every point of every metric of `runs` (keys from the runs' latest values)."""
        by_key: dict[str, list[str]] = {}
        for run in runs:
            for key in run.latest:
                by_key.setdefault(key, []).append(run.run_id)
        jobs: list[tuple[str, list[str]]] = []
        for key, ids in by_key.items():
            for i in range(0, len(ids), BULK_RUNS):
                jobs.append((key, ids[i : i + BULK_RUNS]))
        result: dict[str, list[Point]] = {}
        for found in pool.map(lambda job: self._history(*job), jobs):
            for run_id, points in found.items():
                result.setdefault(run_id, []).extend(points)
        return result

    def _history(self, key: str, run_ids: list[str]) -> dict[str, list[Point]]:
        if self._bulk:
            params: list[tuple[str, str | int]] = [("run_id", r) for r in run_ids]
            params += [("metric_key", key), ("max_results", BULK_POINTS)]
            try:
                data = self.rest.get("/ajax-api/2.0/mlflow/metrics/get-history-bulk", params)
            except ApiError as exc:
                if exc.status != 404 and exc.code != "ENDPOINT_NOT_FOUND":
                    raise
                self._bulk = False  # an older or trimmed server: per run from now on
            else:
                metrics = data.get("metrics", [])
                if len(metrics) < BULK_POINTS:
                    found: dict[str, list[Point]] = {r: [] for r in run_ids}
                    for m in metrics:
                        found.setdefault(m["run_id"], []).append(point(m))
                    return found
                if len(run_ids) > 1:  # cut off at the cap: split the runs and ask again
                    half = len(run_ids) // 2
                    merged = self._history(key, run_ids[:half])
                    merged.update(self._history(key, run_ids[half:]))
                    return merged
        return {r: self._history_pages(key, r) for r in run_ids}

    def _history_pages(self, key: str, run_id: str) -> list[Point]:
        params = {"run_id": run_id, "metric_key": key, "max_results": HISTORY_PAGE}
        found = self._get_pages(f"{API}/metrics/get-history", params, "metrics")
        return [point(m) for m in found]

    # -- model registry -----------------------------------------------------------------

    def models(self) -> list[RegisteredModel]:
        params = {"max_results": PAGE}
        found = self._get_pages(f"{API}/registered-models/search", params, "registered_models")
        return [parse_model(m) for m in found]

    def versions(self, name: str) -> list[ModelVersion]:
        escaped = name.replace("'", "\\'")
        params = {"filter": f"name='{escaped}'", "max_results": PAGE}
        found = self._get_pages(f"{API}/model-versions/search", params, "model_versions")
        return sorted((parse_version(v) for v in found), key=lambda v: int(v.version))

    def _get_pages(self, path: str, params: dict[str, Any], key: str) -> Iterator[dict[str, Any]]:
        token = None
        while True:
            page = dict(params, page_token=token) if token else params
            data = self.rest.get(path, page)
            yield from data.get(key, [])
            token = data.get("next_page_token")
            if not token:
                return

    def needs(self, feature: str, call: Callable[[], Any]) -> Any:
        """Run `call`; a missing endpoint is reported as this server being too old."""
        try:
            return call()
        except ApiError as exc:
            if exc.code == "ENDPOINT_NOT_FOUND":
                raise incompatible(self.rest, self.version, feature, exc) from None
            raise

    def __repr__(self) -> str:  # no secrets
        return f"Side({self.role}, {self.rest.server.url})"
