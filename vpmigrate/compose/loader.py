"""Load Compose files into the model, following Docker Compose v2 step by step.

1. The project directory is the first file's folder (or the one given); `.env` there
   (or the given env files) plus the shell environment (which wins) feed
   interpolation; the project name comes first (`-p`, COMPOSE_PROJECT_NAME, `name:`,
   the folder) so that `${COMPOSE_PROJECT_NAME}` can be used in the files.
2. The files become one merged, canonical document (`documents`: interpolation,
   `extends`, `!reset`/`!override`, `include`, merging, shape checks).
3. Compose's normalisation: the `default` network for services without one, the
   dependencies that `links`, `volumes_from` and `service:X` namespaces imply, the
   engine names of networks, volumes, secrets and configs.
4. Each service becomes a typed `Service`; references between them are checked, and
   so are dependency cycles.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from vpmigrate.compose.documents import (
    Document,
    LoadOptions,
    Notes,
    check_not_empty,
    load_model,
    read_documents,
)
from vpmigrate.compose.envfiles import read_env_file
from vpmigrate.compose.graph import DependencyGraph
from vpmigrate.compose.interpolation import interpolate
from vpmigrate.compose.model import Location, Project, Service
from vpmigrate.compose.naming import choose_project_name
from vpmigrate.compose.services import ServiceContext, build_service
from vpmigrate.compose.toplevel import (
    extensions,
    read_file_objects,
    read_networks,
    read_volumes,
)
from vpmigrate.compose.tree import copy_dict, new_dict
from vpmigrate.compose.values import problem
from vpmigrate.compose.yamlsource import LocatedDict, LocatedList
from vpmigrate.errors import UserError
from vpmigrate.masking import mask_text, secret_values
from vpmigrate.userfiles import is_missing

_SHARED_NAMESPACES = ("network_mode", "ipc", "pid", "uts", "cgroup")


@dataclass(frozen=True)
class LoadResult:
    project: Project
    # Things Compose would warn about, e.g. 'The "X" variable is not set.', and keys a
    # single engine ignores (Swarm-only deploy settings), each naming file:line.
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
    missing_env_files_ok: bool = False,
) -> LoadResult:
    """`load_project`, plus the warnings Compose would print (unset variables).
    `missing_env_files_ok`: a service's missing `env_file` is a warning and reads as
    empty, instead of Compose's error (for tasks that only read the model)."""
    notes = Notes()
    try:
        return _load(
            files, project_name, project_directory, env_files, environ, notes, missing_env_files_ok
        )
    except UserError as exc:
        # Messages quote values as written (`Interpolated`), but one may quote a piece
        # of a value: what a secret variable holds is shown as `${NAME}` instead.
        masked = mask_text(exc.message, secret_values(notes.used))
        raise UserError(masked, exit_code=exc.exit_code) from None


def _load(
    files: Sequence[Path],
    project_name: str | None,
    project_directory: Path | None,
    env_files: Sequence[Path] | None,
    environ: Mapping[str, str] | None,
    notes: Notes,
    missing_env_files_ok: bool = False,
) -> LoadResult:
    if not files:
        raise UserError("No compose file given; pass --file compose/docker-compose.yml.")
    config_files = tuple(Path(os.path.abspath(f)) for f in files)
    directory = Path(os.path.abspath(project_directory or config_files[0].parent))
    shell = dict(os.environ if environ is None else environ)
    # The compose files first: a problem with the file the user named comes before
    # one with the .env beside it.
    cache: dict[Path, list[Document]] = {path: read_documents(path) for path in config_files}
    dotenv = _read_dotenv(directory, env_files, shell)
    environment = {**dotenv, **shell}

    name = choose_project_name(
        explicit=project_name,
        environ=shell,
        dotenv=dotenv,
        declared=_declared_name(config_files, cache, environment),
        project_directory=directory,
    )
    # Compose sets COMPOSE_PROJECT_NAME for the files (interpolation, bare variables).
    lookup = {"COMPOSE_PROJECT_NAME": name, **environment}
    options = LoadOptions(working_dir=directory, environment=lookup, notes=notes, documents=cache)
    document = load_model(config_files, options)
    check_not_empty(document, config_files)
    _normalize(document)

    volumes = read_volumes(document, name)
    networks = read_networks(document, name)
    secrets = read_file_objects(document, "secrets", name)
    for key, secret in secrets.items():
        if not secret.external and secret.file is None and secret.environment is None:
            raise problem(
                secret.location or document.location,
                f"secrets.{key}",
                "needs `file:` or `environment:` (the value's source), or `external: true`.",
            )
    configs = read_file_objects(document, "configs", name)
    raw_services = document.get("services")
    if isinstance(raw_services, LocatedDict):
        # `x-` keys under services are extension fields, not services (Compose's reading).
        raw_services = _without_extensions(raw_services)
    if not isinstance(raw_services, LocatedDict) or not raw_services:
        raise problem(document.location, "services", "no service is defined.")
    context = ServiceContext(
        project_directory=directory,
        environment=lookup,
        services=frozenset(raw_services),
        volumes=frozenset(volumes),
        networks=frozenset(networks),
        project_name=name,
        secrets=frozenset(secrets),
        configs=frozenset(configs),
        warn=notes.warn,
        missing_env_files_ok=missing_env_files_ok,
    )
    services = {
        service_name: build_service(service_name, data, raw_services.loc(service_name), context)
        for service_name, data in raw_services.items()
    }
    _check_cycles(services)
    if "default" in networks and not any(
        n.network == "default" for s in services.values() for n in s.networks
    ):
        del networks["default"]  # declared but unused: Compose does not create it
    project = Project(
        name=name,
        working_dir=directory,
        config_files=config_files,
        services=MappingProxyType(services),
        networks=MappingProxyType(networks),
        volumes=MappingProxyType(volumes),
        environment=MappingProxyType(environment),
        secrets=MappingProxyType(secrets),
        configs=MappingProxyType(configs),
        extensions=MappingProxyType(extensions(document)),
    )
    unset = tuple(
        f'The "{variable}" variable is not set. Defaulting to a blank string.'
        for variable in sorted(notes.unset)
    )
    return LoadResult(project, unset + tuple(notes.warnings))


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


