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
    assert_no_secret,
    run_inv,
)

SHARED_VARS = {
    "MLFLOW_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
}
MLFLOW_VARS = {"PORT", "MLFLOW_BACKEND_STORE_URI", "MLFLOW_DEFAULT_ARTIFACT_ROOT"} | SHARED_VARS
CLIENT_VARS = {"MLFLOW_TRACKING_URI"} | SHARED_VARS
MANAGED = ("mlflow-service", *TRAINING)


def writes(world: World) -> list[dict]:
    """The inputs of every aliased write the stand-in received, in order."""
    return [
        value
        for request in world.api.requests_for("VariableWrites")
        for value in request.variables.values()
    ]


def test_first_sync_writes_shared_keys_once_and_references_everywhere(world: World) -> None:
    result = run_inv(world, "railway.sync-env")

    assert result.returncode == 0, result.stderr
    shared = world.shared()
    assert shared["AWS_ACCESS_KEY_ID"] == ACCESS_KEY
    assert shared["AWS_SECRET_ACCESS_KEY"] == SECRET_KEY
    assert shared["MLFLOW_S3_ENDPOINT_URL"] == "https://s3.ap-northeast-2.amazonaws.com"
    mlflow = world.vars("mlflow-service")
    assert set(mlflow) >= MLFLOW_VARS
    assert mlflow["MLFLOW_DEFAULT_ARTIFACT_ROOT"] == "s3://vision-platform-prod/mlflow-artifacts"
    for service in MANAGED:
        variables = world.vars(service)
        assert set(variables) >= (MLFLOW_VARS if service == "mlflow-service" else CLIENT_VARS)
        for name in SHARED_VARS:
            assert variables[name] == f"${{{{shared.{name}}}}}"  # sent verbatim
        assert SECRET_KEY not in variables.values()  # the secret lives in one place
        assert world.redeploys(service) == 1
    assert world.vars("backend")["LOG_LEVEL"] == "info"  # untouched: no replace, no prune
    assert world.redeploys("frontend") == 0
    # One write document, one redeploy document: 4 requests in all.
    assert [r.operation for r in world.api.requests] == [
        "Project",
        "Variables",
        "VariableWrites",
        "Redeploys",
    ]
    inputs = writes(world)
    assert len(inputs) == 6  # shared + 5 services
    assert "serviceId" not in inputs[0]  # the shared variables come first
    for value in inputs:
        assert value["skipDeploys"] is True
        assert value.get("replace") in (None, False)
    assert world.state.auto_deploys == {}
    assert world.vars("frontend") == {"NEXT_PUBLIC_API_URL": "https://api.example"}


def test_second_sync_sends_two_reads_and_no_mutation(world: World) -> None:
    assert run_inv(world, "railway.sync-env").returncode == 0
    before = len(world.api.requests)

    again = run_inv(world, "railway.sync-env")

    assert again.returncode == 0, again.stderr
    assert [r.operation for r in world.api.requests[before:]] == ["Project", "Variables"]
    assert "in sync" in again.stderr
    assert world.redeploys("timm-service") == 1


def test_dry_run_prints_the_plan_and_sends_no_mutation(world: World) -> None:
    for args in (["railway.sync-env", "--dry-run"], ["--dry", "railway.sync-env"]):
        result = run_inv(world, *args)

        assert result.returncode == 0, result.stderr
        assert world.api.mutations() == []
        assert "timm-service" in result.stdout and "MLFLOW_TRACKING_URI" in result.stdout
        assert "shared" in result.stdout and "add" in result.stdout
        assert "dry run: nothing sent" in result.stderr
    assert "AWS_ACCESS_KEY_ID" not in world.vars("timm-service")


