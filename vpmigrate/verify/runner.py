"""Run every check against a stack's targets, in order, one result per check."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from vpmigrate.errors import UserError
from vpmigrate.verify.mlflow import (
    MlflowArtifactCheck,
    MlflowHealthCheck,
    MlflowSession,
    MlflowTrackingCheck,
)
from vpmigrate.verify.postgres import PostgresCheck
from vpmigrate.verify.result import CheckResult, Problem, StackCheck, first_line
from vpmigrate.verify.s3 import S3AccessCheck, S3RoundTripCheck
from vpmigrate.verify.targets import StackTargets

# module → what to install (the `verify` dependency group of pyproject.toml)
CLIENT_LIBRARIES = {"psycopg": "psycopg[binary]", "boto3": "boto3", "mlflow": "mlflow-skinny"}


def require_clients() -> None:
    missing = [pkg for module, pkg in CLIENT_LIBRARIES.items() if not _installed(module)]
    if missing:
        raise UserError(
            f"`inv local.verify` needs the client libraries {', '.join(missing)}: install "
            "the verify extra with `.venv/bin/pip install -e '.[verify]'`, then re-run."
        )


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@dataclass(frozen=True)
class _Unavailable:
    """A check that cannot run because its target could not be found."""

    name: str
    problem: Problem

    def run(self) -> CheckResult:
        return self.problem.as_result(self.name)


def build_checks(targets: StackTargets) -> tuple[list[StackCheck], MlflowSession | None]:
    checks: list[StackCheck] = []
    if isinstance(targets.postgres, Problem):
        checks.append(_Unavailable("postgres", targets.postgres))
    else:
        checks.append(PostgresCheck(targets.postgres))
    session = None
    if isinstance(targets.mlflow, Problem):
        for name in ("mlflow-health", "mlflow-tracking"):
            checks.append(_Unavailable(name, targets.mlflow))
    else:
        session = MlflowSession(targets.mlflow, targets.s3)
        checks += [MlflowHealthCheck(session), MlflowTrackingCheck(session)]
    if isinstance(targets.s3, Problem):
        for name in ("s3-bucket", "s3-roundtrip"):
            checks.append(_Unavailable(name, targets.s3))
    else:
        checks += [S3AccessCheck(targets.s3), S3RoundTripCheck(targets.s3)]
    if session is not None:
        checks.append(MlflowArtifactCheck(session))
    elif isinstance(targets.mlflow, Problem):
        checks.append(_Unavailable("mlflow-artifact", targets.mlflow))
    return checks, session


def run_checks(targets: StackTargets) -> list[CheckResult]:
    """Every check's result, secrets masked. A check that crashes is reported, not raised:
    the other rows still tell the user what works."""
    checks, session = build_checks(targets)
    results = []
    try:
        for check in checks:
            try:
                result = check.run()
            except Exception as exc:  # noqa: BLE001 - one broken check must not hide the rest
                result = CheckResult(
                    check.name,
                    False,
                    f"unexpected {type(exc).__name__}: {first_line(exc)}",
                    "this looks like a bug in the check; the other rows still apply",
                )
            results.append(targets.redact.result(result))
    finally:
        if session is not None:
            session.finish()
    return results
