"""vpmigrate.masking: which names are secret, and masking values in text."""

from __future__ import annotations

import base64
import json

import pytest

from vpmigrate.masking import (
    PLACEHOLDER,
    Masker,
    StreamMask,
    is_secret_name,
    mask_assignments,
    mask_text,
    mask_tree,
    mask_url_passwords,
    mask_value,
    masked_chunks,
    printable,
    secret_values,
    url_passwords,
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


def test_url_passwords_are_found_alone() -> None:
    assert url_passwords("a redis://:pw1@cache:6379 b postgres://u:p@ss@db/x s3://b/a@c") == [
        "pw1",
        "p@ss",
    ]


def test_the_masker_hides_known_values_in_their_escaped_forms_too() -> None:
    mask = Masker(['se"cr\\et-1', "caf\u00e9-secret", "abc"])
    echoed = json.dumps({"v": 'se"cr\\et-1', "w": "caf\u00e9-secret"})
    assert "cr" not in mask(echoed) and "caf" not in mask(echoed)
    assert mask(repr("caf\u00e9-secret")) == "'***'"
    assert mask("abc stays: too short to mask inside other text") == (
        "abc stays: too short to mask inside other text"
    )
    assert mask('{"Authorization": "Bearer tok-123", "db_password": "x"}') == (
        '{"Authorization": "Bearer ***", "db_password": "***"}'
    )


def test_mask_tree_masks_by_key_and_by_value() -> None:
    mask = Masker(["known-secret-value"])
    document = {
        "services": {
            "db": {
                "environment": {"DB_PASSWORD": "x", "URL": "pg://u:pw@h/d", "LEVEL": "info"},
                "command": ["run", "--with", "known-secret-value", "API_TOKEN=abc def"],
                "ports": [{"target": 5432, "published": "5432"}],
                "secrets": [{"source": "db_password"}],
            }
        }
    }
    assert mask_tree(document, mask) == {
        "services": {
            "db": {
                "environment": {"DB_PASSWORD": "***", "URL": "pg://u:***@h/d", "LEVEL": "info"},
                "command": ["run", "--with", "***", "API_TOKEN=***"],
                "ports": [{"target": 5432, "published": "5432"}],
                "secrets": [{"source": "db_password"}],
            }
        }
    }


def test_a_stream_is_masked_across_chunk_boundaries() -> None:
    mask = Masker(["s3cret-value", "line one\nline two"])
    text = b"start s3cret-value, then line one\nline two and a://u:pw@h end\n tail"
    for size in (1, 2, 3, 5, 7, 64):
        chunks = [text[i : i + size] for i in range(0, len(text), size)]
        shown = b"".join(masked_chunks(chunks, mask))
        assert shown == b"start ***, then *** and a://u:***@h end\n tail", size


def test_a_stream_lets_complete_lines_through_at_once() -> None:
    stream = StreamMask(Masker(["s3cret-value"]), max_partial=10)
    assert stream.feed(b"first line\nsecond s3") == b"first line\n"
    assert stream.feed(b"cret-value!\r") == b"second ***!\r"
    assert stream.feed(b"a long line without its end, s3c") == b"a long line without its end, "
    assert stream.flush() == b"s3c"


def test_assignments_of_secret_names_are_masked_in_quoted_files() -> None:
    diff = (
        "+      BACKUP_TOKEN: abcdef\n"
        "-      - DB_PASSWORD=xyz  # old\n"
        "       POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set it in .env}\n"
        "       \"API_KEY\": 'q r s'\n"
        "       image: postgres:16\n"
        "       key_file: |\n"
    )
    assert mask_assignments(diff) == (
        "+      BACKUP_TOKEN: ***\n"
        "-      - DB_PASSWORD=***  # old\n"
        "       POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set it in .env}\n"
        '       "API_KEY": ***\n'
        "       image: postgres:16\n"
        "       key_file: |\n"
    )


def test_short_values_are_masked_only_where_they_stand_alone() -> None:
    secrets = {"PGADMIN_PASSWORD": "admin", "DISABLE_AUTH": "1", "DB_PASSWORD": "dev-pass"}
    assert mask_text("pgadmin: login admin/dev-pass, line 1 of 12", secrets) == (
        "pgadmin: login ${PGADMIN_PASSWORD}/${DB_PASSWORD}, line 1 of 12"
    )
    mask = Masker(["admin", "a-long-random-token"])
    assert mask("pgadmin admin xa-long-random-tokenx") == "pgadmin *** x***x"


def test_the_masker_hides_basic_credentials_but_not_the_word() -> None:
    """An MLflow server echoing the request shows `Authorization: Basic <base64 of
    user:password>`: the password is in it, encoded."""
    mask = Masker()
    encoded = base64.b64encode(b"alice:s3cret-pw").decode()
    assert mask(f'{{"Authorization": "Basic {encoded}"}}') == '{"Authorization": "Basic ***"}'
    assert mask("Basic authentication failed") == "Basic authentication failed"
