"""`up`: converge a profile-scoped stack on the engine, with Compose's semantics.

Order of work: pull missing images (nothing is touched if one is missing), create
networks and volumes, check published ports, then converge every service in its own
thread as soon as its `depends_on` conditions hold, and finally wait until every
service is ready. A container whose config hash and image are unchanged is left
alone; a changed one is replaced. Every step is idempotent, so a run cut short by
Ctrl-C or a crash is finished by running `up` again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vpmigrate.compose.graph import DependencyGraph
from vpmigrate.compose.model import Project, Service, link_parts, volumes_from_parts
from vpmigrate.engine import labels, ports, resources, spec
from vpmigrate.engine.down import remove_container
from vpmigrate.engine.events import Event, Reporter, silent
from vpmigrate.engine.images import ensure_images
from vpmigrate.engine.readiness import ProbeRunner, Readiness, judge
from vpmigrate.engine.state import ContainerState, inspect, project_containers
from vpmigrate.errors import UserError

if TYPE_CHECKING:
    import docker

POLL_S = 0.1
LOG_LINES = 15


@dataclass(frozen=True)
class ServiceOutcome:
    service: str
    container_id: str
    action: str  # created | recreated | started | restarted | unchanged


class UpFailed(UserError):
    """Some services did not become ready; the healthy ones were left running."""


class _Cancelled(Exception):
    pass


@dataclass
class _Failure:
    service: str
    reason: str
    state: ContainerState | None


def up(
    client: docker.DockerClient,
    project: Project,
    services: Sequence[Service],
    *,
    allow_pull: bool = True,
    timeout_s: float = 300.0,
    report: Reporter = silent,
    probe_health: bool = True,
) -> list[ServiceOutcome]:
    """Converge `services` (already selected by profile, dependencies included)."""
    run = _UpRun(client, project, services, allow_pull, timeout_s, report, probe_health)
    return run.execute()


class _UpRun:
    def __init__(
        self,
        client: docker.DockerClient,
        project: Project,
        services: Sequence[Service],
        allow_pull: bool,
        timeout_s: float,
        report: Reporter,
        probe_health: bool,
    ) -> None:
        self.client = client
        self.project = project
        self.graph = DependencyGraph(services)
        by_name = {s.name: s for s in services}
        self.services = {name: by_name[name] for name in self.graph.order()}
        self.allow_pull = allow_pull
        self.deadline = time.monotonic() + timeout_s
        self.timeout_s = timeout_s
        self.report = report
        self.probe = ProbeRunner(client) if probe_health else None
        self.cancel = threading.Event()
        self.outcomes: dict[str, ServiceOutcome] = {}
        self.failures: dict[str, _Failure] = {}
        self.lock = threading.Lock()

    # -- orchestration ---------------------------------------------------------------

    def execute(self) -> list[ServiceOutcome]:
        image_ids = ensure_images(
            self.client, self.services.values(), allow_pull=self.allow_pull, report=self.report
        )
        self.image_ids = image_ids
        for network in resources.networks_used(self.project, self.services.values()):
            resources.ensure_network(self.client, self.project, network, self.report)
        for volume in resources.volumes_used(self.project, self.services.values()):
            resources.ensure_volume(self.client, self.project, volume, self.report)
        existing = {c.service: c for c in project_containers(self.client, self.project.name)}
        self.existing = existing
        for orphan in sorted(set(existing) - set(self.project.services)):
            self.report(
                Event(
                    orphan,
                    "orphan",
                    f"container {existing[orphan].name} belongs to no service in the compose "
                    "files; `inv local.down` (without --profile) removes it",
                )
            )
        ports.check_free(self.client, self.project, list(self.services.values()), existing)

        with ThreadPoolExecutor(max_workers=max(1, len(self.services))) as pool:
            futures = self.graph.walk(self._converge_when_ready, pool)
            try:
                self._wait_all_ready(futures)
            finally:
                self.cancel.set()
        if self.failures:
            raise UpFailed(self._failure_message())
        return [self.outcomes[n] for n in self.services if n in self.outcomes]

    def _converge_when_ready(self, name: str) -> ContainerState | None:
        service = self.services[name]
        try:
            restart_needed = False  # a `restart: true` dependency was (re)created
            dependency_changed = False  # any dependency was (re)created or (re)started
            for dep in service.depends_on:
                if dep.service not in self.services:
                    continue  # inactive and `required: false`
                if self.cancel.is_set():
                    raise _Cancelled
                if dep.service not in self.outcomes:  # the walk ran it already: it failed
                    self._fail(name, f"not started: its dependency {dep.service} failed", None)
                    return None
                verdict = self._wait_for(dep.service, dep.condition)
                if not verdict.done:
                    self._fail(
                        name,
                        f"not started: dependency {dep.service} {verdict.reason} "
                        f"(condition {dep.condition})",
                        None,
                    )
                    return None
                action = self.outcomes[dep.service].action
                dependency_changed |= action != "unchanged"
                if dep.restart:
                    restart_needed |= action in ("created", "recreated")
            return self._converge(service, restart_needed, dependency_changed)
        except _Cancelled:
            return None
        except UserError as exc:
            self._fail(name, exc.message, None)
            return None
        except Exception as exc:  # engine errors: report them against the service
            self._fail(name, _engine_error_text(exc), None)
            return None

    def _wait_for(self, name: str, condition: str) -> Readiness:
        service = self.services[name]
        container_id = self.outcomes[name].container_id
        while True:
            if self.cancel.is_set():
                raise _Cancelled
            state = inspect(self.client, container_id)
            if state is None:
                return Readiness(False, True, "was removed")
            verdict = judge(condition, service, state, self.probe)
            if verdict.done or verdict.failed:
                return verdict
            if time.monotonic() > self.deadline:
                return Readiness(False, True, f"did not get there within {self.timeout_s:g}s")
            time.sleep(POLL_S)

    def _wait_all_ready(self, futures: dict[str, Future[ContainerState | None]]) -> None:
        pending = set(futures)
        while pending:
            for name in sorted(pending):
                future = futures[name]
                if not future.done():
                    if time.monotonic() > self.deadline:
                        self._fail(name, f"not started within {self.timeout_s:g}s", None)
                        pending.discard(name)
                    continue
                if future.result() is None:
                    pending.discard(name)
                    continue
                state = inspect(self.client, self.outcomes[name].container_id)
                if state is None:
                    self._fail(name, "its container was removed while starting", None)
                    pending.discard(name)
                    continue
                verdict = judge("ready", self.services[name], state, self.probe)
                if verdict.done:
                    self.report(Event(name, verdict.reason or _ready_word(state)))
                    pending.discard(name)
                elif verdict.failed:
                    self._fail(name, verdict.reason, state)
                    pending.discard(name)
                elif time.monotonic() > self.deadline:
                    self._fail(name, f"not ready within {self.timeout_s:g}s", state)
                    pending.discard(name)
            if pending:
                time.sleep(POLL_S)
        self.cancel.set()

    # -- one service -------------------------------------------------------------------

    def _converge(
        self, service: Service, restart_needed: bool, dependency_changed: bool
    ) -> ContainerState | None:
        image_id = self.image_ids[service.image]
        peers = self._peers(service)
        current = self.existing.get(service.name)  # inspected moments ago, before the ports check
        why = self._why_recreate(service, current, image_id, peers)
        if current is not None and why is None:
            return self._reuse(service, current, restart_needed, dependency_changed)
        action = "created"
        if current is not None:
            self.report(Event(service.name, "recreating", why or ""))
            remove_container(self.client, current, service)
            action = "recreated"
        if self.cancel.is_set():
            raise _Cancelled
        container_id = self._create(service, image_id, peers)
        self._start(service, container_id)
        self._record(service.name, container_id, action)
        return inspect(self.client, container_id)

    def _peers(self, service: Service) -> dict[str, list[ContainerState]]:
        """The containers of the services that `network_mode: service:X`, `volumes_from`
        and `links` name (dependencies, so the walk has converged them already)."""
        named = {link_parts(entry)[0] for entry in service.links}
        named |= {
            volumes_from_parts(e)[0] for e in service.volumes_from if not e.startswith("container:")
        }
        if (service.network_mode or "").startswith("service:"):
            named.add((service.network_mode or "").removeprefix("service:"))
        peers: dict[str, list[ContainerState]] = {}
        for name in sorted(named):
            outcome = self.outcomes.get(name)
            state = inspect(self.client, outcome.container_id) if outcome is not None else None
            peers[name] = [state] if state is not None else []
        return peers

    def _why_recreate(
        self,
        service: Service,
        current: ContainerState | None,
        image_id: str,
        peers: dict[str, list[ContainerState]],
    ) -> str | None:
        if current is None:
            return None
        if current.config_hash != labels.config_hash(service):
            return "configuration changed"
        if current.image_label != image_id:
            return "image changed"
        # `network_mode: service:X` and `volumes_from: [X]` hold X's container ID: when X
        # has a new container, this one must be created again to share it (as Compose does).
        mode = service.network_mode or ""
        if mode.startswith("service:") and current.network_mode != spec.network_mode(
            self.project, service, peers
        ):
            return f"{mode.removeprefix('service:')} has a new container"
        if list(current.volumes_from) != spec.volumes_from(service, peers):
            return "a volumes_from service has a new container"
        return None

    def _reuse(
        self,
        service: Service,
        current: ContainerState,
        restart_needed: bool,
        dependency_changed: bool,
    ) -> ContainerState | None:
        if current.status == "running" and restart_needed:
            self.client.api.restart(current.id)
            self._record(service.name, current.id, "restarted")
        elif current.status in ("running", "restarting", "paused"):
            self._record(service.name, current.id, "unchanged")
        elif (
            current.status == "exited"
            and current.exit_code == 0
            and judge("ready", service, current).done
            and not dependency_changed
        ):
            # A one-shot job that already did its work with this very definition, against
            # the same dependencies. When one of them was (re)created it runs again: its
            # work (a bucket, a migration) may be missing there.
            self._record(service.name, current.id, "unchanged")
        else:
            self._start(service, current.id)
            self._record(service.name, current.id, "started")
        return inspect(self.client, current.id)

    def _create(
        self, service: Service, image_id: str, peers: dict[str, list[ContainerState]]
    ) -> str:
        args = spec.create_args(self.client.api, self.project, service, image_id, peers)
        container_id = str(self.client.api.create_container(**args)["Id"])
        links = spec.links(self.project, service, peers)
        for extra in service.networks[1:]:
            network = self.project.networks[extra.network]
            self.client.api.connect_container_to_network(
                container_id,
                network.name,
                aliases=spec.aliases(self.project, service, extra.aliases),
                links=links or None,
                ipv4_address=extra.ipv4_address,
            )
        return container_id

    def _start(self, service: Service, container_id: str) -> None:
        from docker.errors import APIError

        try:
            self.client.api.start(container_id)
        except APIError as exc:
            text = _engine_error_text(exc)
            if "port is already allocated" in text or "address already in use" in text:
                raise UserError(
                    ports.conflict_message(self.client, self.project, service, text)
                ) from None
            raise

    def _record(self, name: str, container_id: str, action: str) -> None:
        with self.lock:
            self.outcomes[name] = ServiceOutcome(name, container_id, action)
        self.report(Event(name, action))

    def _fail(self, name: str, reason: str, state: ContainerState | None) -> None:
        with self.lock:
            self.failures.setdefault(name, _Failure(name, reason, state))
        self.report(Event(name, "failed", reason))

    # -- reporting -------------------------------------------------------------------------

    def _failure_message(self) -> str:
        ready = sorted(set(self.outcomes) - set(self.failures))
        parts = []
        for failure in sorted(self.failures.values(), key=lambda f: f.service):
            state = failure.state
            if state is None and failure.service in self.outcomes:
                state = inspect(self.client, self.outcomes[failure.service].container_id)
            text = f"service {failure.service!r} {failure.reason}"
            if state is not None:
                text += f" [state: {state.description}]"
                tail = _last_log_lines(self.client, state.id)
                if tail:
                    text += "; last log lines:\n    " + "\n    ".join(tail)
            parts.append(text)
        kept = f" Left running: {', '.join(ready)}." if ready else ""
        return (
            f"{len(self.failures)} service(s) did not become ready: "
            + "\n  ".join(parts)
            + f"\n{kept} Fix the cause (`inv local.logs SERVICE` shows more), then re-run "
            "`inv local.up`: what is already healthy is left as it is."
        )


def _ready_word(state: ContainerState) -> str:
    if state.status == "exited":
        return "completed"
    return "healthy" if state.health else "running"


def _last_log_lines(client: docker.DockerClient, container_id: str) -> list[str]:
    try:
        raw = client.api.logs(container_id, tail=LOG_LINES, stdout=True, stderr=True)
    except Exception:
        return []
    return raw.decode("utf-8", "replace").rstrip().splitlines()[-LOG_LINES:]


def _engine_error_text(exc: Exception) -> str:
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc).strip()
    return text or type(exc).__name__
