"""One canonical `services.<name>` mapping to a model `Service`.

The mapping has been merged, expanded (`canonical`) and normalised (`loader`)
already; its shape has been checked (`schema`). What is left here: turning each
value into its typed model field, with the checks that need the value itself
(restart policies, port numbers, sizes, durations, references to other services,
volumes, networks, secrets and configs), each error naming file:line.
"""

from __future__ import annotations

import re
import shlex
from collections import ChainMap
from collections.abc import Callable, Collection, Mapping
from dataclasses import MISSING, dataclass, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from vpmigrate.compose.deploy import (
    read_blkio,
    read_cpus,
    read_deploy,
    read_gpus,
    read_logging,
    read_ulimits,
)
from vpmigrate.compose.envfiles import read_env_file
from vpmigrate.compose.model import (
    BuildSpec,
    Dependency,
    DependencyCondition,
    FileReference,
    Healthcheck,
    Location,
    PortMapping,
    Service,
    ServiceNetwork,
    VolumeMount,
    link_parts,
    volumes_from_parts,
)
from vpmigrate.compose.mounts import host_path, read_port, read_volume
from vpmigrate.compose.tree import go_string, plain
from vpmigrate.compose.values import (
    boolean,
    byte_size,
    check_keys,
    duration,
    integer,
    keyed,
    optional_text,
    problem,
    sequence,
    text,
    text_list,
    text_map,
)
from vpmigrate.compose.yamlsource import LocatedDict, LocatedList
from vpmigrate.errors import UserError
from vpmigrate.userfiles import is_missing

# fmt: off
BUILD_KEYS = frozenset({
    "context", "dockerfile", "dockerfile_inline", "args", "target", "labels", "cache_from",
    "network", "shm_size", "extra_hosts", "pull", "no_cache", "tags", "platforms", "isolation",
    "ssh", "secrets", "cache_to", "additional_contexts", "privileged", "entitlements", "ulimits",
})
# Build keys that only BuildKit honours: kept in the model, refused by the engine's builder.
BUILDKIT_ONLY_KEYS = (
    "ssh", "secrets", "cache_to", "additional_contexts", "privileged", "entitlements", "ulimits",
)
# fmt: on
_RESTART = re.compile(r"no|always|unless-stopped|on-failure(:\d+)?")
_PULL_POLICIES = {
    "always": "always",
    "never": "never",
    "missing": "missing",
    "if_not_present": "missing",
    "build": "build",
}
_SERVICE_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
_PROFILE_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
# Fields that do not change the container: Compose leaves them out of its config hash too.
# Compose leaves `build` out as well: a rebuilt image changes the image ID, which recreates.
_NOT_HASHED = {
    "location",
    "locations",
    "config",
    "problems",
    "extras",
    "depends_on",
    "profiles",
    "pull_policy",
    "build",
    "image_declared",
}
# The fields each model class had before issue 10: hashed even at their default, so
# that the hash of an unchanged service stays what it was. Later fields are hashed only
# when set. Classes not listed here hash every field.
# fmt: off
_HASHED_AT_DEFAULT = {
    "Service": {
        "name", "image", "location", "config", "command", "entrypoint", "environment",
        "ports", "volumes", "healthcheck", "restart", "depends_on", "profiles", "networks",
        "network_mode", "labels", "container_name", "working_dir", "user", "hostname",
        "stop_signal", "stop_grace_period_s", "extra_hosts", "tty", "stdin_open", "init",
        "pull_policy",
    },
    "PortMapping": {"target", "published", "host_ip", "protocol"},
    "VolumeMount": {"type", "target", "source", "read_only"},
    "ServiceNetwork": {"network", "aliases", "ipv4_address"},
    "Healthcheck": {
        "test", "interval_s", "timeout_s", "retries", "start_period_s", "start_interval_s",
    },
}
# fmt: on
Warn = Callable[[str], None]


