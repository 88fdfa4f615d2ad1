"""The shape of a Compose file: which keys exist where and what kind of value each takes.

This is Compose v2.27's rule set (what `docker compose config` accepts), written out
here so that a file Compose refuses is refused too, with the file and line of the
offending key. It runs on the interpolated, merged document, before short syntax is
expanded, as Compose does. Values that only make sense after expansion (port specs,
volume specs, ...) are checked later, where they are read.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from vpmigrate.compose.model import Location
from vpmigrate.compose.tree import plain
from vpmigrate.compose.values import duration, problem
from vpmigrate.compose.yamlsource import LocatedDict, LocatedList
from vpmigrate.errors import UserError


class Check:
    """One kind of value. `name` is what the error message says was expected."""

    name = "value"

    def accepts(self, value: Any) -> bool:
        """Whether the value is of this kind (children are checked by `check`)."""
        raise NotImplementedError

    def check(self, value: Any, location: Location, path: str) -> None:
        if not self.accepts(value):
            raise _wrong(value, location, path, self.name)
        self.check_children(value, location, path)

    def check_children(self, value: Any, location: Location, path: str) -> None:
        """Check what is inside an accepted value (mappings and lists)."""


def _wrong(value: Any, location: Location, path: str, expected: str) -> UserError:
    return problem(location, path, f"must be {expected}, found {_describe(value)}.")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, LocatedDict):
        return "a mapping"
    if isinstance(value, LocatedList):
        return "a list"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"the number {value!r}"


class Str(Check):
    name = "a string"

    def __init__(
        self, pattern: str | None = None, enum: Sequence[str] = (), advice: str = ""
    ) -> None:
        self.pattern = re.compile(pattern) if pattern else None
        self.enum = tuple(enum)
        self.advice = advice
        if enum:
            self.name = "one of " + ", ".join(enum)

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str)

    def check_children(self, value: Any, location: Location, path: str) -> None:
        if self.enum and value not in self.enum:
            raise problem(location, path, f"must be one of {', '.join(self.enum)}, not {value!r}.")
        if self.pattern is not None and self.pattern.search(value) is None:
            raise problem(
                location,
                path,
                f"{value!r} does not match the pattern {self.pattern.pattern}{self.advice}.",
            )


class Duration(Str):
    name = "a duration such as 30s or 1m30s"

    def check_children(self, value: Any, location: Location, path: str) -> None:
        duration(value, location, path)


class Bool(Check):
    name = "a boolean"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)


class Int(Check):
    name = "an integer"

    def __init__(self, minimum: int | None = None, maximum: int | None = None) -> None:
        self.minimum, self.maximum = minimum, maximum

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())

    def check_children(self, value: Any, location: Location, path: str) -> None:
        if self.minimum is not None and value < self.minimum:
            raise problem(location, path, f"must be at least {self.minimum}, found {value}.")
        if self.maximum is not None and value > self.maximum:
            raise problem(location, path, f"must be at most {self.maximum}, found {value}.")


class Num(Check):
    name = "a number"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)


class Null(Check):
    name = "null"

    def accepts(self, value: Any) -> bool:
        return value is None


class AnyValue(Check):
    def accepts(self, value: Any) -> bool:
        return True


class OneOf(Check):
    """The first alternative whose kind matches decides (Compose's alternatives never
    share a kind, so this is the same as JSON schema's oneOf here)."""

    def __init__(self, *options: Check) -> None:
        self.options = options
        names = [o.name for o in options]
        self.name = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]

    def accepts(self, value: Any) -> bool:
        return any(o.accepts(value) for o in self.options)

    def check_children(self, value: Any, location: Location, path: str) -> None:
        for option in self.options:
            if option.accepts(value):
                option.check_children(value, location, path)
                return


class ListOf(Check):
    name = "a list"

    def __init__(self, item: Check, unique: bool = False) -> None:
        self.item = item
        self.unique = unique

    def accepts(self, value: Any) -> bool:
        return isinstance(value, LocatedList)

    def check_children(self, value: Any, location: Location, path: str) -> None:
        seen: list[Any] = []
        for index, item in enumerate(value):
            where = f"{path}[{index}]"
            self.item.check(item, value.loc(index), where)
            if self.unique:
                data = plain(item)
                if data in seen:
                    raise problem(value.loc(index), path, f"{item!r} is listed twice.")
                seen.append(data)


