"""Paths into a parsed Compose tree, and the patterns Compose's rules are keyed by.

A path is a tuple of keys from the top (`("services", "web", "ports")`); a list
item is written "[]". A pattern may use "*" for any one key. Compose attaches its
merge, uniqueness, type-cast and normalisation rules to such patterns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, overload

from vpmigrate.compose.model import Location
from vpmigrate.compose.yamlsource import LocatedDict, LocatedList

TreePath = tuple[str, ...]
ITEM = "[]"
T = TypeVar("T")


def pattern(text: str) -> TreePath:
    return tuple(text.split("."))


def matches(path: TreePath, pat: TreePath) -> bool:
    if len(path) != len(pat):
        return False
    return all(p == "*" or p == part for part, p in zip(path, pat, strict=True))


class Rules(dict[TreePath, T]):
    """A table of rules keyed by pattern, indexed by the pattern's length and last key so
    that a lookup tries only the patterns that could match."""

    def __init__(self, rules: Mapping[TreePath, T]) -> None:
        super().__init__(rules)
        self.index: dict[tuple[int, str], list[tuple[TreePath, T]]] = {}
        for pat, rule in rules.items():
            self.index.setdefault((len(pat), pat[-1]), []).append((pat, rule))


def lookup(rules: Mapping[TreePath, T], path: TreePath) -> T | None:
    """The rule whose pattern matches `path` (patterns of one table never overlap)."""
    if isinstance(rules, Rules):
        if not path:
            return None
        index: dict[tuple[int, str], list[tuple[TreePath, T]]] = rules.index
        for last in (path[-1], "*"):
            for pat, rule in index.get((len(path), last), ()):
                if matches(path, pat):
                    return rule
        return None
    for pat, rule in rules.items():
        if matches(path, pat):
            return rule
    return None


def dotted(path: TreePath) -> str:
    """A path as Compose prints it: services.web.ports[0] style, items as "[]"."""
    text = ""
    for part in path:
        if part.startswith("["):
            text += part
        else:
            text += f".{part}" if text else part
    return text


def new_dict(location: Location, items: Mapping[str, Any] | None = None) -> LocatedDict:
    """A located mapping built by the loader (all keys placed at `location`)."""
    result = LocatedDict(location)
    for key, value in (items or {}).items():
        result.put(key, value, location)
    return result


def new_list(location: Location, items: list[Any] | None = None) -> LocatedList:
    result = LocatedList(location)
    for item in items or []:
        result.add(item, location)
    return result


def copy_dict(source: LocatedDict) -> LocatedDict:
    """A shallow copy that keeps every key's location."""
    result = LocatedDict(source.location)
    for key, value in source.items():
        result.put(key, value, source.loc(key))
    return result


@overload
def deep_copy(value: LocatedDict) -> LocatedDict: ...
@overload
def deep_copy(value: Any) -> Any: ...
def deep_copy(value: Any) -> Any:
    """A copy of a located tree (scalars are shared; they are immutable)."""
    if isinstance(value, LocatedDict):
        result = LocatedDict(value.location)
        for key, item in value.items():
            result.put(key, deep_copy(item), value.loc(key))
        return result
    if isinstance(value, LocatedList):
        items = LocatedList(value.location)
        for index, item in enumerate(value):
            items.add(deep_copy(item), value.loc(index))
        return items
    return value


def plain(value: Any) -> Any:
    """A located tree as plain data (dicts, lists, scalars), without its locations."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def go_string(value: Any) -> str:
    """A scalar as Go's fmt `%v` prints it (what Compose does when it turns a mapping
    entry into `KEY=value` text)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "+Inf" if value > 0 else "-Inf"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        text = repr(value)
        if "e" in text:
            mantissa, _, exponent = text.partition("e")
            sign = "-" if exponent.startswith("-") else "+"
            digits = exponent.lstrip("+-").rjust(2, "0")
            return f"{mantissa}e{sign}{digits}"
        return text
    return str(value)
