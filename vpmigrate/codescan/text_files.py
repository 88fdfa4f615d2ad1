"""Files that are not code: documents (mentions only), dependency manifests
(declared), env files and other configuration (declared), plus the helpers that
turn matches in a piece of text into line-numbered findings."""

from __future__ import annotations

import json
import re
from bisect import bisect_right

from vpmigrate.codescan.evidence import Found, Kind
from vpmigrate.codescan.index import Match, SignalIndex, host_key

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_QUOTED_REQUIREMENT = re.compile(
    r"""["']([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?=[<>=!~;@ "'])"""
)
_TOML_KEY = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*=")
_TOML_TABLE = re.compile(r"^\s*\[+([^\]]+)\]+")
_NEWLINE = re.compile(r"\n")
_COMMENT_MARKS = ("#", "//", ";", "<!--")
_CONFIG_ASSIGNMENT = re.compile(
    r"^[ \t]*(?:export[ \t]+|-[ \t]*)?([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)[ \t]*[=:][ \t]*([^\n#]*)",
    re.MULTILINE,
)
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=(.*)$")


def matches_found(matches: list[Match], text: str, first_line: int, kind: Kind) -> list[Found]:
    """Findings for matches in `text`, which starts at line `first_line` of its file."""
    if not matches:
        return []
    starts = _line_starts(text)
    return [
        Found(
            first_line + bisect_right(starts, m.offset) - 1,
            m.signal,
            m.category,
            kind,
            m.services,
            m.key,
        )
        for m in matches
    ]


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in _NEWLINE.finditer(text))]


def _by_line(text: str, index: SignalIndex) -> dict[int, tuple[list[Match], list[Match]]]:
    """Signals and product names of a whole text, grouped by line (1-based): one pass of
    each matcher over the text instead of one per line."""
    starts = _line_starts(text)
    lines: dict[int, tuple[list[Match], list[Match]]] = {}
    for position, matches in ((0, index.signals(text)), (1, index.word_matches(text))):
        for match in matches:
            number = bisect_right(starts, match.offset)
            lines.setdefault(number, ([], []))[position].append(match)
    return lines


def _line_found(number: int, matches: list[Match], kind: Kind) -> list[Found]:
    return [Found(number, m.signal, m.category, kind, m.services, m.key) for m in matches]


_TARGETS = frozenset({"host", "port", "url"})


def bindings(found: list[Found], exact: dict[int, set[str]], kind: Kind) -> list[Found]:
    """Where a line both names an env variable and points at a service (a URL, host:port
    or a whole host-name string), that variable's value points there: a "binding".
    `DATABASE_URL = env("DATABASE_URL", default="postgres://db/app")`,
    `EMAIL_HOST=mailpit`. Generic names (EMAIL_HOST) count as use only through one."""
    names: dict[int, set[str]] = {}
    targets: dict[int, set[str]] = {}
    for item in found:
        if item.category in ("env", "env-generic") and item.key:
            names.setdefault(item.line, set()).add(item.key)
        elif item.category in _TARGETS:
            targets.setdefault(item.line, set()).update(item.services)
    result = []
    for line, keys in names.items():
        for key in sorted(keys):
            services = targets.get(line, set()) | (
                exact.get(line, set()) if host_key(key) else set()
            )
            if services:
                result.append(
                    Found(line, f"env {key} set here", "binding", kind, frozenset(services), key)
                )
    return result


def lines_found(text: str, index: SignalIndex, *, kind: Kind) -> list[Found]:
    """Every signal on every line (product names where a line has no signal), all of
    one kind."""
    found: list[Found] = []
    for number, (signals, words) in sorted(_by_line(text, index).items()):
        found += _line_found(number, signals or words, kind)
    return found


def document_evidence(text: str, index: SignalIndex) -> list[Found]:
    """Markdown, reStructuredText, plans (CLAUDE.md, TODO.txt): talk, not use."""
    return lines_found(text, index, kind="mentioned")


