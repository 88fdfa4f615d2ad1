"""Load Compose files into the model: read, interpolate, merge, name and normalise.

The steps follow Docker Compose v2: the project directory is the first file's folder;
`.env` there (or the given env files) plus the shell environment (which wins) feed
interpolation; each file is interpolated, then the files are merged in order.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from vpmigrate.compose.envfiles import read_env_file
from vpmigrate.compose.interpolation import interpolate_tree
from vpmigrate.compose.merge import merge_files
from vpmigrate.compose.model import NetworkDef, Project, Service, VolumeDef
from vpmigrate.compose.naming import choose_project_name, resource_name
from vpmigrate.compose.services import ServiceContext, build_service
from vpmigrate.compose.values import (
    boolean,
    check_keys,
    mapping,
    optional_boolean,
    optional_text,
    problem,
    text,
    text_map,
)
from vpmigrate.compose.yamlsource import LocatedDict, load_yaml_file
from vpmigrate.errors import UserError
from vpmigrate.userfiles import is_missing

TOP_LEVEL_KEYS = frozenset({"version", "name", "services", "networks", "volumes"})
_NETWORK_KEYS = frozenset({"name", "external", "driver", "labels", "internal"})
_VOLUME_KEYS = frozenset({"name", "external", "driver", "labels"})


@dataclass(frozen=True)
class LoadResult:
    project: Project
    # Things Compose would warn about, e.g. 'The "X" variable is not set.'
    warnings: tuple[str, ...] = field(default=())


def load_project(
    files: Sequence[Path],
    *,
    project_name: str | None = None,
    project_directory: Path | None = None,
    env_files: Sequence[Path] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Project:
    """Read the compose files into a `Project`; raises `UserError` on anything wrong."""
    return load_project_with_warnings(
        files,
        project_name=project_name,
        project_directory=project_directory,
        env_files=env_files,
        environ=environ,
    ).project


def load_project_with_warnings(
    files: Sequence[Path],
    *,
    project_name: str | None = None,
    project_directory: Path | None = None,
    env_files: Sequence[Path] | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadResult:
    """`load_project`, plus the warnings Compose would print (unset variables)."""
    if not files:
        raise UserError("No compose file given; pass --file compose/docker-compose.yml.")
    config_files = tuple(Path(os.path.abspath(f)) for f in files)
    directory = Path(os.path.abspath(project_directory or config_files[0].parent))
    shell = dict(os.environ if environ is None else environ)
    # The compose files first: a problem with the file the user named comes before
    # one with the .env beside it.
    parsed = [load_yaml_file(path) for path in config_files]
    dotenv = _read_dotenv(directory, env_files, shell)
    environment = {**dotenv, **shell}

    unset: set[str] = set()
    documents = []
    for document in parsed:
        check_keys(document, TOP_LEVEL_KEYS, "top level", hint=_TOP_LEVEL_HINT)
        documents.append(
            interpolate_tree(
                document,
                environment,
                path="",
                location=document.location,
                unset=unset,
                skip=_is_extension,
            )
        )
    merged = merge_files(documents)

    declared_name = merged.get("name")
    name = choose_project_name(
        explicit=project_name,
        environ=shell,
        dotenv=dotenv,
        declared=None if declared_name is None else text(declared_name, merged.loc("name"), "name"),
        project_directory=directory,
    )
    volumes = _volumes(merged, name)
    declared_networks = _networks(merged, name)
    services = _services(
        merged,
        ServiceContext(
            project_directory=directory,
            environment=environment,
            services=frozenset(_service_map(merged)),
            volumes=frozenset(volumes),
            networks=frozenset(declared_networks),
            project_name=name,
        ),
    )
    networks = dict(declared_networks)
    uses_default = any(
        n.network == "default" for service in services.values() for n in service.networks
    )
    if not uses_default:
        networks.pop("default", None)
    elif "default" not in networks:
        networks["default"] = NetworkDef("default", resource_name(name, "default"))

    project = Project(
        name=name,
        working_dir=directory,
        config_files=config_files,
        services=MappingProxyType(services),
        networks=MappingProxyType(networks),
        volumes=MappingProxyType(volumes),
        environment=MappingProxyType(environment),
    )
    warnings = tuple(
        f'The "{variable}" variable is not set. Defaulting to a blank string.'
        for variable in sorted(unset)
    )
    return LoadResult(project, warnings)


_TOP_LEVEL_HINT = " (secrets, configs and include are not supported yet)"


def _read_dotenv(
    directory: Path, env_files: Sequence[Path] | None, shell: Mapping[str, str]
) -> dict[str, str]:
    if env_files is None:
        default = directory / ".env"
        # Compose skips a default .env that is missing or a folder, and reads anything
        # else (so an unreadable one is an error, not a silent skip).
        paths = [] if is_missing(default) or os.path.isdir(default) else [default]
        hint = ""
    else:
        paths = [Path(p) for p in env_files]
        hint = "; check the --env-file option"
    values: dict[str, str] = {}
    for path in paths:
        # Later files override earlier ones; their ${...} see the shell, then earlier files.
        values.update(read_env_file(path, {**values, **shell}, hint=hint))
    return values


def _service_map(merged: LocatedDict) -> LocatedDict:
    if "services" not in merged:
        raise problem(merged.location, "top level", "no `services:` defined.")
    services = mapping(merged["services"], merged.loc("services"), "services")
    if not services:
        raise problem(merged.loc("services"), "services", "no service is defined.")
    return services


def _services(merged: LocatedDict, ctx: ServiceContext) -> dict[str, Service]:
    services = _service_map(merged)
    return {
        service_name: build_service(service_name, data, services.loc(service_name), ctx)
        for service_name, data in services.items()
        if not service_name.startswith("x-")
    }


def _definitions(merged: LocatedDict, section: str) -> list[tuple[str, LocatedDict]]:
    raw = merged.get(section)
    if raw is None:
        return []
    entries = mapping(raw, merged.loc(section), section)
    result = []
    for key, value in entries.items():
        if key.startswith("x-"):
            continue
        definition = LocatedDict(entries.loc(key)) if value is None else value
        result.append((key, mapping(definition, entries.loc(key), f"{section}.{key}")))
    return result


def _common(data: LocatedDict, key: str, project: str, where: str) -> dict[str, Any]:
    """The fields networks and volumes share: engine name, external, driver, labels."""
    external = False
    explicit_name = optional_text(data, "name", where)
    raw_external = data.get("external")
    if isinstance(raw_external, LocatedDict):  # legacy `external: {name: x}`
        check_keys(raw_external, {"name"}, f"{where}.external")
        external = True
        if raw_external.get("name") is not None:
            explicit_name = text(raw_external["name"], raw_external.loc("name"), where)
    elif raw_external is not None:
        external = boolean(raw_external, data.loc("external"), f"{where}.external")
    if external:
        extra = sorted(set(data) - {"name", "external"} - {k for k in data if k.startswith("x-")})
        if extra:
            raise problem(
                data.loc(extra[0]),
                where,
                f"an external resource is created outside Compose; remove '{extra[0]}'.",
            )
    labels = text_map(data.get("labels"), data.loc("labels"), f"{where}.labels")
    return {
        "key": key,
        "name": explicit_name or (key if external else resource_name(project, key)),
        "external": external,
        "driver": optional_text(data, "driver", where),
        "labels": MappingProxyType(labels),
    }


def _volumes(merged: LocatedDict, project: str) -> dict[str, VolumeDef]:
    result = {}
    for key, data in _definitions(merged, "volumes"):
        where = f"volumes.{key}"
        check_keys(data, _VOLUME_KEYS, where)
        result[key] = VolumeDef(**_common(data, key, project, where))
    return result


def _networks(merged: LocatedDict, project: str) -> dict[str, NetworkDef]:
    result = {}
    for key, data in _definitions(merged, "networks"):
        where = f"networks.{key}"
        check_keys(data, _NETWORK_KEYS, where)
        result[key] = NetworkDef(
            **_common(data, key, project, where),
            internal=bool(optional_boolean(data, "internal", where)),
        )
    return result


def _is_extension(parent: str, key: str) -> bool:
    """`x-` fields at the top level, in a service, network or volume: Compose ignores them.
    Deeper down (labels, environment) an `x-` key is ordinary data."""
    return key.startswith("x-") and parent.count(".") <= 1
