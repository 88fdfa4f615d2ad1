"""Hostile input and faults for `railway.*` (issue 15), against the Railway stand-in:
each case ends with its exit code, never a traceback, never a hang, and no secret
(the tokens, the S3 keys, values read from Railway, a URL's password) in any output.

The faults are the stand-in's (devkit/railway_standin.py): raw bodies, HTTP errors, a
gzip bomb, an answer dripped one byte at a time, an error that echoes the request
(headers included), an answer lost after the request was applied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.railway.conftest import (
    ACCESS_KEY,
    ACCOUNT_TOKEN,
    REPO_ROOT,
    SECRET_KEY,
    World,
    _world,
    run_inv,
)

# Planted on Railway's side: values that must never be printed, whatever their names.
RAILWAY_VALUES = {
    "SENTRY_DSN": "https://sentry-key-5c1e@o1.ingest.example/7",
    "NOTES": "not-a-secret-by-name-8812",
    "DATABASE_URL": "postgresql://app:db-pass-9931@db:5432/app",
}
URL_PASSWORD = "url-pass-6613"
SECRETS = (
    ACCOUNT_TOKEN,
    SECRET_KEY,
    ACCESS_KEY,
    "pg-password-x81",
    "jwt-secret-c0ffee",
    URL_PASSWORD,
    *RAILWAY_VALUES.values(),
)


@dataclass(frozen=True)
class Case:
    """One hostile input: ``arrange`` sets it up (faults, files) and returns the
    arguments to `inv`; the run must exit ``code`` with ``phrases`` in its output."""

    name: str
    arrange: Callable[[World, Path], list[str]]
    code: int
    phrases: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()  # words that must not appear (e.g. a wrong cause)
    env: dict[str, str] = field(default_factory=dict)
    token: str | None = ACCOUNT_TOKEN
    check: Callable[[World], None] = lambda world: None


def _plant(world: World) -> None:
    world.vars("backend").update(RAILWAY_VALUES)


def _fault(kind: str, **options: object) -> Callable[[World, Path], list[str]]:
    def arrange(world: World, folder: Path) -> list[str]:
        world.api.fail(kind, times=options.pop("times", 1), **options)  # type: ignore[arg-type]
        return ["railway.status"]

    return arrange


def _command(*args: str) -> Callable[[World, Path], list[str]]:
    return lambda world, folder: list(args)


def _broker(value: str) -> Callable[[World, Path], list[str]]:
    """The shipped file with mlflow-service given BROKER: ``value``, planned dry."""

    def arrange(world: World, folder: Path) -> list[str]:
        path = folder / "railway.yml"
        text = (REPO_ROOT / "env/railway.yml").read_text()
        path.write_text(
            text.replace("PORT: ${mlflow.port}", f"BROKER: {value}\n        PORT: '5000'")
        )
        return ["railway.sync-env", "--dry-run", "--file", str(path)]

    return arrange


def _file(content: bytes | None, *args: str) -> Callable[[World, Path], list[str]]:
    def arrange(world: World, folder: Path) -> list[str]:
        path = folder / "desired.yml"
        if content is None:
            path.mkdir()
        else:
            path.write_bytes(content)
        return ["railway.sync-env", "--dry-run", *args, "--file", str(path)]

    return arrange


def _echo(operation: str) -> Callable[[World, Path], list[str]]:
    def arrange(world: World, folder: Path) -> list[str]:
        world.api.fail("echo", operation=operation, message="Problem processing request")
        return ["railway.sync-env"]

    return arrange


def _no_mutation(world: World) -> None:
    assert world.api.mutations() == []


def _one_create(world: World) -> None:
    assert world.api.mutation_fields().count("serviceCreate") == 1
    assert list(world.project.services.values()).count("mlflow-service") == 1


def _redeployed(world: World) -> None:
    assert world.redeploys("backend") == 1
    assert "LOG_LEVEL" not in world.vars("backend")


def _drop_writes(world: World, folder: Path) -> list[str]:
    world.api.fail("drop", operation="VariableWrites")
    return ["railway.sync-env", "--prune", "--yes", "--service", "backend"]


def _drop_create(world: World, folder: Path) -> list[str]:
    world.api.fail("drop", operation="ServiceCreate")
    for service_id, name in list(world.project.services.items()):
        if name == "mlflow-service":
            del world.project.services[service_id]
    return ["railway.provision"]


def _hostile_names(world: World, folder: Path) -> list[str]:
    world.project.services["svc-evil"] = "evil\n\x1b[31mforged line\x1b[0m"
    world.state.variables[(world.state.env_id(world.project, "production"), "svc-evil")] = {}
    for service_id, name in list(world.project.services.items()):
        if name == "mlflow-service":
            del world.project.services[service_id]
    return ["railway.sync-env"]


CASES = [
    Case(
        "token-non-ascii",
        _command("railway.status"),
        1,
        ("RAILWAY_API_TOKEN contains a non-ASCII character",),
        token="acct-t\u00f6ken-7c1d9e",
        absent=("t\u00f6ken",),
    ),
    Case(
        "token-newline",
        _command("railway.status"),
        1,
        ("RAILWAY_API_TOKEN contains a space or control character",),
        token="acct-token\nX-Evil: 1",
    ),
    *[
        Case(
            f"api-url-{label}",
            _command("railway.status"),
            1,
            ("RAILWAY_API_URL", phrase),
            env={"RAILWAY_API_URL": url},
        )
        for label, url, phrase in [
            ("no-scheme", "backboard.railway.com/graphql/v2", "is not an http(s) URL"),
            ("bad-ipv6", "http://[::1/graphql", "is not a valid URL"),
            ("bad-port", "https://backboard.railway.com:99999/x", "is not a valid URL"),
            ("space", "https://backboard .railway.com/x", "contains a space"),
            ("plain-http", "http://backboard.railway.com/graphql/v2", "plain http"),
            ("credentials", f"https://me:{URL_PASSWORD}@backboard.railway.com/x", "credentials"),
        ]
    ],
    Case("retry-after-nan", _fault("rate_limit", retry_after="NaN"), 0),
    Case("retry-after-negative", _fault("rate_limit", retry_after="-5"), 0),
    Case(
        "data-empty",
        _fault("raw", body=b'{"data": {}}'),
        1,
        ("unexpected shape", "RAILWAY_API_URL"),
    ),
    Case(
        "project-null",
        _fault("raw", body=b'{"data": {"project": null}}'),
        1,
        ("unexpected shape",),
    ),
    Case("body-not-json", _fault("raw", body=b"\x00\xff garbage"), 1, ("not JSON",)),
    Case(
        "json-nested-deep",
        _fault("raw", body=b"[" * 200_000 + b"]" * 200_000),
        1,
        ("RAILWAY_API_URL",),
    ),
    Case(
        "gzip-bomb",
        _fault("gzip_bomb", size=256 * 1024 * 1024),
        1,
        ("larger than 16 MiB once decompressed",),
    ),
    Case(
        "slow-drip",
        _fault("drip", delay=2.0, times=5),
        1,
        ("no complete answer within 3 s",),
        env={"INVOKE_RAILWAY_RETRY_TIMEOUT": "3", "INVOKE_RAILWAY_RETRY_ATTEMPTS": "2"},
    ),
    Case(
        "http-403-html",
        _fault(
            "status",
            status=403,
            body=b"<html><body>Forbidden</body></html>",
            content_type="text/html",
            times=9,
        ),
        1,
        ("HTTP 403", "not an outage"),
        absent=("degraded",),
    ),
    Case(
        "http-401-json",
        _fault("status", status=401, body=b"{}", times=9),
        1,
        ("HTTP 401",),
        absent=("degraded",),
    ),
    Case(
        "http-404",
        _fault("status", status=404, body=b"Not Found", content_type="text/plain"),
        1,
        ("HTTP 404", "RAILWAY_API_URL"),
    ),
    Case("echo-on-read", _echo("Variables"), 1, ("Problem processing request",)),
    Case(
        "echo-on-write", _echo("VariableWrites"), 1, ("Problem processing request", "Not attempted")
    ),
    Case(
        "server-message-with-escapes",
        _fault("graphql_error", message="bad\n\x1b[2Kerror: forged\rline"),
        1,
        ("bad\\n\\x1b[2Kerror: forged\\rline",),
    ),
    Case(
        "railway-names-with-escapes",
        _hostile_names,
        1,
        ("evil\\n\\x1b[31mforged line",),
        absent=("\x1b[",),
    ),
    Case(
        "empty-service",
        _command("railway.sync-env", "--service", ""),
        1,
        ("--service was given an empty value",),
        check=_no_mutation,
    ),
    Case(
        "empty-environment",
        _command("railway.sync-env", "--environment", ""),
        1,
        ("--environment was given an empty value",),
        check=_no_mutation,
    ),
    Case(
        "environment-and-all",
        _command("railway.status", "-e", "production", "--all-environments"),
        1,
        ("give one or the other",),
    ),
    Case("status-extras", _command("railway.status"), 0, ("NOTES", "SENTRY_DSN", "fp:")),
    Case(
        "status-json-extras", _command("railway.status", "--json", "--prune"), 0, ("NOTES", "fp:")
    ),
    Case(
        "prune-dry-run-extras",
        _command("railway.sync-env", "--prune", "--dry-run"),
        0,
        ("NOTES", "remove"),
        check=_no_mutation,
    ),
    Case(
        "prune-json-extras",
        _command("railway.sync-env", "--prune", "--dry-run", "--json"),
        0,
        ("NOTES",),
        check=_no_mutation,
    ),
    Case(
        "literal-url-password",
        _broker(f"amqp://app:{URL_PASSWORD}@mq/"),
        0,
        ("BROKER", "fp:"),
        check=_no_mutation,
    ),
    Case(
        "unterminated-expression-on-a-password-line",
        _broker(f"amqp://app:{URL_PASSWORD}@mq/${{oops"),
        1,
        ("malformed",),
        check=_no_mutation,
    ),
    Case(
        "inv-dry-sync",
        _command("--dry", "railway.sync-env", "--prune", "--yes"),
        0,
        ("dry run",),
        check=_no_mutation,
    ),
    Case(
        "inv-dry-provision",
        _command("--dry", "railway.provision", "--public-domain"),
        0,
        ("dry run",),
        check=_no_mutation,
    ),
    Case("lost-create-answer", _drop_create, 0, ("it was created",), check=_one_create),
    Case(
        "lost-write-answer-with-deletions",
        _drop_writes,
        0,
        ("read back: everything was applied",),
        absent=("not applied",),
        check=_redeployed,
    ),
    Case("file-directory", _file(None), 1, ("is a folder",), check=_no_mutation),
    Case("file-latin-1", _file(b"version: 1\n# caf\xe9\n"), 1, ("not UTF-8",), check=_no_mutation),
    Case(
        "file-nested",
        _file(b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n"),
        1,
        ("nested more than",),
        check=_no_mutation,
    ),
]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from _world(tmp_path, with_mlflow=True)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_railway_input(world: World, tmp_path: Path, case: Case) -> None:
    _plant(world)
    args = case.arrange(world, tmp_path)

    result = run_inv(world, *args, token=case.token, extra_env=case.env)

    output = result.stdout + result.stderr
    shown = f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == case.code, shown
    assert "Traceback" not in output, shown
    if case.code:
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, shown
    for phrase in case.phrases:
        assert phrase in output, shown
    for word in case.absent:
        assert word not in output, shown
    for secret in SECRETS:
        assert secret not in output, f"{secret!r} printed:\n{shown}"
    case.check(world)
