"""The .env / env_file format and the precedence between shell, .env, env_file and
`environment:`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.compose.conftest import FIXTURES, ComposeFolder
from vpmigrate.compose.envfiles import parse_env_text
from vpmigrate.errors import UserError


def test_env_file_syntax() -> None:
    text = (
        "# a comment\n"
        "\n"
        "PLAIN=value\n"
        "SPACED = padded value   \n"
        "COMMENTED=kept # dropped\n"
        "HASH=a#b\n"
        "export EXPORTED=yes\n"
        "SINGLE='no $PLAIN expansion \\n'\n"
        'DOUBLE="line1\\nline2 $PLAIN"\n'
        'MULTI="first\n'
        'second"\n'
        "EMPTY=\n"
        "DERIVED=${PLAIN}-${MISSING:-fallback}\n"
        "ESCAPED=$$PLAIN\n"
    )
    assert parse_env_text(text, Path("x.env"), {}) == {
        "PLAIN": "value",
        "SPACED": "padded value",
        "COMMENTED": "kept",
        "HASH": "a#b",
        "EXPORTED": "yes",
        "SINGLE": "no $PLAIN expansion \\n",
        "DOUBLE": "line1\nline2 value",
        "MULTI": "first\nsecond",
        "EMPTY": "",
        "DERIVED": "value-fallback",
        "ESCAPED": "$PLAIN",
    }


def test_bare_key_takes_the_outer_value_or_is_left_out() -> None:
    assert parse_env_text("PRESENT\nABSENT\n", Path("x.env"), {"PRESENT": "outer"}) == {
        "PRESENT": "outer"
    }


def test_references_look_at_the_outer_environment_first() -> None:
    # Compose: in `Y=${X}` the shell's X wins over an X defined earlier in the file.
    assert parse_env_text("X=file\nY=${X}\n", Path("x.env"), {"X": "shell"}) == {
        "X": "file",
        "Y": "shell",
    }


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("OK=1\nA~B=2\n", 2),
        ("OK=1\nA B=2\n", 2),
        ("OK=1\n=no name\n", 2),
        ("OK=1\nBARE # a comment after a bare key\n", 2),
        ('OK=1\n\nQ="never closed\n', 3),
        ("OK=1\nQ='never closed\\'\n", 2),
        ("OK=${BROKEN\n", 1),
    ],
)
def test_a_bad_line_is_reported_with_file_and_line(text: str, line: int) -> None:
    with pytest.raises(UserError, match=rf"^x\.env:{line}: "):
        parse_env_text(text, Path("x.env"), {})


COMPOSE = """\
services:
  app:
    image: busybox
    env_file: [base.env, local.env]
    environment:
      FROM_ENVIRONMENT: ${SOURCE}
      OVERRIDDEN: environment
      PASSED_THROUGH:
      KEPT_FROM_FILE:
