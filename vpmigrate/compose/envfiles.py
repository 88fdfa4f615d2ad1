"""Compose's `.env` / `env_file` format.

`KEY=value` lines, `#` comments, an optional `export ` prefix, 'single quotes'
(literal), "double quotes" (escapes like \\n, may span lines) and unquoted values
(trimmed, ` # comment` cut). Unquoted and double-quoted values are interpolated:
the outer environment first, then the keys defined earlier in the same file (what
Compose does). A bare `KEY` takes its value from the outer environment, or is
left out when that does not define it.
"""

from __future__ import annotations

import re
from collections import ChainMap
from collections.abc import Mapping
from pathlib import Path

from vpmigrate.compose.interpolation import interpolate
from vpmigrate.errors import UserError
from vpmigrate.userfiles import read_user_file

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_EXPORT = re.compile(r"export[ \t]+")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$$"}


def read_env_file(path: Path, outer: Mapping[str, str], *, hint: str = "") -> dict[str, str]:
    """Parse one env file; `outer` resolves bare keys and `${...}` in values. `hint`
    is added to the message when the file does not exist."""
    return parse_env_text(read_user_file(path, "env file", hint=hint), path, outer)


def parse_env_text(text: str, path: Path, outer: Mapping[str, str]) -> dict[str, str]:
    return _Parser(text, path, outer).parse()


class _Parser:
    def __init__(self, text: str, path: Path, outer: Mapping[str, str]) -> None:
        self.text = text.replace("\r\n", "\n")
        self.path = path
        self.values: dict[str, str] = {}
        self.lookup = ChainMap(dict(outer), self.values)  # outer first, as Compose
        self.pos = 0

    @property
    def line(self) -> int:
        return self.text.count("\n", 0, self.pos) + 1

    def fail(self, problem: str) -> UserError:
        return UserError(f"{self.path}:{self.line}: {problem} (expected KEY=value).")

    def parse(self) -> dict[str, str]:
        while self.pos < len(self.text):
            self.skip(" \t")
            if self.at_line_end():
                self.skip_line()
                continue
            export = _EXPORT.match(self.text, self.pos)
            if export and _KEY.match(self.text, export.end()):
                self.pos = export.end()
            key_match = _KEY.match(self.text, self.pos)
            if key_match is None:
                raise self.fail("invalid variable name")
            key = key_match.group()
            self.pos = key_match.end()
            self.skip(" \t")
            if self.at_line_end():
                if key in self.lookup:
                    self.values[key] = self.lookup[key]
                self.skip_line()
                continue
            if self.text[self.pos] != "=":
                raise self.fail(f"unexpected character after {key}")
            self.pos += 1
            self.skip(" \t")
            self.values[key] = self.value()
            self.skip(" \t")
            if not self.at_line_end():
                raise self.fail(f"unexpected text after the value of {key}")
            self.skip_line()
        return self.values

    def value(self) -> str:
        start_line = self.line
        quote = self.text[self.pos : self.pos + 1]
        if quote == "'":
            end = self.text.find("'", self.pos + 1)
            if end < 0:
                raise UserError(f"{self.path}:{start_line}: the single quote is never closed.")
            raw = self.text[self.pos + 1 : end]
            self.pos = end + 1
            return raw
        if quote == '"':
            chars: list[str] = []
            i = self.pos + 1
            while i < len(self.text) and self.text[i] != '"':
                if self.text[i] == "\\" and i + 1 < len(self.text):
                    escaped = self.text[i + 1]
                    chars.append(_ESCAPES.get(escaped, "\\" + escaped))
                    i += 2
                    continue
                chars.append(self.text[i])
                i += 1
            if i >= len(self.text):
                raise UserError(f"{self.path}:{start_line}: the double quote is never closed.")
            self.pos = i + 1
            return self.expand("".join(chars), start_line)
        end = self.text.find("\n", self.pos)
        end = len(self.text) if end < 0 else end
        raw = self.text[self.pos : end]
        comment = re.search(r"[ \t]#", raw)
        if comment:
            raw = raw[: comment.start()]
        self.pos = end
        return self.expand(raw.strip(), start_line)

    def expand(self, raw: str, line: int) -> str:
        return interpolate(raw, self.lookup, where=f"{self.path}:{line}")

    def skip(self, chars: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def at_line_end(self) -> bool:
        return self.pos >= len(self.text) or self.text[self.pos] in "\n#"

    def skip_line(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end + 1
