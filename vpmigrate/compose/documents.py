"""From compose files to one merged, canonical document, as Compose v2 builds it.

For each file, and each YAML document in it, in order:
1. interpolate `${...}` (and turn strings into numbers/booleans where Compose does);
2. resolve `extends` (same file, another file, chained; cycles refused);
3. apply the document's `!reset` / `!override` tags to what earlier documents built;
4. import `include`d projects (each loaded on its own: its directory, its `.env`);
5. merge into what earlier documents built (see `merge`), drop duplicates, and check
   the result's shape (`schema`).
Then the merged document gets its canonical form (short syntax expanded), Compose's
defaults, and absolute paths. The result is still a located tree: every value knows
its file and line, for the messages of later steps.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vpmigrate.compose import schema
from vpmigrate.compose.canonical import canonical, resolve_paths, set_defaults
from vpmigrate.compose.envfiles import read_env_file
from vpmigrate.compose.interpolation import COMPOSE_CASTS, interpolate_tree
from vpmigrate.compose.merge import enforce_unicity, extend_service, merge
from vpmigrate.compose.model import Location
from vpmigrate.compose.tree import copy_dict, deep_copy, new_dict, new_list, plain
from vpmigrate.compose.values import problem
from vpmigrate.compose.yamlsource import (
    LocatedDict,
    LocatedList,
    YamlDocument,
    load_yaml_documents,
)
from vpmigrate.errors import UserError

TreePath = tuple[str, ...]


# One YAML document of a compose file, and the paths its `!reset` / `!override` tags
# clear from what earlier documents (or an extended service) defined.
Document = YamlDocument


def read_documents(path: Path) -> list[Document]:
    return load_yaml_documents(path)


@dataclass
class Notes:
    """What a load collects besides the document: warnings, unset variables, and the
    variables the files refer to (name -> value: their values are masked in errors)."""

    warnings: list[str] = field(default_factory=list)
    unset: set[str] = field(default_factory=set)
    used: dict[str, str] = field(default_factory=dict)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


@dataclass(frozen=True)
class LoadOptions:
    working_dir: Path  # relative paths in these files are resolved against it
    environment: Mapping[str, str]  # for interpolation
    notes: Notes
    extends: bool = True
    include: bool = True
    validate: bool = True
    defaults: bool = True
    # Files already parsed in this load (a file is read once however often it is used).
    documents: dict[Path, list[Document]] = field(default_factory=dict)

    def read(self, path: Path) -> list[Document]:
        if path not in self.documents:
            self.documents[path] = read_documents(path)
        return self.documents[path]


def load_model(
    files: Sequence[Path], options: LoadOptions, included: tuple[Path, ...] = ()
) -> LocatedDict:
    """Compose's model of `files`: merged, canonical, paths absolute."""
    merged = LocatedDict(Location(files[0], 1))
    for path in files:
        for document in options.read(path):
            # Compose counts the first file of the load as the one including, whichever
            # file the `include:` is in (so `-f a -f b` where b includes a is a cycle).
            merged = _add_document(merged, document, path, options, (*included, files[0]))
    merged = enforce_unicity(canonical(merged))
    if options.defaults:
        set_defaults(merged)
    if options.validate:
        _check_resources(merged)
    resolve_paths(merged, options.working_dir)
    _resolve_list_environment(merged, options.environment)
    return merged


def _add_document(
    merged: LocatedDict,
    document: Document,
    path: Path,
    options: LoadOptions,
    included: tuple[Path, ...],
) -> LocatedDict:
    root = interpolate_tree(
        document.root,
        options.environment,
        path="",
        location=document.root.location,
        unset=options.notes.unset,
        casts=COMPOSE_CASTS,
        used=options.notes.used,
    )
    if options.extends:
        _apply_extends(root, path, options, document.resets)
    _apply_resets(merged, document.resets, ())
    if options.include:
        _apply_include(root, options, included)
    merged = enforce_unicity(merge(merged, root))
    if options.validate:
        schema.validate(merged)
        if "version" in merged:
            options.notes.warn(
                f"{merged.loc('version')}: `version` is obsolete (Compose ignores it); remove it."
            )
            del merged["version"]
    return merged


# --- !reset and !override ------------------------------------------------------------------


def _apply_resets(target: Any, resets: tuple[TreePath, ...], path: TreePath) -> None:
    """Remove from `target` (in place) every key a `!reset`/`!override` tag names."""
    if not resets:
        return
    if isinstance(target, LocatedDict):
        for key in list(target):
            here = (*path, key)
            if any(_matches(here, reset) for reset in resets):
                del target[key]
            else:
                _apply_resets(target[key], resets, here)
    elif isinstance(target, LocatedList):
        for index, item in enumerate(target):
            _apply_resets(item, resets, (*path, f"[{index}]"))


