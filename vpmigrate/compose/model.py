"""The Compose project model: frozen values the loader produces and the engine consumes.

Everything here is already interpolated, merged across files (and `extends` /
`include`), and normalised: long syntax for ports, volumes, depends_on, networks,
secrets and configs; durations in seconds; sizes in bytes; relative paths made
absolute. The fields follow Compose v2's own model (compose-go's `ServiceConfig`),
one field per key, so that `inv local.config` can print what Compose prints and the
engine can map each field to the container configuration as Compose does.
An unset key is `None` (or an empty tuple/mapping), never a made-up default, so the
engine can tell "not written" from "written as 0".
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
    # "8000-8010:80": one container port published on the first free port of a host
    # range; `published` is the range's first port and this its last (None: no range).
    published_end: int | None = None
    mode: str | None = None  # "ingress" (short syntax) or "host"; Swarm's, kept for config
    name: str | None = None
    app_protocol: str | None = None

    @property
    def published_spec(self) -> str | None:
        """The host port as the engine's PortBindings take it: "8080", "8000-8010"."""
        if self.published is None:
            return None
        if self.published_end is not None and self.published_end != self.published:
            return f"{self.published}-{self.published_end}"
        return str(self.published)


@dataclass(frozen=True)
class BindOptions:
    propagation: str | None = None  # rprivate, private, rshared, shared, rslave, slave
    # Short syntax ("./dir:/x") creates a missing host path; long syntax does only
    # with `bind.create_host_path: true` (Compose's rule).
    create_host_path: bool = False
    selinux: str | None = None  # "z" (shared) or "Z" (private)


@dataclass(frozen=True)
class VolumeOptions:
    nocopy: bool = False
    subpath: str | None = None


@dataclass(frozen=True)
class TmpfsOptions:
    size: int | None = None  # bytes
    mode: int | None = None  # file mode, e.g. 0o1777


@dataclass(frozen=True)
class VolumeMount:
    type: Literal["volume", "bind", "tmpfs", "npipe", "cluster"]
    target: str
    # For "volume": the key under top-level `volumes:` (None for an anonymous volume).
    # For "bind": an absolute host path.
    source: str | None = None
    read_only: bool = False
    consistency: str | None = None
    bind: BindOptions | None = None
    volume: VolumeOptions | None = None
    tmpfs: TmpfsOptions | None = None


@dataclass(frozen=True)
class Healthcheck:
    # Docker's form: ("CMD", arg, ...), ("CMD-SHELL", "cmd"), or ("NONE",).
    test: tuple[str, ...]
    interval_s: float | None = None
    timeout_s: float | None = None
    retries: int | None = None
    start_period_s: float | None = None
    start_interval_s: float | None = None
    disable: bool = False  # written as `disable: true` (the test is then ("NONE",))

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


def link_parts(entry: str) -> tuple[str, str]:
    """A `links:` entry, `SERVICE` or `SERVICE:ALIAS`, as (service, alias)."""
    service, _, alias = entry.partition(":")
    return service, alias or service


def volumes_from_parts(entry: str) -> tuple[str, bool, str]:
    """A `volumes_from:` entry, `SERVICE[:MODE]` or `container:NAME[:MODE]`, as
    (service or container name, whether it names a container, mode: "" | "ro" | "rw")."""
    container = entry.startswith("container:")
    source, _, mode = entry.removeprefix("container:").partition(":")
    return source, container, mode


@dataclass(frozen=True)
class ServiceNetwork:
    network: str  # key under top-level `networks:`
    aliases: tuple[str, ...] = ()
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    link_local_ips: tuple[str, ...] = ()
    mac_address: str | None = None
    priority: int = 0  # the engine attaches higher priorities first


@dataclass(frozen=True)
class FileReference:
    """A service's `secrets:` or `configs:` entry (long syntax): which top-level
    secret/config, mounted where. The secret default target is /run/secrets/<source>;
    a config's default target is /<source>."""

    source: str  # key under top-level `secrets:` / `configs:`
    target: str | None = None
    uid: str | None = None
    gid: str | None = None
    mode: int | None = None


@dataclass(frozen=True)
class DeviceRequest:
    """A device reservation (`deploy.resources.reservations.devices`, `gpus:`): the
    engine's DeviceRequests. `count` -1 means all."""

    capabilities: tuple[str, ...] = ()
    driver: str | None = None
    count: int | None = None
    device_ids: tuple[str, ...] = ()
    options: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True)
class Resource:
    """`deploy.resources.limits` or `.reservations`."""

    cpus: float | None = None
    memory: int | None = None  # bytes
    pids: int | None = None
    devices: tuple[DeviceRequest, ...] = ()
    # Swarm's generic resources: [{"discrete_resource_spec": {"kind": k, "value": n}}]
    generic_resources: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class RestartPolicy:
    """`deploy.restart_policy`; Compose maps it to the container's restart policy."""

    condition: str | None = None  # none, on-failure, any
    delay_s: float | None = None
    max_attempts: int | None = None
    window_s: float | None = None


