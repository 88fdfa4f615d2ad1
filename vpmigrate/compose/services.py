"""One merged, interpolated `services.<name>` mapping to a model `Service`."""

from __future__ import annotations

import re
import shlex
from collections.abc import Collection, Mapping
from dataclasses import MISSING, dataclass, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from vpmigrate.compose.envfiles import read_env_file
from vpmigrate.compose.model import (
    BuildSpec,
    Dependency,
    DependencyCondition,
    Healthcheck,
    Location,
    PortMapping,
    Service,
    ServiceNetwork,
    VolumeMount,
    link_parts,
    volumes_from_parts,
)
from vpmigrate.compose.mounts import host_path, parse_ports, parse_volume
from vpmigrate.compose.values import (
    boolean,
    byte_size,
    check_keys,
    duration,
    integer,
    keyed,
    mapping,
    names_or_mapping,
    optional_boolean,
    optional_text,
    problem,
    sequence,
    text,
    text_list,
    text_map,
)
from vpmigrate.compose.yamlsource import LocatedDict
from vpmigrate.userfiles import is_missing

# fmt: off
SERVICE_KEYS = frozenset({
    "image", "command", "entrypoint", "environment", "env_file", "ports", "volumes",
    "healthcheck", "restart", "depends_on", "profiles", "networks", "network_mode", "labels",
    "container_name", "working_dir", "user", "hostname", "stop_signal", "stop_grace_period",
    "extra_hosts", "tty", "stdin_open", "init", "pull_policy", "build", "links",
    "volumes_from",
})
BUILD_KEYS = frozenset({
    "context", "dockerfile", "dockerfile_inline", "args", "target", "labels", "cache_from",
    "network", "shm_size", "extra_hosts", "pull", "no_cache", "tags", "platforms", "isolation",
    "ssh", "secrets", "cache_to", "additional_contexts", "privileged", "entitlements", "ulimits",
})
# Build keys that only BuildKit honours: kept in the model, refused by the engine's builder.
BUILDKIT_ONLY_KEYS = (
    "ssh", "secrets", "cache_to", "additional_contexts", "privileged", "entitlements", "ulimits",
)
_HEALTHCHECK_KEYS = {
    "test", "interval", "timeout", "retries", "start_period", "start_interval", "disable",
}
# fmt: on
_DEPENDENCY_KEYS = {"condition", "required", "restart"}
_SERVICE_NETWORK_KEYS = {"aliases", "ipv4_address"}
_ENV_FILE_KEYS = {"path", "required"}
_CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
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
}
# fmt: on


@dataclass(frozen=True)
class ServiceContext:
    """What normalising one service needs from the rest of the project."""

    project_directory: Path
    environment: Mapping[str, str]
    services: Collection[str]
    volumes: Collection[str]
    networks: Collection[str]
    project_name: str = ""  # names the image of a service that has `build:` but no `image:`


def build_service(name: str, data: Any, location: Location, ctx: ServiceContext) -> Service:
    where = f"service '{name}'"
    if _SERVICE_NAME.fullmatch(name) is None:
        raise problem(
            location,
            where,
            "a service name may use only letters, digits, '.', "
            "'_' and '-', and starts with a letter or digit.",
        )
    data = mapping(data, location, where)
    check_keys(data, SERVICE_KEYS, where)
    reader = _ServiceReader(name, data, where, ctx)
    build = reader.build()
    image_declared = data.get("image") not in (None, "")
    if not image_declared and build is None:
        raise problem(
            data.location,
            where,
            "has neither `image:` nor `build:`; give it an image to run, or a build context.",
        )
    service = Service(
        name=name,
        image=reader.text("image") if image_declared else default_image(ctx.project_name, name),
        location=location,
        command=reader.command("command"),
        entrypoint=reader.command("entrypoint"),
        environment=MappingProxyType(reader.environment()),
        ports=reader.ports(),
        volumes=reader.volumes(),
        healthcheck=reader.healthcheck(),
        restart=reader.restart(),
        depends_on=(),
        profiles=reader.profiles(),
        networks=reader.networks(),
        network_mode=reader.optional_text("network_mode"),
        links=reader.links(),
        volumes_from=reader.volumes_from(),
        labels=MappingProxyType(reader.labels()),
        container_name=reader.optional_text("container_name"),
        working_dir=reader.optional_text("working_dir"),
        user=reader.optional_text("user"),
        hostname=reader.optional_text("hostname"),
        stop_signal=reader.optional_text("stop_signal"),
        stop_grace_period_s=reader.optional_duration("stop_grace_period"),
        extra_hosts=reader.extra_hosts(),
        tty=reader.flag("tty"),
        stdin_open=reader.flag("stdin_open"),
        init=optional_boolean(data, "init", where),
        pull_policy=reader.pull_policy(),
        build=build,
        image_declared=image_declared,
    )
    service = replace(service, depends_on=with_implicit_dependencies(service, reader.depends_on()))
    return replace(service, config=service_config(service))