class Obj(Check):
    """A mapping with known keys (`props`), keys matching `patterns`, and `x-` keys
    wherever Compose allows extensions."""

    name = "a mapping"

    def __init__(
        self,
        props: dict[str, Check] | None = None,
        *,
        patterns: Sequence[tuple[str, Check]] = (),
        required: Sequence[str] = (),
        extensions: bool = True,
        additional: Check | None = None,
        what: str = "",
    ) -> None:
        self.props = props or {}
        self.patterns = [(re.compile(p), c) for p, c in patterns]
        self.required = tuple(required)
        self.extensions = extensions
        self.additional = additional
        self.what = what

    def accepts(self, value: Any) -> bool:
        return isinstance(value, LocatedDict)

    def check_children(self, value: Any, location: Location, path: str) -> None:
        for key in self.required:
            if key not in value:
                raise problem(value.location, path or "top level", f"`{key}` is required.")
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            check = self.props.get(key)
            if check is None:
                check = next((c for p, c in self.patterns if p.search(key)), None)
            if check is None and self.extensions and key.startswith("x-"):
                continue
            if check is None:
                check = self.additional
            if check is None:
                raise self.unknown(value, key, path)
            check.check(item, value.loc(key), where)

    def unknown(self, value: LocatedDict, key: str, path: str) -> UserError:
        if self.props:
            close = difflib.get_close_matches(key, list(self.props), n=1, cutoff=0.75)
            known = (
                f"Did you mean '{close[0]}'?"
                if close
                else f"Known keys: {', '.join(sorted(self.props))}."
            )
            return problem(
                value.loc(key),
                path or "top level",
                f"'{key}' is not supported here{self.what}: Compose has no such key. {known}",
            )
        return problem(value.loc(key), path or "top level", f"'{key}' is not allowed here.")


# --- Compose's definitions ---------------------------------------------------------------