def test_references_reach_railway_verbatim_and_are_read_back_unrendered(world: World) -> None:
    assert run_inv(world, "railway.sync-env").returncode == 0

    assert world.vars("mlflow-service")["MLFLOW_BACKEND_STORE_URI"] == "${{Postgres.DATABASE_URL}}"
    tracking = world.vars("timm-service")["MLFLOW_TRACKING_URI"]
    assert tracking == "http://${{mlflow-service.RAILWAY_PRIVATE_DOMAIN}}:5000"
    sent = json.dumps([r.variables for r in world.api.requests])
    assert POSTGRES_URL not in sent  # never resolved locally, never written back rendered
    # Had the sync read rendered values, the references would look changed now.
    assert "0 change(s)" in run_inv(world, "railway.sync-env", "--dry-run").stderr


def test_secret_values_never_reach_stdout_or_stderr(world: World) -> None:
    assert run_inv(world, "railway.sync-env").returncode == 0
    world.shared()["AWS_SECRET_ACCESS_KEY"] = "old-secret-value-1234"
    world.vars("backend")["SENTRY_DSN"] = "https://sentry-key-77@o1.ingest.example/9"
    world.vars("backend")["NOTES"] = "plain-looking-value-5150"
    runs = [
        run_inv(world, "railway.sync-env", "--dry-run", "--prune"),
        run_inv(world, "railway.sync-env", "--dry-run", "--json", "--prune"),
        run_inv(world, "railway.status"),
        run_inv(world, "railway.status", "--json"),
        run_inv(world, "railway.sync-env", "--prune", "--yes"),
    ]

    for result in runs:
        assert result.returncode == 0, result.stderr
        assert_no_secret(
            result.stdout,
            result.stderr,
            also=("old-secret-value-1234", "sentry-key-77", "plain-looking-value-5150"),
        )
    table = runs[0].stdout
    row = next(
        line for line in table.splitlines() if line.startswith("shared ") and "SECRET" in line
    )
    assert "change" in row and row.count("fp:") == 2  # the change is visible through fingerprints
    extra = next(line for line in table.splitlines() if "NOTES" in line)
    assert "remove" in extra and "fp:" in extra  # extra variables: name and fingerprint only


def test_json_plan_lists_each_environment_with_fingerprints(world: World) -> None:
    result = run_inv(world, "railway.sync-env", "--dry-run", "--json")

    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    [production] = plan["environments"]
    assert production["environment"] == "production"
    entry = next(
        c
        for c in production["changes"]
        if c["service"] == "shared" and c["name"] == "AWS_SECRET_ACCESS_KEY"
    )
    assert entry["action"] == "add" and entry["secret"] is True
    assert entry["desired"].startswith("fp:")
    reference = next(c for c in production["changes"] if c["name"] == "MLFLOW_BACKEND_STORE_URI")
    assert reference["secret"] is False and reference["desired"] == "${{Postgres.DATABASE_URL}}"


def test_prune_with_yes_removes_undeclared_variables_in_the_same_document(world: World) -> None:
    result = run_inv(world, "railway.sync-env", "--prune", "--yes", "--service", "backend")

    assert result.returncode == 0, result.stderr
    assert set(world.vars("backend")) == CLIENT_VARS
    deleted = sorted(v["name"] for v in writes(world) if "name" in v)
    assert deleted == ["JWT_SECRET", "LOG_LEVEL"]
    assert len(world.api.requests_for("VariableWrites")) == 1
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


def test_partial_failure_inside_the_batch_is_reported_per_service_and_a_rerun_finishes(
    world: World,
) -> None:
    ultralytics = world.state.service_id(world.project, "ultralytics-service")
    world.api.refuse(
        "variableCollectionUpsert",
        "Service instance is being deleted",
        when=lambda args: args["input"].get("serviceId") == ultralytics,
    )

    failed = run_inv(world, "railway.sync-env")

    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    assert "Applied: shared, mlflow-service, timm-service." in failed.stderr
    assert "ultralytics-service: not applied (Service instance is being deleted)" in failed.stderr
    assert "Not attempted: huggingface-service, backend." in failed.stderr
    assert "AWS_ACCESS_KEY_ID" not in world.vars("huggingface-service")
    # What was applied was redeployed, so a re-run that sees it in sync loses nothing.
    assert world.redeploys("timm-service") == 1 and world.redeploys("mlflow-service") == 1
    assert world.redeploys("ultralytics-service") == 0
    assert [r.operation for r in world.api.requests] == [
        "Project",
        "Variables",
        "VariableWrites",
        "Variables",  # the read-back that tells what is applied
        "Redeploys",
    ]

    rerun = run_inv(world, "railway.sync-env")

    assert rerun.returncode == 0, rerun.stderr
    for service in TRAINING:
        assert set(world.vars(service)) >= CLIENT_VARS
    for service in MANAGED:
        assert world.redeploys(service) == 1
    assert "applied to ultralytics-service, huggingface-service, backend" in rerun.stderr


