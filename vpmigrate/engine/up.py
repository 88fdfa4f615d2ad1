"""`up`: converge a profile-scoped stack on the engine, with Compose's semantics.

Order of work: make the images present (nothing is touched if one is missing), create
networks and volumes, check published ports, then walk the dependency graph: each
service converges in its own thread as soon as its `depends_on` conditions hold, and
finally `up` waits until every service is ready. A service runs `replicas` containers
(`scale` / `deploy.replicas`), numbered 1..n; scaling down removes the highest numbers.
A container whose config hash and image are unchanged is left alone; a changed one is
replaced. Every step is idempotent, so a run cut short by Ctrl-C or a crash is finished
by running `up` again.

Ready means what the engine says, as with `docker compose up --wait`: healthy for a
service with a healthcheck. To start dependents sooner, a `service_healthy` dependency
counts as healthy as soon as its own check passes when run in the container (the engine
runs it only one `interval` after start); `up` still returns only once the engine agrees.

All engine work goes through `Engine` (vpmigrate.engine.backend): the decisions here
are tested against an in-memory engine, and the whole against a real daemon.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass
from typing import Literal

from vpmigrate.compose.graph import DependencyGraph
from vpmigrate.compose.model import Project, Service
from vpmigrate.engine import hostconfig, labels, ports, resources, spec
from vpmigrate.engine.backend import Engine, PortInUse, engine_error_text
from vpmigrate.engine.events import Action as EventAction
from vpmigrate.engine.events import Event, Reporter, silent
from vpmigrate.engine.readiness import Condition, Probe, Readiness, judge
from vpmigrate.engine.state import RUNNING, ContainerState
from vpmigrate.errors import UserError

# What `up` did to one container.
ContainerAction = Literal["recreated", "created", "restarted", "started", "unchanged"]
# What `up` did to a service's containers: the strongest of what it did to each, in
# this order; `scaled` when it only removed some (scaling down).
Action = ContainerAction | Literal["scaled"]
_STRONGEST_FIRST: tuple[Action, ...] = (
    "recreated",
    "created",
    "restarted",
    "started",
    "scaled",
    "unchanged",
)

POLL_S = 0.1
LOG_LINES = 15


@dataclass(frozen=True)
class ServiceOutcome:
    service: str
    container_ids: tuple[str, ...]  # by container number; () with `replicas: 0`
    action: Action


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
    engine: Engine,
    project: Project,
    services: Sequence[Service],
    *,
    allow_pull: bool = True,
    timeout_s: float = 300.0,
    report: Reporter = silent,
    probe_health: bool = True,
    rebuild: bool = False,
    poll_s: float = POLL_S,
) -> list[ServiceOutcome]:
    """Converge `services` (already selected by profile, dependencies included);
    `rebuild` builds every image that has `build:` (`--build`). `poll_s`: how often a
    waiting service looks at the engine again."""
    run = _UpRun(engine, project, services, allow_pull, timeout_s, report, probe_health)
    run.rebuild = rebuild
    run.poll_s = poll_s
    return run.execute()


class _UpRun:
    def __init__(
        self,
        engine: Engine,
        project: Project,
        services: Sequence[Service],
        allow_pull: bool,
        timeout_s: float,
        report: Reporter,
        probe_health: bool,
    ) -> None:
        self.engine = engine
        self.project = project
        self.graph = DependencyGraph(services)
        by_name = {s.name: s for s in services}
        self.services = {name: by_name[name] for name in self.graph.order()}
        # What each service must reach before `up` returns. A service that another one
        # waits on with `service_completed_successfully` is a job: it is done once it
        # has exited 0, not while it still runs.
        self.goal: dict[str, Condition] = {name: "ready" for name in self.services}
        for service in services:
            for dep in service.depends_on:
                if dep.condition == "service_completed_successfully" and dep.service in by_name:
                    self.goal[dep.service] = dep.condition
        self.allow_pull = allow_pull
        self.rebuild = False  # build every `build:` image again (`--build`)
        self.deadline = time.monotonic() + timeout_s
        self.timeout_s = timeout_s
        self.report = report
        self.probe: Probe | None = engine.probe if probe_health else None
        self.poll_s = POLL_S
        self.cancel = threading.Event()
        self.outcomes: dict[str, ServiceOutcome] = {}
        self.failures: dict[str, _Failure] = {}
        self.probed: set[str] = set()  # services whose own check passed before the engine's
        self.lock = threading.Lock()

    # -- orchestration ---------------------------------------------------------------

    def execute(self) -> list[ServiceOutcome]:
        services = list(self.services.values())
        self.image_ids = self.engine.ensure_images(
            self.project,
            services,
            allow_pull=self.allow_pull,
            rebuild=self.rebuild,
            report=self.report,
        )
        for network in resources.networks_used(self.project, services):
            self.engine.ensure_network(self.project, network, self.report)
        for volume in resources.volumes_used(self.project, services):
            self.engine.ensure_volume(self.project, volume, self.report)
        self.existing: dict[str, list[ContainerState]] = {}
        for found in sorted(self.engine.containers(self.project.name), key=lambda c: c.number):
            self.existing.setdefault(found.service, []).append(found)
        for orphan in sorted(set(self.existing) - set(self.project.services)):
            names = ", ".join(c.name for c in self.existing[orphan])
            self.report(
                Event(
                    orphan,
                    "orphan",
                    f"container {names} belongs to no service in the compose files; "
                    "`inv local.down` (without --profile) removes it",
                )
            )
        ports.check_free(self.engine, self.project, services, self.existing)

        with ThreadPoolExecutor(max_workers=max(1, len(self.services))) as pool:
            try:
                self._wait_all_ready(self.graph.walk(self._converge_when_ready, pool))
            finally:
                self.cancel.set()  # also on Ctrl-C: the workers stop waiting and return
        if self.failures:
            raise UpFailed(self._failure_message())
        return [self.outcomes[n] for n in self.services if n in self.outcomes]

    def _converge_when_ready(self, name: str) -> bool:
        """Wait for the service's dependencies, then converge it; False if it failed."""
        service = self.services[name]
        try:
            if self.cancel.is_set():
                raise _Cancelled
            restart_needed = False  # a `restart: true` dependency was (re)created
            dependency_changed = False  # any dependency was (re)created or (re)started
            for dep in service.depends_on:
                if dep.service not in self.services:
                    continue  # inactive and `required: false`
                if self.cancel.is_set():
                    raise _Cancelled
                if dep.service not in self.outcomes:  # the walk ran it already: it failed
                    self._fail(name, f"not started: its dependency {dep.service} failed", None)
                    return False
                verdict = self._wait_for(dep.service, dep.condition)
                if not verdict.done:
                    self._fail(
                        name,
                        f"not started: dependency {dep.service} {verdict.reason} "
                        f"(condition {dep.condition})",
                        None,
                    )
                    return False
                action = self.outcomes[dep.service].action
                dependency_changed |= action != "unchanged"
                if dep.restart:
                    restart_needed |= action in ("created", "recreated")
            self._converge(service, restart_needed, dependency_changed)
            return True
        except _Cancelled:
            return False
        except UserError as exc:
            self._fail(name, exc.message, None)
            return False
        except Exception as exc:  # engine errors: report them against the service
            self._fail(name, engine_error_text(exc), None)
            return False

    def _wait_for(self, name: str, condition: Condition) -> Readiness:
        """Until the dependency `name` meets `condition` (our probe may answer for the
        engine's first health check), or can no longer."""
        while True:
            if self.cancel.is_set():
                raise _Cancelled
            verdict, _ = self._verdict(name, condition, self.probe)
            if verdict.reason == "healthcheck passed":
                self._note_probe(name)
            if verdict.done or verdict.failed:
                return verdict
            if time.monotonic() > self.deadline:
                return Readiness(False, True, f"did not get there within {self.timeout_s:g}s")
            self.cancel.wait(self.poll_s)

    def _verdict(
        self, name: str, condition: Condition, probe: Probe | None
    ) -> tuple[Readiness, list[ContainerState]]:
        """`condition` for every container of the service: done when each is, failed as
        soon as one is (that container's state comes first)."""
        service = self.services[name]
        judged: list[tuple[Readiness, ContainerState]] = []
        for container_id in self.outcomes[name].container_ids:
            state = self.engine.inspect(container_id)
            if state is None:
                return Readiness(False, True, "lost a container (removed)"), []
            judged.append((judge(condition, service, state, probe), state))
        # The container that decides comes first: a failed one, else one still waiting.
        judged.sort(key=lambda pair: (not pair[0].failed, pair[0].done))
        states = [state for _, state in judged]
        if judged and not judged[0][0].done:
            return judged[0][0], states
        reasons = [verdict.reason for verdict, _ in judged if verdict.reason]
        return Readiness(True, reason=reasons[0] if reasons else ""), states

    def _note_probe(self, name: str) -> None:
        with self.lock:
            if name in self.probed:
                return
            self.probed.add(name)
        self.report(
            Event(
                name,
                "healthcheck passed",
                "its dependents start now; it counts as ready when the engine's own check "
                "says healthy",
            )
        )

    def _wait_all_ready(self, futures: dict[str, Future[bool]]) -> None:
        pending = set(futures)
        while pending:
            for name in sorted(pending):
                future = futures[name]
                if not future.done():
                    if time.monotonic() > self.deadline:
                        self._fail(name, f"not started within {self.timeout_s:g}s", None)
                        pending.discard(name)
                    continue
                if not future.result():
                    pending.discard(name)
                    continue
                # The engine's word only: what `docker ps` and `local.status` will say.
                verdict, states = self._verdict(name, self.goal[name], None)
                if verdict.done:
                    self.report(Event(name, *_ready_word(verdict, states)))
                    pending.discard(name)
                elif verdict.failed:
                    self._fail(name, verdict.reason, _first(states))
                    pending.discard(name)
                elif time.monotonic() > self.deadline:
                    self._fail(name, f"not ready within {self.timeout_s:g}s", _first(states))
                    pending.discard(name)
            converging = [futures[n] for n in pending if not futures[n].done()]
            if converging:  # wake up when one finishes, or to look at the engine again
                wait_for(converging, self.poll_s, FIRST_COMPLETED)
            elif pending:
                time.sleep(self.poll_s)
        self.cancel.set()

    # -- one service -------------------------------------------------------------------

    def _converge(self, service: Service, restart_needed: bool, dependency_changed: bool) -> None:
        image_id = self.image_ids[service.image]
        peers = self._peers(service)
        current = {c.number: c for c in self.existing.get(service.name, [])}
        actions: list[Action] = []
        for number in sorted((n for n in current if n > service.replicas), reverse=True):
            gone = current.pop(number)  # scaling down: the highest numbers go first
            self.engine.stop_and_remove(gone, service.stop_grace_period_s)
            self.report(Event(service.name, "removed", gone.name))
            actions.append("scaled")
        ids: list[str] = []
        for number in range(1, service.replicas + 1):
            if self.cancel.is_set():
                raise _Cancelled
            action, container_id = self._converge_container(
                service, number, current.get(number), image_id, peers, restart_needed,
                dependency_changed,
            )  # fmt: skip
            self.report(Event(_label(service, number), action))
            actions.append(action)
            ids.append(container_id)
        strongest: Action = next((a for a in _STRONGEST_FIRST if a in actions), "unchanged")
        with self.lock:
            self.outcomes[service.name] = ServiceOutcome(service.name, tuple(ids), strongest)

    def _converge_container(
        self,
        service: Service,
        number: int,
        current: ContainerState | None,
        image_id: str,
        peers: dict[str, list[ContainerState]],
        restart_needed: bool,
        dependency_changed: bool,
    ) -> tuple[ContainerAction, str]:
        why = self._why_recreate(service, current, image_id, peers)
        if current is not None and why is None:
            return self._reuse(service, current, restart_needed, dependency_changed), current.id
        action: ContainerAction = "created"
        inherit: dict[str, str] = {}
        if current is not None:
            self.report(Event(_label(service, number), "recreating", why or ""))
            self.engine.stop_and_remove(current, service.stop_grace_period_s)
            action = "recreated"
            inherit = dict(current.volumes)  # its anonymous volumes live on in the new one
        if self.cancel.is_set():
            raise _Cancelled
        container_id = self.engine.create(
            self.project, service, image_id, peers, self.report, number, inherit
        )
        self._start(service, container_id)
        return action, container_id

    def _peers(self, service: Service) -> dict[str, list[ContainerState]]:
        """The containers of the services that `network_mode`/`ipc`/`pid: service:X`,
        `volumes_from` and `links` name (dependencies, so the walk has converged them
        already), by container number."""
        peers: dict[str, list[ContainerState]] = {}
        for name in sorted(spec.peer_services(service)):
            outcome = self.outcomes.get(name)
            found = [self.engine.inspect(i) for i in (outcome.container_ids if outcome else ())]
            peers[name] = [state for state in found if state is not None]
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
        if current.config_hash != labels.config_hash(self.project, service):
            return "configuration changed"
        if current.image_label != image_id:
            return "image changed"
        # `network_mode`, `ipc` and `pid: service:X` and `volumes_from: [X]` hold X's
        # container ID: when X has a new container, this one must be created again to
        # share it (as Compose does).
        for key, value, held in (
            ("network_mode", service.network_mode, current.network_mode),
            ("ipc", service.ipc, current.ipc_mode),
            ("pid", service.pid, current.pid_mode),
        ):
            if (value or "").startswith("service:") and held != hostconfig.shared_namespace(
                value, key, service, peers
            ):
                return f"{(value or '').removeprefix('service:')} has a new container"
        if list(current.volumes_from) != spec.volumes_from(service, peers):
            return "a volumes_from service has a new container"
        return None

    def _reuse(
        self,
        service: Service,
        current: ContainerState,
        restart_needed: bool,
        dependency_changed: bool,
    ) -> ContainerAction:
        if current.status == "running" and restart_needed:
            self.engine.restart(current.id)
            return "restarted"
        if current.status in RUNNING:
            return "unchanged"
        if (
            current.status == "exited"
            and current.exit_code == 0
            and judge("ready", service, current).done
            and not dependency_changed
        ):
            # A one-shot job that already did its work with this very definition, against
            # the same dependencies. When one of them was (re)created it runs again: its
            # work (a bucket, a migration) may be missing there.
            return "unchanged"
        self._start(service, current.id)
        return "started"

    def _start(self, service: Service, container_id: str) -> None:
        try:
            self.engine.start(container_id, service)
        except PortInUse as exc:
            raise UserError(
                ports.conflict_message(self.engine, self.project, service, str(exc))
            ) from None

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
                ids = self.outcomes[failure.service].container_ids
                state = self.engine.inspect(ids[0]) if ids else None
            text = f"service {failure.service!r} {failure.reason}"
            if state is not None:
                several = self.services[failure.service].replicas > 1
                text += f" [{'container ' + state.name + ', ' if several else ''}"
                text += f"state: {state.description}]"
                tail = _last_log_lines(self.engine, state.id)
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


def _label(service: Service, number: int) -> str:
    """How events name a container: the service, or `<service>-<n>` among replicas."""
    return service.name if service.replicas == 1 and number == 1 else f"{service.name}-{number}"


def _first(states: list[ContainerState]) -> ContainerState | None:
    return states[0] if states else None


def _ready_word(verdict: Readiness, states: list[ContainerState]) -> tuple[EventAction, str]:
    """How a ready service is reported: the action, and the number of containers (as the
    detail) when there are several."""
    if not states:
        return "no containers", "0 replicas"
    state = states[0]
    word: EventAction
    if verdict.reason == "healthcheck passed":
        word = "healthcheck passed"
    elif verdict.reason == "completed" or state.status == "exited":
        word = "completed"
    else:
        word = state.health or "running"
    return word, "" if len(states) == 1 else f"{len(states)} containers"


def _last_log_lines(engine: Engine, container_id: str) -> list[str]:
    try:
        raw = b"".join(engine.logs(container_id, tail=LOG_LINES))
    except Exception:
        return []
    return raw.decode("utf-8", "replace").rstrip().splitlines()[-LOG_LINES:]
