"""Read-only facts about a project's containers, networks and volumes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vpmigrate.engine import labels

if TYPE_CHECKING:
    import docker


# Container ports whose clients expect something other than http:// in a URL.
URL_SCHEMES = {
    5432: "postgresql",
    3306: "mysql",
    6379: "redis",
    27017: "mongodb",
    5672: "amqp",
    1025: "smtp",
    7233: "grpc",
}


# Container states in which the container's process exists: stop it before removing.
RUNNING = ("running", "restarting", "paused")


@dataclass(frozen=True)
class PublishedPort:
    host_ip: str
    host_port: int
    target: int
    protocol: str

    @property
    def url_host(self) -> str:
        if self.host_ip in ("", "0.0.0.0"):
            return "localhost"
        if ":" in self.host_ip:
            return f"[{self.host_ip}]"
        return self.host_ip

    def __str__(self) -> str:
        scheme = "udp" if self.protocol == "udp" else URL_SCHEMES.get(self.target, "http")
        return f"{scheme}://{self.url_host}:{self.host_port}"


@dataclass(frozen=True)
class ContainerState:
    id: str
    name: str
    service: str
    status: str  # created | running | restarting | paused | exited | dead | removing
    exit_code: int
    health: str  # "" when the container has no healthcheck; else starting|healthy|unhealthy
    config_hash: str
    image_label: str
    ports: tuple[PublishedPort, ...]
    networks: tuple[str, ...]
    number: int = 1  # Compose's container number: `<project>-<service>-<number>`
    network_mode: str = ""  # as the engine holds it: `container:<id>` for service:X
    volumes_from: tuple[str, ...] = ()  # `<container id>[:ro|:rw]`

    @property
    def description(self) -> str:
        if self.status == "exited":
            return f"exited ({self.exit_code})"
        if self.health:
            return f"{self.status} ({self.health})"
        return self.status


def container_state(attrs: dict[str, Any]) -> ContainerState:
    """Build the state from `docker inspect` data (a container's `.attrs`)."""
    state = attrs.get("State") or {}
    config = attrs.get("Config") or {}
    container_labels = config.get("Labels") or {}
    health = (state.get("Health") or {}).get("Status", "")
    ports: list[PublishedPort] = []
    for key, bindings in ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).items():
        target, _, protocol = key.partition("/")
        for binding in bindings or []:
            ports.append(
                PublishedPort(
                    host_ip=binding.get("HostIp", ""),
                    host_port=int(binding["HostPort"]),
                    target=int(target),
                    protocol=protocol or "tcp",
                )
            )
    networks = tuple(((attrs.get("NetworkSettings") or {}).get("Networks") or {}).keys())
    host_config = attrs.get("HostConfig") or {}
    number = str(container_labels.get(labels.NUMBER, "1"))
    return ContainerState(
        id=attrs["Id"],
        name=attrs.get("Name", "").lstrip("/"),
        service=container_labels.get(labels.SERVICE, ""),
        status=state.get("Status", "unknown"),
        exit_code=int(state.get("ExitCode") or 0),
        health=health,
        config_hash=container_labels.get(labels.CONFIG_HASH, ""),
        image_label=container_labels.get(labels.IMAGE, ""),
        ports=tuple(sorted(ports, key=lambda p: (p.target, p.host_ip))),
        networks=networks,
        number=int(number) if number.isdigit() else 1,
        network_mode=host_config.get("NetworkMode") or "",
        volumes_from=tuple(host_config.get("VolumesFrom") or ()),
    )


def project_containers(client: docker.DockerClient, project_name: str) -> list[ContainerState]:
    """Every container of the project (one-offs excluded), running or not."""
    found = client.api.containers(all=True, filters=labels.project_filter(project_name))
    states = []
    for summary in found:
        try:
            states.append(container_state(client.api.inspect_container(summary["Id"])))
        except _not_found():
            continue  # removed between listing and inspecting
    return states


def inspect(client: docker.DockerClient, container_id: str) -> ContainerState | None:
    try:
        return container_state(client.api.inspect_container(container_id))
    except _not_found():
        return None


def volume_exists(client: docker.DockerClient, name: str) -> bool:
    try:
        client.api.inspect_volume(name)
    except _not_found():
        return False
    return True


def _not_found() -> type[Exception]:
    from docker.errors import NotFound

    return NotFound