def test_a_refused_deletion_leaves_its_service_unredeployed_until_the_rerun(world: World) -> None:
    world.api.refuse(
        "variableDelete", "Variable is locked", when=lambda a: a["input"]["name"] == "LOG_LEVEL"
    )

    failed = run_inv(world, "railway.sync-env", "--prune", "--yes", "--service", "backend")

    assert failed.returncode == 1
    assert "backend: 1 of 7 writes missing (Variable is locked)" in failed.stderr
    assert world.redeploys("backend") == 0
    assert "JWT_SECRET" not in world.vars("backend")  # deleted before the refused one
    rerun = run_inv(world, "railway.sync-env", "--prune", "--yes", "--service", "backend")
    assert rerun.returncode == 0, rerun.stderr
    assert "LOG_LEVEL" not in world.vars("backend")
    assert world.redeploys("backend") == 1


def test_failed_redeploy_is_named_and_redeploy_flag_finishes_it(world: World) -> None:
    world.api.fail("graphql_error", operation="Redeploys", message="Deploy queue full")

    failed = run_inv(world, "railway.sync-env", "--service", "timm-service", "--service", "backend")

    assert failed.returncode == 1
    assert "Deploy queue full" in failed.stderr
    assert "Variables in place on timm-service, backend, but the redeploy failed" in failed.stderr
    assert "--redeploy --service timm-service --service backend" in failed.stderr
    finish = run_inv(world, "railway.sync-env", "--service", "timm-service", "--service", "backend")
    assert finish.returncode == 0
    assert "in sync" in finish.stderr
    assert (world.redeploys("timm-service"), world.redeploys("backend")) == (0, 0)
    written = len(world.api.requests_for("VariableWrites"))

    result = run_inv(
        world, "railway.sync-env", "--redeploy", "--service", "timm-service", "--service", "backend"
    )

    assert result.returncode == 0, result.stderr
    assert (world.redeploys("timm-service"), world.redeploys("backend")) == (1, 1)
    assert len(world.api.requests_for("VariableWrites")) == written


def test_rotating_a_shared_key_is_one_write_and_the_redeploys_of_its_users(world: World) -> None:
    assert run_inv(world, "railway.sync-env").returncode == 0
    world.dotenv.write_text(
        f"AWS_ACCESS_KEY_ID={ACCESS_KEY}\nAWS_SECRET_ACCESS_KEY=rotated-secret-4242\n"
        "MLFLOW_SOURCE_REPO=vision-team/vision-platform\n"
    )
    world.vars("frontend")["S3_SECRET"] = "${{shared.AWS_SECRET_ACCESS_KEY}}"  # set by hand
    before = len(world.api.requests)

    result = run_inv(world, "railway.sync-env")

    assert result.returncode == 0, result.stderr
    assert world.shared()["AWS_SECRET_ACCESS_KEY"] == "rotated-secret-4242"
    [document] = world.api.requests_for("VariableWrites")[1:]
    assert list(document.variables.values()) == [
        {
            "projectId": world.project.id,
            "environmentId": world.state.env_id(world.project, "production"),
            "variables": {"AWS_SECRET_ACCESS_KEY": "rotated-secret-4242"},
            "skipDeploys": True,
        }
    ]
    for service in (*MANAGED, "frontend"):  # every service that references the key
        assert world.redeploys(service) == (2 if service != "frontend" else 1), service
    assert len(world.api.requests) - before == 4
    assert "rotated-secret-4242" not in result.stdout + result.stderr


