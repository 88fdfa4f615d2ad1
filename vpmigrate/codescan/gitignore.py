"""A small .gitignore matcher: the rules git applies, for the files a scan reads.

Supported: comments, `!` negation, trailing `/` (directories only), anchoring by a
leading or inner `/`, `*`, `?`, `[...]` and `**`. Rules of deeper files come after
those of their parents; the last matching rule decides. Like git, a file inside an
ignored directory cannot be re-included (the walker never enters the directory).

Bounded on hostile input: most rules of real .gitignore files are a name (`build`),
a suffix (`*.log`) or a path (`/dist`), and are looked up in dictionaries, so a file
of 100,000 such lines costs a dictionary per rule file, not a regex per rule per path.
The other rules are indexed by their first literal folder when anchored; a rule is
matched with a regular expression only when it has at most two `*` per path segment,
and otherwise with a wildcard matcher whose cost is polynomial in the name's length
(a pattern like `*a*a*a*a*a*b` cannot backtrack exponentially). An invalid range
(`[z-a]`) matches nothing, as in git; a `[` without its `]` is a literal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

MAX_RULE_LENGTH = 4096  # longer lines are not patterns anyone meant (git caps at PATH_MAX)
# A larger .gitignore is not read (a bound on memory, like the other user files): its
# rules are not applied, so the scan reads more files, never fewer, and no service can
# look unused because of it.
MAX_FILE_BYTES = 8 * 1024 * 1024
_SAFE_STARS = 2  # per segment: a regex with this many `*` cannot blow up


@dataclass(frozen=True)
class Rule:
    base: str  # directory of the .gitignore, relative to the walk's top, "" for the top
    pattern: str  # the glob, without `!`, leading `/` and trailing `/`
    anchored: bool
    negated: bool
    directory_only: bool
    index: int = 0  # position in its file: the last match wins


def parse_rules(text: str, base: str) -> list[Rule]:
    rules: list[Rule] = []
    for raw in text.splitlines():
        line = raw.rstrip("\n\r")
        if not line or line.startswith("#") or len(line) > MAX_RULE_LENGTH:
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
        line = _simplified(line.lstrip("/"))
        if not line:
            continue
        rules.append(Rule(base, line, anchored, negated, directory_only, len(rules)))
    return rules


def _strip_trailing_spaces(line: str) -> str:
    stripped = line.rstrip(" ")
    if stripped.endswith("\\") and len(stripped) < len(line):
        return stripped + " "
    return stripped


def _simplified(glob: str) -> str:
    """`**/**/x` -> `**/x`, `a***b` -> `a*b`: the same set of paths, less work."""
    if "**" not in glob:
        return glob
    glob = re.sub(r"(?<!\\)\*{3,}", "**", glob)
    glob = re.sub(r"(?:\*\*/){2,}", "**/", glob)
    return "/".join(s if s == "**" else re.sub(r"(?<!\\)\*+", "*", s) for s in glob.split("/"))


# --- one glob -----------------------------------------------------------------


_WILDCARDS = re.compile(r"[*?\[\\]")


def _is_literal(text: str) -> bool:
    return _WILDCARDS.search(text) is None


@dataclass
class _Glob:
    """A rule's glob, matched segment by segment (`**` spans any number of them)."""

    segments: list[str]
    _regex: re.Pattern[str] | None = None
    _compiled: bool = False
    _tokens: list[list[tuple[str, object]]] = field(default_factory=list)

    def matches(self, path: str) -> bool:
        if not self._compiled:
            self._compile()
        if self._regex is not None:
            return self._regex.match(path) is not None
        return _match_segments(self._tokens, path.split("/"))

    def _compile(self) -> None:
        self._compiled = True
        if all(s == "**" or s.count("*") <= _SAFE_STARS for s in self.segments):
            try:
                self._regex = re.compile(_regex_of(self.segments), re.S)
                return
            except re.error:
                pass  # an odd class: the matcher below never raises
        self._tokens = [_tokens_of(s) for s in self.segments]


