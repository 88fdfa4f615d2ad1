"""Compose's canonical form: every short syntax rewritten to its long form, defaults
filled in, relative paths made absolute. Runs on the located tree after merging, as
Compose does, so that later steps read one shape only.

- `ports`: "[IP:][HOST:]CONTAINER[/PROTO]" (ranges expand, one entry per container
  port) to `{mode: ingress, host_ip, target, published, protocol}`;
- `volumes`: "SOURCE:TARGET[:OPTIONS]" to `{type, source, target, read_only, bind,
  volume}` (a source starting with `.`, `/` or `~` is a bind mount);
- `depends_on` and service `networks` lists to mappings; `env_file`, `extends`,
  `build`, `secrets`, `configs`, `include` strings to their mapping form;
- `external: {name: X}` to `name: X` + `external: true`.
"""

from __future__ import annotations

import ipaddress
import os
import posixpath
from pathlib import Path
from typing import Any

from vpmigrate.compose.model import Location
from vpmigrate.compose.tree import copy_dict, deep_copy, new_dict, new_list
from vpmigrate.compose.values import problem
from vpmigrate.compose.yamlsource import LocatedDict, LocatedList

_PROTOCOLS = ("tcp", "udp", "sctp")
_PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave")


def canonical(document: LocatedDict) -> LocatedDict:
    """The document with every short syntax expanded (a new tree: later steps may change
    it in place)."""
    result = deep_copy(document)
    services = result.get("services")
    if isinstance(services, LocatedDict):
        result.put("services", _map_values(services, _service), result.loc("services"))
    for section in ("volumes", "networks", "secrets", "configs"):
        resources = result.get(section)
        if isinstance(resources, LocatedDict):
            converted = _map_values(
                resources, lambda value, key, loc, s=section: _external(value, f"{s}.{key}")
            )
            result.put(section, converted, result.loc(section))
    includes = result.get("include")
    if isinstance(includes, LocatedList):
        result.put("include", _include_list(includes), result.loc("include"))
    return result


def _map_values(mapping: LocatedDict, convert: Any) -> LocatedDict:
    result = LocatedDict(mapping.location)
    for key, value in mapping.items():
        result.put(key, convert(value, key, mapping.loc(key)), mapping.loc(key))
    return result


def _service(value: Any, name: str, location: Location) -> Any:
    if not isinstance(value, LocatedDict):
        return value
    service = copy_dict(value)
    where = f"services.{name}"
    for key, convert in _SERVICE_KEYS.items():
        if key in service:
            service.put(
                key, convert(service[key], service.loc(key), f"{where}.{key}"), service.loc(key)
            )
    return service


# --- ports -------------------------------------------------------------------------------


def _ports(value: Any, location: Location, where: str) -> Any:
    if not isinstance(value, LocatedList):
        return value
    result = LocatedList(value.location)
    for index, item in enumerate(value):
        item_location = value.loc(index)
        if isinstance(item, LocatedDict):
            result.add(item, item_location)
            continue
        spec = str(item) if isinstance(item, int) and not isinstance(item, bool) else item
        if not isinstance(spec, str):
            raise problem(item_location, f"{where}[{index}]", f"cannot read port {item!r}.")
        for port in parse_port_spec(spec, item_location, f"{where}[{index}]"):
            result.add(port, item_location)
    return result


def parse_port_spec(spec: str, location: Location, where: str) -> list[LocatedDict]:
    """Docker's port syntax, as Compose reads it (go-connections' ParsePortSpec): one
    long-syntax mapping per container port, in Docker's order ("PORT/PROTO" sorted as
    text)."""
    parts = spec.split(":")
    if len(parts) == 1:
        ip, host, container = "", "", parts[0]
    elif len(parts) == 2:
        ip, host, container = "", parts[0], parts[1]
    elif len(parts) == 3:
        ip, host, container = parts
    else:
        ip, host, container = ":".join(parts[:-2]), parts[-2], parts[-1]
    protocol, container = _split_protocol(container)
    if ip.startswith("["):
        if not ip.endswith("]"):
            raise _bad_port(location, where, spec, f"invalid IP address {ip}")
        ip = ip[1:-1]
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise _bad_port(location, where, spec, f"invalid IP address: {ip}") from None
    if not container:
        raise _bad_port(location, where, spec, "no container port given")
    first, last = _port_range(container, location, where, spec, "container port")
    host_first = host_last = 0
    if host:
        host_first, host_last = _port_range(host, location, where, spec, "host port")
        if last - first != host_last - host_first and last != first:
            raise _bad_port(
                location,
                where,
                spec,
                f"the container range {container} and the host range {host} differ in length",
            )
    if protocol.lower() not in _PROTOCOLS:
        raise _bad_port(location, where, spec, f"unknown protocol {protocol!r} (tcp, udp, sctp)")
    entries = []
    for offset in range(last - first + 1):
        published = ""
        if host:
            published = str(host_first + offset)
            if first == last and host_first != host_last:
                published = f"{host_first}-{host_last}"
        entries.append((f"{first + offset}/{protocol.lower()}", first + offset, published))
    entries.sort(key=lambda e: e[0])
    result = []
    for _, target, published in entries:
        port = new_dict(location, {"mode": "ingress"})
        if ip:
            port.put("host_ip", ip, location)
        port.put("target", target, location)
        if published:
            port.put("published", published, location)
        port.put("protocol", protocol.lower(), location)
        result.append(port)
    return result


