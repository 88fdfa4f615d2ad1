"""Ports and volumes of a service, from their canonical (long) form to the model.

The short syntax ("8080:80", "./data:/data:ro") is expanded earlier, in
`canonical`; here every entry is a mapping with Compose's long-syntax keys.
"""

from __future__ import annotations

import os
import re
from collections.abc import Container
from pathlib import Path
from typing import Any

from vpmigrate.compose.model import (
    BindOptions,
    Location,
    PortMapping,
    TmpfsOptions,
    VolumeMount,
    VolumeOptions,
)
from vpmigrate.compose.values import boolean, byte_size, integer, problem, text
from vpmigrate.compose.yamlsource import LocatedDict

_PROTOCOLS = {"tcp", "udp", "sctp"}
_VOLUME_TYPES = ("volume", "bind", "tmpfs", "npipe", "cluster")
_PROPAGATIONS = {"rprivate", "private", "rshared", "shared", "rslave", "slave"}
_PUBLISHED = re.compile(r"(\d+)(?:-(\d+))?")


def volume_target(value: Any) -> str | None:
    """The container path of a `volumes:` item (either syntax), for merging by target."""
    if isinstance(value, LocatedDict):
        target = value.get("target")
        return target if isinstance(target, str) else None
    if isinstance(value, str):
        parts = value.split(":")
        if len(parts) > 1 and len(parts[0]) == 1 and parts[0].isalpha():
            parts = [f"{parts[0]}:{parts[1]}", *parts[2:]]  # C:\dir:/target
        return parts[1] if len(parts) > 1 else parts[0]
    return None


def host_path(source: str, project_directory: Path) -> str:
    """A host path as Compose resolves it: `~` is the home folder, relative paths are
    against the project directory."""
    expanded = os.path.expanduser(source)
    return os.path.normpath(os.path.join(project_directory, expanded))


# --- ports -------------------------------------------------------------------------------


def read_port(data: Any, location: Location, where: str) -> PortMapping:
    """One canonical `ports:` entry."""
    if not isinstance(data, LocatedDict):
        raise problem(location, where, f"cannot read port {data!r}.")
    if data.get("target") is None:
        raise problem(data.location, where, "a port in long syntax needs `target:`.")
    target = _port_number(data["target"], data.loc("target"), f"{where}.target")
    published: int | None = None
    published_end: int | None = None
    raw = data.get("published")
    if raw not in (None, ""):
        spec = text(raw, data.loc("published"), f"{where}.published").strip()
        match = _PUBLISHED.fullmatch(spec)
        if match is None:
            raise problem(
                data.loc("published"),
                f"{where}.published",
                f"cannot read host port {spec!r}; write a port (8080) or a range (8000-8010).",
            )
        published = _port_number(int(match.group(1)), data.loc("published"), where)
        if match.group(2) is not None:
            published_end = _port_number(int(match.group(2)), data.loc("published"), where)
            if published_end < published:
                raise problem(data.loc("published"), where, f"empty host port range {spec!r}.")
            if published_end == published:
                published_end = None
    protocol = text(data.get("protocol") or "tcp", data.loc("protocol"), f"{where}.protocol")
    if protocol.lower() not in _PROTOCOLS:
        raise problem(
            data.loc("protocol"), where, f"unknown protocol {protocol!r}; use tcp, udp or sctp."
        )

    def optional(key: str) -> str | None:
        value = data.get(key)
        return None if value in (None, "") else text(value, data.loc(key), f"{where}.{key}")

    return PortMapping(
        target=target,
        published=published,
        host_ip=optional("host_ip") or "",
        protocol=protocol.lower(),
        published_end=published_end,
        mode=optional("mode"),
        name=optional("name"),
        app_protocol=optional("app_protocol"),
    )


def _port_number(value: Any, location: Location, where: str) -> int:
    number = integer(value, location, where)
    if not 0 <= number < 65536:
        raise problem(location, where, f"port {number} is outside 0-65535.")
    return number


# --- volumes -----------------------------------------------------------------------------


def read_volume(
    data: Any, location: Location, where: str, *, declared_volumes: Container[str]
) -> VolumeMount:
    """One canonical `volumes:` entry (bind sources are already absolute)."""
    if not isinstance(data, LocatedDict):
        raise problem(location, where, f"cannot read volume {data!r}.")
    kind = data.get("type")
    if kind not in _VOLUME_TYPES:
        raise problem(
            data.loc("type"),
            where,
            f"volume type {kind!r} is not supported; use volume, bind or tmpfs.",
        )
    target = data.get("target")
    if not isinstance(target, str) or not target:
        raise problem(data.location, where, "a volume needs `target:`, the path in the container.")
    source = data.get("source")
    source_text = None if source in (None, "") else text(source, data.loc("source"), where)
    if kind == "tmpfs" and source_text is not None:
        raise problem(data.loc("source"), where, "a tmpfs mount takes no `source:`.")
    if kind == "volume" and source_text is not None and source_text not in declared_volumes:
        raise problem(
            data.loc("source"),
            where,
            f"named volume {source_text!r} is not declared under the top-level `volumes:`; "
            f"add `volumes: {{{source_text}: {{}}}}`, or write ./{source_text} for a bind mount.",
        )
    read_only = data.get("read_only")
    consistency = data.get("consistency")
    return VolumeMount(
        type=kind,
        target=target,
        source=source_text,
        read_only=False if read_only is None else boolean(read_only, data.loc("read_only"), where),
        consistency=None
        if consistency in (None, "")
        else text(consistency, data.loc("consistency"), where),
        bind=_bind(data.get("bind"), where),
        volume=_volume_options(data.get("volume"), where),
        tmpfs=_tmpfs(data.get("tmpfs"), where),
    )


def _bind(value: Any, where: str) -> BindOptions | None:
    if not isinstance(value, LocatedDict):
        return None
    propagation = value.get("propagation")
    if propagation not in (None, "") and propagation not in _PROPAGATIONS:
        raise problem(
            value.loc("propagation"),
            f"{where}.bind.propagation",
            f"unknown propagation {propagation!r}; use one of {', '.join(sorted(_PROPAGATIONS))}.",
        )
    create = value.get("create_host_path")
    selinux = value.get("selinux")
    return BindOptions(
        propagation=propagation or None,
        create_host_path=bool(create) if create is not None else False,
        selinux=selinux or None,
    )


def _volume_options(value: Any, where: str) -> VolumeOptions | None:
    if not isinstance(value, LocatedDict):
        return None
    nocopy = value.get("nocopy")
    subpath = value.get("subpath")
    return VolumeOptions(
        nocopy=bool(nocopy) if nocopy is not None else False,
        subpath=subpath or None,
    )


def _tmpfs(value: Any, where: str) -> TmpfsOptions | None:
    if not isinstance(value, LocatedDict):
        return None
    size = value.get("size")
    mode = value.get("mode")
    return TmpfsOptions(
        size=None if size is None else byte_size(size, value.loc("size"), f"{where}.tmpfs.size"),
        mode=None if mode is None else int(mode),
    )
