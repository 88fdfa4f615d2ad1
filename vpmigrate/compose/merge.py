"""Merge Compose documents the way Compose v2 does (files given with `-f`, the
documents of one file, `extends`), then drop duplicates.

Mappings merge key by key and scalars are replaced, with these rules per path:
- lists are appended (`ports`, `volumes`, `expose`, network `aliases`, ...), then
  duplicates are dropped by the rules of `enforce_unicity` (a later volume with the
  same target, a later `KEY=` entry, ... replaces the earlier one in its place);
- `environment`, `labels`, `annotations`, `extra_hosts`, `sysctls`, `tmpfs`, `dns*`,
  `env_file` and build `args`/`labels`: both sides become `KEY=value` lists and add
  up (so a list in one file and a mapping in the other keep every entry);
- `command`, `entrypoint` and `healthcheck.test` are replaced whole;
- `depends_on` and service `networks`: a list becomes a mapping, then mappings merge;
- `logging`: merged when the driver is the same or unset, else replaced;
- `x-` keys are replaced, never merged; a null override keeps the base value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, overload

from vpmigrate.compose.mounts import volume_target
from vpmigrate.compose.tree import (
    ITEM,
    Rules,
    TreePath,
    copy_dict,
    go_string,
    lookup,
    new_dict,
    new_list,
    pattern,
)
from vpmigrate.compose.values import problem
from vpmigrate.compose.yamlsource import LocatedDict, LocatedList
from vpmigrate.errors import UserError

Merger = Callable[[Any, Any, TreePath], Any]


def merge(base: LocatedDict, override: LocatedDict) -> LocatedDict:
    """`override` on top of `base` (neither is modified)."""
    result = _merge(base, override, ())
    assert isinstance(result, LocatedDict)
    return result


def extend_service(base: LocatedDict, override: LocatedDict) -> LocatedDict:
    """A service that `extends` another: its own keys on top of the base's."""
    result = _merge(base, override, ("services", "x"))
    assert isinstance(result, LocatedDict)
    return result


def _merge(base: Any, override: Any, path: TreePath) -> Any:
    special = lookup(_SPECIAL, path)
    if special is not None:
        return special(base, override, path)
    if override is None:
        return base
    if isinstance(base, LocatedDict):
        if not isinstance(override, LocatedDict):
            raise _cannot_override(override, path)
        return _merge_mappings(base, override, path)
    if isinstance(base, LocatedList):
        if not isinstance(override, LocatedList):
            raise _cannot_override(override, path)
        return _appended(base, override)
    return override


def _cannot_override(override: Any, path: TreePath) -> UserError:
    location = getattr(override, "location", None)
    where = ".".join(path)
    if location is None:
        return UserError(f"{where}: cannot override a mapping or list with {override!r}.")
    return problem(
        location, where, "cannot override: the other file has a different kind of value here."
    )


def _merge_mappings(base: LocatedDict, override: LocatedDict, path: TreePath) -> LocatedDict:
    result = copy_dict(base)
    for key, value in override.items():
        if key not in base or key.startswith("x-"):
            result.put(key, value, override.loc(key))
            continue
        result.put(key, _merge(base[key], value, (*path, key)), override.loc(key))
    return result


def _appended(first: LocatedList, second: LocatedList) -> LocatedList:
    result = LocatedList(first.location)
    for items in (first, second):
        for index, item in enumerate(items):
            result.add(item, items.loc(index))
    return result


def _replace(_base: Any, override: Any, _path: TreePath) -> Any:
    return override


def _to_sequence(value: Any, location: Any) -> LocatedList:
    """A mapping as sorted `KEY=value` (`KEY` for null) entries, a string as one entry."""
    if isinstance(value, LocatedList):
        return value
    if isinstance(value, LocatedDict):
        entries = []
        for key, item in value.items():
            text = key if item is None else f"{key}={go_string(item)}"
            entries.append((text, value.loc(key)))
        result = LocatedList(value.location)
        for text, loc in sorted(entries, key=lambda e: e[0]):
            result.add(text, loc)
        return result
    if isinstance(value, str):
        return new_list(location, [value])
    return new_list(location)


def _merge_to_sequence(base: Any, override: Any, _path: TreePath) -> LocatedList:
    first = _to_sequence(base, getattr(override, "location", None))
    second = _to_sequence(override, first.location)
    return _appended(first, second)