def _split_protocol(raw: str) -> tuple[str, str]:
    parts = raw.split("/")
    if not raw or not parts[0]:
        return "", ""
    if len(parts) == 1 or not parts[1]:
        return "tcp", parts[0]
    return parts[1], parts[0]


def _port_range(raw: str, location: Location, where: str, spec: str, what: str) -> tuple[int, int]:
    pieces = raw.split("-") if "-" in raw else [raw, raw]
    try:
        first, last = int(pieces[0]), int(pieces[1])
        if not (pieces[0].isdigit() and pieces[1].isdigit()):
            raise ValueError
    except (ValueError, IndexError):
        raise _bad_port(location, where, spec, f"invalid {what} {raw!r}") from None
    if first > 65535 or last > 65535 or last < first:
        raise _bad_port(location, where, spec, f"invalid {what} {raw!r}")
    return first, last


def _bad_port(location: Location, where: str, spec: str, reason: str) -> Exception:
    return problem(
        location,
        where,
        f"cannot read port {spec!r}: {reason}. Write [HOST_IP:][HOST_PORT:]CONTAINER_PORT"
        '[/PROTOCOL], e.g. "127.0.0.1:5432:5432", "8080:80/udp" or "8000-8010:80".',
    )


# --- volumes -----------------------------------------------------------------------------


def _volumes(value: Any, location: Location, where: str) -> Any:
    if not isinstance(value, LocatedList):
        return value
    result = LocatedList(value.location)
    for index, item in enumerate(value):
        item_location = value.loc(index)
        if isinstance(item, str):
            item = parse_volume_spec(item, item_location, f"{where}[{index}]")
        result.add(item, item_location)
    return result


def parse_volume_spec(spec: str, location: Location, where: str) -> LocatedDict:
    """`SOURCE:TARGET[:OPTIONS]` (or just `TARGET`) as Compose reads it."""
    source = target = ""
    read_only = False
    bind: dict[str, Any] = {}
    volume: dict[str, Any] | None = None
    if len(spec) == 0:
        raise problem(location, where, "an empty volume is not allowed.")
    if len(spec) <= 2:
        target = spec
    else:
        fields: list[str] = []
        buffer = ""
        for char in spec:
            if char == ":" and len(buffer) == 1 and buffer.isalpha() and not fields:
                buffer += char  # a Windows drive letter, C:\...
            elif char == ":":
                fields.append(buffer)
                buffer = ""
            else:
                buffer += char
        fields.append(buffer)
        if any(f == "" for f in fields):
            raise problem(location, where, f"cannot read volume {spec!r}: empty part between ':'.")
        if len(fields) > 3:
            raise problem(location, where, f"cannot read volume {spec!r}: too many ':'.")
        if len(fields) == 1:
            target = fields[0]
        else:
            source, target = fields[0], fields[1]
        if len(fields) == 3:
            for option in fields[2].split(","):
                if option == "ro":
                    read_only = True
                elif option == "rw":
                    read_only = False
                elif option == "nocopy":
                    volume = {"nocopy": True}
                elif option in _PROPAGATIONS:
                    bind["propagation"] = option
                elif option in ("z", "Z"):
                    bind["selinux"] = option
                # anything else (cached, delegated, consistent, ...) is ignored, as Compose does
    result = new_dict(location)
    is_bind = source.startswith((".", "/", "~", "\\\\")) or (
        len(source) > 2 and source[0].isalpha() and source[1] == ":"
    )
    result.put("type", "bind" if is_bind else "volume", location)
    if source:
        result.put("source", source, location)
    result.put("target", posixpath.normpath(target) if target else target, location)
    if read_only:
        result.put("read_only", True, location)
    if is_bind:
        bind["create_host_path"] = True
        result.put("bind", new_dict(location, bind), location)
    else:
        if bind:
            result.put("bind", new_dict(location, bind), location)
        result.put("volume", new_dict(location, volume or {}), location)
    return result


# --- the other service keys --------------------------------------------------------------