def _matches(path: TreePath, pattern: TreePath) -> bool:
    return len(path) == len(pattern) and all(
        p == "*" or p == part for part, p in zip(path, pattern, strict=True)
    )


# --- extends -----------------------------------------------------------------------------


def _apply_extends(
    root: LocatedDict, path: Path, options: LoadOptions, resets: tuple[TreePath, ...]
) -> None:
    services = root.get("services")
    if not isinstance(services, LocatedDict):
        return
    for name in list(services):
        resolved = _extended(name, services, path, options, resets, ())
        services.put(name, resolved, services.loc(name))


def _extended(
    name: str,
    services: LocatedDict,
    filename: Path,
    options: LoadOptions,
    resets: tuple[TreePath, ...],
    chain: tuple[tuple[Path, str], ...],
) -> Any:
    service = services.get(name)
    if service is None:
        return None
    if not isinstance(service, LocatedDict):
        raise problem(services.loc(name), f"services.{name}", "must be a mapping.")
    extends = service.get("extends")
    if extends is None:
        return service
    where = f"services.{name}.extends"
    location = service.loc("extends")
    if isinstance(extends, str):
        reference, other = extends, None
    elif isinstance(extends, LocatedDict) and isinstance(extends.get("service"), str):
        reference, other = extends["service"], extends.get("file")
    else:
        raise problem(
            location, where, "write `extends: SERVICE` or `extends: {service: S, file: F}`."
        )
    if other is not None:
        if not isinstance(other, str):
            raise problem(location, f"{where}.file", "must be a file path.")
        filename = _existing(other, options.working_dir, location, f"{where}.file", "extends file")
        services = _services_of(filename, options, location, where)
        if reference not in services:
            raise problem(
                location,
                where,
                f"service {reference!r} is not defined in {filename}; known there: "
                f"{', '.join(sorted(services)) or 'none'}.",
            )
    elif reference not in services:
        raise problem(
            location,
            where,
            f"service {reference!r} is not defined in {filename}; known services: "
            f"{', '.join(sorted(services))}.",
        )
    link = (filename, name)
    if link in chain:
        steps = " -> ".join(f"{s} ({f.name})" for f, s in (*chain, link))
        raise problem(location, where, f"services extend each other in a cycle: {steps}.")
    base = _extended(reference, services, filename, options, resets, (*chain, link))
    if base is None:
        return service
    source = deep_copy(base)
    holder = new_dict(source.location, {"services": new_dict(source.location, {name: source})})
    _apply_resets(holder, resets, ())
    merged = extend_service(holder["services"][name], service)
    del merged["extends"]
    services.put(name, merged, services.loc(name))
    return merged


def _services_of(path: Path, options: LoadOptions, location: Location, where: str) -> LocatedDict:
    """The services of another compose file named by `extends.file`: read on their own
    (their relative paths against that file's folder), not yet extended themselves."""
    sub = replace(
        options,
        working_dir=path.parent,
        extends=False,
        include=False,
        validate=False,
        defaults=False,
    )
    model = load_model([path], sub)
    services = model.get("services")
    if not isinstance(services, LocatedDict):
        raise problem(location, where, f"{path} defines no services.")
    return copy_dict(services)


def _existing(raw: str, base: Path, location: Location, where: str, what: str) -> Path:
    if "://" in raw or raw.startswith(("git@", "github.com/")):
        raise problem(
            location,
            where,
            f"the {what} {raw} is remote; only local files are read here. Download it "
            "(git clone, curl) and name the local copy instead.",
        )
    path = Path(os.path.expanduser(raw))
    if not path.is_absolute():
        path = base / path
    path = Path(os.path.normpath(path))
    if not path.exists():
        raise problem(location, where, f"the {what} {path} does not exist.")
    return path


# --- include -----------------------------------------------------------------------------


def _apply_include(root: LocatedDict, options: LoadOptions, included: tuple[Path, ...]) -> None:
    entries = root.get("include")
    if entries is None:
        return
    location = root.loc("include")
    if not isinstance(entries, LocatedList):
        raise problem(location, "include", "must be a list of files (or of {path: ...}).")
    for index, entry in enumerate(entries):
        where = f"include[{index}]"
        entry_location = entries.loc(index)
        if isinstance(entry, str):
            entry = new_dict(entry_location, {"path": entry})
        if not isinstance(entry, LocatedDict):
            raise problem(entry_location, where, "must be a path or a mapping with `path:`.")
        schema.INCLUDE.item.check(entry, entry_location, where)
        raw_paths = entry.get("path")
        if raw_paths is None:
            raise problem(entry_location, where, "needs `path:`, the compose file to include.")
        paths_list = (
            new_list(entry_location, [raw_paths]) if isinstance(raw_paths, str) else raw_paths
        )
        paths = [
            _existing(
                str(p), options.working_dir, paths_list.loc(i), f"{where}.path", "included file"
            )
            for i, p in enumerate(paths_list)
        ]
        directory = entry.get("project_directory")
        if directory is None:
            project_dir = paths[0].parent
        else:
            project_dir = Path(
                os.path.normpath(options.working_dir / os.path.expanduser(directory))
            )
        if paths[0] in included:
            chain = " -> ".join(str(p) for p in (*included, paths[0]))
            raise problem(entry_location, where, f"files include each other in a cycle: {chain}.")
        environment = _include_environment(entry, project_dir, options, entry_location, where)
        # Compose resolves the included files' relative paths against project_directory
        # when that folder exists, else against the folder that would contain it.
        paths_base = project_dir if project_dir.is_dir() else project_dir.parent
        sub = replace(options, working_dir=paths_base, environment=environment)
        imported = load_model(paths, sub, included)
        _import(imported, root, entry_location)
    del root["include"]


