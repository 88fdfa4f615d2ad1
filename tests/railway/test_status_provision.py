"""`inv railway.status` and `inv railway.provision` against the Railway stand-in."""

from __future__ import annotations

import json

from tests.railway.conftest import ACCOUNT_TOKEN, SECRET_KEY, World, run_inv
from vpmigrate.railway.provision import MLFLOW_START_COMMAND
from vpmigrate.railway.secrets import fingerprint


def fp(value: str) -> str:
    return fingerprint(value, ACCOUNT_TOKEN)


def _row(stdout: str, service: str, variable: str) -> str:
    return next(line for line in stdout.splitlines() if line.split()[:2] == [service, variable])


def test_status_reports_missing_different_and_extra_without_values_from_railway(
    world: World,
) -> None:
    assert run_inv(world, "railway.sync-env", "--service", "timm-service").returncode == 0
    world.vars("timm-service")["MLFLOW_S3_ENDPOINT_URL"] = "http://localhost:9000"
    world.vars("timm-service")["AWS_SECRET_ACCESS_KEY"] = "rotated-elsewhere-5521"
    mutations = len(world.api.mutations())
    before = len(world.api.requests)

    result = run_inv(world, "railway.status")

    assert result.returncode == 0, result.stderr
    out = result.stdout
    endpoint = _row(out, "timm-service", "MLFLOW_S3_ENDPOINT_URL")
    assert "different" in endpoint
    assert endpoint.endswith(
        f"{fp('http://localhost:9000')} -> ${{{{shared.MLFLOW_S3_ENDPOINT_URL}}}}"
    )
    secret_row = _row(out, "timm-service", "AWS_SECRET_ACCESS_KEY")
    assert "different" in secret_row and secret_row.count("fp:") == 1
    assert "ok" in _row(out, "timm-service", "MLFLOW_TRACKING_URI")
    assert "missing" in _row(out, "backend", "MLFLOW_TRACKING_URI")
    assert "missing" in _row(out, "shared", "AWS_SECRET_ACCESS_KEY")
    assert _row(out, "backend", "JWT_SECRET").split()[2:] == ["extra", fp("jwt-secret-c0ffee")]
    assert _row(out, "backend", "LOG_LEVEL").split()[2:] == ["extra", fp("info")]
    for text in (result.stdout, result.stderr):
        assert "rotated-elsewhere-5521" not in text and SECRET_KEY not in text
        assert "jwt-secret-c0ffee" not in text and "localhost:9000" not in text
    assert len(world.api.mutations()) == mutations
    assert [r.operation for r in world.api.requests[before:]] == ["Project", "Variables"]


def test_status_shows_shared_variables_and_the_services_that_reference_them(
    world: World,
) -> None:
    assert run_inv(world, "railway.sync-env").returncode == 0
    world.vars("frontend")["BUCKET_KEY"] = "${{shared.AWS_ACCESS_KEY_ID}}"
    world.shared()["LEGACY_FLAG"] = "1"

    result = run_inv(world, "railway.status")

    assert result.returncode == 0, result.stderr
    table = result.stdout.split("shared variable")[1]
    rows = {line.split()[0]: line.split(None, 2)[1:] for line in table.splitlines()[2:]}
    everyone = "backend, huggingface-service, mlflow-service, timm-service, ultralytics-service"
    assert rows["AWS_ACCESS_KEY_ID"] == [
        "ok",
        "backend, frontend, huggingface-service, mlflow-service, timm-service, ultralytics-service",
    ]
    assert rows["AWS_SECRET_ACCESS_KEY"] == ["ok", everyone]
    assert rows["LEGACY_FLAG"] == ["extra", "-"]
    assert "in sync." in result.stderr  # an extra shared variable is not drift without --prune


def test_status_check_exit_codes_follow_terraform(world: World) -> None:
    drift = run_inv(world, "railway.status", "--check")
    assert drift.returncode == 2, drift.stderr
    assert run_inv(world, "railway.sync-env").returncode == 0

    in_sync = run_inv(world, "railway.status", "--check")
    assert in_sync.returncode == 0, in_sync.stderr
    # Variables the file does not declare (backend's LOG_LEVEL) are drift only with --prune.
    assert run_inv(world, "railway.status", "--check", "--prune").returncode == 2

    world.api.fail("server_error", operation="Variables", times=10)
    error = run_inv(
        world, "railway.status", "--check", extra_env={"INVOKE_RAILWAY_RETRY_ATTEMPTS": "2"}
    )
    assert error.returncode == 1 and "error:" in error.stderr


