"""The Compose project model: frozen values the loader produces and the engine consumes.

Everything here is already interpolated, merged across files and normalised
(long syntax for ports, volumes, depends_on and networks; durations in seconds;
relative bind paths made absolute against the project directory).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

# Re-exported: the compose modules name locations through the model.
from vpmigrate.userfiles import Location as Location

EMPTY: Mapping[str, str] = MappingProxyType({})


def _empty() -> Mapping[str, Any]:
    # dataclasses refuse an unhashable default such as a mappingproxy; a factory is fine.
    return EMPTY


@dataclass(frozen=True)
class PortMapping:
    target: int
    published: int | None = None  # None: the engine picks a free host port
    host_ip: str = ""  # "" means every interface
    protocol: str = "tcp"


@dataclass(frozen=True)
class VolumeMount:
    type: Literal["volume", "bind", "tmpfs"]
    target: str
    # For "volume": the key under top-level `volumes:` (None for an anonymous volume).
    # For "bind": an absolute host path.
    source: str | None = None
    read_only: bool = False


@dataclass(frozen=True)
class Healthcheck:
    # Docker's form: ("CMD", arg, ...), ("CMD-SHELL", "cmd"), or ("NONE",).
    test: tuple[str, ...]
    interval_s: float | None = None
    timeout_s: float | None = None
    retries: int | None = None
    start_period_s: float | None = None
    start_interval_s: float | None = None

    @property
    def disabled(self) -> bool:
        # An empty test keeps the image's own check; only NONE switches it off.
        return bool(self.test) and self.test[0] == "NONE"


DependencyCondition = Literal[
    "service_started", "service_healthy", "service_completed_successfully"
]


@dataclass(frozen=True)
class Dependency:
    service: str
    condition: DependencyCondition = "service_started"
    required: bool = True
    restart: bool = False


@dataclass(frozen=True)
class ServiceNetwork:
    network: str  # key under top-level `networks:`
    aliases: tuple[str, ...] = ()
    ipv4_address: str | None = None


@dataclass(frozen=True)
class Service:
    name: str
    image: str
    location: Location
    command: tuple[str, ...] | None = None  # None: the image's default
    entrypoint: tuple[str, ...] | None = None
    # env_file entries, then `environment:` on top
    environment: Mapping[str, str] = field(default_factory=_empty)
    ports: tuple[PortMapping, ...] = ()
    volumes: tuple[VolumeMount, ...] = ()
    healthcheck: Healthcheck | None = None
    restart: str = "no"  # "no" | "always" | "unless-stopped" | "on-failure[:N]"
    depends_on: tuple[Dependency, ...] = ()
    profiles: tuple[str, ...] = ()
    networks: tuple[ServiceNetwork, ...] = ()  # () only for network_mode services
    network_mode: str | None = None
    labels: Mapping[str, str] = field(default_factory=_empty)
    container_name: str | None = None
    working_dir: str | None = None
    user: str | None = None
    hostname: str | None = None
    stop_signal: str | None = None
    stop_grace_period_s: float | None = None
    extra_hosts: tuple[str, ...] = ()
    tty: bool = False
    stdin_open: bool = False
    init: bool | None = None
    pull_policy: str | None = None  # "always" | "never" | "missing" | "build" | None
    # The service as normalised data (JSON-able, sorted keys not required): the input of
    # the config hash, so that any change the user makes to the definition recreates it.
    config: Mapping[str, Any] = field(default_factory=_empty, compare=False)

    def is_active(self, active_profiles: frozenset[str] | set[str]) -> bool:
        """Compose's rule: no `profiles` means always on."""
        return not self.profiles or bool(set(self.profiles) & set(active_profiles))


@dataclass(frozen=True)
class NetworkDef:
    key: str  # name used in the compose file
    name: str  # engine name: `<project>_<key>` unless `name:` or external
    external: bool = False
    driver: str | None = None
    internal: bool = False
    labels: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True)
class VolumeDef:
    key: str
    name: str  # engine name: `<project>_<key>` unless `name:` or external
    external: bool = False
    driver: str | None = None
    labels: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True)
class Project:
    name: str  # normalised to [a-z0-9_-]
    working_dir: Path  # the project directory (the first file's folder by default)
    config_files: tuple[Path, ...]  # absolute
    services: Mapping[str, Service]  # every service, whatever its profiles
    networks: Mapping[str, NetworkDef]  # includes `default` only when a service uses it
    volumes: Mapping[str, VolumeDef]
    # what interpolation used (shell env over .env)
    environment: Mapping[str, str] = field(default_factory=_empty)

    @property
    def profiles(self) -> frozenset[str]:
        """Every profile named by some service."""
        return frozenset(p for s in self.services.values() for p in s.profiles)