@dataclass(frozen=True)
class Deploy:
    mode: str | None = None  # replicated (default), global (Swarm only)
    replicas: int | None = None
    labels: Mapping[str, str] = field(default_factory=_empty)
    limits: Resource | None = None
    reservations: Resource | None = None
    restart_policy: RestartPolicy | None = None
    # Swarm-only settings, accepted with a warning and kept as normalised data for
    # `local.config`: placement, update_config, rollback_config, endpoint_mode.
    swarm: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True)
class Logging:
    driver: str | None = None
    options: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True)
class Ulimit:
    """`nofile: 1024` sets soft and hard alike (`single`); `{soft, hard}` both."""

    soft: int
    hard: int
    single: bool = False


@dataclass(frozen=True)
class ThrottleDevice:
    path: str
    rate: int  # bytes (or operations) per second


@dataclass(frozen=True)
class WeightDevice:
    path: str
    weight: int


@dataclass(frozen=True)
class BlkioConfig:
    weight: int | None = None
    weight_device: tuple[WeightDevice, ...] = ()
    device_read_bps: tuple[ThrottleDevice, ...] = ()
    device_read_iops: tuple[ThrottleDevice, ...] = ()
    device_write_bps: tuple[ThrottleDevice, ...] = ()
    device_write_iops: tuple[ThrottleDevice, ...] = ()


@dataclass(frozen=True)
class BuildSpec:
    """`build:` as Compose resolves it (`docker compose config` prints the same values)."""

    # An absolute directory, or a remote context (a git URL, an https tarball) as written.
    context: str
    # As Compose prints it: relative to the context unless absolute; None with an inline one.
    dockerfile: str | None = "Dockerfile"
    dockerfile_inline: str | None = None
    # Interpolated; a bare `- KEY` takes the environment's value and is left out without one.
    args: Mapping[str, str] = field(default_factory=_empty)
    target: str | None = None
    labels: Mapping[str, str] = field(default_factory=_empty)
    cache_from: tuple[str, ...] = ()
    network: str | None = None
    shm_size: int | None = None  # bytes
    extra_hosts: tuple[str, ...] = ()  # "HOST:IP", as the service's own extra_hosts
    pull: bool = False
    no_cache: bool = False
    tags: tuple[str, ...] = ()  # more names for the built image
    platforms: tuple[str, ...] = ()
    isolation: str | None = None
    # Keys only BuildKit can honour (ssh, secrets, cache_to, additional_contexts,
    # privileged, entitlements, ulimits), as normalised JSON-able values: kept so that the
    # engine can refuse them by file:line, and `config` can print them.
    buildkit_only: Mapping[str, Any] = field(default_factory=_empty)
    location: Location | None = field(default=None, compare=False)
    # Where each key was written, for errors raised while building.
    key_locations: Mapping[str, Location] = field(default_factory=_empty, compare=False)

    @property
    def remote(self) -> bool:
        return _is_remote_context(self.context)

    @property
    def dockerfile_path(self) -> Path | None:
        """The Dockerfile on disk (None for an inline Dockerfile or a remote context)."""
        if self.dockerfile_inline is not None or self.dockerfile is None or self.remote:
            return None
        return Path(self.context, self.dockerfile)


def _is_remote_context(context: str) -> bool:
    return context.startswith(("http://", "https://", "git://", "git@", "github.com/")) or (
        "://" in context and not context.startswith("file://")
    )


