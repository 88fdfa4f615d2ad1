"""A container as the orchestration sees it, read from the engine's inspect data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from vpmigrate.engine import labels

# The engine's container states (`docker inspect` .State.Status).
ContainerStatus = Literal[
    "created", "running", "restarting", "paused", "exited", "dead", "removing"
]
# The engine's healthcheck verdict; "" when the container has no healthcheck.
Health = Literal["", "starting", "healthy", "unhealthy"]


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
RUNNING: tuple[ContainerStatus, ...] = ("running", "restarting", "paused")


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
    status: ContainerStatus
    exit_code: int
    health: Health
    config_hash: str
    image_label: str
    ports: tuple[PublishedPort, ...]
    networks: tuple[str, ...]
    number: int = 1  # Compose's container number: `<project>-<service>-<number>`
    network_mode: str = ""  # as the engine holds it: `container:<id>` for service:X
    ipc_mode: str = ""
    pid_mode: str = ""
    volumes_from: tuple[str, ...] = ()  # `<container id>[:ro|:rw]`
    volumes: tuple[tuple[str, str], ...] = ()  # (target, volume name) of its volume mounts

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
        status=_status(state.get("Status")),
        exit_code=int(state.get("ExitCode") or 0),
        health=_health(health),
        config_hash=container_labels.get(labels.CONFIG_HASH, ""),
        image_label=container_labels.get(labels.IMAGE, ""),
        ports=tuple(sorted(ports, key=lambda p: (p.target, p.host_ip))),
        networks=networks,
        number=int(number) if number.isdigit() else 1,
        network_mode=host_config.get("NetworkMode") or "",
        ipc_mode=host_config.get("IpcMode") or "",
        pid_mode=host_config.get("PidMode") or "",
        volumes_from=tuple(host_config.get("VolumesFrom") or ()),
        volumes=tuple(
            (str(m.get("Destination", "")), str(m.get("Name", "")))
            for m in attrs.get("Mounts") or []
            if m.get("Type") == "volume" and m.get("Name")
        ),
    )


_STATUSES: dict[object, ContainerStatus] = {s: s for s in get_args(ContainerStatus)}
_HEALTHS: dict[object, Health] = {h: h for h in get_args(Health)}


def _status(value: object) -> ContainerStatus:
    return _STATUSES.get(value, "dead")  # a state the engine does not document: not usable


def _health(value: object) -> Health:
    return _HEALTHS.get(value, "")