@dataclass(frozen=True)
class ServiceContext:
    """What normalising one service needs from the rest of the project."""

    project_directory: Path
    environment: Mapping[str, str]
    services: Collection[str]
    volumes: Collection[str]
    networks: Collection[str]
    project_name: str = ""  # names the image of a service that has `build:` but no `image:`
    secrets: Collection[str] = ()
    configs: Collection[str] = ()
    warn: Warn = lambda message: None
    # A missing required env file: an error, as in Compose (False), or a warning, the
    # file read as empty (True: for tasks that only read the model, such as an audit of
    # a fresh clone whose gitignored env files were never created).
    missing_env_files_ok: bool = False


def build_service(name: str, data: Any, location: Location, ctx: ServiceContext) -> Service:
    where = f"service '{name}'"
    if _SERVICE_NAME.fullmatch(name) is None:
        raise problem(
            location,
            where,
            "a service name may use only letters, digits, '.', "
            "'_' and '-', and starts with a letter or digit.",
        )
    if not isinstance(data, LocatedDict):
        raise problem(location, where, "must be a mapping of settings.")
    reader = _ServiceReader(name, data, where, ctx)
    build = reader.build()
    image_declared = data.get("image") not in (None, "")
    if not image_declared and build is None:
        reader.refuse(
            problem(
                data.location,
                where,
                "has neither `image:` nor `build:`; give it an image to run, or a build context.",
            )
        )
    r = reader
    # Links and volumes_from first: they imply depends_on entries, and their own message
    # says more about a wrong name.
    links, volumes_from = r.links(), r.volumes_from()
    deploy = read_deploy(data.get("deploy"), data.loc("deploy"), r.at("deploy"), ctx.warn)
    service = Service(
        name=name,
        image=r.text("image")
        if image_declared
        else default_image(ctx.project_name, name)
        if build is not None
        else "",
        location=location,
        command=r.command("command"),
        entrypoint=r.command("entrypoint"),
        environment=MappingProxyType(r.environment()),
        ports=r.ports(),
        volumes=r.volumes(),
        healthcheck=r.healthcheck(),
        restart=r.restart(),
        depends_on=r.depends_on(),
        profiles=r.profiles(),
        networks=r.networks(),
        network_mode=r.optional_text("network_mode"),
        labels=MappingProxyType(r.mapping("labels")),
        container_name=r.optional_text("container_name"),
        working_dir=r.optional_text("working_dir"),
        user=r.optional_text("user"),
        hostname=r.optional_text("hostname"),
        stop_signal=r.optional_text("stop_signal"),
        stop_grace_period_s=r.optional_duration("stop_grace_period"),
        extra_hosts=r.extra_hosts(),
        tty=r.flag("tty"),
        stdin_open=r.flag("stdin_open"),
        init=r.optional_flag("init"),
        pull_policy=r.pull_policy(),
        build=build,
        image_declared=image_declared,
        annotations=MappingProxyType(r.mapping("annotations")),
        attach=r.optional_flag("attach"),
        blkio_config=read_blkio(
            data.get("blkio_config"), data.loc("blkio_config"), r.at("blkio_config")
        ),
        cap_add=r.strings("cap_add"),
        cap_drop=r.strings("cap_drop"),
        cgroup=r.optional_text("cgroup"),
        cgroup_parent=r.optional_text("cgroup_parent"),
        configs=r.file_references("configs", ctx.configs, "config"),
        cpu_count=r.optional_int("cpu_count"),
        cpu_percent=r.optional_float("cpu_percent"),
        cpu_period=r.optional_int("cpu_period"),
        cpu_quota=r.optional_int("cpu_quota"),
        cpu_rt_period=r.optional_int("cpu_rt_period"),
        cpu_rt_runtime=r.optional_int("cpu_rt_runtime"),
        cpu_shares=r.optional_int("cpu_shares"),
        cpus=r.optional_cpus("cpus"),
        cpuset=r.optional_text("cpuset"),
        credential_spec=r.credential_spec(),
        deploy=deploy,
        device_cgroup_rules=r.strings("device_cgroup_rules"),
        devices=r.strings("devices"),
        dns=r.strings("dns"),
        dns_opt=r.strings("dns_opt"),
        dns_search=r.strings("dns_search"),
        domainname=r.optional_text("domainname"),
        expose=r.strings("expose"),
        external_links=r.strings("external_links"),
        gpus=read_gpus(data.get("gpus"), data.loc("gpus"), r.at("gpus")),
        group_add=r.strings("group_add"),
        ipc=r.namespace("ipc"),
        isolation=r.optional_text("isolation"),
        links=links,
        logging=read_logging(data.get("logging"), data.loc("logging"), r.at("logging")),
        mac_address=r.optional_text("mac_address"),
        mem_limit=r.optional_bytes("mem_limit"),
        mem_reservation=r.optional_bytes("mem_reservation"),
        mem_swappiness=r.optional_bytes("mem_swappiness"),
        memswap_limit=r.optional_bytes("memswap_limit"),
        oom_kill_disable=r.flag("oom_kill_disable"),
        oom_score_adj=r.optional_int("oom_score_adj"),
        pid=r.namespace("pid"),
        pids_limit=r.optional_int("pids_limit"),
        platform=r.optional_text("platform"),
        privileged=r.flag("privileged"),
        read_only=r.flag("read_only"),
        runtime=r.optional_text("runtime"),
        scale=r.optional_int("scale"),
        secrets=r.file_references("secrets", ctx.secrets, "secret"),
        security_opt=r.strings("security_opt"),
        shm_size=r.optional_bytes("shm_size"),
        storage_opt=MappingProxyType(r.mapping("storage_opt")),
        sysctls=MappingProxyType(r.mapping("sysctls")),
        tmpfs=r.strings("tmpfs"),
        ulimits=MappingProxyType(
            read_ulimits(data.get("ulimits"), data.loc("ulimits"), r.at("ulimits"))
        ),
        userns_mode=r.optional_text("userns_mode"),
        uts=r.namespace("uts"),
        volume_driver=r.optional_text("volume_driver"),
        volumes_from=volumes_from,
        extras=MappingProxyType({k: plain(data[k]) for k in ("develop",) if k in data}),
        locations=MappingProxyType({k: data.loc(k) for k in data}),
    )
    r.check_consistency(service)
    service = replace(service, problems=tuple(r.problems))
    return replace(service, config=service_config(service))


