"""Python files, tokenized: imports and attribute calls on imported clients are use,
string literals are use when they hold a URL, host or env name of a service,
comments and docstrings (and bare string statements) are only "mentioned".
Identifiers are compared whole, so `temporal_smoothing` never means Temporal."""

from __future__ import annotations

import io
import tokenize
from collections.abc import Iterable

from vpmigrate.usage.evidence import Found
from vpmigrate.usage.index import Match, SignalIndex
from vpmigrate.usage.text_files import lines_found, matches_found

_STATEMENT_ENDS = (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING)
_NOISE = (tokenize.NL, tokenize.COMMENT)


def python_evidence(text: str, index: SignalIndex) -> list[Found]:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        # not valid Python: still report what it says, but as mentions only
        return lines_found(text, index, kind="mentioned")
    found: list[Found] = []
    aliases: dict[str, frozenset[str]] = {}  # local name -> services of the imported module
    significant = [i for i, t in enumerate(tokens) if t.type not in _NOISE]
    position = {token_index: n for n, token_index in enumerate(significant)}
    statement_start = True
    for i, token in enumerate(tokens):
        kind = token.type
        if kind == tokenize.COMMENT:
            found += matches_found(
                index.everything(token.string), token.string, token.start[0], "mentioned"
            )
            continue
        if kind in _NOISE:
            continue
        if kind == tokenize.STRING or kind == getattr(tokenize, "FSTRING_MIDDLE", -1):
            bare = statement_start and _is_bare_string_statement(tokens, significant, position[i])
            body = _string_body(token.string)
            start_line = token.start[0]
            if bare:
                found += matches_found(index.everything(body), body, start_line, "mentioned")
            else:
                found += _string_found(body, start_line, index)
        elif kind == tokenize.NAME and statement_start and token.string in ("import", "from"):
            found += _import_found(tokens, significant, position[i], index, aliases)
        elif kind == tokenize.NAME and token.string in aliases:
            attribute = _attribute_after(tokens, significant, position[i])
            previous = tokens[significant[position[i] - 1]] if position[i] else None
            if attribute and not (previous and previous.string in (".", "import", "as")):
                found.append(
                    Found(
                        token.start[0],
                        f"{token.string}.{attribute}",
                        "call",
                        "use",
                        aliases[token.string],
                    )
                )
        elif kind == tokenize.NAME and token.string.isupper() and "_" in token.string:
            key = index.env_key(token.string)
            if key is not None:
                found.append(
                    Found(
                        token.start[0],
                        f"env {token.string}",
                        "env",
                        "use",
                        frozenset(index.env[key]),
                    )
                )
        statement_start = kind in _STATEMENT_ENDS or (kind == tokenize.OP and token.string == ";")
    return found


def _string_found(body: str, line: int, index: SignalIndex) -> list[Found]:
    """A string in code: a URL, host or env name is use; a product name is a mention."""
    signals = index.signals(body)
    if signals:
        return matches_found(signals, body, line, "use")
    return matches_found(index.word_matches(body), body, line, "mentioned")


def _is_bare_string_statement(
    tokens: list[tokenize.TokenInfo], significant: list[int], at: int
) -> bool:
    """A string (or implicit concatenation) that is a whole statement: a docstring."""
    n = at + 1
    while n < len(significant) and tokens[significant[n]].type == tokenize.STRING:
        n += 1
    if n >= len(significant):
        return True
    following = tokens[significant[n]]
    return following.type in (tokenize.NEWLINE, tokenize.ENDMARKER) or following.string == ";"


def _string_body(literal: str) -> str:
    """The text between the quotes (escapes left as written: enough for matching)."""
    start = 0
    while start < len(literal) and literal[start] not in "'\"":
        start += 1
    quote = (
        literal[start : start + 3]
        if literal[start : start + 3] in ('"""', "'''")
        else literal[start]
    )
    body = literal[start + len(quote) :]
    return body[: -len(quote)] if body.endswith(quote) else body


def _attribute_after(
    tokens: list[tokenize.TokenInfo], significant: list[int], at: int
) -> str | None:
    if at + 2 >= len(significant):
        return None
    dot, name = tokens[significant[at + 1]], tokens[significant[at + 2]]
    if dot.string == "." and name.type == tokenize.NAME:
        return name.string
    return None


def _import_found(
    tokens: list[tokenize.TokenInfo],
    significant: list[int],
    at: int,
    index: SignalIndex,
    aliases: dict[str, frozenset[str]],
) -> list[Found]:
    """`import a.b as c, d` / `from a.b import c as d`: the modules and local names."""
    words: list[tokenize.TokenInfo] = []
    n = at
    while n < len(significant):
        token = tokens[significant[n]]
        if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER) or token.string == ";":
            break
        words.append(token)
        n += 1
    line = words[0].start[0]
    if words[0].string == "from":
        module, rest = _dotted(words, 1)
        if not module or module.startswith("."):
            return []
        services = index.module(module)
        if not services:
            return []
        return [Found(line, f"from {module} import", "import", "use", services)]
    found = []
    for group in _split_commas(words[1:]):
        module, rest = _dotted(group, 0)
        services = index.module(module) if module else frozenset()
        if not services:
            continue
        found.append(Found(line, f"import {module}", "import", "use", services))
        local = (
            rest[1].string if len(rest) >= 2 and rest[0].string == "as" else module.split(".")[0]
        )
        aliases[local] = services
    return found


def _dotted(words: list[tokenize.TokenInfo], start: int) -> tuple[str, list[tokenize.TokenInfo]]:
    parts = []
    n = start
    while n < len(words) and (words[n].type == tokenize.NAME or words[n].string in (".", "...")):
        if words[n].string in ("import", "as"):
            break
        parts.append(words[n].string)
        n += 1
    return "".join(parts), words[n:]


def _split_commas(words: Iterable[tokenize.TokenInfo]) -> list[list[tokenize.TokenInfo]]:
    groups: list[list[tokenize.TokenInfo]] = [[]]
    for word in words:
        if word.string == ",":
            groups.append([])
        elif word.string not in ("(", ")"):
            groups[-1].append(word)
    return [g for g in groups if g]


__all__ = ["python_evidence", "Match"]
