"""Ports and volumes: Compose's short and long syntax to the model's long form."""

from __future__ import annotations

import os
import re
from collections.abc import Container
from pathlib import Path
from typing import Any

from vpmigrate.compose.model import Location, PortMapping, VolumeMount
from vpmigrate.compose.values import boolean, check_keys, integer, problem, text
from vpmigrate.compose.yamlsource import LocatedDict

_PROTOCOLS = {"tcp", "udp", "sctp"}
_PORT_KEYS = {"target", "published", "host_ip", "protocol", "mode", "name", "app_protocol"}
_VOLUME_KEYS = {"type", "source", "target", "read_only"}
_VOLUME_MODES = {"ro", "rw", "cached", "delegated", "consistent"}
_RANGE = re.compile(r"(\d+)(?:-(\d+))?")


# --- ports -------------------------------------------------------------------------------


def parse_ports(value: Any, location: Location, where: str) -> list[PortMapping]:
    """One `ports:` item (short string, bare number, or long mapping) to mappings;
    a range such as "8000-8002:80-82" expands to one mapping per port."""
    if isinstance(value, LocatedDict):
        return [_long_port(value, where)]
    if isinstance(value, int) and not isinstance(value, bool):
        return [PortMapping(target=_port_number(value, location, where))]
    spec = text(value, location, where).strip()
    body, _, protocol = spec.partition("/")
    protocol = protocol or "tcp"
    host_ip = ""
    if body.startswith("["):  # [::1]:8080:80
        closing = body.find("]:")
        if closing < 0:
            raise _bad_port(location, where, spec)
        host_ip, body = body[1:closing], body[closing + 2 :]
        parts = body.split(":")
        if len(parts) != 2:
            raise _bad_port(location, where, spec)
    else:
        parts = body.rsplit(":", 2)
        if len(parts) == 3:
            host_ip = parts.pop(0)
    targets = _port_range(parts[-1], location, where, spec)
    published = None
    if len(parts) == 2 and parts[0] != "":  # "127.0.0.1::80": the engine picks the host port
        published = _port_range(parts[0], location, where, spec)
    _check_protocol(protocol, location, where)
    if published is None:
        return [PortMapping(target=t, host_ip=host_ip, protocol=protocol) for t in targets]
    if len(published) != len(targets):
        raise problem(
            location,
            where,
            f"port range {spec!r} maps {len(published)} host ports to {len(targets)} container "
            "ports; that is not supported: give ranges of the same length.",
        )
    return [
        PortMapping(target=t, published=p, host_ip=host_ip, protocol=protocol)
        for p, t in zip(published, targets, strict=True)
    ]


def _long_port(data: LocatedDict, where: str) -> PortMapping:
    check_keys(data, _PORT_KEYS, where)
    if "target" not in data:
        raise problem(data.location, where, "a port in long syntax needs `target:`.")
    target = _port_number(data["target"], data.loc("target"), f"{where}.target")
    published: int | None = None
    if data.get("published") not in (None, ""):
        raw = text(data["published"], data.loc("published"), f"{where}.published")
        numbers = _port_range(raw, data.loc("published"), f"{where}.published", raw)
        if len(numbers) != 1:
            raise problem(
                data.loc("published"),
                where,
                f"a published port range ({raw}) for one target port is not supported; "
                "publish a single port.",
            )
        published = numbers[0]
    protocol = text(data.get("protocol") or "tcp", data.loc("protocol"), f"{where}.protocol")
    _check_protocol(protocol, data.loc("protocol"), where)
    host_ip = text(data.get("host_ip") or "", data.loc("host_ip"), f"{where}.host_ip")
    return PortMapping(target=target, published=published, host_ip=host_ip, protocol=protocol)


def _port_range(raw: str, location: Location, where: str, spec: str) -> list[int]:
    if raw == "":
        raise _bad_port(location, where, spec)
    match = _RANGE.fullmatch(raw.strip())
    if match is None:
        raise _bad_port(location, where, spec)
    first = _port_number(int(match.group(1)), location, where)
    last = _port_number(int(match.group(2) or first), location, where)
    if last < first:
        raise _bad_port(location, where, spec)
    return list(range(first, last + 1))


def _port_number(value: Any, location: Location, where: str) -> int:
    number = integer(value, location, where)
    if not 0 < number < 65536:
        raise problem(location, where, f"port {number} is outside 1-65535.")
    return number


