"""Python files, lexed: imports and attribute calls on imported clients are use,
string literals are use when they hold a URL, host or env name of a service,
comments and docstrings (and bare string statements) are only "mentioned".
Identifiers are compared whole, so `temporal_smoothing` never means Temporal.

A small regex lexer rather than `tokenize`: it only has to tell comments, strings and
code apart (and track brackets and statement starts), and runs ten times faster,
which matters because it runs on every Python file the prefilter selects.
"""

from __future__ import annotations

import re

from vpmigrate.codescan.evidence import Found
from vpmigrate.codescan.index import SignalIndex
from vpmigrate.codescan.text_files import bindings, lines_found, matches_found

_LEXER = re.compile(
    r"""(?P<comment>\#[^\n]*)
      | (?P<string>'''(?:[^'\\]|\\.|'(?!''))*(?:'''|\Z)
                  | \"\"\"(?:[^"\\]|\\.|"(?!""))*(?:\"\"\"|\Z)
                  | '(?:[^'\\\n]|\\.)*(?:'|(?=\n)|\Z)
                  | "(?:[^"\\\n]|\\.)*(?:"|(?=\n)|\Z))
      | (?P<newline>\n)
      | (?P<code>[^\#'"\n]+)""",
    re.VERBOSE | re.DOTALL,
)
_IMPORT = re.compile(r"\s*import\s+(.+)")
_FROM_IMPORT = re.compile(r"\s*from\s+([\w.]+)\s+import\b")
_AS = re.compile(r"\s+as\s+")
_ENV_NAME = re.compile(r"(?<!\w)[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+(?!\w)")
_REST_OF_LINE_IS_EMPTY = re.compile(r"[ \t]*(?:#[^\n]*)?(?:\n|\Z)")
_OPENERS, _CLOSERS = "([{", ")]}"


class _Unterminated(Exception):
    pass


def python_evidence(text: str, index: SignalIndex) -> list[Found]:
    try:
        return _evidence(text, index)
    except _Unterminated:
        # not valid Python: still report what it says, but as mentions only
        return lines_found(text, index, kind="mentioned")


def _evidence(text: str, index: SignalIndex) -> list[Found]:
    found: list[Found] = []
    exact: dict[int, set[str]] = {}  # line -> services a whole string names by host
    aliases: dict[str, frozenset[str]] = {}  # local name -> services of the imported module
    alias_call: re.Pattern[str] | None = None
    line, depth = 1, 0
    statement_start = True  # nothing but indentation since the last logical line ended
    continued = False  # the previous physical line ended with a backslash
    for m in _LEXER.finditer(text):
        kind = m.lastgroup
        token = m.group()
        if kind == "newline":
            statement_start = depth == 0 and not continued
            continued = False
            line += 1
        elif kind == "code":
            stripped = token.strip()
            if not stripped:
                continue
            continued = token.rstrip(" \t").endswith("\\")
            imported = (
                _imports(token, line, index, aliases) if statement_start and not depth else None
            )
            statement_start = False
            depth += sum(token.count(c) for c in _OPENERS) - sum(token.count(c) for c in _CLOSERS)
            depth = max(depth, 0)
            if imported is not None:
                found += imported
                alias_call = _alias_pattern(aliases)
                continue
            if alias_call is not None:
                for call in alias_call.finditer(token):
                    found.append(
                        Found(
                            line,
                            f"{call.group(1)}.{call.group(2)}",
                            "call",
                            "use",
                            aliases[call.group(1)],
                        )
                    )
            for name in _ENV_NAME.finditer(token):
                item = index.env_found(name.group(), line, "use")
                if item is not None:
                    found.append(item)
        elif kind == "string":
            body = _string_body(token)
            bare = (
                statement_start
                and depth == 0
                and _REST_OF_LINE_IS_EMPTY.match(text, m.end()) is not None
            )
            if bare:
                found += matches_found(index.everything(body), body, line, "mentioned")
            else:
                found += _string_found(body, line, index)
                hosts = index.exact_host(body) if len(body) < 64 else frozenset()
                if hosts:
                    exact.setdefault(line, set()).update(hosts)
            line += token.count("\n")
            statement_start = False
        else:  # comment
            found += matches_found(index.everything(token), token, line, "mentioned")
    if depth:
        raise _Unterminated
    return found + bindings(found, exact, "use")


def _string_found(body: str, line: int, index: SignalIndex) -> list[Found]:
    """A string in code: a URL, host or env name is use, and so is a whole string that
    names a database engine's driver (`"mariadb"`, `"postgresql+psycopg2"`); a product
    name is a mention."""
    image = index.image(body)
    if image:
        return [Found(line, f"image {image[0]} named in the code", "image", "use", image[1])]
    signals = index.signals(body)
    if signals:
        return matches_found(signals, body, line, "use")
    driver = index.driver(body) if len(body) < 64 else frozenset()
    if driver:
        return [Found(line, f'driver "{body.strip().lower()}"', "driver", "use", driver)]
    return matches_found(index.word_matches(body), body, line, "mentioned")


def _string_body(literal: str) -> str:
    """The text between the quotes (escapes left as written: enough for matching)."""
    quote = literal[:3] if literal[:3] in ('"""', "'''") else literal[:1]
    if len(literal) < 2 * len(quote) or not literal.endswith(quote):
        raise _Unterminated
    return literal[len(quote) : -len(quote)]


def _imports(
    code: str, line: int, index: SignalIndex, aliases: dict[str, frozenset[str]]
) -> list[Found] | None:
    """Findings of an `import` / `from ... import` statement; None if `code` is not one."""
    match = _FROM_IMPORT.match(code)
    if match:
        module = match.group(1)
        services = index.module(module) if not module.startswith(".") else frozenset()
        return [Found(line, f"from {module} import", "import", "use", services)] if services else []
    match = _IMPORT.match(code)
    if not match:
        return None
    found = []
    for part in match.group(1).replace("(", " ").replace(")", " ").split(","):
        words = _AS.split(part.strip())
        module = words[0].strip().rstrip("\\").strip()
        services = index.module(module) if module else frozenset()
        if not services:
            continue
        found.append(Found(line, f"import {module}", "import", "use", services))
        local = words[1].strip() if len(words) > 1 else module.split(".")[0]
        aliases[local] = services
    return found


def _alias_pattern(aliases: dict[str, frozenset[str]]) -> re.Pattern[str] | None:
    if not aliases:
        return None
    names = "|".join(re.escape(a) for a in sorted(aliases, key=len, reverse=True))
    return re.compile(rf"(?<![\w.])({names})\s*\.\s*([A-Za-z_]\w*)")
