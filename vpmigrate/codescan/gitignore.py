"""A small .gitignore matcher: the rules git applies, for the files a scan reads.

Supported: comments, `!` negation, trailing `/` (directories only), anchoring by a
leading or inner `/`, `*`, `?`, `[...]` and `**`. Rules of deeper files come after
those of their parents; the last matching rule decides. Like git, a file inside an
ignored directory cannot be re-included (the walker never enters the directory).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Rule:
    base: str  # directory of the .gitignore, relative to the walk's top, "" for the top
    regex: re.Pattern[str]
    negated: bool
    directory_only: bool


def parse_rules(text: str, base: str) -> list[Rule]:
    rules = []
    for raw in text.splitlines():
        line = raw.rstrip("\n\r")
        if not line or line.startswith("#"):
            continue
        line = _strip_trailing_spaces(line)
        negated = line.startswith("!")
        if negated:
            line = line[1:]
        elif line.startswith("\\"):
            line = line[1:] if line[1:2] in ("!", "#") else line
        directory_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        body = _translate(line)
        pattern = f"^{body}$" if anchored else f"^(?:.*/)?{body}$"
        rules.append(Rule(base, re.compile(pattern, re.S), negated, directory_only))
    return rules


def _strip_trailing_spaces(line: str) -> str:
    stripped = line.rstrip(" ")
    if stripped.endswith("\\") and len(stripped) < len(line):
        return stripped + " "
    return stripped


def _translate(glob: str) -> str:
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if glob.startswith("**/", i) and (i == 0 or glob[i - 1] == "/"):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i) and i + 2 == n and (i == 0 or glob[i - 1] == "/"):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = glob.find("]", i + 2 if glob[i + 1 : i + 2] in ("!", "^") else i + 1)
            if end == -1:
                out.append(re.escape(c))
                i += 1
                continue
            content = glob[i + 1 : end]
            if content[:1] in ("!", "^"):
                content = "^" + content[1:]
            out.append(f"[{content.replace(chr(92), chr(92) * 2)}]")
            i = end + 1
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(glob[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


class IgnoreStack:
    """The rules in force for one directory: its ancestors' and its own."""

    def __init__(self, rules: tuple[Rule, ...] = ()) -> None:
        self.rules = rules

    def with_file(self, path: Path, base: str) -> IgnoreStack:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return self
        return self.with_rules(parse_rules(text, base))

    def with_rules(self, rules: list[Rule]) -> IgnoreStack:
        return IgnoreStack(self.rules + tuple(_merged(rules))) if rules else self

    def ignored(self, relative: str, *, is_dir: bool) -> bool:
        """`relative`: the path below the walk's top, with `/` separators."""
        verdict = False
        for rule in self.rules:
            if rule.directory_only and not is_dir:
                continue
            if rule.base:
                if not relative.startswith(rule.base + "/"):
                    continue
                below = relative[len(rule.base) + 1 :]
            else:
                below = relative
            if rule.regex.match(below):
                verdict = not rule.negated
        return verdict


def _merged(rules: list[Rule]) -> list[Rule]:
    """Adjacent rules that agree on base, negation and directory-only become one regex
    (the last match still wins: merged rules never reorder across a negation)."""
    merged: list[Rule] = []
    for rule in rules:
        last = merged[-1] if merged else None
        if last is not None and (last.base, last.negated, last.directory_only) == (
            rule.base,
            rule.negated,
            rule.directory_only,
        ):
            pattern = f"{last.regex.pattern}|{rule.regex.pattern}"
            merged[-1] = Rule(
                rule.base, re.compile(pattern, re.S), rule.negated, rule.directory_only
            )
        else:
            merged.append(rule)
    return merged
