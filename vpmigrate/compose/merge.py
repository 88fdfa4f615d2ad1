"""Merge several Compose files (`-f a -f b`) the way Compose does: later files override.

Mappings merge recursively and other values are replaced (so `command`, `entrypoint`
and `healthcheck.test` are replaced), except in services where: `environment`/`labels`
merge by key, `depends_on`/`networks` by name, `volumes` by container path, and
`ports`, `env_file`, `extra_hosts`, `profiles`, `links` and `volumes_from` add up
(Compose 2.27 unions profiles).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from vpmigrate.compose.mounts import volume_target
from vpmigrate.compose.values import keyed, names_or_mapping, sequence, text_list
from vpmigrate.compose.yamlsource import LocatedDict, LocatedList


def merge_files(documents: Sequence[LocatedDict]) -> LocatedDict:
    """Merge parsed (and interpolated) compose files, first to last."""
    merged = documents[0]
    for override in documents[1:]:
        merged = _merge_top(merged, override)
    return merged


def _merge_top(base: LocatedDict, override: LocatedDict) -> LocatedDict:
    result = _copy(base)
    for key, value in override.items():
        if key == "services" and isinstance(base.get(key), LocatedDict):
            services = _copy(base[key])
            if isinstance(value, LocatedDict):
                for name, service in value.items():
                    old = services.get(name)
                    if isinstance(old, LocatedDict) and isinstance(service, LocatedDict):
                        services.put(name, merge_service(old, service), services.loc(name))
                    else:
                        services.put(name, service, value.loc(name))
                result.put(key, services, base.loc(key))
                continue
        result.put(key, merge_values(base.get(key), value), override.loc(key))
    return result


def merge_service(base: LocatedDict, override: LocatedDict) -> LocatedDict:
    result = _copy(base)
    for key, value in override.items():
        old = base.get(key)
        merger = _SERVICE_MERGERS.get(key)
        if key not in base or merger is None:
            merged = merge_values(old, value) if key in base else value
        else:
            merged = merger(old, value, base.loc(key), override.loc(key), key)
        result.put(key, merged, override.loc(key))
    return result


def merge_values(base: Any, override: Any) -> Any:
    """Mappings merge recursively; anything else is replaced."""
    if isinstance(base, LocatedDict) and isinstance(override, LocatedDict):
        result = _copy(base)
        for key, value in override.items():
            result.put(key, merge_values(base.get(key), value), override.loc(key))
        return result
    return override


def _by_key(base: Any, override: Any, base_loc: Any, override_loc: Any, where: str) -> LocatedDict:
    return merge_values(keyed(base, base_loc, where), keyed(override, override_loc, where))


def _by_name(base: Any, override: Any, base_loc: Any, override_loc: Any, where: str) -> LocatedDict:
    return merge_values(
        names_or_mapping(base, base_loc, where),
        names_or_mapping(override, override_loc, where),
    )


def _concatenated(base: Any, override: Any, base_loc: Any, override_loc: Any, where: str) -> Any:
    if isinstance(base, LocatedDict) or isinstance(override, LocatedDict):
        return merge_values(base, override)  # extra_hosts as a mapping
    first = text_list(base, base_loc, where)
    second = text_list(override, override_loc, where)
    result = LocatedList(first.location)
    for items in (first, second):
        for index, item in enumerate(items):
            result.add(item, items.loc(index))
    return result


def _by_target(
    base: Any, override: Any, base_loc: Any, override_loc: Any, where: str
) -> LocatedList:
    first = sequence(base, base_loc, where)
    second = sequence(override, override_loc, where)
    replacements = {volume_target(item): (item, second.loc(i)) for i, item in enumerate(second)}
    result = LocatedList(first.location)
    used: set[Any] = set()
    for index, item in enumerate(first):
        target = volume_target(item)
        if target is not None and target in replacements:
            result.add(*replacements[target])
            used.add(target)
        else:
            result.add(item, first.loc(index))
    for index, item in enumerate(second):
        target = volume_target(item)
        if target is None or target not in used:
            result.add(item, second.loc(index))
    return result


def _build(base: Any, override: Any, base_loc: Any, override_loc: Any, where: str) -> Any:
    """`build: ./dir` is `build: {context: ./dir}`; `args` and `labels` merge by key."""
    first, second = _build_mapping(base, base_loc), _build_mapping(override, override_loc)
    result = merge_values(first, second)
    if "labels" in first and "labels" in second:
        labels = _by_key(
            first["labels"], second["labels"], first.loc("labels"), second.loc("labels"), "labels"
        )
        result.put("labels", labels, second.loc("labels"))
    if "args" in first and "args" in second:
        result.put("args", _build_args(first, second), second.loc("args"))
    return result


def _build_args(first: LocatedDict, second: LocatedDict) -> LocatedList:
    """Args merged by key, written back as a list: Compose resolves each file's bare
    `- KEY` from the environment before merging, and drops a mapping's `KEY:` (null)."""
    merged: dict[str, tuple[Any, Any]] = {}
    for side in (first, second):
        raw = side["args"]
        entries = keyed(raw, side.loc("args"), "build.args")
        for key, value in entries.items():
            if value is None and isinstance(raw, LocatedDict):
                continue
            merged[key] = (value, entries.loc(key))
    result = LocatedList(second.loc("args"))
    for key, (value, location) in merged.items():
        result.add(key if value is None else f"{key}={value}", location)
    return result


def _build_mapping(value: Any, location: Any) -> LocatedDict:
    if isinstance(value, LocatedDict):
        return value
    result = LocatedDict(location)
    result.put("context", value, location)
    return result


_SERVICE_MERGERS: dict[str, Callable[[Any, Any, Any, Any, str], Any]] = {
    "environment": _by_key,
    "labels": _by_key,
    "depends_on": _by_name,
    "networks": _by_name,
    "volumes": _by_target,
    "ports": _concatenated,
    "env_file": _concatenated,
    "extra_hosts": _concatenated,
    "profiles": _concatenated,
    "links": _concatenated,
    "volumes_from": _concatenated,
    "build": _build,
}


def _copy(source: LocatedDict) -> LocatedDict:
    result = LocatedDict(source.location)
    for key, value in source.items():
        result.put(key, value, source.loc(key))
    return result