def _declared_name(
    files: Sequence[Path], cache: Mapping[Path, list[Document]], environment: Mapping[str, str]
) -> str | None:
    """The top-level `name:` (the last one given), interpolated, as Compose finds it
    before loading: so that files can use ${COMPOSE_PROJECT_NAME}."""
    declared: tuple[str, Location] | None = None
    for path in files:
        for document in cache[path]:
            value = document.root.get("name")
            if isinstance(value, str) and value:
                declared = (value, document.root.loc("name"))
    if declared is None:
        return None
    value, location = declared
    return interpolate(value, environment, where=f"{location}: name") or None


# --- Compose's normalisation ----------------------------------------------------------------


def _normalize(document: LocatedDict) -> None:
    """In place: default networks, implied dependencies (as Compose's normalisation)."""
    services = document.get("services")
    if not isinstance(services, LocatedDict):
        return
    uses_default = False
    for service in services.values():
        if not isinstance(service, LocatedDict):
            continue
        if "network_mode" not in service:
            networks = service.get("networks")
            if not isinstance(networks, LocatedDict) or not networks:
                service.put(
                    "networks", new_dict(service.location, {"default": None}), service.location
                )
                uses_default = True
            elif "default" in networks:
                uses_default = True
        _implied_dependencies(service)
    if uses_default:
        networks = document.get("networks")
        if not isinstance(networks, LocatedDict):
            networks = LocatedDict(document.location)
            document.put("networks", networks, document.location)
        if "default" not in networks:
            networks.put("default", None, document.location)


def _implied_dependencies(service: LocatedDict) -> None:
    """`links`, `service:X` namespaces and `volumes_from` make the service depend on
    X, as `depends_on` would (started, required); Compose adds these too."""
    implied: list[tuple[str, bool, Location]] = []
    links = service.get("links")
    if isinstance(links, LocatedList):
        for index, link in enumerate(links):
            parts = str(link).split(":")
            implied.append((parts[0] if len(parts) == 2 else str(link), True, links.loc(index)))
    for key in _SHARED_NAMESPACES:
        value = service.get(key)
        if isinstance(value, str) and value.startswith("service:"):
            implied.append((value[len("service:") :], True, service.loc(key)))
    volumes_from = service.get("volumes_from")
    if isinstance(volumes_from, LocatedList):
        for index, entry in enumerate(volumes_from):
            if not str(entry).startswith("container:"):
                implied.append((str(entry).split(":")[0], False, volumes_from.loc(index)))
    if not implied:
        return
    depends_on = service.get("depends_on")
    if not isinstance(depends_on, LocatedDict):
        depends_on = LocatedDict(service.location)
    else:
        depends_on = copy_dict(depends_on)
    for name, restart, location in implied:
        if name not in depends_on:
            entry = new_dict(
                location, {"condition": "service_started", "restart": restart, "required": True}
            )
            depends_on.put(name, entry, location)
    service.put("depends_on", depends_on, service.loc("depends_on"))


def _without_extensions(services: LocatedDict) -> LocatedDict:
    result = LocatedDict(services.location)
    for key, value in services.items():
        if not key.startswith("x-"):
            result.put(key, value, services.loc(key))
    return result


def _check_cycles(services: Mapping[str, Service]) -> None:
    """A dependency cycle is an error, as in Compose ("dependency cycle detected"); the
    message names each edge and where it is written."""
    DependencyGraph(services.values())
