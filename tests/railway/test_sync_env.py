"""`inv railway.sync-env` end to end: the real CLI against the Railway stand-in."""

from __future__ import annotations

import json
import os
import pty
from pathlib import Path

import pytest

from tests.railway.conftest import (
    ACCESS_KEY,
    ACCOUNT_TOKEN,
    POSTGRES_URL,
    PROJECT_TOKEN,
    REPO_ROOT,
    SECRET_KEY,
    TRAINING,
    World,
    run_inv,
)

MLFLOW_VARS = {
    "PORT",
    "MLFLOW_BACKEND_STORE_URI",
    "MLFLOW_DEFAULT_ARTIFACT_ROOT",
    "MLFLOW_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
}
CLIENT_VARS = {
    "MLFLOW_TRACKING_URI",
    "MLFLOW_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
}


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (
            SECRET_KEY,
            ACCESS_KEY,
            ACCOUNT_TOKEN,
            PROJECT_TOKEN,
            "pg-password-x81",
            "jwt-secret-c0ffee",
        ):
            assert secret not in text


def test_first_sync_sets_the_audit_variables_with_one_upsert_and_one_redeploy_per_service(
    world: World,
) -> None:
    result = run_inv(world, "railway.sync-env")

    assert result.returncode == 0, result.stderr
    mlflow = world.vars("mlflow-service")
    assert set(mlflow) >= MLFLOW_VARS
    assert mlflow["MLFLOW_DEFAULT_ARTIFACT_ROOT"] == "s3://vision-platform-prod/mlflow-artifacts"
    assert mlflow["AWS_SECRET_ACCESS_KEY"] == SECRET_KEY
    for service in TRAINING:
        variables = world.vars(service)
        assert set(variables) >= CLIENT_VARS, service
        assert variables["MLFLOW_S3_ENDPOINT_URL"] == "https://s3.ap-northeast-2.amazonaws.com"
        assert variables["AWS_ACCESS_KEY_ID"] == ACCESS_KEY
        assert world.redeploys(service) == 1
    assert world.vars("backend")["LOG_LEVEL"] == "info"  # untouched: no replace, no prune
    upserts = [r for r in world.api.mutations() if r.fields == ("variableCollectionUpsert",)]
    assert len(upserts) == 5
    for request in upserts:
        assert request.variables["input"]["skipDeploys"] is True
        assert request.variables["input"].get("replace") in (None, False)
    assert world.state.auto_deploys == {}
    assert world.vars("frontend") == {"NEXT_PUBLIC_API_URL": "https://api.example"}


def test_second_sync_sends_no_mutation(world: World) -> None:
    assert run_inv(world, "railway.sync-env").returncode == 0
    before = len(world.api.mutations())

    again = run_inv(world, "railway.sync-env")

    assert again.returncode == 0, again.stderr
    assert len(world.api.mutations()) == before
    assert "in sync" in again.stderr
    assert world.redeploys("timm-service") == 1


