r"""Compose's `.env` / `env_file` format: the one reader of env files for every task.

`local.*` (interpolation, `env_file:`), `railway.*` (tokens and `${NAME}` values) and
`cleanup.*` all read `.env` here, so one file means the same thing everywhere, and
what Docker Compose v2 makes of it (checked against `docker compose config`):

- `KEY=value` or `KEY: value` lines; blank lines and `#` comment lines; an optional
  `export ` prefix; a leading byte-order mark is ignored; CRLF line ends are fine.
- Keys are letters (any script), digits (also first), `_`, `.`, `-`, `[` and `]`.
- 'single quotes': literal (no `${...}`), `\'` is a quote, may span lines.
- "double quotes": escapes `\a \b \f \n \r \t \v \\ \" \$` (others kept as
  written), `${...}` interpolated, may span lines.
- After a closing quote the rest of the line is ignored.
- Unquoted: up to the end of the line, ` #` starts a comment (a `#` after a tab or
  a letter does not), trimmed, `${...}` interpolated.
- Interpolation sees the outer environment first, then the keys defined earlier in
  the same file; `$$` is a literal `$`. A bare `KEY` takes its value from the outer
  environment, or is left out when that does not define it.

One deliberate difference: a line with an empty key (`=value`) is an error here;
Compose keeps a variable with an empty name.
"""

from __future__ import annotations

import os
import re
from collections import ChainMap
from collections.abc import Mapping
from pathlib import Path

from vpmigrate.compose.interpolation import interpolate
from vpmigrate.errors import UserError
from vpmigrate.masking import is_secret_name
from vpmigrate.userfiles import is_missing, read_user_file

_KEY = re.compile(r"[\w.\-\[\]]+")
_EXPORT = re.compile(r"export[ \t]+")
_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    '"': '"',
    "\\": "\\",
    "$": "$$",  # a literal $ once interpolated
}


def read_env_file(path: Path, outer: Mapping[str, str], *, hint: str = "") -> dict[str, str]:
    """Parse one env file; `outer` resolves bare keys and `${...}` in values. `hint`
    is added to the message when the file does not exist."""
    return parse_env_text(read_user_file(path, "env file", hint=hint), path, outer)


def environment_with_dotenv(
    dotenv: Path | None, environ: Mapping[str, str], *, hint: str = ""
) -> dict[str, str]:
    """The variables a task sees: the `.env` file `dotenv` read with these rules (its
    `${...}` see `environ` first), with `environ` laid over it (the environment wins).
    A `.env` that is not there is skipped, as is one that is a folder (Compose skips
    it too); one that is there but cannot be read is an error that names it."""
    values: dict[str, str] = {}
    if dotenv is not None and not is_missing(dotenv) and not os.path.isdir(dotenv):
        values = read_env_file(dotenv, environ, hint=hint)
    return {**values, **environ}


def parse_env_text(text: str, path: Path, outer: Mapping[str, str]) -> dict[str, str]:
    return _Parser(text, path, outer).parse()


class _Parser:
    def __init__(self, text: str, path: Path, outer: Mapping[str, str]) -> None:
        self.text = text.removeprefix("\ufeff").replace("\r\n", "\n")
        self.path = path
        self.values: dict[str, str] = {}
        self.lookup = ChainMap(dict(outer), self.values)  # outer first, as Compose
        self.pos = 0

    @property
    def line(self) -> int:
        return self.text.count("\n", 0, self.pos) + 1

    def fail(self, problem: str, line: int | None = None) -> UserError:
        return UserError(f"{self.path}:{line or self.line}: {problem}")

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
                raise self.fail(
                    f"{self.shown_char()} cannot start a variable name; write KEY=value "
                    "(names are letters, digits, '_', '.', '-', '[' and ']')."
                )
            key = key_match.group()
            self.pos = key_match.end()
            self.skip(" \t")
            if self.pos >= len(self.text) or self.text[self.pos] == "\n":
                if key in self.lookup:  # a bare KEY passes the outer value through
                    self.values[key] = self.lookup[key]
                self.skip_line()
                continue
            if self.text[self.pos] not in "=:":
                raise self.fail(
                    f"{self.shown_char()} after the name {key}; write {key}=value (names "
                    "are letters, digits, '_', '.', '-', '[' and ']')."
                )
            self.pos += 1
            self.skip(" \t")
            self.values[key] = self.value(key)
            self.skip_line()
        return self.values

    def shown_char(self) -> str:
        char = self.text[self.pos]
        return repr(char) if char.isprintable() else f"the character U+{ord(char):04X}"

    def value(self, key: str) -> str:
        start_line = self.line
        quote = self.text[self.pos : self.pos + 1]
        if quote in ("'", '"'):
            chars: list[str] = []
            i = self.pos + 1
            while i < len(self.text) and self.text[i] != quote:
                if self.text[i] == "\\" and i + 1 < len(self.text):
                    escaped = self.text[i + 1]
                    if quote == "'":
                        chars.append("'" if escaped == "'" else "\\" + escaped)
                    else:
                        chars.append(_ESCAPES.get(escaped, "\\" + escaped))
                    i += 2
                    continue
                chars.append(self.text[i])
                i += 1
            if i >= len(self.text):
                raise self.fail(
                    f"the value of {key} opens a {'single' if quote == chr(39) else 'double'} "
                    f"quote that is never closed; close it with {quote}.",
                    start_line,
                )
            self.pos = i + 1  # what follows the closing quote on its line is ignored
            raw = "".join(chars)
            if quote == "'":
                return raw
            return self.expand(raw, key, start_line)
        end = self.text.find("\n", self.pos)
        end = len(self.text) if end < 0 else end
        raw = self.text[self.pos : end]
        comment = raw.find(" #")
        if comment >= 0:
            raw = raw[:comment]
        self.pos = end
        return self.expand(raw.strip(" \t"), key, start_line)

    def expand(self, raw: str, key: str, line: int) -> str:
        return interpolate(
            raw, self.lookup, where=f"{self.path}:{line}: {key}", secret=is_secret_name(key)
        )

    def skip(self, chars: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def at_line_end(self) -> bool:
        return self.pos >= len(self.text) or self.text[self.pos] in "\n#"

    def skip_line(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end + 1
