"""Compose's variable interpolation: `$V`, `${V}`, `${V:-d}`, `${V-d}`, `${V:?e}`,
`${V?e}`, `${V:+r}`, `${V+r}`, nested templates in the default, and `$$` for `$`.

Only values are interpolated, never keys (the walker below follows that rule).
A `$` that starts no variable (`$1`, a trailing `$`) stays literal, as in Compose.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from vpmigrate.compose.yamlsource import LocatedDict, LocatedList
from vpmigrate.errors import UserError
from vpmigrate.userfiles import Location

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class _Invalid(Exception):
    """The text is not a valid template; the caller adds the location."""


class _Missing(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(name)
        self.name = name
        self.message = message


def interpolate(
    text: str,
    lookup: Mapping[str, str],
    *,
    where: str,
    unset: set[str] | None = None,
) -> str:
    """Substitute variables in one value.

    `where` prefixes error messages (e.g. "compose.yml:12: services.web.image");
    names of unset variables that became "" are added to `unset` when given.
    """
    try:
        return _Expander(lookup, unset).expand(text)
    except _Missing as exc:
        # The file's own message says what to do; without one, say where variables come from.
        advice = (
            f": {exc.message.rstrip('.')}."
            if exc.message
            else f"; set {exc.name} in the shell environment or in the .env file."
        )
        raise UserError(
            f"{where}: required variable {exc.name} is missing a value{advice}"
        ) from None
    except _Invalid as exc:
        raise UserError(
            f"{where}: invalid interpolation {exc} in {text!r}. "
            "Variables are written $NAME or ${NAME} (with :-, -, :?, ?, :+ or +); "
            "write $$ for a literal $."
        ) from None


class _Expander:
    def __init__(self, lookup: Mapping[str, str], unset: set[str] | None) -> None:
        self.lookup = lookup
        self.unset = unset

    def expand(self, text: str) -> str:
        out: list[str] = []
        i = 0
        while i < len(text):
            dollar = text.find("$", i)
            if dollar < 0:
                out.append(text[i:])
                break
            out.append(text[i:dollar])
            i = dollar + 1
            nxt = text[i : i + 1]
            if nxt == "$":
                out.append("$")
                i += 1
            elif nxt == "{":
                end = _closing_brace(text, i + 1)
                out.append(self.braced(text[i + 1 : end]))
                i = end + 1
            else:
                name = _NAME.match(text, i)
                if name is None:
                    out.append("$")
                else:
                    out.append(self.value(name.group()))
                    i = name.end()
        return "".join(out)

    def value(self, name: str) -> str:
        found = self.lookup.get(name)
        if found is None:
            if self.unset is not None:
                self.unset.add(name)
            return ""
        return found

    def braced(self, body: str) -> str:
        name_match = _NAME.match(body)
        if name_match is None:
            raise _Invalid(f"'${{{body}}}'")
        name = name_match.group()
        rest = body[name_match.end() :]
        if not rest:
            return self.value(name)
        operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
        if operator is None:
            raise _Invalid(f"'${{{body}}}'")
        argument = rest[len(operator) :]
        current = self.lookup.get(name)
        # The argument is expanded only when used, so a nested `${X:?}` elsewhere stays quiet.
        if operator == ":-":
            return current if current else self.expand(argument)
        if operator == "-":
            return current if current is not None else self.expand(argument)
        if operator == ":+":
            return self.expand(argument) if current else ""
        if operator == "+":
            return self.expand(argument) if current is not None else ""
        if current is None or (operator == ":?" and not current):
            raise _Missing(name, self.expand(argument))
        return current


def _closing_brace(text: str, start: int) -> int:
    """Index of the `}` closing a `${` whose body starts at `start`; nested `${...}` and
    bare `{...}` pairs inside a default count, `$$` is skipped."""
    depth = 0
    i = start
    while i < len(text):
        char = text[i]
        if char == "$" and text[i + 1 : i + 2] in ("$", "{"):
            if text[i + 1] == "{":
                depth += 1
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    raise _Invalid(f"'{text[start - 2 :]}' (no closing '}}')")


def interpolate_tree(
    value: Any,
    lookup: Mapping[str, str],
    *,
    path: str,
    location: Location,
    unset: set[str] | None = None,
    skip: Callable[[str, str], bool] = lambda parent, key: False,
) -> Any:
    """Interpolate every string value of a parsed YAML tree (keys untouched).

    Keys for which `skip(parent_path, key)` is true are left out of the result (used
    for `x-` extension fields, which Compose ignores).
    """
    if isinstance(value, str):
        return interpolate(value, lookup, where=f"{location}: {path}", unset=unset)
    if isinstance(value, LocatedDict):
        mapping = LocatedDict(value.location)
        for key, child in value.items():
            if skip(path, key):
                continue
            mapping.put(
                key,
                interpolate_tree(
                    child,
                    lookup,
                    path=f"{path}.{key}" if path else key,
                    location=value.loc(key),
                    unset=unset,
                    skip=skip,
                ),
                value.loc(key),
            )
        return mapping
    if isinstance(value, LocatedList):
        items = LocatedList(value.location)
        for index, child in enumerate(value):
            items.add(
                interpolate_tree(
                    child,
                    lookup,
                    path=f"{path}[{index}]",
                    location=value.loc(index),
                    unset=unset,
                    skip=skip,
                ),
                value.loc(index),
            )
        return items
    return value
