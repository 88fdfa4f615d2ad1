"""Typed readers for Compose values, with errors that point at the user's file and line.

Interpolation yields strings, so like Compose these also accept "true"/"8080"/"5s"
where a boolean, a number or a duration is expected.
"""

from __future__ import annotations

import re
from typing import Any

from vpmigrate.compose.model import Location
from vpmigrate.compose.yamlsource import LocatedDict, LocatedList
from vpmigrate.errors import UserError

_TRUE = {"true", "yes", "y", "on"}
_FALSE = {"false", "no", "n", "off"}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def problem(location: Location, where: str, message: str) -> UserError:
    """The one error shape of the loader: `file:line: where: message`."""
    return UserError(f"{location}: {where}: {message}")


def text(value: Any, location: Location, where: str) -> str:
    """A string; numbers are accepted and written as Compose writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value).removesuffix(".0") if value.is_integer() else repr(value)
    raise problem(location, where, f"expected a text value, found {_kind(value)}.")


def boolean(value: Any, location: Location, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise problem(location, where, f"expected true or false, found {value!r}.")


def integer(value: Any, location: Location, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        return int(value)
    raise problem(location, where, f"expected a whole number, found {value!r}.")


def duration(value: Any, location: Location, where: str) -> float:
    """Go's duration syntax as Compose takes it (`1m30s`, `500ms`, `5s`) to seconds."""
    if isinstance(value, str):
        raw = value.strip()
        if raw == "0":
            return 0.0
        position, total = 0, 0.0
        for part in _DURATION_PART.finditer(raw):
            if part.start() != position:
                break
            total += float(part.group(1)) * _UNIT_SECONDS[part.group(2)]
            position = part.end()
        else:
            if raw and position == len(raw):
                return total
    raise problem(
        location, where, f"expected a duration such as 30s, 1m30s or 500ms, found {value!r}."
    )


_BYTE_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?", re.IGNORECASE)
_BYTE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def byte_size(value: Any, location: Location, where: str) -> int:
    """A size as Docker reads one (`512m`, `1g`, `2GB`, `1024`): binary multiples, bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        match = _BYTE_SIZE.fullmatch(value.strip())
        if match is not None:
            return int(float(match.group(1)) * _BYTE_UNITS[match.group(2).lower()])
    raise problem(
        location, where, f"expected a size such as 512m, 1g or 1024 (bytes), found {value!r}."
    )


def mapping(value: Any, location: Location, where: str) -> LocatedDict:
    if isinstance(value, LocatedDict):
        return value
    raise problem(location, where, f"expected a mapping, found {_kind(value)}.")


def sequence(value: Any, location: Location, where: str) -> LocatedList:
    if isinstance(value, LocatedList):
        return value
    raise problem(location, where, f"expected a list, found {_kind(value)}.")


def text_list(value: Any, location: Location, where: str) -> LocatedList:
    """A list, or a single string standing for a one-item list."""
    if isinstance(value, str):
        items = LocatedList(location)
        items.add(value, location)
        return items
    return sequence(value, location, where)


def keyed(value: Any, location: Location, where: str, separator: str = "=") -> LocatedDict:
    """Compose's "list or mapping" (environment, labels): `- K=V` items become keys;
    a bare `- K` becomes K: None."""
    if value is None:
        return LocatedDict(location)
    if isinstance(value, LocatedDict):
        return value
    items = sequence(value, location, where)
    result = LocatedDict(items.location)
    for index, item in enumerate(items):
        entry = text(item, items.loc(index), f"{where}[{index}]")
        key, found, rest = entry.partition(separator)
        result.put(key, rest if found else None, items.loc(index))
    return result


def text_map(value: Any, location: Location, where: str) -> dict[str, str]:
    """Labels as list or mapping to plain strings; a bare key has the value ""."""
    entries = keyed(value, location, where)
    return {
        key: "" if item is None else text(item, entries.loc(key), f"{where}.{key}")
        for key, item in entries.items()
    }


def optional_text(data: LocatedDict, key: str, where: str) -> str | None:
    value = data.get(key)
    return None if value is None else text(value, data.loc(key), f"{where}: {key}")


def check_keys(
    data: LocatedDict, allowed: set[str] | frozenset[str], where: str, hint: str = ""
) -> None:
    """Every key we do not support is an error; `x-` extension keys are fine."""
    for key in data:
        if key in allowed or key.startswith("x-"):
            continue
        supported = ", ".join(sorted(allowed))
        raise problem(
            data.loc(key),
            where,
            f"'{key}' is not supported by vpmigrate{hint}. Supported here: {supported}.",
        )


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, LocatedDict):
        return "a mapping"
    if isinstance(value, LocatedList):
        return "a list"
    return f"{value!r}"
