"""JavaScript and TypeScript (also JSX/TSX, Vue and Svelte files), with a small
tokenizer: comments, quoted strings, template literals, regex literals, names.

Imports (`import ... from "x"`, `import "x"`, `import("x")`, `require("x")`,
`export ... from "x"`) and `process.env.X` / `import.meta.env.X` are use; strings are
use when they hold a URL, host or env name of a service; comments are mentions.
A quote inside JSX text ends at the line's end, so prose cannot swallow the file.
"""

from __future__ import annotations

from dataclasses import dataclass

from vpmigrate.usage.evidence import Found
from vpmigrate.usage.index import SignalIndex
from vpmigrate.usage.text_files import matches_found

_REGEX_AFTER = set("(,=:[!&|?{};+-*%<>~^") | {""}
_REGEX_AFTER_WORDS = {
    "return",
    "typeof",
    "case",
    "do",
    "else",
    "in",
    "of",
    "void",
    "yield",
    "await",
    "delete",
    "throw",
    "new",
}


@dataclass(frozen=True)
class Token:
    kind: str  # comment | string | template | name | punct
    text: str
    line: int


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    i, n, line = 0, len(source), 1
    last = ""  # last significant token text, for telling `/` from a regex
    while i < n:
        c = source[i]
        if c == "\n":
            line += 1
            i += 1
        elif c in " \t\r\f\v":
            i += 1
        elif source.startswith("//", i):
            end = source.find("\n", i)
            end = n if end == -1 else end
            tokens.append(Token("comment", source[i + 2 : end], line))
            i = end
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            end = n if end == -1 else end
            text = source[i + 2 : end]
            tokens.append(Token("comment", text, line))
            line += text.count("\n")
            i = end + 2
        elif c in "'\"":
            j = i + 1
            while j < n and source[j] != c and source[j] != "\n":
                j += 2 if source[j] == "\\" else 1
            tokens.append(Token("string", source[i + 1 : min(j, n)], line))
            last = "string"
            i = j + 1 if j < n and source[j] == c else j
        elif c == "`":
            j = _template_end(source, i + 1)
            text = source[i + 1 : j]
            tokens.append(Token("template", text, line))
            line += text.count("\n")
            last = "string"
            i = j + 1
        elif c == "/" and (last in _REGEX_AFTER or last in _REGEX_AFTER_WORDS):
            j, in_class = i + 1, False
            while j < n and source[j] != "\n":
                if source[j] == "\\":
                    j += 2
                    continue
                if source[j] == "[":
                    in_class = True
                elif source[j] == "]":
                    in_class = False
                elif source[j] == "/" and not in_class:
                    break
                j += 1
            last = "regex"
            i = j + 1
        elif c.isalpha() or c in "_$@":
            j = i + 1
            while j < n and (source[j].isalnum() or source[j] in "_$"):
                j += 1
            word = source[i:j]
            tokens.append(Token("name", word, line))
            last = word
            i = j
        elif c.isdigit():
            j = i + 1
            while j < n and (source[j].isalnum() or source[j] in "._"):
                j += 1
            last = "number"
            i = j
        else:
            tokens.append(Token("punct", c, line))
            last = c
            i += 1
    return tokens


def _template_end(source: str, i: int) -> int:
    """Index of the backtick closing the template literal whose body starts at `i`;
    `${ ... }` may nest braces and other templates."""
    n = len(source)
    while i < n:
        c = source[i]
        if c == "\\":
            i += 2
        elif c == "`":
            return i
        elif source.startswith("${", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if source[i] == "`":
                    i = _template_end(source, i + 1)
                elif source[i] == "{":
                    depth += 1
                elif source[i] == "}":
                    depth -= 1
                i += 1
        else:
            i += 1
    return n


def js_evidence(text: str, index: SignalIndex) -> list[Found]:
    tokens = tokenize(text)
    significant = [t for t in tokens if t.kind != "comment"]
    found: list[Found] = []
    for t in tokens:
        if t.kind == "comment":
            found += matches_found(index.everything(t.text), t.text, t.line, "mentioned")
    for k, t in enumerate(significant):
        before = significant[k - 1] if k else None
        if t.kind in ("string", "template"):
            if t.kind == "string" and _is_import_specifier(significant, k):
                package = index.js_package(t.text)
                if package:
                    found.append(
                        Found(t.line, f'import "{package[0]}"', "import", "use", package[1])
                    )
                continue
            body = _without_substitutions(t.text) if t.kind == "template" else t.text
            signals = index.signals(body)
            if signals:
                found += matches_found(signals, body, t.line, "use")
            else:
                found += matches_found(index.word_matches(body), body, t.line, "mentioned")
        elif t.kind == "name" and before is not None and before.text == ".":
            owner = significant[k - 2] if k >= 2 else None
            if owner is not None and owner.text == "env":
                key = index.env_key(t.text)
                if key is not None:
                    found.append(
                        Found(t.line, f"env {t.text}", "env", "use", frozenset(index.env[key]))
                    )
        elif t.kind == "name" and t.text.isupper() and "_" in t.text:
            key = index.env_key(t.text)
            if key is not None:
                found.append(
                    Found(t.line, f"env {t.text}", "env", "use", frozenset(index.env[key]))
                )
    return found


def _without_substitutions(template: str) -> str:
    """A template's text with each `${...}` blanked (same length, newlines kept):
    the code inside is names, not text."""
    out = list(template)
    i, n = 0, len(template)
    while i < n:
        if template[i] == "\\":
            i += 2
        elif template.startswith("${", i):
            depth, j = 1, i + 2
            while j < n and depth:
                depth += {"{": 1, "}": -1}.get(template[j], 0)
                j += 1
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
        else:
            i += 1
    return "".join(out)


def _is_import_specifier(tokens: list[Token], k: int) -> bool:
    before = tokens[k - 1] if k else None
    if before is None:
        return False
    if before.kind == "name" and before.text in ("from", "import"):
        return True
    return before.text == "(" and k >= 2 and tokens[k - 2].text in ("require", "import")
