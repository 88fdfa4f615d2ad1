"""Compose's interpolation forms, on single values and through the loader."""

from __future__ import annotations

import pytest

from tests.compose.conftest import ComposeFolder
from vpmigrate.compose.interpolation import interpolate
from vpmigrate.errors import UserError

ENV = {"SET": "value", "EMPTY": "", "OTHER": "other"}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$SET", "value"),
        ("${SET}", "value"),
        ("a-${SET}-b/$OTHER.txt", "a-value-b/other.txt"),
        ("${UNSET}", ""),
        ("$UNSET", ""),
        ("${UNSET:-default}", "default"),
        ("${EMPTY:-default}", "default"),
        ("${SET:-default}", "value"),
        ("${UNSET-default}", "default"),
        ("${EMPTY-default}", ""),
        ("${SET:+replacement}", "replacement"),
        ("${EMPTY:+replacement}", ""),
        ("${UNSET:+replacement}", ""),
        ("${EMPTY+replacement}", "replacement"),
        ("${UNSET+replacement}", ""),
        ("${SET:?message}", "value"),
        ("${EMPTY?message}", ""),
        ("${UNSET:-${ALSO_UNSET:-${OTHER}}}", "other"),
        ("${UNSET:-x${SET}y}", "xvaluey"),
        ("${UNSET:-}", ""),
        ("$$SET", "$SET"),
        ("$${SET}", "${SET}"),
        ("${UNSET:-$${SET}}", "${SET}"),
        ("cost: $5, end$", "cost: $5, end$"),
        ("${UNSET:-a}b}", "ab}"),
    ],
)
def test_every_form_expands_as_compose_does(template: str, expected: str) -> None:
    assert interpolate(template, ENV, where="f.yml:1") == expected


def test_an_unused_default_is_not_evaluated() -> None:
    assert interpolate("${SET:-${MISSING:?never raised}}", ENV, where="f.yml:1") == "value"


@pytest.mark.parametrize(
    ("template", "variable", "message"),
    [
        ("${UNSET:?set UNSET in .env}", "UNSET", "set UNSET in .env"),
        ("${EMPTY:?cannot be empty}", "EMPTY", "cannot be empty"),
        ("${UNSET?needed}", "UNSET", "needed"),
        ("${UNSET:?needs $OTHER}", "UNSET", "needs other"),
    ],
)
def test_a_missing_required_variable_names_variable_message_and_place(
    template: str, variable: str, message: str
) -> None:
    with pytest.raises(UserError) as caught:
        interpolate(template, ENV, where="compose.yml:7: services.db.image")
    text = str(caught.value)
    assert text.startswith("compose.yml:7: services.db.image: ")
    assert f"required variable {variable} is missing a value: {message}" in text


@pytest.mark.parametrize("template", ["${}", "${A B}", "${NAME", "${1X}", "${X/y}", "${X:=y}"])
def test_an_invalid_expression_is_reported_with_its_place(template: str) -> None:
    with pytest.raises(UserError, match=r"^f\.yml:3: invalid interpolation"):
        interpolate(template, ENV, where="f.yml:3")


def test_unset_variables_are_collected_for_warnings() -> None:
    unset: set[str] = set()
    interpolate("${A}-$B-${C:-x}-${SET}", ENV, where="f:1", unset=unset)
    assert unset == {"A", "B"}


def test_loader_reports_missing_required_variable_with_file_and_line(
    folder: ComposeFolder,
) -> None:
    path = folder.write(
        "compose.yml",
        """\
        services:
          db:
            image: postgres
            environment:
              POSTGRES_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD in .env}
        """,
    )
    with pytest.raises(UserError) as caught:
        folder.load()
    text = str(caught.value)
    assert text.startswith(f"{path}:5: services.db.environment.POSTGRES_PASSWORD: ")
    assert "required variable DB_PASSWORD is missing a value: set DB_PASSWORD in .env" in text


def test_loader_reports_invalid_expression_with_file_and_line(folder: ComposeFolder) -> None:
    path = folder.write(
        "compose.yml",
        """\
        services:
          web:
            image: "busybox:${TAG"
        """,
    )
    with pytest.raises(UserError, match=rf"^{path}:3: services\.web\.image: invalid interp"):
        folder.load()


def test_keys_are_not_interpolated_and_extensions_are_ignored(folder: ComposeFolder) -> None:
    folder.write(
        "compose.yml",
        """\
        x-unused: ${NOT_SET:-extension fields are interpolated too}
        services:
          web:
            x-notes: ${ALSO_NOT_SET:-but not used}
            image: busybox
            labels:
              $KEY: $VALUE
              x-team: ${VALUE}
        """,
    )
    project = folder.load(environ={"KEY": "k", "VALUE": "v"})
    assert dict(project.services["web"].labels) == {"$KEY": "v", "x-team": "v"}
    assert dict(project.extensions) == {"x-unused": "extension fields are interpolated too"}


def test_a_required_variable_in_an_extension_field_is_still_required(
    folder: ComposeFolder,
) -> None:
    # `docker compose config` fails on it too: extension fields are interpolated.
    path = folder.write("compose.yml", "x-unused: ${NOT_SET:?boom}\nservices: {a: {image: x}}\n")
    with pytest.raises(UserError, match=rf"^{path}:1: x-unused: required variable NOT_SET"):
        folder.load()


def test_numbers_and_flags_may_come_from_variables(folder: ComposeFolder) -> None:
    folder.write(
        "compose.yml",
        """\
        services:
          web:
            image: busybox
            tty: ${TTY:-false}
            ports: ["${PORT:-8080}:80"]
            healthcheck:
              test: ["CMD", "true"]
              retries: ${RETRIES}
              interval: ${INTERVAL:-1m30s}
        """,
    )
    web = folder.load(environ={"TTY": "true", "RETRIES": "7", "PORT": "9000"}).services["web"]
    assert web.tty is True
    assert web.ports[0].published == 9000
    assert web.healthcheck is not None
    assert (web.healthcheck.retries, web.healthcheck.interval_s) == (7, 90.0)
