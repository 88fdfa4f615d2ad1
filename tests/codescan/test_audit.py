"""The audit of the miniature vision platform: the verdicts of the team's own audit,
with evidence that a reader can follow, and none of the traps counted as use."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.codescan.conftest import SMALL_LIMIT, load
from vpmigrate.codescan.audit import Audit, audit
from vpmigrate.codescan.settings import parse_settings
from vpmigrate.errors import UserError

EXPECTED = {
    "postgres": "required",
    "mlflow": "required",
    "minio": "required",
    "minio-init": "required",
    "prometheus": "optional",
    "grafana": "optional",
    "mongodb": "unused",
    "redis": "unused",
    "temporal": "unused",
    "mailhog": "unused",
    "pgadmin": "dev-tool",
    "mongo-express": "dev-tool",
}


def run(root: Path, **config: object) -> Audit:
    settings = parse_settings({"max_file_bytes": SMALL_LIMIT, **config})
    return audit(load(root), [root / "mvp"], settings, display_base=root)


def test_verdicts_are_the_audits(platform: Path) -> None:
    result = run(platform)
    assert {r.service: r.verdict for r in result.services} == EXPECTED


def test_evidence_points_at_the_lines_that_use_a_service(platform: Path) -> None:
    result = run(platform)
    mlflow = {(e.file, e.signal, e.kind) for e in result.report("mlflow").evidence}
    assert ("mvp/training/adapters/base.py", "import mlflow", "use") in mlflow
    assert ("mvp/training/adapters/base.py", "mlflow.start_run", "use") in mlflow
    assert ("mvp/training/platform_sdk/base.py", "env MLFLOW_TRACKING_URI", "use") in mlflow
    notebook = {
        (e.line, e.signal, e.kind)
        for e in result.report("mlflow").evidence
        if e.file == "mvp/notebooks/explore_runs.ipynb"
    }
    assert notebook == {
        (9, 'word "mlflow"', "mentioned"),  # a markdown cell
        (20, "import mlflow", "use"),
        (22, "mlflow.search_runs", "use"),
    }
    postgres = result.report("postgres")
    assert postgres.evidence[0].kind == "use"
    lines = {(e.file, e.line, e.signal) for e in postgres.evidence}
    models = (platform / "mvp/backend/app/db/models.py").read_text().splitlines()
    url_line = next(n for n, t in enumerate(models, 1) if "postgresql://" in t)
    assert ("mvp/backend/app/db/models.py", url_line, "postgresql:// URL") in lines
    assert ("mvp/backend/requirements.txt", 3, "package psycopg2-binary") in lines
    grafana = {(e.file, e.signal) for e in result.report("grafana").evidence}
    assert (
        "mvp/frontend/components/GrafanaEmbed.tsx",
        "localhost:3001 (published port)",
    ) in grafana


def test_no_evidence_carries_a_secret(platform: Path) -> None:
    result = run(platform)
    for report in result.services:
        for item in report.evidence:
            assert "devpass" not in item.signal and "minioadmin" not in item.signal


def test_traps_are_never_use(platform: Path) -> None:
    result = run(platform)
    for service in ("redis", "mongodb", "temporal", "mailhog"):
        kinds = {e.kind for e in result.report(service).evidence}
        assert kinds <= {"mentioned"}, service
    redis = {(e.file, e.line) for e in result.report("redis").evidence}
    assert ("mvp/backend/app/db/models.py", 8) in redis  # the TODO comment
    assert ("mvp/backend/app/utils/scheduling.py", 7) in redis  # the docstring
    assert ("mvp/backend/app/utils/scheduling.py", 4) not in redis  # def redistribute
    assert ("mvp/notebooks/explore_runs.ipynb", 19) in redis  # `%pip install redis`
    temporal_files = {e.file for e in result.report("temporal").evidence}
    assert temporal_files == {"mvp/docs/PLAN.md"}  # not temporal_smoothing, not a venv
    mongodb_files = {e.file for e in result.report("mongodb").evidence}
    assert mongodb_files <= {"mvp/docs/PLAN.md", "mvp/CLAUDE.md"}  # not the /redis|mongo/ regex


def test_ignored_vendored_binary_and_oversized_files_are_skipped(platform: Path) -> None:
    result = run(platform)
    files = {e.file for r in result.services for e in r.evidence}
    for skipped in (
        "generated/",
        "node_modules",
        ".venv",
        "tools/env",
        "logo.png",
        "blob.dat",
        "big.py",
        "scratch.tmp.py",
    ):
        assert not any(skipped in f for f in files), skipped
    assert result.stats.oversized == 1


def test_reachability_through_the_compose_file(platform: Path) -> None:
    result = run(platform)
    minio_init = result.report("minio-init").evidence
    assert [e.signal for e in minio_init] == ["needed by mlflow (depends_on)"]
    assert minio_init[0].file == "compose/docker-compose.yml"
    compose = (platform / "compose/docker-compose.yml").read_text().splitlines()
    assert "minio-init" in compose[minio_init[0].line - 1]
    minio = {e.signal for e in result.report("minio").evidence}
    assert "needed by mlflow (environment MLFLOW_S3_ENDPOINT_URL)" in minio
    # mongo-express (a dev tool) needs mongodb: that does not make mongodb used
    assert not any("mongo-express" in e.signal for e in result.report("mongodb").evidence)


def test_code_use_makes_an_unused_service_required(platform: Path) -> None:
    (platform / "mvp/backend/app/cache.py").write_text(
        'import os\n\nREDIS = os.environ.get("REDIS_URL", "redis://redis:6379/0")\n'
    )
    result = run(platform)
    assert result.report("redis").verdict == "required"
    assert result.report("redis").evidence[0].file == "mvp/backend/app/cache.py"


def test_keep_and_user_signatures_from_configuration(platform: Path) -> None:
    (platform / "mvp/backend/app/flows.py").write_text(
        'import os\n\nFLOWS = os.environ["WORKFLOW_FRONTDOOR"]\n'
    )
    (platform / "mvp/backend/app/mail.py").write_text(
        'import os\n\nRELAY = os.environ["MAIL_RELAY_HOST"]\n'
    )
    result = run(
        platform,
        keep={"redis": "the Celery spike next sprint"},
        signatures={
            "temporal": {"env": ["WORKFLOW_FRONTDOOR"]},
            "mailhog": {"env": ["MAIL_RELAY_HOST"]},
        },
    )
    redis = result.report("redis")
    assert redis.verdict == "optional"
    assert any(e.signal == "keep: the Celery spike next sprint" for e in redis.evidence)
    temporal = result.report("temporal")
    assert temporal.verdict == "required"
    assert "env WORKFLOW_FRONTDOOR" in temporal.reason
    # a mail sink the code sends to is a development tool, not a production dependency
    mailhog = result.report("mailhog")
    assert (mailhog.verdict, mailhog.reason) == (
        "dev-tool",
        "mail sink the application sends to in development",
    )


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"keep": {"rediss": "typo"}}, "rediss"),
        ({"keep": {"redis": ""}}, "cleanup.keep.redis"),
        ({"signatures": {"nosuch": {"modules": ["x"]}}}, "cleanup.signatures.nosuch"),
        ({"signatures": {"redis": {"module": ["x"]}}}, "module"),
    ],
)
def test_bad_configuration_names_the_key(
    platform: Path, config: dict[str, object], named: str
) -> None:
    with pytest.raises(UserError) as raised:
        run(platform, **config)
    assert named in raised.value.message


def test_a_missing_code_path_is_a_clear_error(platform: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        audit(load(platform), [platform / "nope"], parse_settings({}), display_base=platform)


def test_product_names_in_their_own_casing_are_found(platform: Path) -> None:
    # The prefilter is case-sensitive: a file that spells the products only as their
    # makers do must still be read, and its mentions reported.
    notes = platform / "mvp" / "docs" / "STACK.md"
    notes.write_text("Runs are tracked in MLflow.\nArtifacts live in MinIO; admins use pgAdmin.\n")
    result = run(platform)
    found = {
        (service, e.line, e.kind)
        for service in ("mlflow", "minio", "pgadmin")
        for e in result.report(service).evidence
        if e.file == "mvp/docs/STACK.md"
    }
    assert found == {
        ("mlflow", 1, "mentioned"),
        ("minio", 2, "mentioned"),
        ("pgadmin", 2, "mentioned"),
    }