def _to_mapping(value: Any, default: Any) -> LocatedDict | None:
    if isinstance(value, LocatedDict):
        return value
    if isinstance(value, LocatedList):
        result = LocatedDict(value.location)
        for index, item in enumerate(value):
            result.put(str(item), _fresh(default, value.loc(index)), value.loc(index))
        return result
    return None


def _fresh(default: Any, location: Any) -> Any:
    if isinstance(default, dict):
        return new_dict(location, default)
    return default


def _merge_depends_on(base: Any, override: Any, path: TreePath) -> Any:
    default = {"condition": "service_started", "required": True}
    first, second = _to_mapping(base, default), _to_mapping(override, default)
    if first is None or second is None:
        return override if first is None else first
    return _merge_mappings(first, second, path)


def _merge_networks(base: Any, override: Any, path: TreePath) -> Any:
    first, second = _to_mapping(base, None), _to_mapping(override, None)
    if first is None or second is None:
        return override if first is None else first
    return _merge_mappings(first, second, path)


def _merge_logging(base: Any, override: Any, path: TreePath) -> Any:
    if not isinstance(base, LocatedDict) or not isinstance(override, LocatedDict):
        return base if override is None else override
    if "driver" in base and "driver" in override and base["driver"] != override["driver"]:
        return override
    return _merge_mappings(base, override, path)


def _merge_build(base: Any, override: Any, path: TreePath) -> Any:
    def as_mapping(value: Any, location: Any) -> LocatedDict:
        if isinstance(value, str):
            return new_dict(location, {"context": value})
        if isinstance(value, LocatedDict):
            return value
        return new_dict(location)

    first = as_mapping(base, getattr(override, "location", None))
    second = as_mapping(override, first.location)
    return _merge_mappings(first, second, path)


def _merge_ipam_config(base: Any, override: Any, path: TreePath) -> Any:
    """Pools match by subnet: a pool with the same subnet merges, another is added."""
    if not isinstance(base, LocatedList) or not isinstance(override, LocatedList):
        return override
    pools: list[LocatedDict] = []

    def index_of(subnet: Any) -> int:
        return next((i for i, pool in enumerate(pools) if pool.get("subnet") == subnet), -1)

    for original in base:
        if not isinstance(original, LocatedDict):
            continue
        for other in override:
            if not isinstance(other, LocatedDict):
                continue
            if other.get("subnet") != original.get("subnet") and index_of(other.get("subnet")) < 0:
                pools.append(other)
                continue
            merged = _merge_mappings(original, other, path)
            found = index_of(merged.get("subnet"))
            if found >= 0:
                pools[found] = merged
            else:
                pools.append(merged)
    return new_list(base.location, list(pools))


_SPECIAL: Rules[Merger] = Rules(
    {
        pattern(p): m
        for p, m in {
            "networks.*.ipam.config": _merge_ipam_config,
            "networks.*.labels": _merge_to_sequence,
            "volumes.*.labels": _merge_to_sequence,
            "services.*.annotations": _merge_to_sequence,
            "services.*.build": _merge_build,
            "services.*.build.args": _merge_to_sequence,
            "services.*.build.additional_contexts": _merge_to_sequence,
            "services.*.build.extra_hosts": _merge_to_sequence,
            "services.*.build.labels": _merge_to_sequence,
            "services.*.command": _replace,
            "services.*.depends_on": _merge_depends_on,
            "services.*.deploy.labels": _merge_to_sequence,
            "services.*.dns": _merge_to_sequence,
            "services.*.dns_opt": _merge_to_sequence,
            "services.*.dns_search": _merge_to_sequence,
            "services.*.entrypoint": _replace,
            "services.*.env_file": _merge_to_sequence,
            "services.*.environment": _merge_to_sequence,
            "services.*.extra_hosts": _merge_to_sequence,
            "services.*.healthcheck.test": _replace,
            "services.*.labels": _merge_to_sequence,
            "services.*.logging": _merge_logging,
            "services.*.networks": _merge_networks,
            "services.*.sysctls": _merge_to_sequence,
            "services.*.tmpfs": _merge_to_sequence,
            "services.*.ulimits.*": _replace,
        }.items()
    }
)


