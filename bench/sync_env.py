"""Benchmark 3: `inv railway.sync-env` against two references, on the local Railway
stand-in with 50 ms added to every request: the per-service client it replaced (one
read, one upsert and one redeploy per service, then a read-back) and one write per
variable (bench/per_variable.py holds both).

6 and 30 services with eight variables each. Every tool runs as a process; the
stand-in counts what each one sent.
"""

from __future__ import annotations

import json
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import BenchmarkError, Report, Row, clean_env, inv_command, median, run_timed

LATENCY_S = 0.05
NAMED = (
    "mlflow-service",
    "timm-service",
    "ultralytics-service",
    "huggingface-service",
    "backend",
    "frontend",
)
SIZES = (6, 30)
PER_SERVICE = 8
TOKEN = "bench-account-token"
CLIENTS = ("ours", "per-service", "per-variable")
REFERENCES = {"per-service": "per-service (before)", "per-variable": "per-variable upsert"}
ENVIRONMENT = "production"


def service_names(count: int) -> tuple[str, ...]:
    return NAMED[:count] + tuple(f"worker-{i:02d}" for i in range(len(NAMED), count))


def desired_values(count: int, per_service: int = PER_SERVICE) -> dict[str, dict[str, str]]:
    """What every service should have: references, URLs and plain settings."""
    first = {
        "MLFLOW_TRACKING_URI": "http://${{mlflow-service.RAILWAY_PRIVATE_DOMAIN}}:5000",
        "MLFLOW_S3_ENDPOINT_URL": "https://s3.ap-northeast-2.amazonaws.com",
        "AWS_DEFAULT_REGION": "ap-northeast-2",
        "DATABASE_URL": "${{Postgres.DATABASE_URL}}",
        "ARTIFACT_BUCKET": "vision-platform-prod",
        "LOG_LEVEL": "info",
        "WORKERS": "4",
        "FEATURE_TRACKING": "on",
    }
    names = list(first)
    values = dict(first)
    for i in range(len(names), per_service):
        values[f"SETTING_{i:02d}"] = f"value-{i}"
    return {service: dict(list(values.items())[:per_service]) for service in service_names(count)}


def desired_file(values: dict[str, dict[str, str]]) -> str:
    """The same values in our desired-state format (docs/railway.md)."""
    import yaml

    document: dict[str, Any] = {
        "version": 1,
        "s3": {
            "provider": "aws",
            "bucket": "vision-platform-prod",
            "aws": {
                "region": "ap-northeast-2",
                "access_key_id": "${AWS_ACCESS_KEY_ID}",
                "secret_access_key": "${AWS_SECRET_ACCESS_KEY}",
            },
        },
        "mlflow": {"service": "mlflow-service", "port": 5000},
        "environments": {ENVIRONMENT: {"services": values}},
    }
    return yaml.safe_dump(document, sort_keys=False)


@dataclass
class _Sent:
    seconds: float
    requests: int
    mutations: int
    deploys: int  # explicit redeploys plus deploys triggered by writes


class _World:
    """A fresh stand-in project with the services, served with added latency."""

    def __init__(self, services: tuple[str, ...]) -> None:
        from devkit.railway_standin import RailwayStandIn, RailwayState

        self.state = RailwayState()
        self.project = self.state.add_project("vision-platform", [ENVIRONMENT, "staging"])
        self.state.add_service(self.project, "Postgres", {"DATABASE_URL": "postgresql://pg/db"})
        for service in services:
            self.state.add_service(self.project, service, {"KEEP_ME": "1"})
        self.state.account_tokens.add(TOKEN)
        self.api = RailwayStandIn(self.state)

    def __enter__(self) -> _World:
        self.api.__enter__()
        self.api.fail("delay", delay=LATENCY_S, times=10**9)
        return self

    def __exit__(self, *exc: object) -> None:
        self.api.__exit__(*exc)

    def env(self, dotenv: Path) -> dict[str, str]:
        env = {
            k: v
            for k, v in clean_env().items()
            if not k.startswith(("RAILWAY_", "AWS_", "R2_", "MINIO_", "MLFLOW_"))
        }
        env.update(
            RAILWAY_API_URL=self.api.url,
            RAILWAY_API_TOKEN=TOKEN,
            RAILWAY_PROJECT_ID=self.project.id,
            INVOKE_RAILWAY_DOTENV=str(dotenv),
        )
        return env

    def measure(self, argv: list[str], env: dict[str, str], what: str) -> _Sent:
        before = len(self.api.requests)
        deploys_before = self._deploys()
        done = run_timed(argv, env=env, timeout=300).check(what)
        sent = self.api.requests[before:]
        return _Sent(
            done.seconds,
            len(sent),
            sum(1 for r in sent if r.kind == "mutation"),
            self._deploys() - deploys_before,
        )

    def _deploys(self) -> int:
        return sum(self.state.redeploys.values()) + sum(self.state.auto_deploys.values())

    def check(self, values: dict[str, dict[str, str]]) -> None:
        for service, wanted in values.items():
            have = self.state.vars_of(self.project, ENVIRONMENT, service)
            if {k: have.get(k) for k in wanted} != wanted or have.get("KEEP_ME") != "1":
                raise BenchmarkError(f"sync left {service} with other variables than desired")


