"""An in-memory `Engine` for fast tests of the orchestration's decisions (order,
convergence, failures, cancellation). It keeps containers as plain records, applies
each service's `Behaviour` when a container starts, and logs every call in order.

What it does not model (image pulls, networks on the wire, real health checks) is
proven against the real daemon in the other tests of this folder.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from vpmigrate.compose.model import Healthcheck, NetworkDef, Project, Service, VolumeDef
from vpmigrate.engine import hostconfig, labels, spec
from vpmigrate.engine.backend import NetworkState, PortHolder, PortInUse
from vpmigrate.engine.events import Event, Reporter
from vpmigrate.engine.state import RUNNING, ContainerState, Health
from vpmigrate.errors import UserError


@dataclass(frozen=True)
class Behaviour:
    """What a service's container does once started."""

    exit_code: int | None = None  # exits at once with this code; None: keeps running
    health: Health = "healthy"  # the engine's verdict, for a service with a healthcheck
    probe: bool = True  # does its healthcheck command pass when run in the container?
    logs: str = ""
    start_error: str | None = None  # the engine refuses to start it (PortInUse if a port)


@dataclass
class _Container:
    state: ContainerState
    project: str
    checked: bool  # its service has a healthcheck: the engine gives a verdict
    logs: str = ""


@dataclass
class FakeEngine:
    behaviours: Mapping[str, Behaviour] = field(default_factory=dict)
    missing_images: frozenset[str] = frozenset()
    calls: list[tuple[str, str]] = field(default_factory=list)  # (operation, container name)
    hooks: dict[tuple[str, str], Callable[[], None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._containers: dict[str, _Container] = {}
        self._networks: dict[str, tuple[str, str]] = {}  # name -> (id, project)
        self._volumes: dict[str, str] = {}  # name -> project
        self._ids = itertools.count(1)

    # -- helpers for tests ----------------------------------------------------------------
    def on(self, operation: str, service: str, hook: Callable[[], None]) -> None:
        """Run `hook` when `operation` (create, start, ...) reaches `service`."""
        self.hooks[(operation, service)] = hook

    def container(self, service: str, number: int = 1) -> ContainerState:
        with self._lock:
            for record in self._containers.values():
                if record.state.service == service and record.state.number == number:
                    return record.state
        raise KeyError(service)

    def services_called(self, operation: str) -> list[str]:
        """The services `operation` reached, in order."""
        return [name for op, name in self.calls if op == operation]

    def set_health(self, service: str, health: Health) -> None:
        with self._lock:
            for record in self._containers.values():
                if record.state.service == service:
                    record.state = replace(record.state, health=health)

    def exit(self, service: str, code: int) -> None:
        """The service's containers stop by themselves."""
        with self._lock:
            for record in self._containers.values():
                if record.state.service == service:
                    record.state = replace(record.state, status="exited", exit_code=code)

    def forget(self, service: str) -> None:
        """The service's containers are removed behind our back (`docker rm -f`)."""
        with self._lock:
            for key, record in list(self._containers.items()):
                if record.state.service == service:
                    del self._containers[key]

    def _call(self, operation: str, state: ContainerState) -> None:
        with self._lock:
            self.calls.append((operation, state.service))
        hook = self.hooks.get((operation, state.service))
        if hook is not None:
            hook()

    # -- Engine: reading ----------------------------------------------------------------------
    def containers(self, project: str, service: str | None = None) -> list[ContainerState]:
        with self._lock:
            return [
                r.state
                for r in self._containers.values()
                if r.project == project and (service is None or r.state.service == service)
            ]

    def inspect(self, container_id: str) -> ContainerState | None:
        with self._lock:
            record = self._containers.get(container_id)
            return record.state if record is not None else None

    def port_holders(self) -> list[PortHolder]:
        return []

    def logs(
        self, container_id: str, *, tail: int | None = None, follow: bool = False
    ) -> Iterator[bytes]:
        lines = self._containers[container_id].logs.splitlines(keepends=True)
        if tail is not None:
            lines = lines[-tail:] if tail else []
        yield from (line.encode() for line in lines)

    # -- Engine: preparing a run ------------------------------------------------------------
    def ensure_images(
        self,
        project: Project,
        services: Sequence[Service],
        *,
        allow_pull: bool,
        rebuild: bool,
        report: Reporter,
    ) -> dict[str, str]:
        missing = sorted({s.image for s in services} & self.missing_images)
        if missing:
            raise UserError(f"missing images: {', '.join(missing)}. Nothing was started.")
        return {s.image: "sha256:" + hashlib.sha256(s.image.encode()).hexdigest() for s in services}

    def ensure_network(self, project: Project, network: NetworkDef, report: Reporter) -> None:
        with self._lock:
            if network.name not in self._networks:
                self._networks[network.name] = (f"net{next(self._ids)}", project.name)
                report(Event(network.name, "created", "network"))

    def ensure_volume(self, project: Project, volume: VolumeDef, report: Reporter) -> None:
        with self._lock:
            if volume.name not in self._volumes:
                self._volumes[volume.name] = project.name
                report(Event(volume.name, "created", "volume"))

    # -- Engine: one container --------------------------------------------------------------
    def create(
        self,
        project: Project,
        service: Service,
        image_id: str,
        peers: Mapping[str, Sequence[ContainerState]],
        report: Reporter,
        number: int = 1,
        inherit: Mapping[str, str] | None = None,
    ) -> str:
        container_labels = labels.container_labels(project, service, image_id, number)
        volumes = tuple(
            (
                v.target,
                project.volumes[v.source].name
                if v.source
                else (inherit or {}).get(v.target) or f"{next(self._ids):064x}",
            )
            for v in service.volumes
            if v.type == "volume"
        )
        state = ContainerState(
            id=f"c{next(self._ids):04d}",
            name=labels.container_name(project, service, number),
            number=number,
            service=service.name,
            status="created",
            exit_code=0,
            health="",
            config_hash=container_labels[labels.CONFIG_HASH],
            image_label=image_id,
            ports=(),
            networks=tuple(project.networks[n.network].name for n in service.networks),
            network_mode=spec.network_mode(project, service, peers) or "",
            ipc_mode=hostconfig.shared_namespace(service.ipc, "ipc", service, peers) or "",
            pid_mode=hostconfig.shared_namespace(service.pid, "pid", service, peers) or "",
            volumes_from=tuple(spec.volumes_from(service, peers)),
            volumes=volumes,
        )
        with self._lock:
            if any(r.state.name == state.name for r in self._containers.values()):
                raise RuntimeError(f"Conflict. The container name {state.name!r} is already in use")
            check = service.healthcheck
            checked = check is not None and bool(check.test) and not check.disabled
            self._containers[state.id] = _Container(state, project.name, checked)
        self._call("create", state)
        return state.id

    def start(self, container_id: str, service: Service | None = None) -> None:
        self._run(container_id, "start")

    def restart(self, container_id: str) -> None:
        self._run(container_id, "restart")

    def _run(self, container_id: str, operation: str) -> None:
        with self._lock:
            record = self._containers[container_id]
        behaviour = self.behaviours.get(record.state.service, Behaviour())
        self._call(operation, record.state)
        if behaviour.start_error is not None:
            if "port is already allocated" in behaviour.start_error:
                raise PortInUse(behaviour.start_error)
            raise RuntimeError(behaviour.start_error)
        with self._lock:
            record.logs += behaviour.logs
            if behaviour.exit_code is not None:
                record.state = replace(record.state, status="exited", exit_code=behaviour.exit_code)
            else:
                health: Health = behaviour.health if record.checked else ""
                record.state = replace(record.state, status="running", exit_code=0, health=health)

    def stop_and_remove(self, container: ContainerState, grace_s: float | None) -> None:
        with self._lock:
            record = self._containers.pop(container.id, None)
        if record is None:
            return
        if record.state.status in RUNNING:
            self._call("stop", record.state)
        self._call("remove", record.state)

    def probe(self, container_id: str, check: Healthcheck) -> bool:
        with self._lock:
            record = self._containers.get(container_id)
        if record is None or record.state.status != "running":
            return False
        return self.behaviours.get(record.state.service, Behaviour()).probe

    # -- Engine: cleaning up ------------------------------------------------------------------
    def networks(self, project: str) -> list[NetworkState]:
        with self._lock:
            used = {n for r in self._containers.values() for n in r.state.networks}
            return [
                NetworkState(net_id, name, name in used)
                for name, (net_id, owner) in self._networks.items()
                if owner == project
            ]

    def remove_network(self, network_id: str) -> bool:
        with self._lock:
            for name, (net_id, _) in list(self._networks.items()):
                if net_id == network_id:
                    del self._networks[name]
                    return True
        return False

    def volumes(self, project: str) -> list[str]:
        with self._lock:
            return sorted(name for name, owner in self._volumes.items() if owner == project)

    def volume_exists(self, name: str) -> bool:
        return name in self._volumes

    def remove_volume(self, name: str) -> bool:
        with self._lock:
            return self._volumes.pop(name, None) is not None
