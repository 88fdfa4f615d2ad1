"""When is a container ready? Compose's `depends_on` conditions and `up --wait`'s rule.

The engine first evaluates a healthcheck one `interval` after start. To start
dependents sooner, `up` also runs the service's own healthcheck command in the container
as soon as it runs (a `Probe`): the same check, not delayed. It answers only for
`depends_on` conditions; whether the stack is ready is the engine's word alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from vpmigrate.compose.model import DependencyCondition, Healthcheck, Service
from vpmigrate.engine import hostconfig
from vpmigrate.engine.state import ContainerState

# Compose's three `depends_on` conditions, and `ready`: what `up` waits for at the end.
Condition = DependencyCondition | Literal["ready"]
# Runs a service's healthcheck command in a container now (Engine.probe).
Probe = Callable[[str, Healthcheck], bool]


@dataclass(frozen=True)
class Readiness:
    done: bool  # the condition holds
    failed: bool = False  # it can no longer hold
    reason: str = ""


WAITING = Readiness(done=False)


def is_one_shot(service: Service) -> bool:
    """A job that is expected to exit: the engine does not start it again after exit 0.
    Judged on the policy its container gets (`deploy.restart_policy` or `restart:`)."""
    policy = hostconfig.effective_restart(service)
    return policy == "no" or policy.startswith("on-failure")


def has_healthcheck(service: Service, state: ContainerState) -> bool:
    if service.healthcheck is not None and service.healthcheck.test:
        return not service.healthcheck.disabled
    return bool(state.health)  # a healthcheck baked into the image


def judge(
    condition: Condition,
    service: Service,
    state: ContainerState,
    probe: Probe | None = None,
) -> Readiness:
    """Does `state` satisfy `condition`? Conditions: Compose's three, plus `ready`
    (what `up` waits for at the end: healthy, running without healthcheck, or a one-shot
    job that exited 0)."""
    status, code = state.status, state.exit_code
    if condition == "service_completed_successfully":
        if status == "exited":
            if code == 0:
                return Readiness(True)
            return Readiness(False, True, f"exited with code {code}")
        if status == "dead":
            return Readiness(False, True, "is dead")
        return WAITING
    if status in ("exited", "dead"):
        if condition == "ready" and status == "exited" and code == 0 and is_one_shot(service):
            return Readiness(True, reason="completed")
        if condition == "service_started" and status == "exited" and code == 0:
            return Readiness(True)
        return Readiness(
            False, True, f"exited with code {code}" if status == "exited" else "is dead"
        )
    if status == "restarting":
        return Readiness(False, True, f"is restarting (last exit code {code})")
    if status != "running":
        return WAITING
    if condition == "service_started":
        return Readiness(True)
    if not has_healthcheck(service, state):
        if condition == "service_healthy":
            return Readiness(
                False, True, "has no healthcheck, so `condition: service_healthy` can never hold"
            )
        return Readiness(True)
    if state.health == "healthy":
        return Readiness(True)
    if state.health == "unhealthy":
        return Readiness(False, True, "is unhealthy")
    if (
        probe is not None
        and service.healthcheck is not None
        and probe(state.id, service.healthcheck)
    ):
        return Readiness(True, reason="healthcheck passed")
    return WAITING
