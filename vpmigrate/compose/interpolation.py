"""Compose's variable interpolation: `$V`, `${V}`, `${V:-d}`, `${V-d}`, `${V:?e}`,
`${V?e}`, `${V:+r}`, `${V+r}`, nested templates in the default, and `$$` for `$`.

Only values are interpolated, never keys (the walker below follows that rule).
A `$` that starts no variable (`$1`, a trailing `$`) stays literal, as in Compose.

Values may be secrets, so messages never quote them: an interpolated value is an
`Interpolated` string whose repr is the template as written (`'${DB_PASSWORD}'`), and
an error in a template shows only the part in question, with URL passwords masked,
or nothing of it when the key looks secret.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from vpmigrate.compose.yamlsource import LocatedDict, LocatedList
from vpmigrate.errors import UserError
from vpmigrate.masking import is_secret_name, mask_url_passwords
from vpmigrate.userfiles import Location

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class Interpolated(str):
    """A value that came out of `${...}`: the value itself everywhere, except in its
    repr, which is the template as written (URL passwords masked). An error message
    that quotes it with `!r` then names the variables, never their values:
    `cannot read port '${POSTGRES_PASSWORD}:5432'`."""

    template: str
    variables: tuple[str, ...]

    def __new__(
        cls, value: str, template: str = "", variables: tuple[str, ...] = ()
    ) -> Interpolated:
        self = super().__new__(cls, value)
        self.template = template or str(value)
        self.variables = variables
        return self

    def __repr__(self) -> str:
        return repr(mask_url_passwords(self.template))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Interpolated, (str(self), self.template, self.variables))

    # Trimmed, it is still the same value written the same way.
    def strip(self, chars: str | None = None) -> Interpolated:
        return Interpolated(str.strip(self, chars), self.template, self.variables)

    def lstrip(self, chars: str | None = None) -> Interpolated:
        return Interpolated(str.lstrip(self, chars), self.template, self.variables)

    def rstrip(self, chars: str | None = None) -> Interpolated:
        return Interpolated(str.rstrip(self, chars), self.template, self.variables)


class _Invalid(Exception):
    """The text is not a valid template; the caller adds the location."""

    def __init__(self, problem: str, fragment: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fragment = fragment


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
    used: dict[str, str] | None = None,
    secret: bool = False,
) -> str:
    """Substitute variables in one value.

    `where` prefixes error messages (e.g. "compose.yml:12: services.web.image");
    names of unset variables that became "" are added to `unset`, and every variable
    the value refers to to `used` (name -> value, "" when unset), when given. `secret`: the value
    belongs to a key that looks secret, so an error shows nothing of it.
    """
    try:
        return _Expander(lookup, unset, used).expand(text)
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
        shown = "" if secret else f" {mask_url_passwords(exc.fragment)!r}"
        raise UserError(
            f"{where}: invalid interpolation{shown}: {exc.problem}. Variables are written "
            "$NAME or ${NAME} (with :-, -, :?, ?, :+ or +); write $$ for a literal $."
        ) from None


class _Expander:
    def __init__(
        self, lookup: Mapping[str, str], unset: set[str] | None, used: dict[str, str] | None
    ) -> None:
        self.lookup = lookup
        self.unset = unset
        self.used = used

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
        if self.used is not None:
            self.used[name] = found or ""
        if found is None:
            if self.unset is not None:
                self.unset.add(name)
            return ""
        return found

    def braced(self, body: str) -> str:
        name_match = _NAME.match(body)
        if name_match is None:
            raise _Invalid("'${' must be followed by a variable name", f"${{{body}}}")
        name = name_match.group()
        rest = body[name_match.end() :]
        if not rest:
            return self.value(name)
        operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
        if operator is None:
            raise _Invalid(f"unknown operator after {name}", f"${{{body}}}")
        argument = rest[len(operator) :]
        current = self.lookup.get(name)
        if self.used is not None:
            self.used[name] = current or ""
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
    # Show the name it starts, not the rest of the value (which may hold a password).
    opened = re.match(r"\$\{[A-Za-z0-9_]*", text[start - 2 :])
    fragment = opened.group() if opened else "${"
    raise _Invalid(f"the '${{' at column {start - 1} has no closing '}}'", fragment)


def _list_key(value: str) -> str:
    """The key of a `KEY=value` list item (`environment:` as a list), else ""."""
    match = re.match(r"[A-Za-z_][A-Za-z0-9_.\-]*(?==)", value)
    return match.group() if match else ""


Cast = Callable[[str], Any]


def _to_int(text: str) -> int:
    if re.fullmatch(r"[+-]?[0-9]+", text) is None:
        raise ValueError(f"invalid syntax: {text!r} is not a whole number")
    return int(text)


def _to_float(text: str) -> float:
    if re.fullmatch(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", text) is None:
        raise ValueError(f"invalid syntax: {text!r} is not a number")
    return float(text)


def _to_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "y", "yes", "on"):
        return True
    if lowered in ("false", "n", "no", "off"):
        return False
    # An interpolated value is shown as written: '${NAME}', never what NAME holds.
    raise ValueError(
        f"invalid boolean: {text!r}"
        if isinstance(text, Interpolated)
        else f"invalid boolean: {text}"
    )


# Where Compose turns an interpolated string into a number or a boolean, so that
# `replicas: ${N}` or `read_only: "${RO:-false}"` have the right type. "*" is any key,
# "[]" any list item.
# fmt: off
COMPOSE_CASTS: dict[tuple[str, ...], Cast] = {
    tuple(path.split(".")): cast
    for path, cast in {
        "services.*.configs.[].mode": _to_int,
        "services.*.cpu_count": _to_int,
        "services.*.cpu_percent": _to_float,
        "services.*.cpu_period": _to_int,
        "services.*.cpu_quota": _to_int,
        "services.*.cpu_rt_period": _to_int,
        "services.*.cpu_rt_runtime": _to_int,
        "services.*.cpus": _to_float,
        "services.*.cpu_shares": _to_int,
        "services.*.init": _to_bool,
        "services.*.deploy.replicas": _to_int,
        "services.*.deploy.update_config.parallelism": _to_int,
        "services.*.deploy.update_config.max_failure_ratio": _to_float,
        "services.*.deploy.rollback_config.parallelism": _to_int,
        "services.*.deploy.rollback_config.max_failure_ratio": _to_float,
        "services.*.deploy.restart_policy.max_attempts": _to_int,
        "services.*.deploy.placement.max_replicas_per_node": _to_int,
        "services.*.healthcheck.retries": _to_int,
        "services.*.healthcheck.disable": _to_bool,
        "services.*.oom_kill_disable": _to_bool,
        "services.*.oom_score_adj": _to_int,
        "services.*.pids_limit": _to_int,
        "services.*.ports.[].target": _to_int,
        "services.*.privileged": _to_bool,
        "services.*.read_only": _to_bool,
        "services.*.scale": _to_int,
        "services.*.secrets.[].mode": _to_int,
        "services.*.stdin_open": _to_bool,
        "services.*.tty": _to_bool,
        "services.*.ulimits.*": _to_int,
        "services.*.ulimits.*.hard": _to_int,
        "services.*.ulimits.*.soft": _to_int,
        "services.*.volumes.[].read_only": _to_bool,
        "services.*.volumes.[].volume.nocopy": _to_bool,
        "networks.*.external": _to_bool,
        "networks.*.internal": _to_bool,
        "networks.*.attachable": _to_bool,
        "networks.*.enable_ipv6": _to_bool,
        "volumes.*.external": _to_bool,
        "secrets.*.external": _to_bool,
        "configs.*.external": _to_bool,
    }.items()
}
# fmt: on


def _cast_for(path: tuple[str, ...], casts: Mapping[tuple[str, ...], Cast]) -> Cast | None:
    for pattern, cast in casts.items():
        if len(pattern) == len(path) and all(
            p == "*" or p == part for p, part in zip(pattern, path, strict=True)
        ):
            return cast
    return None


def interpolate_tree(
    value: Any,
    lookup: Mapping[str, str],
    *,
    path: str,
    location: Location,
    unset: set[str] | None = None,
    skip: Callable[[str, str], bool] = lambda parent, key: False,
    casts: Mapping[tuple[str, ...], Cast] | None = None,
    used: dict[str, str] | None = None,
) -> Any:
    """Interpolate every string value of a parsed YAML tree (keys untouched).

    Keys for which `skip(parent_path, key)` is true are left out of the result.
    With `casts` (e.g. `COMPOSE_CASTS`), a string at a matching path becomes the
    number or boolean Compose expects there; one that cannot is an error. A string
    that refers to a variable becomes an `Interpolated`; the variables referred to
    are added to `used` (name -> value).
    """
    walker = _Walker(lookup, unset, skip, casts or {}, {} if used is None else used)
    return walker.walk(value, path, (), location)


class _Walker:
    def __init__(
        self,
        lookup: Mapping[str, str],
        unset: set[str] | None,
        skip: Callable[[str, str], bool],
        casts: Mapping[tuple[str, ...], Cast],
        used: dict[str, str],
    ) -> None:
        self.used = used
        self.lookup = lookup
        self.unset = unset
        self.skip = skip
        self.casts = casts
        # Only paths that some cast can reach need their parts tracked.
        self.roots = {pattern[0] for pattern in casts}

    def walk(self, value: Any, path: str, parts: tuple[str, ...], location: Location) -> Any:
        if isinstance(value, str):
            result = self.string(value, path, location)
            if parts and parts[0] in self.roots:
                cast = _cast_for(parts, self.casts)
                if cast is not None:
                    try:
                        return cast(result)
                    except ValueError as exc:
                        raise UserError(
                            f"{location}: {path}: {exc}; this key takes a "
                            f"{_KINDS.get(cast, 'value')}."
                        ) from None
            return result
        if isinstance(value, LocatedDict):
            mapping = LocatedDict(value.location)
            for key, child in value.items():
                if self.skip(path, key):
                    continue
                mapping.put(
                    key,
                    self.walk(
                        child,
                        f"{path}.{key}" if path else key,
                        (*parts, key),
                        value.loc(key),
                    ),
                    value.loc(key),
                )
            return mapping
        if isinstance(value, LocatedList):
            items = LocatedList(value.location)
            for index, child in enumerate(value):
                items.add(
                    self.walk(child, f"{path}[{index}]", (*parts, "[]"), value.loc(index)),
                    value.loc(index),
                )
            return items
        return value

    def string(self, value: str, path: str, location: Location) -> str:
        names: dict[str, str] = {}
        last_key = re.split(r"[.\[]", path)[-1]
        result = interpolate(
            value,
            self.lookup,
            where=f"{location}: {path}",
            unset=self.unset,
            used=names,
            secret=is_secret_name(last_key) or is_secret_name(_list_key(value)),
        )
        self.used.update(names)
        return Interpolated(result, value, tuple(sorted(names))) if names else result


_KINDS: dict[Cast, str] = {_to_int: "whole number", _to_float: "number", _to_bool: "boolean"}