def test_status_check_json_describes_the_drift(world: World) -> None:
    assert run_inv(world, "railway.sync-env").returncode == 0
    world.shared()["AWS_SECRET_ACCESS_KEY"] = "rotated-elsewhere-5521"
    del world.vars("backend")["MLFLOW_TRACKING_URI"]

    result = run_inv(world, "railway.status", "--check", "--json")

    assert result.returncode == 2, result.stderr
    report = json.loads(result.stdout)
    assert report["in_sync"] is False
    [production] = report["environments"]
    assert production["services_missing"] == []
    drift = {(d["service"], d["name"]): d for d in production["drift"]}
    assert set(drift) == {("shared", "AWS_SECRET_ACCESS_KEY"), ("backend", "MLFLOW_TRACKING_URI")}
    secret = drift[("shared", "AWS_SECRET_ACCESS_KEY")]
    assert secret["action"] == "change" and secret["secret"] is True
    assert secret["current"] == fp("rotated-elsewhere-5521") and secret["desired"] == fp(SECRET_KEY)
    assert drift[("backend", "MLFLOW_TRACKING_URI")]["action"] == "add"
    shared = {s["name"]: s for s in production["shared"]}
    assert shared["AWS_SECRET_ACCESS_KEY"]["state"] == "different"
    assert "backend" in shared["AWS_SECRET_ACCESS_KEY"]["referenced_by"]
    assert "rotated-elsewhere-5521" not in result.stdout + result.stderr


def test_status_check_counts_a_missing_service_as_drift(bare_world: World) -> None:
    result = run_inv(bare_world, "railway.status", "--check", "--json")

    assert result.returncode == 2
    assert json.loads(result.stdout)["environments"][0]["services_missing"] == ["mlflow-service"]


def test_status_verbose_prints_requests_and_rate_limit_headers(world: World) -> None:
    result = run_inv(world, "railway.status", "--verbose")

    assert result.returncode == 0, result.stderr
    assert "requests sent: 2 (Project 1, Variables 1)" in result.stderr
    assert "x-ratelimit-limit: 1000" in result.stderr
    assert "x-ratelimit-remaining: 998" in result.stderr


def test_status_points_to_provision_when_mlflow_service_is_missing(bare_world: World) -> None:
    result = run_inv(bare_world, "railway.status")

    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("mlflow-service"))
    assert "service missing" in row and "inv railway.provision" in row


def test_provision_creates_mlflow_service_once(bare_world: World) -> None:
    first = run_inv(bare_world, "railway.provision")

    assert first.returncode == 0, first.stderr
    assert bare_world.service_exists("mlflow-service")
    assert "created" in first.stdout
    variables = bare_world.vars("mlflow-service")
    assert variables["MLFLOW_BACKEND_STORE_URI"] == "${{Postgres.DATABASE_URL}}"
    assert variables["AWS_SECRET_ACCESS_KEY"] == "${{shared.AWS_SECRET_ACCESS_KEY}}"
    assert variables["PORT"] == "5000"
    env = bare_world.state.env_id(bare_world.project, "production")
    service = bare_world.state.service_id(bare_world.project, "mlflow-service")
    instance = bare_world.state.instances[(env, service)]
    assert instance["startCommand"] == MLFLOW_START_COMMAND
    assert instance["source"] == {"repo": "vision-team/vision-platform"}
    assert instance["dockerfilePath"] == "deploy/mlflow/Dockerfile"
    assert instance["domains"] == []  # public only on request
    assert SECRET_KEY not in first.stdout + first.stderr

    before = len(bare_world.api.mutations())
    again = run_inv(bare_world, "railway.provision")

    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout
    assert len(bare_world.api.mutations()) == before
    # The variables were set at creation: a sync now only touches the other services.
    sync = run_inv(bare_world, "railway.sync-env", "--service", "mlflow-service")
    assert sync.returncode == 0 and "in sync" in sync.stderr
    # The shared keys it references arrive with the first full sync, which redeploys it.
    assert run_inv(bare_world, "railway.sync-env").returncode == 0
    assert bare_world.shared()["AWS_SECRET_ACCESS_KEY"] == SECRET_KEY
    assert bare_world.redeploys("mlflow-service") == 1


def test_provision_public_domain_only_on_request_and_only_once(world: World) -> None:
    first = run_inv(world, "railway.provision", "--public-domain")
    second = run_inv(world, "railway.provision", "--public-domain")

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "https://mlflow-service-production.up.railway.app" in first.stdout
    assert world.api.mutation_fields().count("serviceDomainCreate") == 1
    assert world.api.mutation_fields().count("serviceCreate") == 0


