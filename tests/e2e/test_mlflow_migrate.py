"""`inv mlflow.migrate` end to end: from an MLflow like the local stack's (SQLite store, S3
artifacts in moto) to one like Railway's (PostgreSQL store, another bucket on another S3
server), both started by `inv local.up` from the e2e image.

The source is seeded through MLflow's own client with experiments, nested runs, long
metric histories, a 50 MB artifact and a directory tree, dataset inputs, and registered
models with versions, stages and aliases. The first migration is killed (SIGKILL) half
way; the second completes it; the third has nothing to do. Every pass verifies, and the
target holds exactly one copy of every run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devkit import dockerkit
from devkit.mlflow_seed import Sizes, seed
from devkit.railway_target import railway_file as target_railway_file
from tests.e2e.conftest import CLI_TIMEOUT_S, REPO_ROOT

pytestmark = pytest.mark.e2e

COMPOSE = Path(__file__).resolve().parent / "compose"
SOURCE_FILE = COMPOSE / "mlflow-source.yml"
TARGET_FILE = COMPOSE / "mvp-stack.yml"
SOURCE_KEYS = {"SOURCE_S3_KEY": "src-key-e2e", "SOURCE_S3_SECRET": "src-secret-5f3a9c1e"}
TARGET_KEYS = {"S3_ACCESS_KEY": "tgt-key-e2e", "S3_SECRET_KEY": "tgt-secret-8d2b7e4f"}
TARGET_BUCKET = "vision-platform-prod"
SIZES = Sizes(sweep_children=3, extra_runs=2, points=1200, keys=2, tree_files=6, big_file_mb=50)


def inv(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"inv {' '.join(args)} exited {done.returncode}\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
    return done


def urls(env: dict[str, str], compose: Path, project: str) -> dict[str, str]:
    listed = inv(env, "local.status", "--json", "--file", str(compose), "--project-name", project)
    return {row["service"]: row["ports"][0] for row in json.loads(listed.stdout) if row["ports"]}


@pytest.fixture
def stacks(e2e_image: str, docker_client: Any) -> Iterator[dict[str, Any]]:
    source = dockerkit.unique_name("vpm-mig-src")
    target = dockerkit.unique_name("vpm-mig-tgt")
    env = dockerkit.cli_env(
        VPM_E2E_IMAGE=e2e_image,
        POSTGRES_PASSWORD="pg-e2e-pass-71c2",
        MLFLOW_BUCKET=TARGET_BUCKET,
        **SOURCE_KEYS,
        **TARGET_KEYS,
    )
    for name in ("MLFLOW_TARGET_URI", "MLFLOW_TRACKING_URI", "RAILWAY_TOKEN", "RAILWAY_API_TOKEN"):
        env.pop(name, None)
    try:
        up = ("local.up", "--no-pull", "--timeout", "600")
        inv(env, *up, "--file", str(SOURCE_FILE), "--project-name", source)
        inv(env, *up, "--profile", "mvp", "--file", str(TARGET_FILE), "--project-name", target)
        yield {
            "env": env,
            "source": source,
            "target": target,
            "source_urls": urls(env, SOURCE_FILE, source),
            "target_urls": urls(env, TARGET_FILE, target),
        }
    finally:
        for project, compose in ((source, SOURCE_FILE), (target, TARGET_FILE)):
            inv(env, "local.down", "--volumes", "--file", str(compose), "--project-name", project,
                check=False)  # fmt: skip
            dockerkit.remove_project(docker_client, project)


def copies_by_source(tracking: str) -> dict[str, int]:
    """How many target runs claim each source run (over every experiment, deleted too)."""
    with httpx.Client(base_url=tracking, timeout=60) as http:
        experiments = http.post(
            "/api/2.0/mlflow/experiments/search", json={"max_results": 1000, "view_type": "ALL"}
        ).json()["experiments"]
        counts: dict[str, int] = {}
        token = None
        while True:
            body: dict[str, Any] = {
                "experiment_ids": [e["experiment_id"] for e in experiments],
                "max_results": 1000,
                "run_view_type": "ALL",
            }
            if token:
                body["page_token"] = token
            page = http.post("/api/2.0/mlflow/runs/search", json=body).json()
            for run in page.get("runs", []):
                tags = {t["key"]: t["value"] for t in run["data"].get("tags", [])}
                origin = tags.get("vpmigrate.source_run_id")
                if origin:
                    counts[origin] = counts.get(origin, 0) + 1
            token = page.get("next_page_token")
            if not token:
                return counts


def test_migrate_kill_resume_and_nothing_to_do(stacks: dict[str, Any], tmp_path: Path) -> None:
    env = dict(stacks["env"])
    source_urls, target_urls = stacks["source_urls"], stacks["target_urls"]
    seeded = seed(
        source_urls["mlflow"],
        {
            "MLFLOW_S3_ENDPOINT_URL": source_urls["minio"],
            "AWS_ACCESS_KEY_ID": SOURCE_KEYS["SOURCE_S3_KEY"],
            "AWS_SECRET_ACCESS_KEY": SOURCE_KEYS["SOURCE_S3_SECRET"],
        },
        SIZES,
    )
    assert seeded.points > 10_000 and seeded.bytes > 50 * 1024 * 1024
    railway_file = tmp_path / "railway.yml"
    railway_file.write_text(target_railway_file(TARGET_BUCKET))
    env.update(
        TARGET_S3_ENDPOINT=target_urls["s3"],
        TARGET_S3_KEY=TARGET_KEYS["S3_ACCESS_KEY"],
        TARGET_S3_SECRET=TARGET_KEYS["S3_SECRET_KEY"],
    )
    migrate = (
        "mlflow.migrate",
        "--file", str(SOURCE_FILE),
        "--project-name", stacks["source"],
        "--target", target_urls["mlflow"],
        "--railway-file", str(railway_file),
        "--workers", "3",
    )  # fmt: skip
    secrets = [*SOURCE_KEYS.values(), *TARGET_KEYS.values()]
    secrets = [s for s in secrets if "secret" in s]

    # The plan: every run new, the big file counted, nothing written.
    dry = inv(env, *migrate, "--dry-run", "--json")
    plan = json.loads(dry.stdout)
    by_name = {e["name"]: e for e in plan["experiments"]}
    assert by_name["vision-baseline"]["runs_new"] == 3
    assert by_name["vision-sweep"]["runs_new"] == 1 + 3 + 1  # parent, children, crashed
    assert "old-trials" not in by_name  # deleted: only with --include-deleted
    assert by_name["vision-baseline"]["bytes"] > 50 * 1024 * 1024
    assert copies_by_source(target_urls["mlflow"]) == {}

    # First pass, killed once a few runs are done (others are half copied).
    log = tmp_path / "first.err"
    with log.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "invoke", *migrate],
            cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and process.poll() is None:
            if "runs 2/" in log.read_text():
                break
            time.sleep(0.2)
        assert process.poll() is None, f"finished before it could be killed:\n{log.read_text()}"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    partial = copies_by_source(target_urls["mlflow"])
    assert partial and all(n == 1 for n in partial.values())
    assert len(partial) < len(seeded.runs)

    # Second pass: completes, never duplicates, verifies.
    second = inv(env, *migrate, "--json")
    result = json.loads(second.stdout)
    assert result["verification"]["ok"], result["verification"]["differences"]
    assert result["copied"]["runs_created"] + result["copied"]["runs_completed"] >= 1
    assert result["copied"]["runs_created"] == len(seeded.runs) - len(partial)
    checks = {c["name"]: c for c in result["verification"]["experiments"]}
    for name in ("vision-baseline", "vision-sweep"):
        assert checks[name]["source"] == checks[name]["target"]
        assert checks[name]["md5_matched"] > 0
    total_points = sum(c["target"]["points"] for c in checks.values())
    assert total_points == seeded.points
    assert sum(c["target"]["bytes"] for c in checks.values()) == seeded.bytes
    copies = copies_by_source(target_urls["mlflow"])
    assert set(copies) == set(seeded.runs.values())
    assert all(n == 1 for n in copies.values())
    check_target(target_urls, seeded.runs)

    # Third pass: nothing to do, still verified, no write request.
    third = inv(env, *migrate)
    assert "nothing to do" in third.stdout
    assert "0 of them writes" in third.stdout
    assert "verified:" in third.stdout
    assert copies_by_source(target_urls["mlflow"]) == copies
    for text in (dry.stdout, dry.stderr, second.stdout, second.stderr, third.stdout, third.stderr,
                 log.read_text()):  # fmt: skip
        for secret in [*secrets, env["POSTGRES_PASSWORD"]]:
            assert secret not in text


def check_target(target_urls: dict[str, str], source_runs: dict[str, str]) -> None:
    """Spot checks through the target's API: nesting, the model registry, artifacts in
    the target's bucket."""
    with httpx.Client(base_url=target_urls["mlflow"], timeout=60) as http:
        experiment = http.get(
            "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": "vision-sweep"}
        ).json()["experiment"]
        runs = http.post(
            "/api/2.0/mlflow/runs/search",
            json={"experiment_ids": [experiment["experiment_id"]], "max_results": 100},
        ).json()["runs"]
        by_name = {r["info"]["run_name"]: r for r in runs}
        tags = {t["key"]: t["value"] for t in by_name["sweep-trial-0"]["data"]["tags"]}
        assert tags["mlflow.parentRunId"] == by_name["sweep"]["info"]["run_id"]
        assert by_name["crashed"]["info"]["status"] == "FAILED"
        assert by_name["sweep"]["info"]["artifact_uri"].startswith(f"s3://{TARGET_BUCKET}/")
        assert by_name["sweep"]["inputs"]["dataset_inputs"][0]["dataset"]["name"] == "coco-mini"
        model = http.get(
            "/api/2.0/mlflow/registered-models/get", params={"name": "vision-classifier"}
        ).json()["registered_model"]
        aliases = {a["alias"]: a["version"] for a in model["aliases"]}
        assert set(aliases) == {"champion", "baseline"}
        versions = http.get(
            "/api/2.0/mlflow/model-versions/search", params={"filter": "name='vision-classifier'"}
        ).json()["model_versions"]
        by_version = {v["version"]: v for v in versions}
        champion = by_version[aliases["champion"]]
        assert champion["current_stage"] == "Production"
        assert champion["run_id"] == by_name["sweep-trial-0"]["info"]["run_id"]
        assert champion["source"] == by_name["sweep-trial-0"]["info"]["artifact_uri"] + "/model"
        assert source_runs["sweep-trial-0"] not in champion["source"]
