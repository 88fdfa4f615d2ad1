"""Top-level `networks`, `volumes`, `secrets` and `configs` of a canonical document."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from vpmigrate.compose.model import FileObjectDef, Ipam, IpamPool, NetworkDef, VolumeDef
from vpmigrate.compose.naming import resource_name
from vpmigrate.compose.tree import go_string, plain
from vpmigrate.compose.values import keyed, text
from vpmigrate.compose.yamlsource import LocatedDict


def _definitions(document: LocatedDict, section: str) -> list[tuple[str, LocatedDict]]:
    raw = document.get(section)
    if not isinstance(raw, LocatedDict):
        return []
    result = []
    for key, value in raw.items():
        if key.startswith("x-"):
            continue  # an extension field, not a resource (Compose's reading)
        definition = value if isinstance(value, LocatedDict) else LocatedDict(raw.loc(key))
        result.append((key, definition))
    return result


def _labels(data: LocatedDict, key: str, where: str) -> MappingProxyType[str, str]:
    entries = keyed(data.get(key), data.loc(key), f"{where}.{key}")
    return MappingProxyType({k: "" if v is None else go_string(v) for k, v in entries.items()})


def _options(data: LocatedDict, key: str) -> MappingProxyType[str, str]:
    value = data.get(key)
    if not isinstance(value, LocatedDict):
        return MappingProxyType({})
    return MappingProxyType({k: go_string(v) for k, v in value.items() if v is not None})


def _common(data: LocatedDict, key: str, project: str, where: str) -> dict[str, Any]:
    external = data.get("external") is True
    name = data.get("name")
    if name in (None, ""):
        name = key if external else resource_name(project, key)
    driver = data.get("driver")
    return {
        "key": key,
        "name": text(name, data.loc("name"), where),
        "external": external,
        "driver": None if driver in (None, "") else text(driver, data.loc("driver"), where),
        "labels": _labels(data, "labels", where),
        "location": data.location,
    }


def read_volumes(document: LocatedDict, project: str) -> dict[str, VolumeDef]:
    return {
        key: VolumeDef(
            **_common(data, key, project, f"volumes.{key}"),
            driver_opts=_options(data, "driver_opts"),
        )
        for key, data in _definitions(document, "volumes")
    }


def read_networks(document: LocatedDict, project: str) -> dict[str, NetworkDef]:
    result = {}
    for key, data in _definitions(document, "networks"):
        where = f"networks.{key}"
        common = _common(data, key, project, where)
        result[key] = NetworkDef(
            **common,
            internal=data.get("internal") is True,
            driver_opts=_options(data, "driver_opts"),
            ipam=_ipam(data.get("ipam"), f"{where}.ipam"),
            attachable=data.get("attachable") is True,
            enable_ipv6=data.get("enable_ipv6") is True,
        )
    return result


def _ipam(value: Any, where: str) -> Ipam | None:
    if not isinstance(value, LocatedDict):
        return None
    pools = []
    for pool in value.get("config") or ():
        if not isinstance(pool, LocatedDict):
            continue
        pools.append(
            IpamPool(
                subnet=pool.get("subnet") or None,
                gateway=pool.get("gateway") or None,
                ip_range=pool.get("ip_range") or None,
                aux_addresses=_options(pool, "aux_addresses"),
            )
        )
    driver = value.get("driver")
    return Ipam(
        driver=None if driver in (None, "") else str(driver),
        config=tuple(pools),
        options=_options(value, "options"),
    )


def read_file_objects(
    document: LocatedDict, section: str, project: str
) -> dict[str, FileObjectDef]:
    """Top-level `secrets` or `configs` (file paths are already absolute)."""
    result = {}
    for key, data in _definitions(document, section):
        where = f"{section}.{key}"
        common = _common(data, key, project, where)

        def optional(field: str, data: LocatedDict = data, where: str = where) -> str | None:
            value = data.get(field)
            return None if value is None else text(value, data.loc(field), f"{where}.{field}")

        template = data.get("template_driver")
        result[key] = FileObjectDef(
            **common,
            file=optional("file"),
            environment=optional("environment"),
            content=optional("content"),
            driver_opts=_options(data, "driver_opts"),
            template_driver=None if template in (None, "") else str(template),
        )
    return result


def extensions(document: LocatedDict) -> dict[str, Any]:
    """Top-level `x-` keys, which `docker compose config` prints as they are."""
    return {k: plain(v) for k, v in document.items() if k.startswith("x-")}
