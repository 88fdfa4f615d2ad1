"""vpmigrate.masking: which names are secret, and masking values in text."""

from __future__ import annotations

import pytest

from vpmigrate.masking import (
    PLACEHOLDER,
    is_secret_name,
    mask_text,
    mask_url_passwords,
    mask_value,
    printable,
    secret_values,
)


@pytest.mark.parametrize(
    "name",
    [
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "POSTGRES_PASSWORD",
        "PGPASSWORD",
        "db-password",
        "SENTRY_DSN",
        "GITHUB_TOKEN",
        "RAILWAY_API_TOKEN",
        "apiKey",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "JWT_SECRET",
        "MINIO_ROOT_PASSWORD",
        "POSTGRES_PWD",
        "R2_SECRET_ACCESS_KEY",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "RAILWAY_PRIVATE_DOMAIN",
        "MLFLOW_S3_ENDPOINT_URL",
        "POSTGRES_USER",
        "KEYCLOAK_URL",
        "PORT",
        "PWD",
        "OLDPWD",
    ],
)
def test_names_that_are_not_secret(name: str) -> None:
    assert not is_secret_name(name)


def test_url_passwords_are_masked_wherever_they_are() -> None:
    text = "a postgres://admin:p@ss/w@db:5432/x, redis://:pw@cache:6379 and s3://bucket/a@b"
    assert mask_url_passwords(text) == (
        "a postgres://admin:***@db:5432/x, redis://:***@cache:6379 and s3://bucket/a@b"
    )


def test_mask_value_by_name_or_url() -> None:
    assert mask_value("S3_SECRET", "abc") == PLACEHOLDER
    assert mask_value("DATABASE_URL", "postgres://u:pw@h/db") == "postgres://u:***@h/db"
    assert mask_value("LOG_LEVEL", "info") == "info"


def test_mask_text_names_the_variable_or_hides_the_value() -> None:
    secrets = secret_values({"DB_PASSWORD": "hunter2", "DB_PASSWORD_OLD": "hunter", "TAG": "v1"})
    assert secrets == {"DB_PASSWORD": "hunter2", "DB_PASSWORD_OLD": "hunter"}
    # the longer value first, so one that contains another is replaced whole
    assert mask_text("got hunter2 then hunter", secrets) == (
        "got ${DB_PASSWORD} then ${DB_PASSWORD_OLD}"
    )
    assert mask_text("got hunter2", ["hunter2"]) == f"got {PLACEHOLDER}"


def test_printable_escapes_what_could_forge_a_line() -> None:
    assert printable("a\nerror: b\x1b[31m\tc") == "a\\nerror: b\\x1b[31m\\tc"
    assert printable("plain café") == "plain café"
