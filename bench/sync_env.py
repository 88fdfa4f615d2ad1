"""Benchmark 3: `inv railway.sync-env` against the per-variable approach, on the local
Railway stand-in with 50 ms added to every request.

Six services with eight variables each (and, to show what requests grow with, the
same six with sixteen each). Both tools run as processes; the stand-in counts what
each one sent.
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
SERVICES = (
    "mlflow-service",
    "timm-service",
    "ultralytics-service",
    "huggingface-service",
    "backend",
    "frontend",
)
TOKEN = "bench-account-token"
REFERENCE = "per-variable upsert"
ENVIRONMENT = "production"


def desired_values(per_service: int) -> dict[str, dict[str, str]]:
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
    return {service: dict(list(values.items())[:per_service]) for service in SERVICES}


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

    def __init__(self) -> None:
        from tests.railway.standin import RailwayStandIn, RailwayState

        self.state = RailwayState()
        self.project = self.state.add_project("vision-platform", [ENVIRONMENT, "staging"])
        self.state.add_service(self.project, "Postgres", {"DATABASE_URL": "postgresql://pg/db"})
        for service in SERVICES:
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


def _one_round(work: Path, per_service: int) -> dict[str, tuple[_Sent, _Sent]]:
    """(first run, second run) for ours and for the reference, each on a fresh world."""
    values = desired_values(per_service)
    folder = work / f"railway-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    desired_yaml = folder / "railway.yml"
    desired_yaml.write_text(desired_file(values))
    desired_json = folder / "desired.json"
    desired_json.write_text(json.dumps({"environment": ENVIRONMENT, "services": values}))
    dotenv = folder / ".env"
    dotenv.write_text("AWS_ACCESS_KEY_ID=AKIABENCH\nAWS_SECRET_ACCESS_KEY=bench-secret\n")
    commands = {
        "ours": [*inv_command(), "railway.sync-env", "--file", str(desired_yaml)],
        "per-variable": [sys.executable, "-m", "bench.per_variable", str(desired_json)],
    }
    result = {}
    for name, argv in commands.items():
        with _World() as world:
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
        rounds = [_one_round(base, 8) for _ in range(runs)]
        wide = _one_round(base, 16)
    ours = [r["ours"] for r in rounds]
    ref = [r["per-variable"] for r in rounds]
    first, ref_first = ours[0][0], ref[0][0]
    second, ref_second = ours[0][1], ref[0][1]

    def row(label: str, value: float, reference: float, unit: str, **extra: Any) -> Row:
        return Row(f"railway.sync-env 6x8, {label}", value, REFERENCE, reference, unit, **extra)

    report.rows += [
        row(
            "first run: requests",
            first.requests,
            ref_first.requests,
            "requests",
            target="grows with services",
            met=wide["ours"][0].requests == first.requests,
            note=f"6x16: ours {wide['ours'][0].requests}, per-variable "
            f"{wide['per-variable'][0].requests}; ours {first.mutations} mutations",
        ),
        row(
            "first run: wall time",
            median([o[0].seconds for o in ours]),
            median([r[0].seconds for r in ref]),
            "s",
            note=f"{LATENCY_S * 1000:.0f} ms per request; both as processes",
        ),
        row(
            "first run: deploys",
            first.deploys,
            ref_first.deploys,
            "deploys",
            note="one redeploy per changed service vs one per written variable",
        ),
        row(
            "in sync: requests",
            second.requests,
            ref_second.requests,
            "requests",
            target="reads only",
            met=second.mutations == 0,
            note=f"ours {second.mutations} mutations, per-variable {ref_second.mutations}",
        ),
        row(
            "in sync: wall time",
            median([o[1].seconds for o in ours]),
            median([r[1].seconds for r in ref]),
            "s",
        ),
    ]