@dataclass(frozen=True)
class Service:
    name: str
    # The image to run. With `build:` and no `image:`, Compose's `<project>-<service>`.
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
    build: BuildSpec | None = None
    image_declared: bool = True  # False: `image` is the default name of a built image
    # --- the rest of Compose's service keys, one field each (None / () when unset) ---
    annotations: Mapping[str, str] = field(default_factory=_empty)
    attach: bool | None = None
    blkio_config: BlkioConfig | None = None
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    cgroup: str | None = None  # "host" | "private"
    cgroup_parent: str | None = None
    configs: tuple[FileReference, ...] = ()
    cpu_count: int | None = None
    cpu_percent: float | None = None
    cpu_period: int | None = None
    cpu_quota: int | None = None
    cpu_rt_period: int | None = None
    cpu_rt_runtime: int | None = None
    cpu_shares: int | None = None
    cpus: float | None = None
    cpuset: str | None = None
    credential_spec: Mapping[str, str] | None = None  # Windows only
    deploy: Deploy | None = None
    device_cgroup_rules: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()  # "HOST[:CONTAINER[:PERMISSIONS]]", as the engine takes them
    dns: tuple[str, ...] = ()
    dns_opt: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    domainname: str | None = None
    expose: tuple[str, ...] = ()  # "80", "8000-8010", "53/udp"
    external_links: tuple[str, ...] = ()
    gpus: tuple[DeviceRequest, ...] = ()  # `gpus: all` is one request with count -1
    group_add: tuple[str, ...] = ()
    ipc: str | None = None  # "host", "shareable", "service:X", "container:X", ...
    isolation: str | None = None
    links: tuple[str, ...] = ()  # "SERVICE" or "SERVICE:ALIAS"
    logging: Logging | None = None
    mac_address: str | None = None
    mem_limit: int | None = None  # bytes
    mem_reservation: int | None = None
    mem_swappiness: int | None = None
    memswap_limit: int | None = None  # bytes; -1 means unlimited
    oom_kill_disable: bool = False
    oom_score_adj: int | None = None
    pid: str | None = None
    pids_limit: int | None = None
    platform: str | None = None
    privileged: bool = False
    read_only: bool = False
    runtime: str | None = None
    scale: int | None = None  # `scale:`; see `replicas` for the number to run
    secrets: tuple[FileReference, ...] = ()
    security_opt: tuple[str, ...] = ()
    shm_size: int | None = None  # bytes
    storage_opt: Mapping[str, str] = field(default_factory=_empty)
    sysctls: Mapping[str, str] = field(default_factory=_empty)
    tmpfs: tuple[str, ...] = ()  # "/path[:options]"
    ulimits: Mapping[str, Ulimit] = field(default_factory=_empty)
    userns_mode: str | None = None
    uts: str | None = None
    volume_driver: str | None = None
    volumes_from: tuple[str, ...] = ()  # "SERVICE[:ro|rw]" or "container:NAME[:ro|rw]"
    # Keys Compose accepts that do not shape the container (`develop:`), as written.
    extras: Mapping[str, Any] = field(default_factory=_empty, compare=False)
    # Where each key of the service was written (after merging: the winning file).
    locations: Mapping[str, Location] = field(default_factory=_empty, compare=False)
    # What Compose would refuse about this service once it runs (an undefined network,
    # volume, secret, dependency, ...): a service in a profile may be incomplete while
    # the profile is not used, as in Compose. Selecting it raises the first problem.
    problems: tuple[str, ...] = field(default=(), compare=False)
    # The service as normalised data (JSON-able, sorted keys not required): the input of
    # the config hash, so that any change the user makes to the definition recreates it.
    config: Mapping[str, Any] = field(default_factory=_empty, compare=False)

    def is_active(self, active_profiles: frozenset[str] | set[str]) -> bool:
        """Compose's rule: no `profiles` means always on."""
        return not self.profiles or bool(set(self.profiles) & set(active_profiles))

    @property
    def replicas(self) -> int:
        """How many containers run: `scale`, else `deploy.replicas`, else 1 (may be 0)."""
        if self.scale is not None:
            return self.scale
        if self.deploy is not None and self.deploy.replicas is not None:
            return self.deploy.replicas
        return 1

    def location_of(self, key: str) -> Location:
        """Where `key` was written, for error messages (the service's line if unknown)."""
        return self.locations.get(key, self.location)


@dataclass(frozen=True)
class IpamPool:
    subnet: str | None = None
    gateway: str | None = None
    ip_range: str | None = None
    aux_addresses: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True)
class Ipam:
    driver: str | None = None
    config: tuple[IpamPool, ...] = ()
    options: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True)
class NetworkDef:
    key: str  # name used in the compose file
    name: str  # engine name: `<project>_<key>` unless `name:` or external
    external: bool = False
    driver: str | None = None
    internal: bool = False
    labels: Mapping[str, str] = field(default_factory=_empty)
    driver_opts: Mapping[str, str] = field(default_factory=_empty)
    ipam: Ipam | None = None
    attachable: bool = False
    enable_ipv6: bool = False
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True)
class VolumeDef:
    key: str
    name: str  # engine name: `<project>_<key>` unless `name:` or external
    external: bool = False
    driver: str | None = None
    labels: Mapping[str, str] = field(default_factory=_empty)
    driver_opts: Mapping[str, str] = field(default_factory=_empty)
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True)
class FileObjectDef:
    """A top-level secret or config. Exactly one source unless external: `file` (an
    absolute path), `environment` (the name of a variable whose value is the content)
    or, for configs, `content` (inline text). A secret's value is never printed."""

    key: str
    name: str  # `<project>_<key>` unless `name:` or external
    file: str | None = None
    environment: str | None = None
    content: str | None = None
    external: bool = False
    labels: Mapping[str, str] = field(default_factory=_empty)
    driver: str | None = None
    driver_opts: Mapping[str, str] = field(default_factory=_empty)
    template_driver: str | None = None
    location: Location | None = field(default=None, compare=False)


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
    secrets: Mapping[str, FileObjectDef] = field(default_factory=_empty)
    configs: Mapping[str, FileObjectDef] = field(default_factory=_empty)
    # Top-level `x-` keys, as written (Compose ignores them but prints them).
    extensions: Mapping[str, Any] = field(default_factory=_empty, compare=False)

    @property
    def profiles(self) -> frozenset[str]:
        """Every profile named by some service."""
        return frozenset(p for s in self.services.values() for p in s.profiles)
