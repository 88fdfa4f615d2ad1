"""The engine as the orchestration sees it: a small Protocol, and its implementation
over the Docker SDK's low-level `APIClient`.

`up`, `down` and `status` decide (order, what is unchanged, recreated or restarted,
when to give up) and call only `Engine`; everything that speaks the Docker API lives
in `DockerEngine` and the modules it delegates to (images, resources, spec, ports). The
tests drive the same decisions through an in-memory engine in a fraction of a second,
and prove the real one against a Docker daemon.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from vpmigrate.compose.model import Healthcheck, NetworkDef, Project, Service, VolumeDef
from vpmigrate.engine import labels
from vpmigrate.engine.events import Event, Reporter
from vpmigrate.engine.state import RUNNING, ContainerState, PublishedPort, container_state
from vpmigrate.errors import UserError

if TYPE_CHECKING:
    import docker

DEFAULT_PROBE_TIMEOUT_S = 30.0  # Docker's default healthcheck timeout
PROBE_POLL_S = 0.02


class PortInUse(Exception):
    """Starting a container failed because a published port is taken; the text is the
    engine's."""


@dataclass(frozen=True)
class PortHolder:
    """A running container and the host ports it publishes."""

    name: str
    labels: Mapping[str, str]
    ports: tuple[PublishedPort, ...]


@dataclass(frozen=True)
class NetworkState:
    id: str
    name: str
    in_use: bool  # some container is attached


class Engine(Protocol):
    """What `up`, `down` and `status` need from a container engine."""

    # -- reading ------------------------------------------------------------------------
    def containers(self, project: str, service: str | None = None) -> list[ContainerState]:
        """The project's containers (one-offs excluded), running or not."""
        ...

    def inspect(self, container_id: str) -> ContainerState | None:
        """None when the container is gone."""
        ...

    def port_holders(self) -> list[PortHolder]:
        """Every running container that publishes ports, whatever its project."""
        ...

    def logs(
        self, container_id: str, *, tail: int | None = None, follow: bool = False
    ) -> Iterator[bytes]:
        """stdout and stderr as the container wrote them."""
        ...

    # -- preparing a run ------------------------------------------------------------------
    def ensure_images(
        self,
        project: Project,
        services: Sequence[Service],
        *,
        allow_pull: bool,
        rebuild: bool,
        report: Reporter,
    ) -> dict[str, str]:
        """Image reference -> image ID for every service, pulling or building what is
        missing (`rebuild`: every `build:` image again); one UserError naming every
        image that cannot be had, before any container is touched."""
        ...

    def ensure_network(self, project: Project, network: NetworkDef, report: Reporter) -> None: ...

    def ensure_volume(self, project: Project, volume: VolumeDef, report: Reporter) -> None: ...

    # -- one container ----------------------------------------------------------------------
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
        """Create (not start) the service's container `number`, attached to all its
        networks and with its secrets and configs in place; returns its ID. `peers`: the
        containers that `network_mode: service:X`, `volumes_from` and `links` refer to;
        `inherit`: the volumes (target -> name) of the container it replaces, whose
        anonymous ones it keeps."""
        ...

    def start(self, container_id: str, service: Service) -> None:
        """Raises PortInUse when a published port is taken, and a UserError for a
        refusal the service's definition explains (a GPU without a GPU runtime)."""
        ...

    def restart(self, container_id: str) -> None: ...

    def stop_and_remove(self, container: ContainerState, grace_s: float | None) -> None:
        """Stop within `grace_s` (None: the container's own stop timeout), then remove;
        a container already gone is fine."""
        ...

    def probe(self, container_id: str, check: Healthcheck) -> bool:
        """Run the healthcheck's command in the container now: did it pass?"""
        ...

    # -- cleaning up ------------------------------------------------------------------------
    def networks(self, project: str) -> list[NetworkState]: ...

    def remove_network(self, network_id: str) -> bool:
        """False when it was gone already."""
        ...

    def volumes(self, project: str) -> list[str]:
        """Names of the volumes labelled with the project."""
        ...

    def volume_exists(self, name: str) -> bool: ...

    def remove_volume(self, name: str) -> bool:
        """False when it was gone already."""
        ...


