"""The desired-state file: the shipped audit, S3 providers, interpolation and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.railway.conftest import REPO_ROOT
from vpmigrate.errors import UserError
from vpmigrate.railway.desired import DesiredState, load_desired

SHIPPED = REPO_ROOT / "env" / "railway.yml"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_ACCESS_KEY": "aws-secret"}
S3_VARS = {
    "MLFLOW_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
}
CLIENT_VARS = {"MLFLOW_TRACKING_URI"} | S3_VARS


def values(state: DesiredState, service: str) -> dict[str, str]:
    return {v.name: v.value for v in state.services[service]}


def shared(state: DesiredState) -> dict[str, str]:
    assert state.shared is not None
    return {v.name: v.value for v in state.shared}


def test_shipped_file_encodes_the_audit_with_the_s3_settings_shared() -> None:
    state = load_desired(SHIPPED, "production", AWS_ENV)

    assert shared(state) == {
        "MLFLOW_S3_ENDPOINT_URL": "https://s3.ap-northeast-2.amazonaws.com",
        "AWS_ACCESS_KEY_ID": "AKIA1",
        "AWS_SECRET_ACCESS_KEY": "aws-secret",
        "AWS_DEFAULT_REGION": "ap-northeast-2",
    }
    assert {v.name for v in state.shared or () if v.secret} == {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    }
    mlflow = values(state, "mlflow-service")
    assert mlflow["MLFLOW_BACKEND_STORE_URI"] == "${{Postgres.DATABASE_URL}}"
    assert mlflow["MLFLOW_DEFAULT_ARTIFACT_ROOT"] == "s3://vision-platform-prod/mlflow-artifacts"
    for service in (
        "mlflow-service",
        "timm-service",
        "ultralytics-service",
        "huggingface-service",
        "backend",
    ):
        variables = values(state, service)
        assert set(variables) >= S3_VARS, service
        for name in S3_VARS:  # every S3 setting by reference: one place to rotate a key
            assert variables[name] == f"${{{{shared.{name}}}}}"
        assert not any(v.secret for v in state.services[service]), service
    for service in ("timm-service", "ultralytics-service", "huggingface-service", "backend"):
        assert set(values(state, service)) == CLIENT_VARS, service
        assert (
            values(state, service)["MLFLOW_TRACKING_URI"]
            == "http://${{mlflow-service.RAILWAY_PRIVATE_DOMAIN}}:5000"
        )
    assert list(state.scopes())[0] == "shared"


def test_r2_derives_endpoint_and_region_from_the_account() -> None:
    env = {
        "R2_ACCOUNT_ID": "abc123",
        "R2_ACCESS_KEY_ID": "r2key",
        "R2_SECRET_ACCESS_KEY": "r2secret",
    }

    state = load_desired(SHIPPED, "production", env, s3_provider="r2")

    assert shared(state)["MLFLOW_S3_ENDPOINT_URL"] == "https://abc123.r2.cloudflarestorage.com"
    assert shared(state)["AWS_DEFAULT_REGION"] == "auto"
    assert shared(state)["AWS_ACCESS_KEY_ID"] == "r2key"
    assert state.s3_provider == "r2"


def test_minio_on_railway_is_reached_through_references_kept_verbatim() -> None:
    state = load_desired(SHIPPED, "production", {}, s3_provider="minio")

    assert shared(state)["MLFLOW_S3_ENDPOINT_URL"] == (
        "http://${{minio.RAILWAY_PRIVATE_DOMAIN}}:9000"
    )
    assert shared(state)["AWS_SECRET_ACCESS_KEY"] == "${{minio.MINIO_ROOT_PASSWORD}}"


def test_aws_region_setting_changes_the_endpoint(tmp_path: Path) -> None:
    path = tmp_path / "railway.yml"
    path.write_text(SHIPPED.read_text().replace("region: ap-northeast-2", "region: eu-west-1"))

    state = load_desired(path, "production", AWS_ENV)

    assert shared(state)["MLFLOW_S3_ENDPOINT_URL"] == "https://s3.eu-west-1.amazonaws.com"


def test_public_domain_switches_the_tracking_uri(tmp_path: Path) -> None:
    path = tmp_path / "railway.yml"
    path.write_text(SHIPPED.read_text().replace("public_domain: false", "public_domain: true"))

    state = load_desired(path, "production", AWS_ENV)

    assert values(state, "timm-service")["MLFLOW_TRACKING_URI"] == (
        "https://${{mlflow-service.RAILWAY_PUBLIC_DOMAIN}}"
    )


def write(tmp_path: Path, services: str) -> Path:
    return write_env(tmp_path, "  production:\n    services:\n" + services)


def write_env(tmp_path: Path, environment: str) -> Path:
    path = tmp_path / "railway.yml"
    path.write_text(
        "version: 1\n"
        "s3:\n  provider: aws\n  bucket: b\n"
        "  aws:\n    access_key_id: k\n    secret_access_key: s\n"
        "mlflow: {}\n"
        "environments:\n" + environment
    )
    return path


def test_interpolation_forms(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "      api:\n"
        "        PRICE: costs $$5\n"
        "        LEVEL: ${LOG_LEVEL:-info}\n"
        "        TOKEN_FREE: ${PLAIN}\n"
        "        MIXED: https://${{api.RAILWAY_PUBLIC_DOMAIN}}/${s3.bucket}\n",
    )

    state = load_desired(path, "production", {"PLAIN": "from-env"})

    api = {v.name: v for v in state.services["api"]}
    assert api["PRICE"].value == "costs $5" and not api["PRICE"].secret
    assert api["LEVEL"].value == "info" and not api["LEVEL"].secret
    assert api["TOKEN_FREE"].value == "from-env" and api["TOKEN_FREE"].secret  # from the env
    assert api["MIXED"].value == "https://${{api.RAILWAY_PUBLIC_DOMAIN}}/b"


def test_missing_environment_variable_names_file_line_service_and_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "      api:\n        OK: yes\n        DB_PASSWORD: ${DB_PASSWORD}\n")

    with pytest.raises(UserError) as caught:
        load_desired(path, "production", {})

    message = caught.value.message
    assert f"{path}:14:" in message and "api DB_PASSWORD" in message
    assert "DB_PASSWORD=..." in message and ".env" in message


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        (
            "  production:\n    services:\n" + "      api:\n        X: ${s3.nope}\n",
            "not a setting; known: ${mlflow.port}",
        ),
        (
            "  production:\n    services:\n" + "      api:\n        X: ${{unclosed\n",
            "unclosed Railway reference",
        ),
        (
            "  production:\n    services:\n" + "      api:\n        9X: a\n",
            "'9X' (service 'api') is not a valid variable",
        ),
        (
            "  production:\n    services:\n" + "      api:\n        X: [a]\n",
            "api.X must be a single value",
        ),
        (
            "  production:\n    services:\n" + "      api:\n        X: a\n        X: b\n",
            "'X' appears twice",
        ),
        (
            "  production:\n    services:\n" + "      shared:\n        A: '1'\n",
            "'shared' is the name",
        ),
        ("  production:\n    sharde: {}\n    services: {}\n", "unknown key 'sharde'"),
        ("  production:\n    shared: [a]\n    services: {}\n", "must be a mapping"),
        (
            '  production:\n    services:\n      "api\\e[2K":\n        A: b\n',
            "'api\\x1b[2K' is not usable as a service name",
        ),
    ],
)
def test_bad_entries_name_the_line(tmp_path: Path, environment: str, expected: str) -> None:
    path = write_env(tmp_path, environment)

    with pytest.raises(UserError) as caught:
        load_desired(path, "production", {})

    assert expected in caught.value.message
    assert f"{path}:" in caught.value.message


def test_unknown_provider_and_environment_are_explained() -> None:
    with pytest.raises(UserError, match="'gcs' is not supported; choose one of aws, r2, minio"):
        load_desired(SHIPPED, "production", AWS_ENV, s3_provider="gcs")
    with pytest.raises(UserError, match="environment 'prod' is not declared; declared: production"):
        load_desired(SHIPPED, "prod", AWS_ENV)


def test_only_rejects_services_the_file_does_not_declare() -> None:
    state = load_desired(SHIPPED, "production", AWS_ENV)

    assert set(state.only(["backend"]).services) == {"backend"}
    with pytest.raises(UserError, match="'frontend' is not declared"):
        state.only(["frontend"])


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "railway.yml"
    path.write_text("version: 1\ns3:\n  bucket: [unclosed\n")

    with pytest.raises(UserError) as caught:
        load_desired(path, "production", {})

    assert f"{path}:" in caught.value.message and "YAML" in caught.value.message


def test_secret_values_stay_out_of_reprs() -> None:
    state = load_desired(SHIPPED, "production", AWS_ENV)

    assert "aws-secret" not in repr(state)


def test_a_reference_to_an_undeclared_shared_variable_names_its_line(tmp_path: Path) -> None:
    path = write_env(
        tmp_path,
        "  production:\n"
        "    shared:\n      A: '1'\n"
        "    services:\n      api:\n        B: ${{shared.A}}\n        C: x-${{ shared.TYPO }}\n",
    )

    with pytest.raises(UserError) as caught:
        load_desired(path, "production", {})

    assert f"{path}:16:" in caught.value.message
    assert "${{shared.TYPO}}" in caught.value.message and "shared: block" in caught.value.message


def test_without_a_shared_block_shared_variables_are_not_managed(tmp_path: Path) -> None:
    path = write_env(
        tmp_path, "  production:\n    services:\n      api:\n        B: ${{shared.A}}\n"
    )

    state = load_desired(path, "production", {})

    assert state.shared is None and list(state.scopes()) == ["api"]
    assert values(state, "api") == {"B": "${{shared.A}}"}  # Railway resolves it


def test_only_selects_the_shared_variables_by_their_name() -> None:
    state = load_desired(SHIPPED, "production", AWS_ENV)

    assert state.only(["backend"]).shared is None
    picked = state.only(["shared"])
    assert picked.shared == state.shared and dict(picked.services) == {}
    with pytest.raises(UserError, match="--service was given an empty value"):
        state.only([""])


def test_every_environment_of_the_file_in_order(tmp_path: Path) -> None:
    from vpmigrate.railway.desired import DesiredFile

    path = write_env(
        tmp_path,
        "  staging:\n    services:\n      api:\n        A: s\n"
        "  production:\n    services:\n      api:\n        A: p\n",
    )

    file = DesiredFile(path, {})

    assert file.environments == ("staging", "production")
    assert values(file.environment("production"), "api") == {"A": "p"}
    with pytest.raises(UserError, match="--environment was given an empty value"):
        file.environment("")


def test_a_literal_url_with_a_password_is_secret(tmp_path: Path) -> None:
    path = write(tmp_path, "      api:\n        BROKER: amqp://app:hunter2@mq:5672/\n")

    [broker] = load_desired(path, "production", {}).services["api"]

    assert broker.secret


def test_a_malformed_expression_never_quotes_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "      api:\n        DB: postgres://u:pw-771@db/${oops\n")

    with pytest.raises(UserError) as caught:
        load_desired(path, "production", {})

    assert "pw-771" not in caught.value.message and "character 24" in caught.value.message