def _regex_of(segments: list[str]) -> str:
    out: list[str] = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "**":
            out.append(".*" if last else "(?:[^/]*/)*")
            continue
        out.append(_segment_regex(segment))
        if not last:
            out.append("/")
    return "^" + "".join(out) + "$"


def _segment_regex(glob: str) -> str:
    out: list[str] = []
    for kind, value in _tokens_of(glob):
        if kind == "*":
            out.append("[^/]*")
        elif kind == "?":
            out.append("[^/]")
        elif kind == "class":
            negated, singles, ranges = cast(_CharClass, value)
            if any(a > b for a, b in ranges):
                out.append("(?!)")  # git: an invalid range matches nothing
                continue
            body = "".join(re.escape(c) for c in singles) + "".join(
                f"{re.escape(a)}-{re.escape(b)}" for a, b in ranges
            )
            if negated:
                out.append(f"[^/{body}]")
            else:
                out.append(f"[{body}]" if body else "(?!)")
        else:
            out.append(re.escape(str(value)))
    return "".join(out)


def _tokens_of(glob: str) -> list[tuple[str, object]]:
    tokens: list[tuple[str, object]] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if c == "*":
            tokens.append(("*", None))
            i += 1
        elif c == "?":
            tokens.append(("?", None))
            i += 1
        elif c == "[":
            parsed = _class(glob, i)
            if parsed is None:
                tokens.append(("char", "["))
                i += 1
            else:
                value, i = parsed
                tokens.append(("class", value))
        elif c == "\\" and i + 1 < n:
            tokens.append(("char", glob[i + 1]))
            i += 2
        else:
            tokens.append(("char", c))
            i += 1
    return tokens


_CharClass = tuple[bool, str, list[tuple[str, str]]]  # negated, single characters, ranges


def _class(glob: str, start: int) -> tuple[_CharClass, int] | None:
    i = start + 1
    negated = glob[i : i + 1] in ("!", "^")
    if negated:
        i += 1
    singles: list[str] = []
    ranges: list[tuple[str, str]] = []
    first = True
    while i < len(glob):
        c = glob[i]
        if c == "]" and not first:
            return (negated, "".join(singles), ranges), i + 1
        first = False
        if c == "\\" and i + 1 < len(glob):
            c = glob[i + 1]
            i += 1
        if glob[i + 1 : i + 2] == "-" and i + 2 < len(glob) and glob[i + 2] != "]":
            ranges.append((c, glob[i + 2]))
            i += 3
            continue
        singles.append(c)
        i += 1
    return None  # no closing bracket: the `[` is a literal


def _match_segments(tokens: list[list[tuple[str, object]]], parts: list[str]) -> bool:
    """Glob segments against path segments; `**` (an empty token list marker) spans
    zero or more segments. Dynamic programming: O(segments x parts) segment matches."""
    p, s = len(tokens), len(parts)
    reach = [False] * (s + 1)
    reach[0] = True
    for i in range(p):
        following = [False] * (s + 1)
        if tokens[i] == [("*", None), ("*", None)] or tokens[i] == _DOUBLE_STAR:
            seen = False
            for j in range(s + 1):
                seen = seen or reach[j]
                following[j] = seen
        else:
            for j in range(s):
                if reach[j] and _match_segment(tokens[i], parts[j]):
                    following[j + 1] = True
        reach = following
        if not any(reach):
            return False
    return reach[s]


_DOUBLE_STAR = _tokens_of("**")


def _match_segment(tokens: list[tuple[str, object]], name: str) -> bool:
    """Wildcard matching without exponential backtracking: on a mismatch, only the
    last `*` is retried one character further (O(len(tokens) x len(name)))."""
    t = n = 0
    star_t = star_n = -1
    while n < len(name):
        if t < len(tokens) and tokens[t][0] == "*":
            star_t, star_n = t, n
            t += 1
        elif t < len(tokens) and _one(tokens[t], name[n]):
            t += 1
            n += 1
        elif star_t >= 0:
            t = star_t + 1
            star_n += 1
            n = star_n
        else:
            return False
    while t < len(tokens) and tokens[t][0] == "*":
        t += 1
    return t == len(tokens)