class DockerEngine:
    """`Engine` over a Docker daemon. `docker` is the SDK's client, for the few jobs
    outside orchestration that need the whole SDK (building images, backups)."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.docker = client
        self._api = client.api

    def containers(self, project: str, service: str | None = None) -> list[ContainerState]:
        found = self._api.containers(all=True, filters=labels.project_filter(project, service))
        states = []
        for summary in found:
            state = self.inspect(summary["Id"])
            if state is not None:  # None: removed between listing and inspecting
                states.append(state)
        return states

    def inspect(self, container_id: str) -> ContainerState | None:
        from docker.errors import NotFound

        try:
            return container_state(self._api.inspect_container(container_id))
        except NotFound:
            return None

    def port_holders(self) -> list[PortHolder]:
        holders = []
        for summary in self._api.containers(all=False):  # one list call, no inspects
            bound = tuple(
                PublishedPort(
                    host_ip=p.get("IP", ""),
                    host_port=int(p["PublicPort"]),
                    target=int(p["PrivatePort"]),
                    protocol=p.get("Type", "tcp"),
                )
                for p in summary.get("Ports") or []
                if p.get("PublicPort")
            )
            name = (summary.get("Names") or ["/" + summary["Id"][:12]])[0].lstrip("/")
            holders.append(PortHolder(name, summary.get("Labels") or {}, bound))
        return holders

    def logs(
        self, container_id: str, *, tail: int | None = None, follow: bool = False
    ) -> Iterator[bytes]:
        stream: Iterable[bytes] = self._api.logs(
            container_id,
            stdout=True,
            stderr=True,
            stream=True,
            follow=follow,
            tail=tail if tail is not None else "all",
        )
        yield from stream

    def ensure_images(
        self,
        project: Project,
        services: Sequence[Service],
        *,
        allow_pull: bool,
        rebuild: bool,
        report: Reporter,
    ) -> dict[str, str]:
        from vpmigrate.engine.images import service_images

        return service_images(
            self.docker, project, services, allow_pull=allow_pull, report=report, rebuild=rebuild
        )

    def ensure_network(self, project: Project, network: NetworkDef, report: Reporter) -> None:
        from vpmigrate.engine.resources import ensure_network

        ensure_network(self.docker, project, network, report)

    def ensure_volume(self, project: Project, volume: VolumeDef, report: Reporter) -> None:
        from vpmigrate.engine.resources import ensure_volume

        ensure_volume(self.docker, project, volume, report)

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
        from vpmigrate.engine import hostconfig, spec

        for note in hostconfig.warnings(self._api, service):
            report(Event(service.name, "warning", note))
        files = hostconfig.files_to_copy(project, service)
        container_id = spec.create_container(
            self._api, project, service, image_id, peers, number, inherit
        )
        for extra in spec.ordered_networks(service)[1:]:
            self._api.connect_container_to_network(
                container_id,
                project.networks[extra.network].name,
                **spec.connect_kwargs(self._api, project, service, extra, peers, number),
            )
        if files:  # secrets and configs from the environment or inline content
            hostconfig.copy_files(self._api, service, container_id, files)
        return container_id

    def start(self, container_id: str, service: Service) -> None:
        from docker.errors import APIError

        from vpmigrate.engine import hostconfig

        try:
            self._api.start(container_id)
        except APIError as exc:
            text = engine_error_text(exc)
            if "port is already allocated" in text or "address already in use" in text:
                raise PortInUse(text) from None
            explained = hostconfig.explain_start_error(service, text)
            if explained is not None:
                raise UserError(explained) from None
            raise

    def restart(self, container_id: str) -> None:
        self._api.restart(container_id)

    def stop_and_remove(self, container: ContainerState, grace_s: float | None) -> None:
        from docker.errors import NotFound

        try:
            if container.status in RUNNING:
                self._api.stop(container.id, timeout=int(grace_s) if grace_s is not None else None)
            self._api.remove_container(container.id, force=True)
        except NotFound:
            pass

    def probe(self, container_id: str, check: Healthcheck) -> bool:
        from docker.errors import APIError

        if not check.test or check.test[0] not in ("CMD", "CMD-SHELL"):
            return False
        argv = list(check.test[1:]) if check.test[0] == "CMD" else ["/bin/sh", "-c", check.test[1]]
        # Detached, then polled: a hanging check must not hold the waiter past its timeout.
        deadline = time.monotonic() + (check.timeout_s or DEFAULT_PROBE_TIMEOUT_S)
        try:
            exec_id = self._api.exec_create(container_id, argv, stdout=False, stderr=False)
            self._api.exec_start(exec_id["Id"], detach=True)
            while True:
                result = self._api.exec_inspect(exec_id["Id"])
                if not result.get("Running"):
                    return bool(result.get("ExitCode") == 0)
                if time.monotonic() > deadline:
                    return False
                time.sleep(PROBE_POLL_S)
        except APIError:
            return False

    def networks(self, project: str) -> list[NetworkState]:
        found = self._api.networks(filters={"label": f"{labels.PROJECT}={project}"})
        result = []
        for network in found:
            info = self._api.inspect_network(network["Id"])
            result.append(
                NetworkState(network["Id"], network["Name"], bool(info.get("Containers")))
            )
        return result

    def remove_network(self, network_id: str) -> bool:
        return _present(self._api.remove_network, network_id)

    def volumes(self, project: str) -> list[str]:
        found = self._api.volumes(filters={"label": f"{labels.PROJECT}={project}"})
        return [str(v["Name"]) for v in (found.get("Volumes") or [])]

    def volume_exists(self, name: str) -> bool:
        return _present(self._api.inspect_volume, name)

    def remove_volume(self, name: str) -> bool:
        return _present(self._api.remove_volume, name)


def _present(call: Callable[[str], object], name: str) -> bool:
    """Make an engine call about something that may be gone: False when it was."""
    from docker.errors import NotFound

    try:
        call(name)
    except NotFound:
        return False
    return True


def engine_error_text(exc: BaseException) -> str:
    """The engine's own words for an SDK error (its `explanation`), else the exception's."""
    explanation: Any = getattr(exc, "explanation", None)
    text = str(explanation or exc).strip()
    return text or type(exc).__name__
