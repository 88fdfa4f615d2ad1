"""JavaScript and TypeScript (also JSX/TSX, Vue and Svelte files), with a small regex
lexer: comments, quoted strings, template literals, regex literals, code.

Imports (`import ... from "x"`, `import "x"`, `import("x")`, `require("x")`,
`export ... from "x"`) are use, and so are env names in code (`process.env.X`,
`import.meta.env.X`); strings are use when they hold a URL, host or env name of a
service; comments are mentions. A quote inside JSX text ends at the line's end, so
prose cannot swallow the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from vpmigrate.codescan.evidence import Found
from vpmigrate.codescan.index import SignalIndex
from vpmigrate.codescan.text_files import bindings, matches_found

_LEXER = re.compile(
    r"""(?P<comment>//[^\n]*|/\*.*?(?:\*/|\Z))
      | (?P<string>'(?:[^'\\\n]|\\.)*'?|"(?:[^"\\\n]|\\.)*"?)
      | (?P<template>`)
      | (?P<slash>/)
      | (?P<newline>\n)
      | (?P<code>[^/'"`\n]+)""",
    re.VERBOSE | re.DOTALL,
)
_REGEX_LITERAL = re.compile(r"/(?:[^/\\\[\n]|\\.|\[(?:[^\]\\\n]|\\.)*\]?)*/?[A-Za-z]*")
_TEMPLATE_TEXT = re.compile(r"[^`\\$]*(?:(?:\\.|\$(?!\{))[^`\\$]*)*", re.DOTALL)
_IMPORT_BEFORE = re.compile(r"(?:\b(?:from|import)|\b(?:require|import)\s*\()\s*\Z")
_LAST_WORD = re.compile(r"[A-Za-z_$][\w$]*\Z")
_ENV_NAME = re.compile(r"(?<![\w$])[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+(?![\w$])")
_REGEX_AFTER = frozenset("(,=:[!&|?{};+-*%<>~^")
_REGEX_AFTER_WORDS = frozenset(
    {
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
        "instanceof",
    }
)


@dataclass(frozen=True)
class Token:
    kind: str  # comment | string | template | code
    text: str  # without quotes, `//`, `/* */` or backticks
    line: int
    code_before: str = ""  # for strings: the code right before it on its statement


def tokenize(source: str) -> list[Token]:
    return list(_tokens(source))


def _tokens(source: str) -> Iterator[Token]:
    i, n, line = 0, len(source), 1
    last = ""  # last significant code (stripped), for telling `/` from a regex
    while i < n:
        m = _LEXER.match(source, i)
        assert m is not None  # the alternatives cover every character
        kind, text = m.lastgroup, m.group()
        if kind == "newline":
            line += 1
        elif kind == "code":
            stripped = text.rstrip()
            if stripped.strip():
                last = stripped
            yield Token("code", text, line)
        elif kind == "comment":
            body = text[2:-2] if text.startswith("/*") and text.endswith("*/") else text[2:]
            yield Token("comment", body, line)
            line += text.count("\n")
        elif kind == "string":
            closed = len(text) > 1 and text.endswith(text[0])
            yield Token("string", text[1:-1] if closed else text[1:], line, last)
            line += text.count("\n")
            last = '"'
        elif kind == "template":
            end = _template_end(source, i + 1)
            body = source[i + 1 : end]
            yield Token("template", body, line)
            line += body.count("\n")
            last = '"'
            i = end + 1
            continue
        else:  # a slash: division, or the start of a regex literal
            if _starts_regex(last):
                literal = _REGEX_LITERAL.match(source, i)
                assert literal is not None
                i = literal.end()
                last = "/regex/"
                continue
            last = "/"
        i = m.end()


def _starts_regex(last: str) -> bool:
    if not last or last[-1] in _REGEX_AFTER:
        return True
    word = _LAST_WORD.search(last)
    return word is not None and word.group() in _REGEX_AFTER_WORDS


def _template_end(source: str, i: int) -> int:
    """Index of the backtick closing the template literal whose body starts at `i`;
    `${ ... }` may nest braces, strings and other templates."""
    n = len(source)
    while i < n:
        text = _TEMPLATE_TEXT.match(source, i)
        i = text.end() if text is not None else i
        if i >= n or source[i] == "`":
            return min(i, n)
        if source[i] == "\\":
            i += 2
            continue
        depth, i = 1, i + 2  # at `${`
        while i < n and depth:
            c = source[i]
            if c == "`":
                i = _template_end(source, i + 1)
            elif c in "'\"":
                end = source.find(c, i + 1)
                i = n if end == -1 else end
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            i += 1
    return n


def js_evidence(text: str, index: SignalIndex) -> list[Found]:
    found: list[Found] = []
    exact: dict[int, set[str]] = {}
    for token in _tokens(text):
        if token.kind == "code":
            for name in _ENV_NAME.finditer(token.text):
                item = index.env_found(name.group(), token.line, "use")
                if item is not None:
                    found.append(item)
        elif token.kind == "comment":
            found += matches_found(
                index.everything(token.text), token.text, token.line, "mentioned"
            )
        elif token.kind == "string" and _IMPORT_BEFORE.search(token.code_before):
            package = index.js_package(token.text)
            if package:
                found.append(
                    Found(token.line, f'import "{package[0]}"', "import", "use", package[1])
                )
        else:
            body = _without_substitutions(token.text) if token.kind == "template" else token.text
            signals = index.signals(body)
            short = len(body) < 64
            image = index.image(body)
            if image:
                signal = f"image {image[0]} named in the code"
                found.append(Found(token.line, signal, "image", "use", image[1]))
            elif signals:
                found += matches_found(signals, body, token.line, "use")
            elif short and index.driver(body):
                driver = body.strip().lower()
                found.append(
                    Found(token.line, f'driver "{driver}"', "driver", "use", index.driver(body))
                )
            else:
                found += matches_found(index.word_matches(body), body, token.line, "mentioned")
            if short and index.exact_host(body):
                exact.setdefault(token.line, set()).update(index.exact_host(body))
    return found + bindings(found, exact, "use")


def _without_substitutions(template: str) -> str:
    """A template's text with each `${...}` blanked (same length, newlines kept):
    the code inside is names, not text."""
    if "${" not in template:
        return template
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