def _depends_on(value: Any, location: Location, where: str) -> Any:
    if isinstance(value, LocatedList):
        result = LocatedDict(value.location)
        for index, name in enumerate(value):
            entry = new_dict(value.loc(index), {"condition": "service_started", "required": True})
            result.put(str(name), entry, value.loc(index))
        return result
    if isinstance(value, LocatedDict):
        result = LocatedDict(value.location)
        for name, options in value.items():
            if isinstance(options, LocatedDict):
                options = copy_dict(options)
                if "condition" not in options:
                    options.put("condition", "service_started", options.location)
                if "required" not in options:
                    options.put("required", True, options.location)
            result.put(name, options, value.loc(name))
        return result
    return value


def _networks(value: Any, location: Location, where: str) -> Any:
    if isinstance(value, LocatedList):
        result = LocatedDict(value.location)
        for index, name in enumerate(value):
            result.put(str(name), None, value.loc(index))
        return result
    return value


def _env_file(value: Any, location: Location, where: str) -> Any:
    items = new_list(location, [value]) if isinstance(value, str) else value
    if not isinstance(items, LocatedList):
        return value
    result = LocatedList(items.location)
    for index, item in enumerate(items):
        item_location = items.loc(index)
        if isinstance(item, str):
            item = new_dict(item_location, {"path": item, "required": True})
        elif isinstance(item, LocatedDict) and "required" not in item:
            item = copy_dict(item)
            item.put("required", True, item.location)
        result.add(item, item_location)
    return result


def _extends(value: Any, location: Location, where: str) -> Any:
    if isinstance(value, str):
        return new_dict(location, {"service": value})
    return value


def _build(value: Any, location: Location, where: str) -> Any:
    if isinstance(value, str):
        return new_dict(location, {"context": value})
    if not isinstance(value, LocatedDict):
        return value
    build = copy_dict(value)
    for key in ("additional_contexts", "ssh"):
        entries = build.get(key)
        if isinstance(entries, LocatedList):
            build.put(key, _key_values(entries, f"{where}.{key}", key == "ssh"), build.loc(key))
    if isinstance(build.get("secrets"), LocatedList):
        build.put(
            "secrets", _file_references(build["secrets"], location, where), build.loc("secrets")
        )
    return build


def _key_values(entries: LocatedList, where: str, ssh: bool) -> LocatedDict:
    """`[KEY=value, ...]` as a mapping (build contexts, ssh keys; ssh's bare `default`
    has no value)."""
    result = LocatedDict(entries.location)
    for index, entry in enumerate(entries):
        key, found, value = str(entry).partition("=")
        if not found and not (ssh and key == "default"):
            raise problem(entries.loc(index), where, f"write {entry!r} as KEY=value.")
        result.put(key, value if found else None, entries.loc(index))
    return result


def _file_references(value: Any, location: Location, where: str) -> Any:
    if not isinstance(value, LocatedList):
        return value
    result = LocatedList(value.location)
    for index, item in enumerate(value):
        if isinstance(item, str):
            item = new_dict(value.loc(index), {"source": item})
        result.add(item, value.loc(index))
    return result


_SERVICE_KEYS = {
    "ports": _ports,
    "volumes": _volumes,
    "depends_on": _depends_on,
    "networks": _networks,
    "env_file": _env_file,
    "extends": _extends,
    "build": _build,
    "secrets": _file_references,
    "configs": _file_references,
}


# --- top-level resources and include ------------------------------------------------------


def _external(value: Any, where: str) -> Any:
    """`external: {name: X}` (deprecated) to `external: true` + `name: X`."""
    if not isinstance(value, LocatedDict):
        return value
    external = value.get("external")
    if not isinstance(external, LocatedDict):
        return value
    result = copy_dict(value)
    result.put("external", True, value.loc("external"))
    if "name" in external:
        if "name" in value and value["name"] != external["name"]:
            raise problem(
                value.loc("external"), where, "`name` and `external.name` differ; keep `name` only."
            )
        result.put("name", external["name"], external.loc("name"))
    return result


def _include_list(items: LocatedList) -> LocatedList:
    result = LocatedList(items.location)
    for index, item in enumerate(items):
        if isinstance(item, str):
            item = new_dict(items.loc(index), {"path": item})
        result.add(item, items.loc(index))
    return result


# --- defaults and paths ---------------------------------------------------------------------


def set_defaults(document: LocatedDict) -> None:
    """Compose's defaults (in place): build context "." and secret targets."""
    services = document.get("services")
    if not isinstance(services, LocatedDict):
        return
    for service in services.values():
        if not isinstance(service, LocatedDict):
            continue
        build = service.get("build")
        if isinstance(build, LocatedDict) and "context" not in build:
            build.put("context", ".", build.location)
        secrets = service.get("secrets")
        if isinstance(secrets, LocatedList):
            for secret in secrets:
                if isinstance(secret, LocatedDict) and "target" not in secret:
                    secret.put("target", f"/run/secrets/{secret.get('source')}", secret.location)