def _include_environment(
    entry: LocatedDict, project_dir: Path, options: LoadOptions, location: Location, where: str
) -> dict[str, str]:
    raw = entry.get("env_file")
    files: list[Path] = []
    if raw is None:
        default = project_dir / ".env"
        if default.is_file():
            files.append(default)
    else:
        for item in [raw] if isinstance(raw, str) else list(raw):
            path = Path(os.path.expanduser(str(item)))
            if not path.is_absolute():
                path = options.working_dir / path
                if not path.exists():
                    raise problem(location, f"{where}.env_file", f"env file {path} does not exist.")
                if path.is_dir():
                    raise problem(location, f"{where}.env_file", f"{path} is a folder, not a file.")
            files.append(path)
    values: dict[str, str] = {}
    for path in files:
        values.update(read_env_file(path, {**values, **options.environment}))
    return {**values, **options.environment}


def _import(imported: LocatedDict, root: LocatedDict, location: Location) -> None:
    for section in ("services", "volumes", "networks", "secrets", "configs"):
        source = imported.get(section)
        if not isinstance(source, LocatedDict):
            continue
        target = root.get(section)
        if not isinstance(target, LocatedDict):
            target = LocatedDict(location)
        else:
            target = copy_dict(target)
        for name, value in source.items():
            if name in target:
                if plain(target[name]) == plain(value):
                    continue
                raise problem(
                    target.loc(name),
                    f"{section}.{name}",
                    f"is also defined by an included file ({source.loc(name)}); an included "
                    "resource cannot be redefined. Rename one of them, or override it in a "
                    "later --file instead.",
                )
            target.put(name, value, source.loc(name))
        root.put(section, target, root.loc(section) if section in root else location)


# --- checks and environment ---------------------------------------------------------------


def _check_resources(document: LocatedDict) -> None:
    """What Compose checks after expansion: an external volume takes no other settings;
    a secret or config has exactly one source."""
    volumes = document.get("volumes")
    if isinstance(volumes, LocatedDict):
        for key, volume in volumes.items():
            if isinstance(volume, LocatedDict) and volume.get("external") is True:
                extra = [
                    k for k in volume if k not in ("name", "external") and not k.startswith("x-")
                ]
                if extra:
                    raise problem(
                        volume.loc(extra[0]),
                        f"volumes.{key}",
                        f"an external volume is created outside Compose; remove {extra[0]!r} "
                        "(conflicting with `external: true`).",
                    )
    for section, sources in (
        ("secrets", ("file", "environment")),
        ("configs", ("file", "environment", "content")),
    ):
        resources = document.get(section)
        if not isinstance(resources, LocatedDict):
            continue
        for key, resource in resources.items():
            if not isinstance(resource, LocatedDict):
                continue
            given = [s for s in sources if s in resource]
            where = f"{section}.{key}"
            if len(given) > 1:
                raise problem(
                    resource.loc(given[1]),
                    where,
                    f"{' and '.join(given)} cannot be used together; keep one source.",
                )
            if not given and "driver" not in resource and "external" not in resource:
                raise problem(
                    resource.location,
                    where,
                    f"needs a source: one of {', '.join(sources)} (or `external: true`).",
                )


def _resolve_list_environment(document: LocatedDict, environment: Mapping[str, str]) -> None:
    """`environment: [KEY]` takes KEY's value from the environment when it has one."""
    services = document.get("services")
    if not isinstance(services, LocatedDict):
        return
    for service in services.values():
        if not isinstance(service, LocatedDict):
            continue
        entries = service.get("environment")
        if not isinstance(entries, LocatedList):
            continue
        resolved = LocatedList(entries.location)
        for index, entry in enumerate(entries):
            if not isinstance(entry, str):
                continue
            if "=" not in entry and entry in environment:
                entry = f"{entry}={environment[entry]}"
            resolved.add(entry, entries.loc(index))
        service.put("environment", resolved, service.loc("environment"))


def check_not_empty(document: LocatedDict, files: Sequence[Path]) -> None:
    if not document:
        raise UserError(f"{files[0]}: the compose file is empty; it needs at least `services:`.")
