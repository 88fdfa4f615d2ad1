"""The migration core against real MLflow servers (tests/migrate/conftest.py): both kinds
of artifact root as source and target, the plan, completing a copy cut short or a source
run that grew, verification finding and repairing a difference, and nothing to do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from devkit import dockerkit
from devkit.mlflow_seed import Seeded, seed
from tests.migrate.conftest import S3, SMALL, Server
from vpmigrate.errors import UserError
from vpmigrate.migrate.artifacts import S3Config
from vpmigrate.migrate.migration import Endpoint, Options, Report, migrate
from vpmigrate.migrate.rest import RequestCounter, TrackingServer

Source = Callable[[str], tuple[Server, Seeded]]

# These need the e2e image (tests/conftest.py keeps every `e2e` test on the one xdist
# worker that builds it), so `pytest -m 'not e2e'` skips them and builds nothing.
pytestmark = pytest.mark.e2e
API = "/api/2.0/mlflow"


def endpoint(server: Server, role: str, s3: S3 | None) -> Endpoint:
    config = None
    if s3 is not None:
        config = S3Config(role, s3.url, "us-east-1", s3.key, s3.secret, "the test")
    return Endpoint(TrackingServer(role, server.url), config)


def run(source: Endpoint, target: Endpoint, **options: Any) -> tuple[Report, RequestCounter]:
    counter = RequestCounter()
    report = migrate(source, target, Options(workers=3, **options), counter=counter)
    return report, counter


def writes(counter: RequestCounter) -> int:
    return sum(counter.writes.values())


def target_runs(server: Server) -> list[dict[str, Any]]:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        ids = [
            e["experiment_id"]
            for e in http.post(f"{API}/experiments/search", json={"max_results": 100}).json()[
                "experiments"
            ]
        ]
        return (
            http.post(
                f"{API}/runs/search",
                json={"experiment_ids": ids, "max_results": 1000, "run_view_type": "ALL"},
            )
            .json()
            .get("runs", [])
        )


def tag(run: dict[str, Any], key: str) -> str | None:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}.get(key)


@pytest.mark.parametrize(
    "kinds", [("served", "served"), ("direct", "served"), ("served", "direct:direct2")]
)
def test_every_kind_of_artifact_root_as_source_and_target(
    start_servers: Callable[..., list[Server]],
    seeded_source: Source,
    s3: S3,
    kinds: tuple[str, str],
) -> None:
    source, seeded = seeded_source(kinds[0])
    (target,) = start_servers(kinds[1])
    src, tgt = endpoint(source, "source", s3), endpoint(target, "target", s3)

    dry, _ = run(src, tgt, dry_run=True)
    plan = {e.source.name: e for e in dry.plan.experiments}
    assert plan["vision-sweep"].count("new") == 1 + SMALL.sweep_children + 1
    assert plan["vision-baseline"].count("new") == 1 + SMALL.extra_runs
    assert plan["vision-baseline"].bytes > 0
    assert target_runs(target) == []  # a dry run writes nothing

    first, _ = run(src, tgt)
    assert first.verification is not None and first.verification.ok, first.verification
    assert first.outcome is not None and first.outcome.points == seeded.points
    assert first.outcome.files == seeded.files and first.outcome.bytes == seeded.bytes
    copies = [tag(r, "vpmigrate.source_run_id") for r in target_runs(target)]
    assert sorted(copies) == sorted(seeded.runs.values())  # one copy each

    again, counter = run(src, tgt)
    assert again.plan.nothing_to_do
    assert again.outcome is not None and again.outcome.runs_created == 0
    assert again.verification is not None and again.verification.ok
    assert writes(counter) == 0


def test_same_s3_service_copies_object_to_object(
    start_servers: Callable[..., list[Server]], seeded_source: Source, s3: S3
) -> None:
    source, seeded = seeded_source("direct")
    (target,) = start_servers("direct:direct2")
    report, counter = run(endpoint(source, "source", s3), endpoint(target, "target", s3))
    assert report.verification is not None and report.verification.ok
    # Listing only on the source side: no object was read through this process.
    listings = len(seeded.runs) + 1  # one per run (and bucket checks)
    assert counter.counts.get("source-s3", 0) <= listings + 2
    checks = report.verification.experiments
    assert sum(c.checksums for c in checks) == seeded.files  # every MD5 compared


def test_a_copy_cut_short_is_completed_not_duplicated(
    start_servers: Callable[..., list[Server]], s3: S3
) -> None:
    source, target = start_servers("served", "served")
    seeded = seed(source.url, None, SMALL)
    src, tgt = endpoint(source, "source", None), endpoint(target, "target", None)
    run(src, tgt, experiments=("vision-baseline",))
    victim = next(r for r in target_runs(target) if r["info"]["run_name"] == "baseline-0")
    run_id = victim["info"]["run_id"]
    with httpx.Client(base_url=target.url, timeout=60) as http:
        # What an interruption leaves: no completion mark, the end of a history missing.
        http.post(
            f"{API}/runs/delete-tag", json={"run_id": run_id, "key": "vpmigrate.source_fingerprint"}
        )
        points = http.get(
            f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m0"}
        ).json()["metrics"]
    assert len(points) == SMALL.points
    # A fresh target run cannot lose points through the API, so the source grows instead:
    # the copy then lacks them, as a copy cut short would.
    with httpx.Client(base_url=source.url, timeout=60) as http:
        extra = [
            {
                "key": "m0",
                "value": 0.5,
                "timestamp": 1_800_000_000_000 + i,
                "step": SMALL.points + i,
            }
            for i in range(40)
        ]
        http.post(
            f"{API}/runs/log-batch", json={"run_id": seeded.runs["baseline-0"], "metrics": extra}
        )

    dry, _ = run(src, tgt, dry_run=True)
    states = {r.source.name: r.state for e in dry.plan.experiments for r in e.runs}
    assert states["baseline-0"] == "resume"
    assert states["baseline-1"] == "done"
    assert states["sweep"] == "new"

    report, _ = run(src, tgt)
    assert report.verification is not None and report.verification.ok, (
        report.verification.differences
    )
    assert report.outcome is not None
    assert report.outcome.runs_completed == 1
    new = {r.source.run_id for e in report.plan.experiments for r in e.runs if r.target is None}
    facts = report.outcome.source_facts
    assert report.outcome.points == 40 + sum(facts[run].point_count for run in new)
    copies = [tag(r, "vpmigrate.source_run_id") for r in target_runs(target)]
    assert sorted(copies) == sorted(seeded.runs.values())
    with httpx.Client(base_url=target.url, timeout=60) as http:
        history = http.get(
            f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m0"}
        ).json()["metrics"]
    assert len(history) == SMALL.points + 40


def test_verification_names_a_difference_and_the_next_pass_repairs_it(
    start_servers: Callable[..., list[Server]], seeded_source: Source, s3: S3
) -> None:
    source, _ = seeded_source("served")
    (target,) = start_servers("direct:direct2")
    src, tgt = endpoint(source, "source", s3), endpoint(target, "target", s3)
    first, _ = run(src, tgt)
    assert first.verification is not None and first.verification.ok
    # Damage the copy: an artifact gone from the target's bucket.
    copy = next(r for r in target_runs(target) if r["info"]["run_name"] == "baseline-1")
    root = copy["info"]["artifact_uri"].removeprefix("s3://")
    bucket, _, prefix = root.partition("/")
    s3.boto().delete_object(Bucket=bucket, Key=f"{prefix}/model/weights.bin")

    checked, _ = run(src, tgt)
    assert checked.verification is not None and not checked.verification.ok
    assert any(
        "baseline-1" in d and "model/weights.bin is missing" in d
        for d in checked.verification.differences
    )
    repaired, _ = run(src, tgt)
    assert repaired.outcome is not None and repaired.outcome.files == 1
    assert repaired.verification is not None and repaired.verification.ok


def test_a_missing_target_bucket_is_one_clear_error_and_the_next_pass_completes(
    start_servers: Callable[..., list[Server]], seeded_source: Source, s3: S3
) -> None:
    source, seeded = seeded_source("served")
    bucket = dockerkit.unique_name("no-such-bucket")
    (target,) = start_servers(f"direct:{bucket}")
    src, tgt = endpoint(source, "source", s3), endpoint(target, "target", s3)
    with pytest.raises(UserError) as caught:
        run(src, tgt)
    message = caught.value.message
    assert f"bucket {bucket} does not exist" in message and "target" in message
    assert s3.secret not in message
    # A run's metrics are written while its files are copied: the runs begun before the
    # failure may hold data, but only those without files are marked complete.
    begun = target_runs(target)
    unmarked = [r for r in begun if not tag(r, "vpmigrate.source_fingerprint")]
    assert unmarked

    s3.boto().create_bucket(Bucket=bucket)
    report, _ = run(src, tgt)
    assert report.verification is not None and report.verification.ok, report.verification
    assert report.outcome is not None and report.outcome.runs_completed == len(unmarked)
    copies = [tag(r, "vpmigrate.source_run_id") for r in target_runs(target)]
    assert sorted(copies) == sorted(seeded.runs.values())  # one copy each


def test_deleted_experiments_and_runs_only_with_include_deleted(
    start_servers: Callable[..., list[Server]], seeded_source: Source
) -> None:
    source, _ = seeded_source("served")
    (target,) = start_servers("served")
    src, tgt = endpoint(source, "source", None), endpoint(target, "target", None)
    plain, _ = run(src, tgt)
    assert "old-trials" not in {e.source.name for e in plain.plan.experiments}
    assert "discarded" not in {r["info"]["run_name"] for r in target_runs(target)}

    report, _ = run(src, tgt, include_deleted=True)
    assert report.verification is not None and report.verification.ok, report.verification
    with httpx.Client(base_url=target.url, timeout=60) as http:
        old = http.get(
            f"{API}/experiments/get-by-name", params={"experiment_name": "old-trials"}
        ).json()
        assert old["experiment"]["lifecycle_stage"] == "deleted"
    gone = [r for r in target_runs(target) if r["info"]["run_name"] == "discarded"]
    assert [r["info"]["lifecycle_stage"] for r in gone] == ["deleted"]
    again, _ = run(src, tgt, include_deleted=True)
    assert again.plan.nothing_to_do and again.verification is not None and again.verification.ok