def expand_user(path: str) -> str:
    if path.startswith("~"):
        return os.path.join(os.path.expanduser("~"), path[1:].lstrip("/"))
    return path


def absolute(path: str, base: Path) -> str:
    """Compose's rule for a relative path: `~` is the home folder, else against `base`."""
    path = expand_user(path)
    if os.path.isabs(path) or path == "":
        return path
    return os.path.normpath(os.path.join(base, path))


def _is_windows_absolute(path: str) -> bool:
    return path.startswith("\\\\") or (
        len(path) > 2 and path[0].isalpha() and path[1] == ":" and path[2] in "\\/"
    )


def host_path(path: str, base: Path) -> str:
    """A host path (bind source, secret file, bind device) as Compose resolves it: like
    `absolute`, but a Windows path (C:\\dir) stays as written and an empty one is the
    base folder itself."""
    path = expand_user(path)
    if os.path.isabs(path) or _is_windows_absolute(path):
        return path
    return os.path.normpath(os.path.join(base, path))


def _is_remote_context(path: str) -> bool:
    return "://" in path or path.startswith(
        ("https://", "http://", "git://", "ssh://", "github.com/", "git@")
    )


def resolve_paths(document: LocatedDict, base: Path) -> None:
    """Make the relative paths of a canonical document absolute against `base`, in
    place: bind sources, env files, build contexts, extends files, secret and config
    files, include paths, and a local volume's `device` when it is a bind."""
    services = document.get("services")
    if isinstance(services, LocatedDict):
        for service in services.values():
            if isinstance(service, LocatedDict):
                _resolve_service(service, base)
    for section in ("secrets", "configs"):
        resources = document.get(section)
        if isinstance(resources, LocatedDict):
            for resource in resources.values():
                if isinstance(resource, LocatedDict) and isinstance(resource.get("file"), str):
                    resource.put("file", host_path(resource["file"], base), resource.loc("file"))
    volumes = document.get("volumes")
    if isinstance(volumes, LocatedDict):
        for volume in volumes.values():
            if not isinstance(volume, LocatedDict) or volume.get("driver") != "local":
                continue
            options = volume.get("driver_opts")
            if (
                isinstance(options, LocatedDict)
                and options.get("o") == "bind"
                and isinstance(options.get("device"), str)
            ):
                options.put("device", host_path(options["device"], base), options.loc("device"))
    includes = document.get("include")
    if isinstance(includes, LocatedList):
        for include in includes:
            if not isinstance(include, LocatedDict):
                continue
            for key in ("path", "env_file"):
                value = include.get(key)
                if isinstance(value, str):
                    include.put(key, absolute(value, base), include.loc(key))
                elif isinstance(value, LocatedList):
                    include.put(
                        key,
                        new_list(value.location, [absolute(str(v), base) for v in value]),
                        include.loc(key),
                    )
            if isinstance(include.get("project_directory"), str):
                directory = absolute(include["project_directory"], base)
                include.put("project_directory", directory, include.loc("project_directory"))


def _resolve_service(service: LocatedDict, base: Path) -> None:
    build = service.get("build")
    if isinstance(build, LocatedDict):
        context = build.get("context")
        if isinstance(context, str) and not _is_remote_context(context):
            build.put("context", absolute(context, base), build.loc("context"))
        contexts = build.get("additional_contexts")
        if isinstance(contexts, LocatedDict):
            for name, path in contexts.items():
                if isinstance(path, str) and not _is_remote_context(path):
                    contexts.put(name, absolute(path, base), contexts.loc(name))
    env_files = service.get("env_file")
    if isinstance(env_files, LocatedList):
        for entry in env_files:
            if isinstance(entry, LocatedDict) and isinstance(entry.get("path"), str):
                entry.put("path", absolute(entry["path"], base), entry.loc("path"))
    extends = service.get("extends")
    if isinstance(extends, LocatedDict) and isinstance(extends.get("file"), str):
        extends.put("file", absolute(extends["file"], base), extends.loc("file"))
    volumes = service.get("volumes")
    if isinstance(volumes, LocatedList):
        for volume in volumes:
            if isinstance(volume, LocatedDict) and volume.get("type") == "bind":
                source = volume.get("source")
                if not isinstance(source, str):
                    raise problem(
                        volume.location,
                        "volumes",
                        "a bind mount needs `source:` (a host path).",
                    )
                volume.put("source", host_path(source, base), volume.loc("source"))
    watches = service.get("develop")
    if isinstance(watches, LocatedDict) and isinstance(watches.get("watch"), LocatedList):
        for watch in watches["watch"]:
            if isinstance(watch, LocatedDict) and isinstance(watch.get("path"), str):
                watch.put("path", absolute(watch["path"], base), watch.loc("path"))