def _check_protocol(protocol: str, location: Location, where: str) -> None:
    if protocol not in _PROTOCOLS:
        raise problem(location, where, f"unknown protocol {protocol!r}; use tcp, udp or sctp.")


def _bad_port(location: Location, where: str, spec: str) -> Exception:
    return problem(
        location,
        where,
        f"cannot read port {spec!r}; write [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL], "
        'e.g. "127.0.0.1:5432:5432" or "8080:80/udp".',
    )


# --- volumes -----------------------------------------------------------------------------


def volume_target(value: Any) -> str | None:
    """The container path of a `volumes:` item, for merging files by target."""
    if isinstance(value, LocatedDict):
        target = value.get("target")
        return target if isinstance(target, str) else None
    if isinstance(value, str):
        parts = value.split(":")
        return parts[1] if len(parts) > 1 else parts[0]
    return None


def parse_volume(
    value: Any,
    location: Location,
    where: str,
    *,
    project_directory: Path,
    declared_volumes: Container[str],
) -> VolumeMount:
    if isinstance(value, LocatedDict):
        return _long_volume(value, where, project_directory, declared_volumes)
    spec = text(value, location, where)
    parts = spec.split(":")
    if len(parts) == 1:
        return VolumeMount(type="volume", target=spec)
    if len(parts) > 3 or not parts[0] or not parts[1]:
        raise problem(
            location,
            where,
            f"cannot read volume {spec!r}; write SOURCE:TARGET[:ro], e.g. "
            '"data:/var/lib/data" or "./config:/etc/app:ro".',
        )
    read_only = False
    if len(parts) == 3:
        for mode in parts[2].split(","):
            if mode not in _VOLUME_MODES:
                raise problem(
                    location,
                    where,
                    f"volume mode {mode!r} in {spec!r} is not supported; use ro or rw.",
                )
            read_only = read_only or mode == "ro"
    source, target = parts[0], parts[1]
    if _is_path(source):
        return VolumeMount(
            type="bind",
            source=host_path(source, project_directory),
            target=target,
            read_only=read_only,
        )
    _check_declared(source, location, where, declared_volumes)
    return VolumeMount(type="volume", source=source, target=target, read_only=read_only)


def _long_volume(
    data: LocatedDict, where: str, project_directory: Path, declared_volumes: Container[str]
) -> VolumeMount:
    check_keys(data, _VOLUME_KEYS, where)
    kind = data.get("type")
    if kind not in ("volume", "bind", "tmpfs"):
        raise problem(
            data.loc("type"),
            where,
            f"volume type {kind!r} is not supported; use volume, bind or tmpfs.",
        )
    if "target" not in data:
        raise problem(data.location, where, "a volume in long syntax needs `target:`.")
    target = text(data["target"], data.loc("target"), f"{where}.target")
    read_only = boolean(data.get("read_only", False), data.loc("read_only"), f"{where}.read_only")
    source = data.get("source")
    if kind == "tmpfs":
        if source:
            raise problem(data.loc("source"), where, "a tmpfs mount takes no `source:`.")
        return VolumeMount(type="tmpfs", target=target, read_only=read_only)
    if kind == "bind":
        if not source:
            raise problem(data.location, where, "a bind mount needs `source:` (a host path).")
        raw = text(source, data.loc("source"), f"{where}.source")
        return VolumeMount(
            type="bind",
            source=host_path(raw, project_directory),
            target=target,
            read_only=read_only,
        )
    if source:
        name = text(source, data.loc("source"), f"{where}.source")
        _check_declared(name, data.loc("source"), where, declared_volumes)
        return VolumeMount(type="volume", source=name, target=target, read_only=read_only)
    return VolumeMount(type="volume", target=target, read_only=read_only)


def _is_path(source: str) -> bool:
    return source.startswith(("/", ".", "~"))


def host_path(source: str, project_directory: Path) -> str:
    expanded = os.path.expanduser(source)
    return os.path.normpath(os.path.join(project_directory, expanded))


def _check_declared(
    name: str, location: Location, where: str, declared_volumes: Container[str]
) -> None:
    if name not in declared_volumes:
        raise problem(
            location,
            where,
            f"named volume {name!r} is not declared under the top-level `volumes:`; add "
            f"`volumes: {{{name}: {{}}}}`, or write ./{name} for a bind mount.",
        )