def _one(token: tuple[str, object], char: str) -> bool:
    kind, value = token
    if kind == "?":
        return char != "/"
    if kind == "char":
        return char == value
    negated, singles, ranges = cast(_CharClass, value)
    hit = char in singles or any(a <= char <= b for a, b in ranges if a <= b)
    return hit != negated


# --- one rule file ----------------------------------------------------------------


class _RuleSet:
    """The rules of one file, indexed: names, suffixes and paths in dictionaries; other
    anchored rules by their first folder; the rest in order."""

    def __init__(self, rules: list[Rule]) -> None:
        self.base = rules[0].base if rules else ""
        self.rules = rules
        self.names: dict[str, list[int]] = {}
        self.suffixes: dict[int, dict[str, list[int]]] = {}
        self.paths: dict[str, list[int]] = {}
        self.by_folder: dict[str, list[int]] = {}
        self.others: list[int] = []
        self.globs: dict[int, _Glob] = {}
        for i, rule in enumerate(rules):
            pattern = rule.pattern
            if not rule.anchored and _is_literal(pattern):
                self.names.setdefault(pattern, []).append(i)
            elif not rule.anchored and pattern.startswith("*") and _is_literal(pattern[1:]):
                table = self.suffixes.setdefault(len(pattern) - 1, {})
                table.setdefault(pattern[1:], []).append(i)
            elif rule.anchored and _is_literal(pattern):
                self.paths.setdefault(pattern, []).append(i)
            else:
                segments = pattern.split("/") if rule.anchored else ["**", pattern]
                self.globs[i] = _Glob(segments)
                head = segments[0]
                if rule.anchored and head != "**" and _is_literal(head):
                    self.by_folder.setdefault(head, []).append(i)
                else:
                    self.others.append(i)

    def decide(self, relative: str, is_dir: bool) -> bool | None:
        """True (ignored), False (re-included) or None (no rule of this file matches)."""
        if self.base:
            if not relative.startswith(self.base + "/"):
                return None
            relative = relative[len(self.base) + 1 :]
        name = relative.rsplit("/", 1)[-1]
        candidates: list[int] = []
        candidates += self.names.get(name, ())
        for length, table in self.suffixes.items():
            if len(name) >= length:
                candidates += table.get(name[len(name) - length :], ())
        candidates += self.paths.get(relative, ())
        best = max(
            (i for i in candidates if is_dir or not self.rules[i].directory_only), default=-1
        )
        head = relative.split("/", 1)[0]
        generic = sorted((*self.by_folder.get(head, ()), *self.others), reverse=True)
        for i in generic:
            if i <= best:
                break
            rule = self.rules[i]
            if rule.directory_only and not is_dir:
                continue
            if self.globs[i].matches(relative):
                best = i
                break
        if best < 0:
            return None
        return not self.rules[best].negated


class IgnoreStack:
    """The rules in force for one directory: its ancestors' and its own."""

    def __init__(self, sets: tuple[_RuleSet, ...] = ()) -> None:
        self.sets = sets

    @property
    def rules(self) -> bool:
        return bool(self.sets)

    def with_file(self, path: Path, base: str) -> IgnoreStack:
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except OSError:
            return self
        if len(data) > MAX_FILE_BYTES:
            return self
        text = data.decode("utf-8", errors="replace")
        return self.with_rules(parse_rules(text, base))

    def with_rules(self, rules: list[Rule]) -> IgnoreStack:
        return IgnoreStack((*self.sets, _RuleSet(rules))) if rules else self

    def ignored(self, relative: str, *, is_dir: bool) -> bool:
        """`relative`: the path below the walk's top, with `/` separators."""
        for rule_set in reversed(self.sets):
            decision = rule_set.decide(relative, is_dir)
            if decision is not None:
                return decision
        return False