def _one_round(work: Path, count: int) -> dict[str, tuple[_Sent, _Sent]]:
    """(first run, second run) of every client, each on a fresh world."""
    values = desired_values(count)
    folder = work / f"railway-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    desired_yaml = folder / "railway.yml"
    desired_yaml.write_text(desired_file(values))
    desired_json = folder / "desired.json"
    desired_json.write_text(json.dumps({"environment": ENVIRONMENT, "services": values}))
    dotenv = folder / ".env"
    dotenv.write_text("AWS_ACCESS_KEY_ID=AKIABENCH\nAWS_SECRET_ACCESS_KEY=bench-secret\n")
    reference = [sys.executable, "-m", "bench.per_variable"]
    commands = {
        "ours": [*inv_command(), "railway.sync-env", "--file", str(desired_yaml)],
        "per-service": [*reference, "--per-service", str(desired_json)],
        "per-variable": [*reference, str(desired_json)],
    }
    result = {}
    for name, argv in commands.items():
        with _World(tuple(values)) as world:
            env = world.env(dotenv)
            first = world.measure(argv, env, name)
            world.check(values)
            second = world.measure(argv, env, name)
            result[name] = (first, second)
    return result


def run(runs: int, report: Report, work: Path | None = None) -> None:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="vpbench-railway-") as tmp:
        base = work or Path(tmp)
        # The wide case costs the per-variable client 240 writes a run: fewer repetitions.
        measured = {
            count: [_one_round(base, count) for _ in range(runs if count == 6 else min(runs, 2))]
            for count in SIZES
        }
    for count, rounds in measured.items():
        report.rows += _rows(count, rounds)


def _rows(count: int, rounds: list[dict[str, tuple[_Sent, _Sent]]]) -> list[Row]:
    def sent(client: str, run: int) -> _Sent:
        return rounds[0][client][run]

    def seconds(client: str, run: int) -> float:
        return median([r[client][run].seconds for r in rounds])

    label = f"railway.sync-env {count} services x{PER_SERVICE}"
    ours_first, ours_second = sent("ours", 0), sent("ours", 1)
    rows: list[Row] = []
    for client in ("per-service", "per-variable"):
        reference = REFERENCES[client]
        rows.append(
            Row(
                f"{label}, first run: requests",
                ours_first.requests,
                reference,
                sent(client, 0).requests,
                "requests",
                target="<= 4",
                met=ours_first.requests <= 4,
                note=f"ours {ours_first.mutations} mutation documents",
            )
        )
        rows.append(
            Row(
                f"{label}, first run: wall time",
                seconds("ours", 0),
                reference,
                seconds(client, 0),
                "s",
                note=f"{LATENCY_S * 1000:.0f} ms per request; all as processes",
            )
        )
    per_service = REFERENCES["per-service"]
    rows.append(
        Row(
            f"{label}, in sync: requests",
            ours_second.requests,
            per_service,
            sent("per-service", 1).requests,
            "requests",
            target="2",
            met=ours_second.requests == 2 and ours_second.mutations == 0,
            note=f"per-variable {sent('per-variable', 1).requests} (it writes everything again)",
        )
    )
    rows.append(
        Row(
            f"{label}, in sync: wall time",
            seconds("ours", 1),
            per_service,
            seconds("per-service", 1),
            "s",
            note=f"per-variable {seconds('per-variable', 1):.3f} s",
        )
    )
    rows.append(
        Row(
            f"{label}, first run: deploys",
            ours_first.deploys,
            REFERENCES["per-variable"],
            sent("per-variable", 0).deploys,
            "deploys",
            note=f"per-service {sent('per-service', 0).deploys}: one redeploy per changed "
            "service vs one deploy per written variable",
        )
    )
    return rows