def test_provision_without_a_source_says_what_to_set(bare_world: World) -> None:
    bare_world.dotenv.write_text("AWS_ACCESS_KEY_ID=AKIA1\nAWS_SECRET_ACCESS_KEY=s\n")

    result = run_inv(bare_world, "railway.provision")

    assert result.returncode == 1
    assert "MLFLOW_SOURCE_REPO" in result.stderr and "env/railway.yml:" in result.stderr
    assert bare_world.api.mutations() == []


def test_every_task_works_against_the_subset_schema_too(subset_world: World) -> None:
    """The stand-in's fallback when ../shared/reference is absent serves the whole flow."""
    assert run_inv(subset_world, "railway.provision").returncode == 0
    first = run_inv(subset_world, "railway.sync-env")
    assert first.returncode == 0, first.stderr
    mutations = len(subset_world.api.mutations())

    assert run_inv(subset_world, "railway.sync-env").returncode == 0
    status = run_inv(subset_world, "railway.status", "--check")

    assert status.returncode == 0, status.stderr
    variables = status.stdout.split("shared variable")[0]
    states = {line.split()[2] for line in variables.splitlines()[2:] if line.strip()}
    assert states == {"ok", "extra"}  # backend's own LOG_LEVEL and JWT_SECRET are extra
    assert len(subset_world.api.mutations()) == mutations
    assert subset_world.shared()["AWS_SECRET_ACCESS_KEY"] == SECRET_KEY


def test_provision_failing_after_creation_is_finished_by_a_rerun(bare_world: World) -> None:
    bare_world.api.fail("graphql_error", operation="ServiceInstanceUpdate", message="Try again")

    failed = run_inv(bare_world, "railway.provision")

    assert failed.returncode == 1 and "Try again" in failed.stderr
    assert bare_world.service_exists("mlflow-service")

    rerun = run_inv(bare_world, "railway.provision")

    assert rerun.returncode == 0, rerun.stderr
    assert bare_world.api.mutation_fields().count("serviceCreate") == 1
    env = bare_world.state.env_id(bare_world.project, "production")
    service = bare_world.state.service_id(bare_world.project, "mlflow-service")
    assert bare_world.state.instances[(env, service)]["startCommand"] == MLFLOW_START_COMMAND


def test_provision_leaves_a_hand_made_start_command_alone(world: World) -> None:
    env = world.state.env_id(world.project, "production")
    service = world.state.service_id(world.project, "mlflow-service")
    world.state.instances[(env, service)]["startCommand"] = "mlflow server --port 8080"

    result = run_inv(world, "railway.provision")

    assert result.returncode == 0, result.stderr
    assert "left unchanged" in result.stderr
    assert world.state.instances[(env, service)]["startCommand"] == "mlflow server --port 8080"
    assert world.api.mutations() == []


def test_provision_dry_run_creates_nothing(bare_world: World) -> None:
    for args in (
        ["railway.provision", "--dry-run", "--public-domain"],
        ["--dry", "railway.provision"],
    ):
        result = run_inv(bare_world, *args)

        assert result.returncode == 0, result.stderr
        assert "mlflow-service: would be created" in result.stderr
        assert "dry run: nothing sent" in result.stderr
    assert bare_world.api.mutations() == []
    assert not bare_world.service_exists("mlflow-service")


def test_a_lost_create_answer_is_read_back_and_never_creates_twice(bare_world: World) -> None:
    bare_world.api.fail("drop", operation="ServiceCreate")
    bare_world.api.fail("drop", operation="ServiceDomainCreate")

    result = run_inv(bare_world, "railway.provision", "--public-domain")

    assert result.returncode == 0, result.stderr
    assert bare_world.api.mutation_fields().count("serviceCreate") == 1
    assert bare_world.api.mutation_fields().count("serviceDomainCreate") == 1
    assert list(bare_world.project.services.values()).count("mlflow-service") == 1
    assert "it was created" in result.stderr
    assert "https://mlflow-service-production.up.railway.app" in result.stdout


def test_a_create_that_never_arrived_is_sent_again_after_the_read_back(
    bare_world: World,
) -> None:
    # The connection drops before the stand-in executes: read back shows no service.
    bare_world.api.fail("server_error", operation="ServiceCreate")

    result = run_inv(bare_world, "railway.provision")

    assert result.returncode == 0, result.stderr
    assert "not created; sending serviceCreate again" in result.stderr
    assert bare_world.api.mutation_fields().count("serviceCreate") == 2
    assert list(bare_world.project.services.values()).count("mlflow-service") == 1