STRING = Str()
LIST_OF_STRINGS = ListOf(STRING, unique=True)
STRING_OR_LIST = OneOf(STRING, LIST_OF_STRINGS)
SCALAR_OR_NULL = OneOf(STRING, Num(), Bool(), Null())
LIST_OR_DICT = OneOf(
    Obj(patterns=[(".+", SCALAR_OR_NULL)], extensions=False),
    ListOf(STRING, unique=True),
)
NUMBER_OR_STRING = OneOf(Num(), STRING)
INT_OR_STRING = OneOf(Int(), STRING)
DURATION = Duration()
COMMAND = OneOf(Null(), STRING, ListOf(STRING))
OPTIONS = Obj(patterns=[(".+", OneOf(STRING, Num()))], extensions=False)
ULIMITS = Obj(
    patterns=[
        (
            "^[a-z]+$",
            OneOf(Int(), Obj({"hard": Int(), "soft": Int()}, required=("soft", "hard"))),
        )
    ],
    extensions=False,
)
FILE_REFERENCES = ListOf(
    OneOf(
        STRING,
        Obj(
            {"source": STRING, "target": STRING, "uid": STRING, "gid": STRING, "mode": Num()},
        ),
    )
)
EXTERNAL = OneOf(Bool(), Obj({"name": STRING}))
BLKIO_LIMIT = Obj({"path": STRING, "rate": INT_OR_STRING}, extensions=False)
BLKIO_WEIGHT = Obj({"path": STRING, "weight": Int()}, extensions=False)
DEVICES = ListOf(
    Obj(
        {
            "capabilities": LIST_OF_STRINGS,
            "count": OneOf(STRING, Int()),
            "device_ids": LIST_OF_STRINGS,
            "driver": STRING,
            "options": LIST_OR_DICT,
        }
    )
)
GENERIC_RESOURCES = ListOf(
    Obj({"discrete_resource_spec": Obj({"kind": STRING, "value": Num()})}),
)
_UPDATE = Obj(
    {
        "parallelism": Int(),
        "delay": DURATION,
        "failure_action": STRING,
        "monitor": DURATION,
        "max_failure_ratio": Num(),
        "order": Str(enum=("start-first", "stop-first")),
    }
)
DEPLOY = OneOf(
    Obj(
        {
            "mode": STRING,
            "endpoint_mode": STRING,
            "replicas": Int(),
            "labels": LIST_OR_DICT,
            "rollback_config": _UPDATE,
            "update_config": _UPDATE,
            "resources": Obj(
                {
                    "limits": Obj({"cpus": NUMBER_OR_STRING, "memory": STRING, "pids": Int()}),
                    "reservations": Obj(
                        {
                            "cpus": NUMBER_OR_STRING,
                            "memory": STRING,
                            "generic_resources": GENERIC_RESOURCES,
                            "devices": DEVICES,
                        }
                    ),
                }
            ),
            "restart_policy": Obj(
                {
                    "condition": STRING,
                    "delay": DURATION,
                    "max_attempts": Int(),
                    "window": DURATION,
                }
            ),
            "placement": Obj(
                {
                    "constraints": ListOf(STRING),
                    "preferences": ListOf(Obj({"spread": STRING})),
                    "max_replicas_per_node": Int(),
                }
            ),
        },
        what=" (deploy)",
    ),
    Null(),
)
HEALTHCHECK = Obj(
    {
        "disable": Bool(),
        "interval": DURATION,
        "retries": Num(),
        "test": OneOf(STRING, ListOf(STRING)),
        "timeout": DURATION,
        "start_period": DURATION,
        "start_interval": DURATION,
    },
    what=" (healthcheck)",
)
BUILD = OneOf(
    STRING,
    Obj(
        {
            "context": STRING,
            "dockerfile": STRING,
            "dockerfile_inline": STRING,
            "entitlements": ListOf(STRING),
            "args": LIST_OR_DICT,
            "ssh": LIST_OR_DICT,
            "labels": LIST_OR_DICT,
            "cache_from": ListOf(STRING),
            "cache_to": ListOf(STRING),
            "no_cache": Bool(),
            "additional_contexts": LIST_OR_DICT,
            "network": STRING,
            "pull": Bool(),
            "target": STRING,
            "shm_size": INT_OR_STRING,
            "extra_hosts": LIST_OR_DICT,
            "isolation": STRING,
            "privileged": Bool(),
            "secrets": FILE_REFERENCES,
            "tags": ListOf(STRING),
            "ulimits": ULIMITS,
            "platforms": ListOf(STRING),
        },
        what=" (build)",
    ),
)
PORTS = ListOf(
    OneOf(
        Num(),
        STRING,
        Obj(
            {
                "name": STRING,
                "mode": STRING,
                "host_ip": STRING,
                "target": Int(),
                "published": OneOf(STRING, Int()),
                "protocol": STRING,
                "app_protocol": STRING,
            }
        ),
    ),
    unique=True,
)
SERVICE_VOLUMES = ListOf(
    OneOf(
        STRING,
        Obj(
            {
                "type": STRING,
                "source": STRING,
                "target": STRING,
                "read_only": Bool(),
                "consistency": STRING,
                "bind": Obj(
                    {
                        "propagation": STRING,
                        "create_host_path": Bool(),
                        "selinux": Str(enum=("z", "Z")),
                    }
                ),
                "volume": Obj({"nocopy": Bool(), "subpath": STRING}),
                "tmpfs": Obj({"size": OneOf(Int(minimum=0), STRING), "mode": Num()}),
            },
            required=("type",),
        ),
    ),
    unique=True,
)
_NAME_KEY = r"^[a-zA-Z0-9._-]+$"
SERVICE_NETWORKS = OneOf(
    LIST_OF_STRINGS,
    Obj(
        patterns=[
            (
                _NAME_KEY,
                OneOf(
                    Obj(
                        {
                            "aliases": LIST_OF_STRINGS,
                            "ipv4_address": STRING,
                            "ipv6_address": STRING,
                            "link_local_ips": LIST_OF_STRINGS,
                            "mac_address": STRING,
                            "priority": Num(),
                        }
                    ),
                    Null(),
                ),
            )
        ],
        extensions=False,
    ),
)
DEPENDS_ON = OneOf(
    LIST_OF_STRINGS,
    Obj(
        patterns=[
            (
                _NAME_KEY,
                Obj(
                    {
                        "restart": Bool(),
                        "required": Bool(),
                        "condition": Str(
                            enum=(
                                "service_started",
                                "service_healthy",
                                "service_completed_successfully",
                            )
                        ),
                    },
                    required=("condition",),
                    extensions=False,
                ),
            )
        ],
        extensions=False,
    ),
)
ENV_FILE = OneOf(
    STRING,
    ListOf(
        OneOf(
            STRING,
            Obj({"path": STRING, "required": Bool()}, required=("path",), extensions=False),
        )
    ),
)
DEVELOP = OneOf(
    Obj(
        {
            "watch": ListOf(
                Obj(
                    {
                        "ignore": ListOf(STRING),
                        "path": STRING,
                        "action": Str(enum=("rebuild", "sync", "sync+restart")),
                        "target": STRING,
                    },
                    required=("path", "action"),
                    additional=AnyValue(),
                )
            )
        }
    ),
    Null(),
)