"""


def test_precedence_shell_over_dotenv_and_environment_over_env_file(
    folder: ComposeFolder,
) -> None:
    folder.write("compose.yml", COMPOSE)
    folder.write(".env", "SOURCE=dotenv\nPASSED_THROUGH=dotenv\nONLY_DOTENV=yes\n")
    folder.write("base.env", "OVERRIDDEN=base\nIN_BOTH=base\nKEPT_FROM_FILE=base\n")
    folder.write("local.env", "IN_BOTH=local\nREF=${SOURCE}\n")
    project = folder.load(environ={"SOURCE": "shell"})
    assert dict(project.services["app"].environment) == {
        "FROM_ENVIRONMENT": "shell",  # the shell beats .env for interpolation
        "OVERRIDDEN": "environment",  # `environment:` beats env_file
        "IN_BOTH": "local",  # the later env_file wins
        "REF": "shell",  # env_file values are interpolated like the compose file
        "PASSED_THROUGH": "dotenv",  # a bare key takes the value .env provides
        "KEPT_FROM_FILE": "base",  # a bare key without a value keeps the env_file's
    }
    assert project.environment["ONLY_DOTENV"] == "yes"
    assert project.environment["SOURCE"] == "shell"


def test_explicit_env_files_replace_dotenv_and_later_ones_win(folder: ComposeFolder) -> None:
    folder.write("compose.yml", "services: {app: {image: 'busybox:${TAG}'}}\n")
    folder.write(".env", "TAG=from-default-dotenv\n")
    first = folder.write("one.env", "TAG=one\n")
    second = folder.write("two.env", "TAG=two\n")
    assert folder.load(env_files=[first]).services["app"].image == "busybox:one"
    assert folder.load(env_files=[first, second]).services["app"].image == "busybox:two"
    assert folder.load().services["app"].image == "busybox:from-default-dotenv"


def test_a_missing_explicit_env_file_is_an_error(folder: ComposeFolder) -> None:
    folder.write("compose.yml", "services: {app: {image: busybox}}\n")
    expected = r"nowhere\.env: the env file does not exist; check the --env-file option"
    with pytest.raises(UserError, match=expected):
        folder.load(env_files=[folder.root / "nowhere.env"])


def test_env_file_required_and_optional(folder: ComposeFolder) -> None:
    path = folder.write(
        "compose.yml",
        """\
        services:
          app:
            image: busybox
            env_file:
              - path: optional.env
                required: false
              - missing.env
        """,
    )
    with pytest.raises(UserError) as caught:
        folder.load()
    assert str(caught.value).startswith(f"{path}:7: service 'app': env_file: env file ")
    assert "missing.env does not exist" in str(caught.value)
    folder.write("missing.env", "NOW=here\n")
    assert dict(folder.load().services["app"].environment) == {"NOW": "here"}


def test_every_env_file_rule_reads_as_docker_compose_reads_it(folder: ComposeFolder) -> None:
    """The fixture holds each rule where parsers differ (BOM, `KEY: value`, escaped
    quotes, keys starting with a digit, `\\a \\b \\f \\v`, comments, bare keys, ...)."""
    from tests.compose.test_compose_compat import reference_config

    shutil.copy(FIXTURES / "syntax.env", folder.root / "syntax.env")
    compose = folder.write(
        "compose.yml", "services:\n  app:\n    image: busybox\n    env_file: [syntax.env]\n"
    )
    outer = {"OUTER": "from the shell"}
    expected = reference_config([compose], environ=outer)["services"]["app"]["environment"]
    ours = dict(folder.load(environ=outer).services["app"].environment)
    assert ours == expected
    # the cases that differed before, spelled out
    assert ours["ESCAPES"] == "bell\a back\b feed\f tab\t vtab\v cr\r nl\n slash\\ dollar$ other\\q"
    assert ours["COLON"] == "colon value" and ours["1DIGIT"] == "digit first"
    assert ours["ESCAPED_QUOTE"] == 'say "hi" now' and ours["SINGLE_ESCAPED"] == "it's"
    assert ours["BOM_BEFORE_FIRST_KEY"] == "first" and "NOT_IN_OUTER" not in ours


def test_one_dotenv_means_the_same_to_local_and_railway_tasks(folder: ComposeFolder) -> None:
    """Issue 14: python-dotenv (railway.*) and this parser (local.*) read these lines
    differently; now both tasks read `.env` here."""
    from vpmigrate.railway.settings import merged_environment

    dotenv = folder.write(
        ".env",
        "B=set\nALT=${B:+alt}\nREQ=${X:?set X}\nDOLLAR=a$$b\nBARE\nBARE_UNSET\n",
    )
    folder.write("compose.yml", "services: {app: {image: busybox}}\n")
    shell = {"X": "from-shell", "BARE": "bare-from-shell"}
    local = dict(folder.load(environ=shell).environment)
    railway = merged_environment(dotenv, shell)
    assert railway == local
    assert {k: railway[k] for k in ("ALT", "REQ", "DOLLAR", "BARE")} == {
        "ALT": "alt",
        "REQ": "from-shell",
        "DOLLAR": "a$b",
        "BARE": "bare-from-shell",
    }
    assert "BARE_UNSET" not in railway
    with pytest.raises(UserError, match=r"\.env:3: REQ: required variable X .*: set X"):
        merged_environment(dotenv, {})
