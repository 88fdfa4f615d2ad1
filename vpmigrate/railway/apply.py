"""Write a plan to Railway service by service, redeploy, read back and verify."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vpmigrate.errors import UserError
from vpmigrate.railway.api import RailwayBackend
from vpmigrate.railway.plan import Plan
from vpmigrate.railway.target import Target


@dataclass(frozen=True)
class ApplyResult:
    written: tuple[str, ...]
    redeployed: tuple[str, ...]


def _progress_none(message: str) -> None:
    return None


def apply_plan(
    plan: Plan,
    backend: RailwayBackend,
    target: Target,
    *,
    deploy: bool = True,
    redeploy_all: bool = False,
    progress: Callable[[str], None] = _progress_none,
) -> ApplyResult:
    """One variableCollectionUpsert per changed service (skipDeploys), its deletions,
    then its redeploy; service after service, so a failure leaves whole services
    done or untouched and a re-run finishes the rest. ``redeploy_all`` also
    redeploys the plan's services that had nothing to write. Raises UserError
    naming what was applied and what was not."""
    to_write = plan.services_to_write()
    services = to_write + tuple(s for s in plan.services() if redeploy_all and s not in to_write)
    written: list[str] = []
    redeployed: list[str] = []
    for index, service in enumerate(services):
        service_id = target.services[service]
        stage = "variables"
        try:
            if service in to_write:
                _write(plan, backend, target, service, progress)
                written.append(service)
            if deploy:
                stage = "redeploy"
                backend.redeploy(target.environment_id, service_id)
                redeployed.append(service)
                progress(f"{service}: redeploy triggered")
        except UserError as exc:
            raise UserError(
                _partial_message(exc, service, stage, written, services[index + 1 :]),
                exit_code=exc.exit_code,
            ) from None
    _verify(plan, backend, target, written)
    return ApplyResult(tuple(written), tuple(redeployed))


def _write(
    plan: Plan,
    backend: RailwayBackend,
    target: Target,
    service: str,
    progress: Callable[[str], None],
) -> None:
    service_id = target.services[service]
    upserts = plan.upserts(service)
    if upserts:
        backend.upsert_variables(target.project_id, target.environment_id, service_id, upserts)
    for name in plan.deletions(service):
        backend.delete_variable(target.project_id, target.environment_id, service_id, name)
    progress(f"{service}: {len(upserts)} set, {len(plan.deletions(service))} removed")


def _partial_message(
    exc: UserError, failed: str, stage: str, written: list[str], untouched: tuple[str, ...]
) -> str:
    done = ", ".join(written) or "none"
    if stage == "redeploy":
        what = (
            f"{failed}: variables in place, but its redeploy failed (a plain re-run sees it in "
            f"sync; `inv railway.sync-env --redeploy --service {failed}` redeploys it)"
        )
    else:
        what = f"{failed}: not applied (a re-run applies it)"
    rest = ", ".join(untouched) or "none"
    cause = exc.message if exc.message.endswith((".", "!", "?")) else f"{exc.message}."
    return f"{cause} Applied: {done}. Failed: {what}. Not attempted: {rest}."


def _verify(plan: Plan, backend: RailwayBackend, target: Target, services: list[str]) -> None:
    for service in services:
        now = backend.variables(target.project_id, target.environment_id, target.services[service])
        wrong = [n for n, v in plan.upserts(service).items() if now.get(n) != v]
        left = [n for n in plan.deletions(service) if n in now]
        if wrong or left:
            raise UserError(
                f"verification failed on {service}: after writing, Railway reports "
                f"{', '.join(wrong + left)} not as planned. Run `inv railway.status` and re-run "
                "sync-env; if it persists, check the service in Railway's dashboard."
            )