SERVICE = Obj(
    {
        "develop": DEVELOP,
        "deploy": DEPLOY,
        "annotations": LIST_OR_DICT,
        "attach": Bool(),
        "build": BUILD,
        "blkio_config": Obj(
            {
                "device_read_bps": ListOf(BLKIO_LIMIT),
                "device_read_iops": ListOf(BLKIO_LIMIT),
                "device_write_bps": ListOf(BLKIO_LIMIT),
                "device_write_iops": ListOf(BLKIO_LIMIT),
                "weight": Int(),
                "weight_device": ListOf(BLKIO_WEIGHT),
            },
            extensions=False,
        ),
        "cap_add": ListOf(STRING, unique=True),
        "cap_drop": ListOf(STRING, unique=True),
        "cgroup": Str(enum=("host", "private")),
        "cgroup_parent": STRING,
        "command": COMMAND,
        "configs": FILE_REFERENCES,
        "container_name": STRING,
        "cpu_count": Int(minimum=0),
        "cpu_percent": Int(minimum=0, maximum=100),
        "cpu_shares": NUMBER_OR_STRING,
        "cpu_quota": NUMBER_OR_STRING,
        "cpu_period": NUMBER_OR_STRING,
        "cpu_rt_period": NUMBER_OR_STRING,
        "cpu_rt_runtime": NUMBER_OR_STRING,
        "cpus": NUMBER_OR_STRING,
        "cpuset": STRING,
        "credential_spec": Obj({"config": STRING, "file": STRING, "registry": STRING}),
        "depends_on": DEPENDS_ON,
        "device_cgroup_rules": LIST_OF_STRINGS,
        "devices": ListOf(STRING, unique=True),
        "dns": STRING_OR_LIST,
        "dns_opt": ListOf(STRING, unique=True),
        "dns_search": STRING_OR_LIST,
        "domainname": STRING,
        "entrypoint": COMMAND,
        "env_file": ENV_FILE,
        "environment": LIST_OR_DICT,
        "expose": ListOf(OneOf(STRING, Num()), unique=True),
        "extends": OneOf(
            STRING,
            Obj({"service": STRING, "file": STRING}, required=("service",), extensions=False),
        ),
        "external_links": ListOf(STRING, unique=True),
        "extra_hosts": LIST_OR_DICT,
        # Compose 2.30's `gpus: all` (2.27 refuses it; the issue asks for it).
        "gpus": OneOf(Str(enum=("all",)), DEVICES),
        "group_add": ListOf(OneOf(STRING, Num()), unique=True),
        "healthcheck": HEALTHCHECK,
        "hostname": STRING,
        "image": STRING,
        "init": Bool(),
        "ipc": STRING,
        "isolation": STRING,
        "labels": LIST_OR_DICT,
        "links": ListOf(STRING, unique=True),
        "logging": Obj(
            {
                "driver": STRING,
                "options": Obj(patterns=[(".+", OneOf(STRING, Num(), Null()))], extensions=False),
            }
        ),
        "mac_address": STRING,
        "mem_limit": NUMBER_OR_STRING,
        "mem_reservation": OneOf(STRING, Int()),
        "mem_swappiness": Int(),
        "memswap_limit": NUMBER_OR_STRING,
        "network_mode": STRING,
        "networks": SERVICE_NETWORKS,
        "oom_kill_disable": Bool(),
        "oom_score_adj": Int(minimum=-1000, maximum=1000),
        "pid": OneOf(STRING, Null()),
        "pids_limit": NUMBER_OR_STRING,
        "platform": STRING,
        "ports": PORTS,
        "privileged": Bool(),
        "profiles": LIST_OF_STRINGS,
        "pull_policy": Str(enum=("always", "never", "if_not_present", "build", "missing")),
        "read_only": Bool(),
        "restart": STRING,
        "runtime": STRING,
        "scale": Int(),
        "security_opt": ListOf(STRING, unique=True),
        "shm_size": NUMBER_OR_STRING,
        "secrets": FILE_REFERENCES,
        "sysctls": LIST_OR_DICT,
        "stdin_open": Bool(),
        "stop_grace_period": DURATION,
        "stop_signal": STRING,
        "storage_opt": Obj(additional=AnyValue(), extensions=False),
        "tmpfs": STRING_OR_LIST,
        "tty": Bool(),
        "ulimits": ULIMITS,
        "user": STRING,
        "uts": STRING,
        "userns_mode": STRING,
        "volumes": SERVICE_VOLUMES,
        "volumes_from": ListOf(STRING, unique=True),
        "working_dir": STRING,
    },
    what=" (service)",
)
NETWORK = OneOf(
    Obj(
        {
            "name": STRING,
            "driver": STRING,
            "driver_opts": OPTIONS,
            "ipam": Obj(
                {
                    "driver": STRING,
                    "config": ListOf(
                        Obj(
                            {
                                "subnet": STRING,
                                "ip_range": STRING,
                                "gateway": STRING,
                                "aux_addresses": Obj(patterns=[(".+", STRING)], extensions=False),
                            }
                        )
                    ),
                    "options": Obj(patterns=[(".+", STRING)], extensions=False),
                }
            ),
            "external": EXTERNAL,
            "internal": Bool(),
            "enable_ipv6": Bool(),
            "attachable": Bool(),
            "labels": LIST_OR_DICT,
        },
        what=" (network)",
    ),
    Null(),
)
VOLUME = OneOf(
    Obj(
        {
            "name": STRING,
            "driver": STRING,
            "driver_opts": OPTIONS,
            "external": EXTERNAL,
            "labels": LIST_OR_DICT,
        },
        what=" (volume)",
    ),
    Null(),
)
SECRET = Obj(
    {
        "name": STRING,
        "environment": STRING,
        "file": STRING,
        "external": OneOf(Bool(), Obj({"name": STRING}, additional=AnyValue())),
        "labels": LIST_OR_DICT,
        "driver": STRING,
        "driver_opts": OPTIONS,
        "template_driver": STRING,
    },
    what=" (secret)",
)
CONFIG = Obj(
    {
        "name": STRING,
        "content": STRING,
        "environment": STRING,
        "file": STRING,
        "external": OneOf(Bool(), Obj({"name": STRING}, additional=AnyValue())),
        "labels": LIST_OR_DICT,
        "template_driver": STRING,
    },
    what=" (config)",
)
INCLUDE = ListOf(
    OneOf(
        STRING,
        Obj(
            {"path": STRING_OR_LIST, "env_file": STRING_OR_LIST, "project_directory": STRING},
            extensions=False,
        ),
    )
)
PROJECT = Obj(
    {
        "version": STRING,
        "name": Str(
            pattern=r"^[a-z0-9][a-z0-9_-]*$",
            advice=": a project name is lowercase letters, digits, '-' and '_', starting "
            "with a letter or digit (Compose refuses anything else)",
        ),
        "include": INCLUDE,
        "services": Obj(patterns=[(_NAME_KEY, SERVICE)], extensions=False),
        "networks": Obj(patterns=[(_NAME_KEY, NETWORK)]),
        "volumes": Obj(patterns=[(_NAME_KEY, VOLUME)], extensions=False),
        "secrets": Obj(patterns=[(_NAME_KEY, SECRET)], extensions=False),
        "configs": Obj(patterns=[(_NAME_KEY, CONFIG)], extensions=False),
    },
    what=" (top level)",
)


def validate(document: LocatedDict) -> None:
    """Raise `UserError` (file:line: path: what is wrong) unless the merged, interpolated
    document has the shape Compose accepts."""
    PROJECT.check(document, document.location, "")