# --- uniqueness --------------------------------------------------------------------------

Indexer = Callable[[Any, TreePath], str | None]


def _key_value(item: Any, _path: TreePath) -> str | None:
    if isinstance(item, str):
        return item.partition("=")[0]
    return None


def _by_target(item: Any, _path: TreePath) -> str | None:
    return volume_target(item)


def _expose(item: Any, _path: TreePath) -> str | None:
    if isinstance(item, bool):
        return None
    if isinstance(item, str | int):
        return str(item)
    return None


def _mount(default_dir: str) -> Indexer:
    def index(item: Any, _path: TreePath) -> str | None:
        if isinstance(item, str):
            return f"{default_dir}/{item}"
        if isinstance(item, LocatedDict):
            if "target" in item:
                return str(item["target"])
            return f"{default_dir}/{go_string(item.get('source'))}"
        return None

    return index


def _port(item: Any, _path: TreePath) -> str | None:
    if isinstance(item, bool):
        return None
    if isinstance(item, int | str):
        return str(item)
    if isinstance(item, LocatedDict):
        host = item.get("host_ip", "0.0.0.0")
        published = item.get("published")
        published_text = "%!s(<nil>)" if published is None else go_string(published)
        protocol = item.get("protocol", "tcp")
        return f"{go_string(host)}:{published_text}:{go_string(item.get('target'))}/{protocol}"
    return None


def _env_file(item: Any, _path: TreePath) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, LocatedDict):
        return go_string(item.get("path"))
    return None


_UNIQUE: Rules[Indexer] = Rules(
    {
        pattern(p): i
        for p, i in {
            "networks.*.labels": _key_value,
            "networks.*.ipam.options": _key_value,
            "services.*.annotations": _key_value,
            "services.*.build.args": _key_value,
            "services.*.build.additional_contexts": _key_value,
            "services.*.build.extra_hosts": _key_value,
            "services.*.build.platform": _key_value,
            "services.*.build.tags": _key_value,
            "services.*.build.labels": _key_value,
            "services.*.cap_add": _key_value,
            "services.*.cap_drop": _key_value,
            "services.*.devices": _by_target,
            "services.*.configs": _mount(""),
            "services.*.deploy.labels": _key_value,
            "services.*.dns": _key_value,
            "services.*.dns_opt": _key_value,
            "services.*.dns_search": _key_value,
            "services.*.environment": _key_value,
            "services.*.env_file": _env_file,
            "services.*.expose": _expose,
            "services.*.extra_hosts": _key_value,
            "services.*.labels": _key_value,
            "services.*.links": _key_value,
            "services.*.networks.*.aliases": _key_value,
            "services.*.networks.*.link_local_ips": _key_value,
            "services.*.ports": _port,
            "services.*.profiles": _key_value,
            "services.*.secrets": _mount("/run/secrets"),
            "services.*.sysctls": _key_value,
            "services.*.tmpfs": _key_value,
            "services.*.volumes": _by_target,
        }.items()
    }
)


@overload
def enforce_unicity(value: LocatedDict, path: TreePath = ()) -> LocatedDict: ...
@overload
def enforce_unicity(value: Any, path: TreePath = ()) -> Any: ...
def enforce_unicity(value: Any, path: TreePath = ()) -> Any:
    """Drop duplicate entries in the lists Compose keeps unique: a later entry with the
    same key replaces the earlier one, in the earlier one's place."""
    if isinstance(value, LocatedDict):
        result = LocatedDict(value.location)
        for name, item in value.items():
            result.put(name, enforce_unicity(item, (*path, name)), value.loc(name))
        return result
    if isinstance(value, LocatedList):
        indexer = lookup(_UNIQUE, path)
        if indexer is None:
            return value
        kept: list[Any] = []
        locations: list[Any] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(value):
            key: str | None = indexer(item, (*path, ITEM))
            if key is not None and key in seen:
                kept[seen[key]] = item
                locations[seen[key]] = value.loc(index)
                continue
            if key is not None:
                seen[key] = len(kept)
            kept.append(item)
            locations.append(value.loc(index))
        result_list = LocatedList(value.location)
        for item, location in zip(kept, locations, strict=True):
            result_list.add(item, location)
        return result_list
    return value