def default_image(project_name: str, service_name: str) -> str:
    """Compose's name for the image it builds for a service without `image:`."""
    return f"{project_name}-{service_name}".lower()


def service_config(service: Service) -> dict[str, Any]:
    """The service as JSON-able data with a stable key order: the config-hash input.

    A field left at its default is left out unless it was in the model from the start,
    so that adding a field does not change the hash (and recreate the container) of a
    service that does not use it."""
    return {key: value for key, value in _jsonable(service).items() if key not in _NOT_HASHED}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(value.items())}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        always = _HASHED_AT_DEFAULT.get(type(value).__name__)
        result = {}
        for f in fields(value):
            item = getattr(value, f.name)
            if always is None or f.name in always or item != _default(f):
                result[f.name] = _jsonable(item)
        return result
    if isinstance(value, Path):
        return str(value)
    return value


def _default(f: Any) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


class _ServiceReader:
    def __init__(self, name: str, data: LocatedDict, where: str, ctx: ServiceContext) -> None:
        self.name = name
        self.data = data
        self.where = where
        self.ctx = ctx
        # Compose checks references (to services, networks, volumes, secrets, configs)
        # only for the services it runs: a service in a profile may refer to things
        # that are not there until it is selected. Always-on services are checked now.
        self.deferrable = bool(data.get("profiles"))
        self.problems: list[str] = []

    def refuse(self, error: UserError) -> None:
        """A consistency problem: an error now, or when the service is selected."""
        if not self.deferrable:
            raise error
        self.problems.append(str(error))

    def at(self, key: str) -> str:
        return f"{self.where}: {key}"

    def loc(self, key: str) -> Location:
        return self.data.loc(key)

    def text(self, key: str) -> str:
        return text(self.data[key], self.data.loc(key), self.at(key))

    def optional_text(self, key: str) -> str | None:
        value = self.data.get(key)
        return None if value is None else text(value, self.loc(key), self.at(key))

    def flag(self, key: str) -> bool:
        value = self.data.get(key)
        return False if value is None else boolean(value, self.data.loc(key), self.at(key))

    def optional_flag(self, key: str) -> bool | None:
        value = self.data.get(key)
        return None if value is None else boolean(value, self.data.loc(key), self.at(key))

    def optional_int(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return integer(value, self.loc(key), self.at(key))

    def optional_float(self, key: str) -> float | None:
        value = self.data.get(key)
        return None if value is None else read_cpus(value, self.loc(key), self.at(key))

    def optional_cpus(self, key: str) -> float | None:
        return self.optional_float(key)

    def optional_bytes(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, float):
            # Compose reads a size given as a YAML float as nothing at all.
            return int(value) if value.is_integer() else None
        return byte_size(value, self.loc(key), self.at(key))

    def optional_duration(self, key: str) -> float | None:
        value = self.data.get(key)
        return None if value is None else duration(value, self.data.loc(key), self.at(key))

    def strings(self, key: str) -> tuple[str, ...]:
        """A list of strings (or one string, or numbers written as Compose prints them)."""
        value = self.data.get(key)
        if value is None:
            return ()
        items = text_list(value, self.loc(key), self.at(key))
        return tuple(go_string(item) if not isinstance(item, str) else item for item in items)

    def mapping(self, key: str) -> dict[str, str]:
        """Labels, annotations, sysctls, storage_opt: list or mapping to text; a bare key
        has the value ""."""
        entries = keyed(self.data.get(key), self.loc(key), self.at(key))
        return {k: "" if v is None else go_string(v) for k, v in entries.items()}

    def command(self, key: str) -> tuple[str, ...] | None:
        value = self.data.get(key)
        if value is None:
            return None
        location = self.data.loc(key)
        if isinstance(value, str):
            try:
                return tuple(shlex.split(value))
            except ValueError as exc:
                raise problem(location, self.at(key), f"cannot split {value!r}: {exc}.") from None
        items = sequence(value, location, self.at(key))
        return tuple(
            text(item, items.loc(i), f"{self.at(key)}[{i}]") for i, item in enumerate(items)
        )

    def environment(self) -> dict[str, str]:
        """`env_file` entries (later files win), then `environment:` on top. A bare KEY
        takes the environment's value, or is left out (an env_file value then stays)."""
        result: dict[str, str] = {}
        for entry in self.data.get("env_file") or ():
            if not isinstance(entry, LocatedDict):
                continue
            path = Path(str(entry.get("path")))
            required = entry.get("required") is not False
            if is_missing(path):  # anything else is read, and refused with its reason
                if required and self.ctx.missing_env_files_ok:
                    # Said once per line: services that share it through a YAML
                    # anchor point at the same line.
                    self.ctx.warn(
                        f"{entry.location}: env_file: env file {path} does not exist; read "
                        "as empty (Compose refuses it: create it before `docker compose up`)."
                    )
                elif required:
                    raise problem(
                        entry.location,
                        self.at("env_file"),
                        f"env file {path} does not exist; create it, or use the long form "
                        "with `required: false` to make it optional.",
                    )
                continue
            result.update(read_env_file(path, ChainMap(result, dict(self.ctx.environment))))
        environment = keyed(
            self.data.get("environment"), self.data.loc("environment"), self.at("environment")
        )
        for key, value in environment.items():
            if value is None:
                if key in self.ctx.environment:
                    result[key] = self.ctx.environment[key]
                continue
            result[key] = value if isinstance(value, str) else go_string(value)
        return result

    def ports(self) -> tuple[PortMapping, ...]:
        items = self.data.get("ports")
        if not isinstance(items, LocatedList):
            return ()
        return tuple(
            read_port(item, items.loc(i), f"{self.at('ports')}[{i}]")
            for i, item in enumerate(items)
        )

    def volumes(self) -> tuple[VolumeMount, ...]:
        items = self.data.get("volumes")
        if not isinstance(items, LocatedList):
            return ()
        mounts = []
        for index, item in enumerate(items):
            where = f"{self.at('volumes')}[{index}]"
            source = item.get("source") if isinstance(item, LocatedDict) else None
            if (
                isinstance(item, LocatedDict)
                and item.get("type") == "volume"
                and source not in (None, "")
                and source not in self.ctx.volumes
            ):
                self.refuse(
                    problem(
                        item.loc("source"),
                        where,
                        f"named volume {source!r} is not declared under the top-level "
                        f"`volumes:`; add `volumes: {{{source}: {{}}}}`, or write ./{source} "
                        "for a bind mount.",
                    )
                )
                continue
            mounts.append(
                read_volume(item, items.loc(index), where, declared_volumes=self.ctx.volumes)
            )
        return tuple(mounts)

    def healthcheck(self) -> Healthcheck | None:
        data = self.data.get("healthcheck")
        if not isinstance(data, LocatedDict):
            return None
        where = self.at("healthcheck")
        if data.get("disable") is True:
            return Healthcheck(test=("NONE",), disable=True)
        test: tuple[str, ...] = ()
        raw_test = data.get("test")
        if isinstance(raw_test, str):
            test = ("CMD-SHELL", raw_test)
        elif raw_test is not None:
            test = tuple(str(v) for v in raw_test)
            if test and test[0] not in ("CMD", "CMD-SHELL", "NONE"):
                raise problem(
                    data.loc("test"),
                    f"{where}.test",
                    'a test list starts with "CMD", "CMD-SHELL" or "NONE".',
                )

        def seconds(key: str) -> float | None:
            if data.get(key) is None:
                return None
            return duration(data[key], data.loc(key), f"{where}.{key}")

        retries = data.get("retries")
        if isinstance(retries, float) and retries.is_integer():
            retries = int(retries)
        return Healthcheck(
            test=test,
            interval_s=seconds("interval"),
            timeout_s=seconds("timeout"),
            retries=None if retries is None else integer(retries, data.loc("retries"), where),
            start_period_s=seconds("start_period"),
            start_interval_s=seconds("start_interval"),
        )

    def restart(self) -> str:
        if self.data.get("restart") in (None, ""):
            return "no"
        policy = self.text("restart")
        if _RESTART.fullmatch(policy) is None:
            raise problem(
                self.data.loc("restart"),
                self.at("restart"),
                f"unknown restart policy {policy!r}; use no, always, unless-stopped, "
                "on-failure or on-failure:N.",
            )
        return policy

    def depends_on(self) -> tuple[Dependency, ...]:
        entries = self.data.get("depends_on")
        if not isinstance(entries, LocatedDict):
            return ()
        where = self.at("depends_on")
        result = []
        for dependency, options in entries.items():
            location = entries.loc(dependency)
            opts = options if isinstance(options, LocatedDict) else LocatedDict(location)
            required = opts.get("required") is not False
            if dependency not in self.ctx.services:
                known = ", ".join(sorted(self.ctx.services))
                self.refuse(
                    problem(
                        location,
                        where,
                        f"depends on undefined service '{dependency}'; known services: {known}.",
                    )
                )
                continue
            condition = str(opts.get("condition") or "service_started")
            result.append(
                Dependency(
                    dependency, _as_condition(condition), required, opts.get("restart") is True
                )
            )
        return tuple(sorted(result, key=lambda d: d.service))

    def profiles(self) -> tuple[str, ...]:
        value = self.data.get("profiles")
        if value is None:
            return ()
        items = sequence(value, self.data.loc("profiles"), self.at("profiles"))
        names = []
        for index, item in enumerate(items):
            profile = text(item, items.loc(index), self.at("profiles"))
            if _PROFILE_NAME.fullmatch(profile) is None:
                raise problem(
                    items.loc(index),
                    self.at("profiles"),
                    f"invalid profile name {profile!r}; use letters, digits, '.', '_' and '-'.",
                )
            if profile not in names:
                names.append(profile)
        return tuple(names)

    def networks(self) -> tuple[ServiceNetwork, ...]:
        entries = self.data.get("networks")
        if self.data.get("network_mode") is not None:
            if entries:
                raise problem(
                    self.data.loc("networks"),
                    self.where,
                    "`networks:` and `network_mode:` cannot be used together; keep one.",
                )
            self.check_shared("network_mode")
            return ()
        if not isinstance(entries, LocatedDict):
            return ()
        where = self.at("networks")
        result = []
        for network, options in entries.items():
            location = entries.loc(network)
            if network not in self.ctx.networks:
                self.refuse(
                    problem(
                        location,
                        where,
                        f"network '{network}' is not declared under the top-level "
                        f"`networks:`; add `networks: {{{network}: {{}}}}`.",
                    )
                )
                continue
            opts = options if isinstance(options, LocatedDict) else LocatedDict(location)

            def names(key: str, opts: LocatedDict = opts) -> tuple[str, ...]:
                return tuple(str(v) for v in opts.get(key) or ())

            def optional(key: str, opts: LocatedDict = opts) -> str | None:
                value = opts.get(key)
                return None if value in (None, "") else str(value)

            priority = opts.get("priority")
            result.append(
                ServiceNetwork(
                    network,
                    aliases=names("aliases"),
                    ipv4_address=optional("ipv4_address"),
                    ipv6_address=optional("ipv6_address"),
                    link_local_ips=names("link_local_ips"),
                    mac_address=optional("mac_address"),
                    priority=0 if priority is None else int(priority),
                )
            )
        return tuple(sorted(result, key=lambda n: (-n.priority, n.network)))

    def check_shared(self, key: str) -> None:
        """`service:NAME` in network_mode, ipc, pid, uts or cgroup names a service here."""
        mode = self.text(key)
        kind, _, target = mode.partition(":")
        if kind == "service" and target not in self.ctx.services:
            self.refuse(
                problem(
                    self.data.loc(key),
                    self.at(key),
                    f"{mode!r} names no service of this project; known services: "
                    f"{', '.join(sorted(self.ctx.services))}.",
                )
            )
        if kind in ("service", "container") and not target:
            raise problem(self.data.loc(key), self.at(key), f"{mode!r} needs a name after ':'.")

    def namespace(self, key: str) -> str | None:
        if self.data.get(key) is None:
            return None
        self.check_shared(key)
        return self.text(key)

    def links(self) -> tuple[str, ...]:
        found = self.unique_texts("links")
        for entry, location, where in found:
            self.check_service(link_parts(entry)[0], location, where)
        return tuple(entry for entry, _, _ in found)

    def volumes_from(self) -> tuple[str, ...]:
        found = self.unique_texts("volumes_from")
        for entry, location, where in found:
            source, container, mode = volumes_from_parts(entry)
            if not source or mode not in ("", "ro", "rw"):
                raise problem(
                    location,
                    where,
                    f"write {entry!r} as SERVICE, SERVICE:ro, container:NAME or "
                    "container:NAME:ro (the mode is ro or rw).",
                )
            if not container:
                self.check_service(source, location, where)
        return tuple(entry for entry, _, _ in found)

    def unique_texts(self, key: str) -> list[tuple[str, Location, str]]:
        """A list of strings, each once (files merged with `-f` append to such lists)."""
        value = self.data.get(key)
        if value is None:
            return []
        items = sequence(value, self.data.loc(key), self.at(key))
        found: dict[str, tuple[str, Location, str]] = {}
        for index, item in enumerate(items):
            where = f"{self.at(key)}[{index}]"
            entry = text(item, items.loc(index), where)
            found.setdefault(entry, (entry, items.loc(index), where))
        return list(found.values())

    def check_service(self, name: str, location: Location, where: str) -> None:
        if name not in self.ctx.services:
            known = ", ".join(sorted(self.ctx.services))
            self.refuse(
                problem(
                    location,
                    where,
                    f"refers to undefined service '{name}'; known services: {known}.",
                )
            )
        if name == self.name:
            raise problem(location, where, "a service cannot refer to itself.")

    def file_references(
        self, key: str, declared: Collection[str], what: str
    ) -> tuple[FileReference, ...]:
        items = self.data.get(key)
        if items is None:
            return ()
        result = []
        for index, item in enumerate(items):
            location = items.loc(index)
            if not isinstance(item, LocatedDict):
                continue
            source = str(item.get("source"))
            if source not in declared:
                self.refuse(
                    problem(
                        location,
                        f"{self.at(key)}[{index}]",
                        f"{what} {source!r} is not declared under the top-level `{key}:`; "
                        f"add it there with a `file:` or `environment:` source.",
                    )
                )
                continue
            mode = item.get("mode")

            def optional(field: str, item: LocatedDict = item) -> str | None:
                value = item.get(field)
                return None if value in (None, "") else str(value)

            result.append(
                FileReference(
                    source=source,
                    target=optional("target"),
                    uid=optional("uid"),
                    gid=optional("gid"),
                    mode=None if mode is None else int(mode),
                )
            )
        return tuple(result)

    def credential_spec(self) -> Mapping[str, str] | None:
        value = self.data.get("credential_spec")
        if not isinstance(value, LocatedDict):
            return None
        return MappingProxyType({k: str(v) for k, v in value.items() if not k.startswith("x-")})

    def extra_hosts(self) -> tuple[str, ...]:
        return _extra_hosts(self.data, self.at("extra_hosts"))

    def pull_policy(self) -> str | None:
        if self.data.get("pull_policy") is None:
            return None
        policy = self.text("pull_policy")
        if policy not in _PULL_POLICIES:
            raise problem(
                self.data.loc("pull_policy"),
                self.at("pull_policy"),
                f"unsupported pull_policy {policy!r}; use always, never, missing or build.",
            )
        return _PULL_POLICIES[policy]

    def check_consistency(self, service: Service) -> None:
        """What Compose checks between keys of one service."""
        deploy = service.deploy
        limits = deploy.limits if deploy else None
        reservations = deploy.reservations if deploy else None
        # Compose compares with the deploy value whenever that section exists (an unset
        # deploy value counts as 0), except for replicas, compared only when set.
        pairs: list[tuple[str, Any, Any, str]] = [
            ("scale", service.scale, deploy.replicas if deploy else None, "deploy.replicas"),
        ]
        if limits is not None:
            pairs += [
                ("cpus", service.cpus, limits.cpus or 0, "deploy.resources.limits.cpus"),
                (
                    "mem_limit",
                    service.mem_limit,
                    limits.memory or 0,
                    "deploy.resources.limits.memory",
                ),
                (
                    "pids_limit",
                    service.pids_limit,
                    limits.pids or 0,
                    "deploy.resources.limits.pids",
                ),
            ]
        if reservations is not None:
            pairs.append(
                (
                    "mem_reservation",
                    service.mem_reservation,
                    reservations.memory or 0,
                    "deploy.resources.reservations.memory",
                )
            )
        for key, own, other, other_name in pairs:
            if key == "scale" and own is None:
                continue
            if key != "scale" and not own:
                continue
            if other is not None and own != other:
                self.refuse(
                    problem(
                        self.loc(key),
                        self.where,
                        f"`{key}` ({own}) and `{other_name}` ({other}) differ; set only one "
                        "of them.",
                    )
                )
        if service.replicas > 1 and service.container_name:
            self.refuse(
                problem(
                    self.loc("container_name"),
                    self.where,
                    f"`container_name` and {service.replicas} replicas cannot go together: a "
                    "container name is unique. Remove container_name, or run one replica.",
                )
            )
        build = service.build
        platform = service.platform
        if build is not None and build.platforms and platform not in (None, *build.platforms):
            self.refuse(
                problem(
                    self.loc("platform"),
                    self.where,
                    f"`platform: {platform}` is not among `build.platforms` "
                    f"({', '.join(build.platforms)}); add it there, or change it.",
                )
            )

    def build(self) -> BuildSpec | None:
        value = self.data.get("build")
        if value is None:
            return None
        where = self.at("build")
        location = self.data.loc("build")
        if not isinstance(value, LocatedDict):
            context = text(value, location, where)
            return BuildSpec(context=self._context(context), location=location, key_locations={})
        check_keys(value, BUILD_KEYS, where)
        data = value

        def opt(key: str) -> str | None:
            return optional_text(data, key, where)

        def flag(key: str) -> bool:
            raw = data.get(key)
            return False if raw is None else boolean(raw, data.loc(key), f"{where}.{key}")

        def names(key: str) -> tuple[str, ...]:
            raw = data.get(key)
            if raw is None:
                return ()
            items = text_list(raw, data.loc(key), f"{where}.{key}")
            return tuple(text(v, items.loc(i), f"{where}.{key}") for i, v in enumerate(items))

        inline = opt("dockerfile_inline")
        dockerfile = opt("dockerfile")
        if inline is not None and dockerfile is not None:
            raise problem(
                data.loc("dockerfile_inline"),
                where,
                "`dockerfile` and `dockerfile_inline` cannot be used together; keep one.",
            )
        shm = data.get("shm_size")
        return BuildSpec(
            context=self._context(opt("context") or "."),
            dockerfile=None if inline is not None else dockerfile or "Dockerfile",
            dockerfile_inline=inline,
            args=MappingProxyType(self._build_args(data.get("args"), data.loc("args"))),
            target=opt("target"),
            labels=MappingProxyType(
                text_map(data.get("labels"), data.loc("labels"), f"{where}.labels")
            ),
            cache_from=names("cache_from"),
            network=opt("network"),
            shm_size=None if shm is None else byte_size(shm, data.loc("shm_size"), where),
            extra_hosts=_extra_hosts(data, f"{where}.extra_hosts"),
            pull=flag("pull"),
            no_cache=flag("no_cache"),
            tags=names("tags"),
            platforms=names("platforms"),
            isolation=opt("isolation"),
            buildkit_only=MappingProxyType(
                {k: plain(data[k]) for k in BUILDKIT_ONLY_KEYS if data.get(k) is not None}
            ),
            location=location,
            key_locations=MappingProxyType({k: data.loc(k) for k in data}),
        )

    def _context(self, raw: str) -> str:
        """Relative to the project directory, as Compose resolves it; remote ones as written."""
        if BuildSpec(context=raw).remote:
            return raw
        return host_path(raw, self.ctx.project_directory)

    def _build_args(self, value: Any, location: Location) -> dict[str, str]:
        where = self.at("build.args")
        entries = keyed(value, location, where)
        args: dict[str, str] = {}
        for key, item in entries.items():
            if item is None:
                # A bare `- KEY` or `KEY:` takes the environment's value (Compose); an
                # unset variable leaves the argument out, so the Dockerfile's default holds.
                if key in self.ctx.environment:
                    args[key] = self.ctx.environment[key]
                continue
            args[key] = text(item, entries.loc(key), f"{where}.{key}")
        return args


def _as_condition(condition: str) -> DependencyCondition:
    if condition == "service_healthy":
        return "service_healthy"
    if condition == "service_completed_successfully":
        return "service_completed_successfully"
    return "service_started"


def _extra_hosts(data: LocatedDict, where: str) -> tuple[str, ...]:
    """`extra_hosts` (list of HOST=IP / HOST:IP, or a mapping) as "HOST:IP" entries; a
    host may have several addresses, `[::1]` loses its brackets (Compose's reading)."""
    value = data.get("extra_hosts")
    if value is None:
        return ()
    pairs: list[tuple[str, str, Location]] = []
    if isinstance(value, LocatedDict):
        for host, ip in value.items():
            pairs.append((host, "" if ip is None else go_string(ip), value.loc(host)))
    else:
        items = text_list(value, data.loc("extra_hosts"), where)
        for index, item in enumerate(items):
            entry = text(item, items.loc(index), where)
            separator = "=" if "=" in entry else ":"
            if separator not in entry:
                raise problem(
                    items.loc(index), where, f"{entry!r} has no IP address; write HOST=IP."
                )
            host, _, ip = entry.partition(separator)
            pairs.append((host, ip, items.loc(index)))
    result: list[str] = []
    for host, ip, location in pairs:
        if not host or ":" in host or "=" in host:
            raise problem(location, where, f"bad host name {host!r}; write HOST=IP.")
        if len(ip) > 2 and ip.startswith("[") and ip.endswith("]"):
            ip = ip[1:-1]
        if not ip:
            raise problem(location, where, f"{host!r} has no IP address; write HOST=IP.")
        result.append(f"{host}:{ip}")
    return tuple(result)
