"""`inv railway.status` and `inv railway.provision` against the Railway stand-in."""

from __future__ import annotations

from tests.railway.conftest import SECRET_KEY, World, run_inv
from vpmigrate.railway.provision import MLFLOW_START_COMMAND


def _row(stdout: str, service: str, variable: str) -> str:
    return next(line for line in stdout.splitlines() if line.split()[:2] == [service, variable])


def test_status_reports_missing_different_and_extra_without_secret_values(world: World) -> None:
    assert run_inv(world, "railway.sync-env", "--service", "timm-service").returncode == 0
    world.vars("timm-service")["AWS_SECRET_ACCESS_KEY"] = "rotated-elsewhere-5521"
    world.vars("timm-service")["MLFLOW_S3_ENDPOINT_URL"] = "http://localhost:9000"
    mutations = len(world.api.mutations())

    result = run_inv(world, "railway.status")

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "different" in _row(out, "timm-service", "MLFLOW_S3_ENDPOINT_URL")
    assert "http://localhost:9000 -> https://s3.ap-northeast-2.amazonaws.com" in out
    secret_row = _row(out, "timm-service", "AWS_SECRET_ACCESS_KEY")
    assert "different" in secret_row and secret_row.count("fp:") == 2
    assert "ok" in _row(out, "timm-service", "MLFLOW_TRACKING_URI")
    assert "missing" in _row(out, "backend", "MLFLOW_TRACKING_URI")
    assert _row(out, "backend", "JWT_SECRET").split()[2:] == ["extra"]  # name only
    assert _row(out, "backend", "LOG_LEVEL").split()[2:] == ["extra", "info"]
    for text in (result.stdout, result.stderr):
        assert "rotated-elsewhere-5521" not in text and SECRET_KEY not in text
        assert "jwt-secret-c0ffee" not in text
    assert len(world.api.mutations()) == mutations


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
    assert variables["AWS_SECRET_ACCESS_KEY"] == SECRET_KEY
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
    status = run_inv(subset_world, "railway.status")

    assert status.returncode == 0
    states = {line.split()[2] for line in status.stdout.splitlines()[2:]}
    assert states == {"ok", "extra"}  # backend's own LOG_LEVEL and JWT_SECRET are extra
    assert len(subset_world.api.mutations()) == mutations
    assert subset_world.vars("timm-service")["AWS_SECRET_ACCESS_KEY"] == SECRET_KEY


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
