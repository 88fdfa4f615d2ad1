"""When is a container ready? Compose's `depends_on` conditions and `up --wait`'s rule.

The engine first evaluates a healthcheck one `interval` after start. To start
dependents sooner we also run the service's own healthcheck command in the container
as soon as it runs: it is the same check, just not delayed. What we report as the
health is still the engine's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vpmigrate.compose.model import Healthcheck, Service
from vpmigrate.engine.state import ContainerState

if TYPE_CHECKING:
    import docker


@dataclass(frozen=True)
class Readiness:
    done: bool  # the condition holds
    failed: bool = False  # it can no longer hold
    reason: str = ""


WAITING = Readiness(done=False)
DEFAULT_PROBE_TIMEOUT_S = 30.0  # Docker's default healthcheck timeout
PROBE_POLL_S = 0.02


def is_one_shot(service: Service) -> bool:
    """A job that is expected to exit: it never restarts by itself."""
    return service.restart in ("", "no") or service.restart.startswith("on-failure")


def has_healthcheck(service: Service, state: ContainerState) -> bool:
    if service.healthcheck is not None and service.healthcheck.test:
        return not service.healthcheck.disabled
    return bool(state.health)  # a healthcheck baked into the image


def judge(
    condition: str,
    service: Service,
    state: ContainerState,
    probe: ProbeRunner | None = None,
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


class ProbeRunner:
    """Runs a service's healthcheck command inside its container."""

    def __init__(self, client: docker.DockerClient) -> None:
        self._client = client

    def __call__(self, container_id: str, check: Healthcheck) -> bool:
        from docker.errors import APIError

        if not check.test or check.test[0] not in ("CMD", "CMD-SHELL"):
            return False
        argv = list(check.test[1:]) if check.test[0] == "CMD" else ["/bin/sh", "-c", check.test[1]]
        # Detached, then polled: a hanging check must not hold the waiter past its timeout.
        deadline = time.monotonic() + (check.timeout_s or DEFAULT_PROBE_TIMEOUT_S)
        try:
            exec_id = self._client.api.exec_create(container_id, argv, stdout=False, stderr=False)
            self._client.api.exec_start(exec_id["Id"], detach=True)
            while True:
                result = self._client.api.exec_inspect(exec_id["Id"])
                if not result.get("Running"):
                    return result.get("ExitCode") == 0
                if time.monotonic() > deadline:
                    return False
                time.sleep(PROBE_POLL_S)
        except APIError:
            return False