def with_implicit_dependencies(
    service: Service, explicit: tuple[Dependency, ...]
) -> tuple[Dependency, ...]:
    """`depends_on` plus what Compose adds when the file does not say: a started `links`
    or `network_mode: service:X` target (restarted with it), and a started
    `volumes_from` service."""
    found = {d.service: d for d in explicit}
    implicit = [Dependency(link_parts(link)[0], restart=True) for link in service.links]
    kind, _, target = (service.network_mode or "").partition(":")
    if kind == "service":
        implicit.append(Dependency(target, restart=True))
    for entry in service.volumes_from:
        source, container, _ = volumes_from_parts(entry)
        if not container:
            implicit.append(Dependency(source))
    for dependency in implicit:
        found.setdefault(dependency.service, dependency)
    return tuple(sorted(found.values(), key=lambda d: d.service))


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

    def at(self, key: str) -> str:
        return f"{self.where}: {key}"

    def text(self, key: str) -> str:
        return text(self.data[key], self.data.loc(key), self.at(key))

    def optional_text(self, key: str) -> str | None:
        return optional_text(self.data, key, self.where)

    def flag(self, key: str) -> bool:
        value = self.data.get(key)
        return False if value is None else boolean(value, self.data.loc(key), self.at(key))

    def optional_duration(self, key: str) -> float | None:
        value = self.data.get(key)
        return None if value is None else duration(value, self.data.loc(key), self.at(key))

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
        result: dict[str, str] = {}
        for path, required, location in self.env_files():
            if is_missing(path):  # anything else is read, and refused with its reason
                if required:
                    raise problem(
                        location,
                        self.at("env_file"),
                        f"env file {path} does not exist; create it, or use the long form "
                        "with `required: false` to make it optional.",
                    )
                continue
            result.update(read_env_file(path, self.ctx.environment))
        environment = keyed(
            self.data.get("environment"), self.data.loc("environment"), self.at("environment")
        )
        for key, value in environment.items():
            location = environment.loc(key)
            if value is None:
                # A bare KEY passes the value through from the environment; when that has
                # none, an env_file value stays and otherwise the key is left out (Compose).
                if key in self.ctx.environment:
                    result[key] = self.ctx.environment[key]
                continue
            result[key] = text(value, location, f"{self.at('environment')}.{key}")
        return result

    def env_files(self) -> list[tuple[Path, bool, Location]]:
        value = self.data.get("env_file")
        if value is None:
            return []
        items = text_list(value, self.data.loc("env_file"), self.at("env_file"))
        found = []
        for index, item in enumerate(items):
            location = items.loc(index)
            where = f"{self.at('env_file')}[{index}]"
            required = True
            if isinstance(item, LocatedDict):
                check_keys(item, _ENV_FILE_KEYS, where)
                if "path" not in item:
                    raise problem(location, where, "the long form needs `path:`.")
                if "required" in item:
                    required = boolean(item["required"], item.loc("required"), where)
                item = item["path"]
            raw = text(item, location, where)
            found.append((self.ctx.project_directory / raw, required, location))
        return found

    def ports(self) -> tuple[PortMapping, ...]:
        value = self.data.get("ports")
        if value is None:
            return ()
        items = sequence(value, self.data.loc("ports"), self.at("ports"))
        result: list[PortMapping] = []
        for index, item in enumerate(items):
            for port in parse_ports(item, items.loc(index), f"{self.at('ports')}[{index}]"):
                if port not in result:  # the same port from two files is one port
                    result.append(port)
        return tuple(result)

    def volumes(self) -> tuple[VolumeMount, ...]:
        value = self.data.get("volumes")
        if value is None:
            return ()
        items = sequence(value, self.data.loc("volumes"), self.at("volumes"))
        return tuple(
            parse_volume(
                item,
                items.loc(index),
                f"{self.at('volumes')}[{index}]",
                project_directory=self.ctx.project_directory,
                declared_volumes=self.ctx.volumes,
            )
            for index, item in enumerate(items)
        )

    def healthcheck(self) -> Healthcheck | None:
        value = self.data.get("healthcheck")
        if value is None:
            return None
        where = self.at("healthcheck")
        data = mapping(value, self.data.loc("healthcheck"), where)
        check_keys(data, _HEALTHCHECK_KEYS, where)
        if data.get("disable") is not None and boolean(
            data["disable"], data.loc("disable"), f"{where}.disable"
        ):
            return Healthcheck(test=("NONE",))
        test: tuple[str, ...] = ()
        raw_test = data.get("test")
        if isinstance(raw_test, str):
            test = ("CMD-SHELL", raw_test)
        elif raw_test is not None:
            items = sequence(raw_test, data.loc("test"), f"{where}.test")
            test = tuple(text(v, items.loc(i), f"{where}.test") for i, v in enumerate(items))
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
        return Healthcheck(
            test=test,
            interval_s=seconds("interval"),
            timeout_s=seconds("timeout"),
            retries=None if retries is None else integer(retries, data.loc("retries"), where),
            start_period_s=seconds("start_period"),
            start_interval_s=seconds("start_interval"),
        )

    def restart(self) -> str:
        if self.data.get("restart") is None:
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
        value = self.data.get("depends_on")
        if value is None:
            return ()
        where = self.at("depends_on")
        entries = names_or_mapping(value, self.data.loc("depends_on"), where)
        result = []
        for dependency, options in entries.items():
            location = entries.loc(dependency)
            if dependency not in self.ctx.services:
                known = ", ".join(sorted(self.ctx.services))
                raise problem(
                    location,
                    where,
                    f"depends on undefined service '{dependency}'; known services: {known}.",
                )
            if dependency == self.name:
                raise problem(location, where, "a service cannot depend on itself.")
            condition: str = "service_started"
            required, restart = True, False
            if options is not None:
                opts = mapping(options, location, f"{where}.{dependency}")
                check_keys(opts, _DEPENDENCY_KEYS, f"{where}.{dependency}")
                if opts.get("condition") is not None:
                    condition = text(opts["condition"], opts.loc("condition"), where)
                    if condition not in _CONDITIONS:
                        raise problem(
                            opts.loc("condition"),
                            f"{where}.{dependency}",
                            f"unknown condition {condition!r}; use {', '.join(_CONDITIONS)}.",
                        )
                if opts.get("required") is not None:
                    required = boolean(opts["required"], opts.loc("required"), where)
                if opts.get("restart") is not None:
                    restart = boolean(opts["restart"], opts.loc("restart"), where)
            result.append(Dependency(dependency, _as_condition(condition), required, restart))
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
        value = self.data.get("networks")
        if self.data.get("network_mode") is not None:
            if value is not None:
                raise problem(
                    self.data.loc("networks"),
                    self.where,
                    "`networks:` and `network_mode:` cannot be used together; keep one.",
                )
            self.check_network_mode()
            return ()
        if value is None:
            return (ServiceNetwork("default"),)
        where = self.at("networks")
        entries = names_or_mapping(value, self.data.loc("networks"), where)
        result = []
        for network, options in entries.items():
            location = entries.loc(network)
            if network != "default" and network not in self.ctx.networks:
                raise problem(
                    location,
                    where,
                    f"network '{network}' is not declared under the top-level "
                    f"`networks:`; add `networks: {{{network}: {{}}}}`.",
                )
            aliases: tuple[str, ...] = ()
            ipv4: str | None = None
            if options is not None:
                opts = mapping(options, location, f"{where}.{network}")
                check_keys(opts, _SERVICE_NETWORK_KEYS, f"{where}.{network}")
                if opts.get("aliases") is not None:
                    alias_list = sequence(opts["aliases"], opts.loc("aliases"), where)
                    aliases = tuple(
                        text(a, alias_list.loc(i), where) for i, a in enumerate(alias_list)
                    )
                if opts.get("ipv4_address") is not None:
                    ipv4 = text(opts["ipv4_address"], opts.loc("ipv4_address"), where)
            result.append(ServiceNetwork(network, aliases, ipv4))
        return tuple(sorted(result, key=lambda n: n.network))

    def check_network_mode(self) -> None:
        mode = self.text("network_mode")
        kind, _, target = mode.partition(":")
        if mode in ("host", "none", "bridge") or (kind == "container" and target):
            return
        if kind == "service" and target in self.ctx.services:
            return
        raise problem(
            self.data.loc("network_mode"),
            self.at("network_mode"),
            f"unsupported network_mode {mode!r}; use host, none, bridge, "
            "service:NAME (an existing service) or container:NAME.",
        )

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
            raise problem(
                location, where, f"refers to undefined service '{name}'; known services: {known}."
            )
        if name == self.name:
            raise problem(location, where, "a service cannot refer to itself.")

    def labels(self) -> dict[str, str]:
        return text_map(self.data.get("labels"), self.data.loc("labels"), self.at("labels"))

    def extra_hosts(self) -> tuple[str, ...]:
        return _extra_hosts(self.data, self.at("extra_hosts"))

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
                {k: _plain(data[k]) for k in BUILDKIT_ONLY_KEYS if data.get(k) is not None}
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
        from_list = not isinstance(value, LocatedDict)
        args: dict[str, str] = {}
        for key, item in entries.items():
            if item is None:
                # A bare `- KEY` takes the environment's value (Compose); `KEY:` in a mapping
                # and an unset variable leave the argument out, so the Dockerfile's default holds.
                if from_list and key in self.ctx.environment:
                    args[key] = self.ctx.environment[key]
                continue
            args[key] = text(item, entries.loc(key), f"{where}.{key}")
        return args

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


def _as_condition(condition: str) -> DependencyCondition:
    if condition == "service_healthy":
        return "service_healthy"
    if condition == "service_completed_successfully":
        return "service_completed_successfully"
    return "service_started"


def _plain(value: Any) -> Any:
    """A YAML value without its locations, for the model."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _extra_hosts(data: LocatedDict, where: str) -> tuple[str, ...]:
    value = data.get("extra_hosts")
    if value is None:
        return ()
    result: list[str] = []
    if isinstance(value, LocatedDict):
        pairs = [(host, ip, value.loc(host)) for host, ip in value.items()]
    else:
        items = sequence(value, data.loc("extra_hosts"), where)
        pairs = []
        for index, item in enumerate(items):
            entry = text(item, items.loc(index), where)
            separator = "=" if "=" in entry else ":"
            host, _, ip = entry.partition(separator)
            pairs.append((host, ip, items.loc(index)))
    for host, ip, location in pairs:
        address = text(ip, location, where) if ip is not None else ""
        if not host or not address:
            raise problem(location, where, "write each entry as HOST:IP or HOST=IP.")
        entry = f"{host}:{address}"
        if entry not in result:
            result.append(entry)
    return tuple(result)