def test_rate_limit_answer_is_waited_out_and_retried(world: World) -> None:
    world.api.fail("rate_limit", operation="Variables", retry_after=1)
    world.api.fail("rate_limit", operation="VariableWrites", retry_after=0)
    world.api.fail("html", operation="Redeploys")

    result = run_inv(world, "railway.sync-env", "--service", "timm-service", "--verbose")

    assert result.returncode == 0, result.stderr
    operations = [r.operation for r in world.api.requests]
    assert operations.count("Variables") == 2  # 429, then the read
    assert operations.count("VariableWrites") == 2  # 429 means not applied: sent again
    assert world.vars("timm-service")["MLFLOW_S3_ENDPOINT_URL"]
    assert world.redeploys("timm-service") == 1
    assert "requests sent: 7" in result.stderr
    assert "x-ratelimit-remaining: " in result.stderr


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
    assert world.vars("timm-service")["AWS_ACCESS_KEY_ID"] == "${{shared.AWS_ACCESS_KEY_ID}}"
    # The token's project comes with the token: still one request before the read.
    assert [r.operation for r in world.api.requests][:2] == ["ProjectToken", "Variables"]
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
        "shared",
        extra_env={"AWS_ACCESS_KEY_ID": "AKIAFROMSHELL"},
    )

    assert result.returncode == 0, result.stderr
    assert world.shared()["AWS_ACCESS_KEY_ID"] == "AKIAFROMSHELL"
    assert world.shared()["AWS_SECRET_ACCESS_KEY"] == SECRET_KEY  # from .env


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


def test_token_never_appears_in_any_request_body(world: World) -> None:
    assert run_inv(world, "railway.sync-env").returncode == 0

    for request in world.api.requests:
        assert ACCOUNT_TOKEN not in request.query + json.dumps(request.variables)


def test_a_lost_write_answer_is_read_back_and_the_truth_redeployed(world: World) -> None:
    world.api.fail("drop", operation="VariableWrites")  # applied, then the answer is lost

    result = run_inv(world, "railway.sync-env", "--prune", "--yes", "--service", "backend")

    assert result.returncode == 0, result.stderr
    assert "answer to the write was lost; read back: everything was applied" in result.stderr
    assert "not applied" not in result.stderr  # the deletions that succeeded say so
    assert set(world.vars("backend")) == CLIENT_VARS
    assert world.redeploys("backend") == 1
    assert len(world.api.requests_for("VariableWrites")) == 1  # never sent twice
    assert "in sync" in run_inv(world, "railway.sync-env", "--service", "backend").stderr


def test_a_write_that_never_arrived_is_sent_again_after_the_read_back(world: World) -> None:
    world.api.fail("server_error", operation="VariableWrites")  # not executed

    result = run_inv(world, "railway.sync-env", "--service", "timm-service", "--service", "backend")

    assert result.returncode == 0, result.stderr
    assert "0 of 2 scope(s) were applied; sending the rest again" in result.stderr
    assert len(world.api.requests_for("VariableWrites")) == 2
    assert world.redeploys("timm-service") == 1 and world.redeploys("backend") == 1


def test_after_lost_answers_and_a_failed_read_back_the_report_says_unknown(
    world: World,
) -> None:
    world.api.fail("drop", operation="VariableWrites")
    world.api.fail(
        "server_error",
        operation="Variables",
        times=10,
        when=lambda r: r.kind == "query" and len(world.api.requests_for("VariableWrites")) > 0,
    )

    result = run_inv(
        world,
        "railway.sync-env",
        "--service",
        "backend",
        extra_env={"INVOKE_RAILWAY_RETRY_ATTEMPTS": "2"},
    )

    assert result.returncode == 1
    assert "backend: unknown (no answer, and the read-back failed)" in result.stderr
    assert world.redeploys("backend") == 0
    assert "Traceback" not in result.stderr