def test_dry_run_prints_the_plan_and_sends_no_mutation(world: World) -> None:
    result = run_inv(world, "railway.sync-env", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert world.api.mutations() == []
    assert "timm-service" in result.stdout and "MLFLOW_TRACKING_URI" in result.stdout
    assert "add" in result.stdout
    assert "AWS_ACCESS_KEY_ID" not in world.vars("timm-service")


def test_references_reach_railway_verbatim_and_are_read_back_unrendered(world: World) -> None:
    assert run_inv(world, "railway.sync-env").returncode == 0

    assert world.vars("mlflow-service")["MLFLOW_BACKEND_STORE_URI"] == "${{Postgres.DATABASE_URL}}"
    tracking = world.vars("timm-service")["MLFLOW_TRACKING_URI"]
    assert tracking == "http://${{mlflow-service.RAILWAY_PRIVATE_DOMAIN}}:5000"
    sent = json.dumps([r.variables for r in world.api.requests])
    assert POSTGRES_URL not in sent  # never resolved locally, never written back rendered
    # Had the sync read rendered values, the references would look changed now.
    assert run_inv(world, "railway.sync-env", "--dry-run").stderr.count("0 change(s)") == 1


def test_secret_values_never_reach_stdout_or_stderr(world: World) -> None:
    world.vars("timm-service")["AWS_SECRET_ACCESS_KEY"] = "old-secret-value-1234"
    runs = [
        run_inv(world, "railway.sync-env", "--dry-run", "--prune"),
        run_inv(world, "railway.sync-env", "--dry-run", "--json", "--prune"),
        run_inv(world, "railway.sync-env", "--prune", "--yes"),
        run_inv(world, "railway.status"),
    ]

    for result in runs:
        assert result.returncode == 0, result.stderr
        assert_no_secret(result.stdout, result.stderr)
        assert "old-secret-value-1234" not in result.stdout + result.stderr
    table = runs[0].stdout
    row = next(
        line for line in table.splitlines() if "timm-service" in line and "AWS_SECRET" in line
    )
    assert "change" in row and row.count("fp:") == 2  # the change is visible through fingerprints


def test_json_plan_lists_service_name_action_and_secret_flag(world: World) -> None:
    result = run_inv(world, "railway.sync-env", "--dry-run", "--json")

    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    entry = next(
        c
        for c in plan["changes"]
        if c["service"] == "backend" and c["name"] == "AWS_SECRET_ACCESS_KEY"
    )
    assert entry["action"] == "add" and entry["secret"] is True
    assert entry["desired"].startswith("fp:")
    reference = next(c for c in plan["changes"] if c["name"] == "MLFLOW_BACKEND_STORE_URI")
    assert reference["secret"] is False and reference["desired"] == "${{Postgres.DATABASE_URL}}"


def test_prune_with_yes_removes_undeclared_variables(world: World) -> None:
    result = run_inv(world, "railway.sync-env", "--prune", "--yes", "--service", "backend")

    assert result.returncode == 0, result.stderr
    assert set(world.vars("backend")) == CLIENT_VARS | {"AWS_DEFAULT_REGION"}
    deleted = sorted(
        r.variables["input"]["name"]
        for r in world.api.mutations()
        if r.fields == ("variableDelete",)
    )
    assert deleted == ["JWT_SECRET", "LOG_LEVEL"]
    assert "JWT_SECRET" in result.stdout and "remove" in result.stdout  # the plan came first


def test_prune_without_yes_refuses_and_changes_nothing(world: World) -> None:
    result = run_inv(world, "railway.sync-env", "--prune", "--service", "backend")

    assert result.returncode == 1
    assert "--yes" in result.stderr
    assert "JWT_SECRET" in result.stdout  # the plan was shown
    assert world.api.mutations() == []
    assert world.vars("backend") == {"LOG_LEVEL": "info", "JWT_SECRET": "jwt-secret-c0ffee"}


@pytest.mark.parametrize(("answer", "removed"), [(b"y\n", True), (b"n\n", False)])
def test_prune_asks_on_a_terminal(world: World, answer: bytes, removed: bool) -> None:
    controller, terminal = pty.openpty()
    try:
        os.write(controller, answer)  # typed ahead; the task reads it at its question
        result = run_inv(
            world, "railway.sync-env", "--prune", "--service", "backend", stdin=terminal
        )
    finally:
        os.close(controller)
        os.close(terminal)

    assert "Remove 2 variable(s) listed above? [y/N]" in result.stderr
    assert ("JWT_SECRET" not in world.vars("backend")) is removed
    assert result.returncode == (0 if removed else 1)


def test_partial_failure_names_applied_services_and_a_rerun_finishes(world: World) -> None:
    ultralytics = world.state.service_id(world.project, "ultralytics-service")
    world.api.fail(
        "graphql_error",
        operation="VariableCollectionUpsert",
        message="Service instance is being deleted",
        when=lambda r: r.variables["input"]["serviceId"] == ultralytics,
    )

    failed = run_inv(world, "railway.sync-env")

    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    assert "Applied: mlflow-service, timm-service" in failed.stderr
    assert "ultralytics-service: not applied" in failed.stderr
    assert "huggingface-service, backend" in failed.stderr
    assert "AWS_ACCESS_KEY_ID" not in world.vars("huggingface-service")

    rerun = run_inv(world, "railway.sync-env")

    assert rerun.returncode == 0, rerun.stderr
    for service in TRAINING:
        assert set(world.vars(service)) >= CLIENT_VARS
        assert world.redeploys(service) == 1
    assert "applied to ultralytics-service, huggingface-service, backend" in rerun.stderr


def test_failed_redeploy_is_named_and_redeploy_flag_finishes_it(world: World) -> None:
    world.api.fail(
        "graphql_error", operation="ServiceInstanceRedeploy", message="Deploy queue full"
    )

    failed = run_inv(world, "railway.sync-env", "--service", "timm-service", "--service", "backend")

    assert failed.returncode == 1
    assert "timm-service: variables in place, but its redeploy failed" in failed.stderr
    assert "--redeploy --service timm-service" in failed.stderr
    assert "Not attempted: backend" in failed.stderr
    finish = run_inv(world, "railway.sync-env", "--service", "timm-service", "--service", "backend")
    assert finish.returncode == 0
    assert (world.redeploys("timm-service"), world.redeploys("backend")) == (0, 1)
    writes = len([f for f in world.api.mutation_fields() if f != "serviceInstanceRedeploy"])

    result = run_inv(world, "railway.sync-env", "--redeploy", "--service", "timm-service")

    assert result.returncode == 0, result.stderr
    assert world.redeploys("timm-service") == 1
    assert len([f for f in world.api.mutation_fields() if f != "serviceInstanceRedeploy"]) == writes


def test_rate_limit_answer_is_waited_out_and_retried(world: World) -> None:
    world.api.fail("rate_limit", operation="Variables", retry_after=1)
    world.api.fail("server_error", operation="VariableCollectionUpsert")
    world.api.fail("html", operation="ServiceInstanceRedeploy")

    result = run_inv(world, "railway.sync-env", "--service", "timm-service")

    assert result.returncode == 0, result.stderr
    assert [r.operation for r in world.api.requests].count(
        "Variables"
    ) == 3  # 429, then plan, verify
    assert world.vars("timm-service")["MLFLOW_S3_ENDPOINT_URL"]
    assert world.redeploys("timm-service") == 1


def test_bad_token_names_the_variable_and_hides_the_token(world: World) -> None:
    result = run_inv(world, "railway.sync-env", token="wrong-token-123abc")

    assert result.returncode == 1
    assert "RAILWAY_API_TOKEN" in result.stderr and "Not Authorized" in result.stderr
    assert "wrong-token-123abc" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert world.api.mutations() == []


def test_unknown_service_lists_existing_ones_and_points_to_provision(bare_world: World) -> None:
    result = run_inv(bare_world, "railway.sync-env")

    assert result.returncode == 1
    assert "'mlflow-service' not found" in result.stderr
    assert "inv railway.provision" in result.stderr
    assert "Did you mean" not in result.stderr  # no far-fetched suggestion
    assert "timm-service" in result.stderr and "Postgres" in result.stderr
    assert bare_world.api.mutations() == []


def test_misspelt_service_gets_the_closest_name_suggested(world: World, tmp_path: Path) -> None:
    desired = tmp_path / "railway.yml"
    text = (
        (REPO_ROOT / "env/railway.yml")
        .read_text()
        .replace("      backend: *mlflow-client", "      backnd: *mlflow-client")
    )
    desired.write_text(text)

    result = run_inv(world, "railway.sync-env", "--file", str(desired))

    assert result.returncode == 1
    assert "'backnd' not found. Did you mean 'backend'?" in result.stderr
    assert world.api.mutations() == []


def test_project_token_is_sent_as_project_access_token_and_scopes_the_project(world: World) -> None:
    result = run_inv(
        world,
        "railway.sync-env",
        "--service",
        "timm-service",
        token=None,
        project_token=PROJECT_TOKEN,
        project_id=False,
    )

    assert result.returncode == 0, result.stderr
    assert world.vars("timm-service")["AWS_ACCESS_KEY_ID"] == ACCESS_KEY
    assert world.api.requests[0].operation == "ProjectToken"
    for request in world.api.requests:
        assert request.headers.get("project-access-token") == PROJECT_TOKEN
        assert "authorization" not in request.headers


def test_project_token_bound_to_another_environment_is_refused(
    world: World, tmp_path: Path
) -> None:
    desired = tmp_path / "railway.yml"
    desired.write_text(
        (REPO_ROOT / "env/railway.yml").read_text().replace("  production:", "  staging:")
    )

    result = run_inv(
        world,
        "railway.sync-env",
        "--environment",
        "staging",
        "--file",
        str(desired),
        token=None,
        project_token=PROJECT_TOKEN,
        project_id=False,
    )

    assert result.returncode == 1
    assert "bound to environment 'production', not 'staging'" in result.stderr
    assert world.api.mutations() == []


def test_process_environment_wins_over_dotenv(world: World) -> None:
    result = run_inv(
        world,
        "railway.sync-env",
        "--service",
        "timm-service",
        extra_env={"AWS_ACCESS_KEY_ID": "AKIAFROMSHELL"},
    )

    assert result.returncode == 0, result.stderr
    assert world.vars("timm-service")["AWS_ACCESS_KEY_ID"] == "AKIAFROMSHELL"
    assert world.vars("timm-service")["AWS_SECRET_ACCESS_KEY"] == SECRET_KEY  # from .env


def test_missing_secret_names_the_file_line_and_variable(world: World) -> None:
    world.dotenv.write_text(f"AWS_ACCESS_KEY_ID={ACCESS_KEY}\n")

    result = run_inv(world, "railway.sync-env")

    assert result.returncode == 1
    assert "env/railway.yml:" in result.stderr and "AWS_SECRET_ACCESS_KEY" in result.stderr
    assert ".env" in result.stderr
    assert world.api.requests == []  # checked before contacting Railway


def test_retry_bounds_come_from_invoke_configuration(world: World) -> None:
    world.api.fail("server_error", operation="Project", times=5)

    result = run_inv(world, "railway.status", extra_env={"INVOKE_RAILWAY_RETRY_ATTEMPTS": "2"})

    assert result.returncode == 1
    assert "did not answer Project after 2 attempts (last: HTTP 500)" in result.stderr
    assert [r.operation for r in world.api.requests] == ["Project", "Project"]