def config_evidence(text: str, index: SignalIndex) -> list[Found]:
    """YAML, TOML, INI, shell, Dockerfiles...: a URL, host or env name of a service
    configures it ("declared"); comments and product names are mentions."""
    found: list[Found] = []
    by_line = _by_line(text, index)
    lines = text.splitlines()
    assigned: set[int] = set()
    for m in _CONFIG_ASSIGNMENT.finditer(text):
        number = text.count("\n", 0, m.start()) + 1
        items = _assignment(number, m.group(1), m.group(2), index)
        if any(i.category == "binding" for i in items):
            found += items
            assigned.add(number)
    for number, (signals, words) in sorted(by_line.items()):
        if number in assigned:
            continue
        line = lines[number - 1] if number <= len(lines) else ""
        if line.lstrip().startswith(_COMMENT_MARKS) or not signals:
            found += _line_found(number, signals or words, "mentioned")
        else:
            found += _line_found(number, signals, "declared")
    return found


def env_file_evidence(text: str, index: SignalIndex) -> list[Found]:
    """`KEY=value` files: a key of a service, or a value pointing at one, configures it."""
    found: list[Found] = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            found += matches_found(index.everything(line), line, number, "mentioned")
            continue
        m = _ENV_LINE.match(line)
        if not m:
            continue
        found += _assignment(number, m.group(1), m.group(2), index)
    return found


def _assignment(number: int, key: str, value: str, index: SignalIndex) -> list[Found]:
    """`KEY=value` in an env file or configuration: the key's finding, the value's
    targets, and a binding when the value points at a service."""
    found: list[Found] = []
    item = index.env_found(key, number, "declared")
    value = value.strip().strip("'\"")
    targets = matches_found(index.targets(value), value, number, "declared")
    exact = set(index.exact_host(value)) if host_key(key) else set()
    if exact:
        host = value.strip().lower()
        targets.append(Found(number, f"host {host}", "host", "declared", frozenset(exact)))
    found += targets
    services = {s for t in targets if t.category in _TARGETS for s in t.services}
    if item is not None:
        found.append(item)
    if services and re.fullmatch(r"[A-Z][A-Z0-9_]*", key):
        found.append(
            Found(number, f"env {key} set here", "binding", "declared", frozenset(services), key)
        )
    return found


def requirements_evidence(text: str, index: SignalIndex) -> list[Found]:
    found: list[Found] = []
    for number, line in enumerate(text.splitlines(), 1):
        code, _, comment = line.partition("#")
        if comment:
            found += matches_found(index.word_matches(comment), comment, number, "mentioned")
        if code.lstrip().startswith("-"):
            continue
        m = _REQUIREMENT.match(code)
        if m:
            found += _package_found(m.group(1), number, index)
    return found


def pyproject_evidence(text: str, index: SignalIndex) -> list[Found]:
    """pyproject.toml / Pipfile: requirement strings anywhere, and the keys of
    dependency tables (Poetry, Pipfile)."""
    found: list[Found] = []
    table = ""
    for number, line in enumerate(text.splitlines(), 1):
        code, _, comment = line.partition("#")
        if comment:
            found += matches_found(index.word_matches(comment), comment, number, "mentioned")
        header = _TOML_TABLE.match(code)
        if header:
            table = header.group(1).strip().lower()
            continue
        names = [m.group(1) for m in _QUOTED_REQUIREMENT.finditer(code)]
        key = _TOML_KEY.match(code)
        if key and ("dependencies" in table or table in ("packages", "dev-packages")):
            names.append(key.group(1))
        for name in names:
            found += _package_found(name, number, index)
    return found


def package_json_evidence(text: str, index: SignalIndex) -> list[Found]:
    try:
        document = json.loads(text)
    except ValueError:
        return config_evidence(text, index)
    if not isinstance(document, dict):
        return []
    names: list[str] = []
    for section in ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies"):
        block = document.get(section)
        if isinstance(block, dict):
            names += [str(k) for k in block]
    lines = text.splitlines()
    found: list[Found] = []
    for name in names:
        services = set(index.package(name))
        js = index.js_package(name)
        if js:
            services |= js[1]
        if not services:
            continue
        needle = f'"{name}"'
        number = next((n for n, line in enumerate(lines, 1) if needle in line), 1)
        found.append(Found(number, f"package {name}", "package", "declared", frozenset(services)))
    return found


def _package_found(name: str, line: int, index: SignalIndex) -> list[Found]:
    services = index.package(name)
    if not services:
        return []
    return [Found(line, f"package {name}", "package", "declared", services)]
