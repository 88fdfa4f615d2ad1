"""What a service definition refers to: other services, top-level resources, host paths.

Reads the raw (not interpolated) round-trip data; merged `<<` keys count.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Top-level sections whose entries services refer to by key.
RESOURCE_SECTIONS = ("volumes", "networks", "configs", "secrets")


@dataclass(frozen=True)
class ServiceRef:
    """`service` needs `target` (through `via`: depends_on, links, ...)."""

    target: str
    via: str
    required: bool = True


def service_refs(service: Mapping[str, Any]) -> Iterator[ServiceRef]:
    depends_on = service.get("depends_on")
    if isinstance(depends_on, Mapping):
        for target, options in depends_on.items():
            required = options.get("required", True) if isinstance(options, Mapping) else True
            yield ServiceRef(str(target), "depends_on", required is not False)
    elif isinstance(depends_on, list):
        for target in depends_on:
            yield ServiceRef(str(target), "depends_on")
    for link in service.get("links") or []:
        yield ServiceRef(str(link).split(":", 1)[0], "links")
    for source in service.get("volumes_from") or []:
        text = str(source)
        if not text.startswith("container:"):
            yield ServiceRef(text.split(":", 1)[0], "volumes_from")
    network_mode = service.get("network_mode")
    if isinstance(network_mode, str) and network_mode.startswith("service:"):
        yield ServiceRef(network_mode.removeprefix("service:"), "network_mode")
    extends = service.get("extends")
    if isinstance(extends, Mapping) and "file" not in extends and "service" in extends:
        yield ServiceRef(str(extends["service"]), "extends")
    elif isinstance(extends, str):
        yield ServiceRef(extends, "extends")


def _is_named_volume(source: str) -> bool:
    return bool(source) and not source.startswith(("/", ".", "~", "$")) and "/" not in source


def used_resources(service: Mapping[str, Any]) -> dict[str, set[str]]:
    """The keys of the top-level volumes, networks, configs and secrets it uses."""
    used: dict[str, set[str]] = {section: set() for section in RESOURCE_SECTIONS}
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source = volume.split(":", 1)[0] if ":" in volume else ""
            if _is_named_volume(source):
                used["volumes"].add(source)
        elif (
            isinstance(volume, Mapping)
            and volume.get("type", "volume") == "volume"
            and volume.get("source")
        ):
            used["volumes"].add(str(volume["source"]))
    networks = service.get("networks")
    if isinstance(networks, Mapping | list):
        used["networks"].update(str(n) for n in networks)
    elif "network_mode" not in service:
        used["networks"].add("default")
    for section in ("configs", "secrets"):
        for item in service.get(section) or []:
            if isinstance(item, Mapping):
                used[section].add(str(item.get("source")))
            else:
                used[section].add(str(item))
    return used


def _is_relative(path: Any) -> bool:
    text = str(path)
    return bool(text) and not text.startswith(("/", "~", "$")) and "://" not in text


def relative_paths(service: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, path) for each host path written relative to the compose file's folder."""
    env_file = service.get("env_file")
    for entry in env_file if isinstance(env_file, list) else [env_file] if env_file else []:
        path = entry.get("path") if isinstance(entry, Mapping) else entry
        if path is not None and _is_relative(path):
            yield "env_file", str(path)
    build = service.get("build")
    context = build.get("context", ".") if isinstance(build, Mapping) else build
    if context is not None and _is_relative(context):
        yield "build", str(context)
    for volume in service.get("volumes") or []:
        if isinstance(volume, str) and volume.startswith("."):
            yield "volumes", volume
        elif (
            isinstance(volume, Mapping)
            and volume.get("type") == "bind"
            and _is_relative(volume.get("source", ""))
        ):
            yield "volumes", str(volume.get("source"))
    extends = service.get("extends")
    if isinstance(extends, Mapping) and extends.get("file") and _is_relative(extends["file"]):
        yield "extends", str(extends["file"])
