"""Keeping secrets out of what the tools print: one mask for every output path.

Use it on anything that may carry a credential before it reaches stdout, stderr,
`--json` or an error message:

- `is_secret_name(name)`: the name looks like it holds a credential. Matched on the
  words of the name (split at anything but letters and digits, any case), so
  `AWS_SECRET_ACCESS_KEY`, `db-password`, `SENTRY_DSN`, `GITHUB_TOKEN`, `apiKey`,
  `MINIO_ROOT_PASSWORD` and `GOOGLE_APPLICATION_CREDENTIALS` are secret and
  `RAILWAY_PRIVATE_DOMAIN` or `KEYCLOAK_URL` are not (a false positive such as
  `MONKEY_COUNT` only hides a value that was not secret). The words: `SECRET_WORDS`,
  plus any word ending in `KEY`, `TOKEN`, `SECRET` or `PASSWORD` (`APIKEY`).
- `mask_url_passwords(text)`: `scheme://user:password@host` becomes
  `scheme://user:***@host`, anywhere in the text (a password holding `@` or `/` too).
- `url_passwords(text)`: the passwords themselves, to add to a `Masker` (a program
  may print one alone).
- `mask_value(name, value)`: what to print for one variable: `***` when the name
  looks secret, else the value with URL passwords masked.
- `secret_values(environ)`: the values of the variables whose names look secret,
  for `mask_text`.
- `mask_text(text, secrets)`: the text with URL passwords masked and every
  occurrence of each value in `secrets` (a mapping name -> value, or plain values)
  replaced: by `${NAME}` when the name is known (the reader learns where the value
  comes from, not what it is), else by `***`. Longer values are replaced first; a
  value under 4 characters is never replaced, one under 12 only where it stands alone
  (`admin` is masked in `user admin`, not in `pgadmin`): `replace_values`.
- `mask_assignments(text)`: in a text that quotes a YAML or env file (a diff), the
  value of each `NAME: value` / `NAME=value` line of a secret-looking name becomes
  `***`; a value that is only a `${VAR}` reference is kept (it holds no secret).
- `printable(text)`: control characters (newlines, ANSI escapes, ...) escaped as
  `\\n`, `\\x1b`, so a file name or a server string cannot forge output lines.
- `Masker`: the known secret values of a run, collected as they become known (tokens,
  `.env`, values read from a server, a compose project's secrets); calling it masks
  them in a text, with URL passwords, bearer tokens and the values of secret-looking
  names in echoed JSON. `mask_tree` masks a whole document (a compose config) by key
  and by value; `StreamMask` / `masked_chunks` mask a byte stream (container logs),
  line by line.

`PLACEHOLDER` (`***`) is what a masked value looks like.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

PLACEHOLDER = "***"
# Known values shorter than this are never masked: masking "4" or "on" would garble
# every message, and a value that short protects nothing.
MIN_MASKED_LENGTH = 4
# Known values shorter than this are masked only where they stand alone (not inside a
# longer word); longer ones wherever they appear.
WHOLE_WORD_BELOW = 12

SECRET_WORDS = frozenset(
    {
        "PASSWORD",
        "PASSWD",
        "PASS",
        "PWD",
        "SECRET",
        "SECRETS",
        "TOKEN",
        "TOKENS",
        "KEY",
        "KEYS",
        "APIKEY",
        "CREDENTIAL",
        "CREDENTIALS",
        "DSN",
        "AUTH",
        "SALT",
        "COOKIE",
    }
)
_SECRET_ENDINGS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
# The shell's working directories: `PWD` is a password word elsewhere (POSTGRES_PWD).
_NOT_SECRET = frozenset({"PWD", "OLDPWD"})
# camelCase boundaries count as word breaks: apiKey -> api, Key.
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s/:@'\"]*:)(?P<password>[^\s'\"]+)(?=@)"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def is_secret_name(name: str) -> bool:
    """True for names that by convention hold credentials (see the module docstring)."""
    if name.upper() in _NOT_SECRET:
        return False
    words = [word.upper() for word in _WORDS.findall(name)]
    return any(word in SECRET_WORDS or word.endswith(_SECRET_ENDINGS) for word in words)


def mask_url_passwords(text: str) -> str:
    """`scheme://user:password@host` -> `scheme://user:***@host`, everywhere in `text`."""
    return _URL_PASSWORD.sub(lambda m: m.group("head") + PLACEHOLDER, text)


def url_passwords(text: str) -> list[str]:
    """The passwords of the `scheme://user:password@host` URLs in `text`."""
    return [m.group("password") for m in _URL_PASSWORD.finditer(text)]


def mask_value(name: str, value: str) -> str:
    """What may be printed for the variable `name` holding `value`."""
    return PLACEHOLDER if is_secret_name(name) else mask_url_passwords(value)


def secret_values(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of `environ` whose names look secret (and have a value)."""
    return {name: value for name, value in environ.items() if value and is_secret_name(name)}


def mask_text(text: str, secrets: Mapping[str, str] | Iterable[str] = ()) -> str:
    """`text` with URL passwords masked and each secret value replaced (by `${NAME}`
    when `secrets` maps names to values, else by `***`), as `replace_values` does."""
    pairs = (
        {value: f"${{{name}}}" for name, value in secrets.items() if value}
        if isinstance(secrets, Mapping)
        else dict.fromkeys((value for value in secrets if value), PLACEHOLDER)
    )
    return mask_url_passwords(replace_values(text, pairs))


def replace_values(text: str, replacements: Mapping[str, str]) -> str:
    """`text` with each value replaced, in one pass, longest first. A value of
    `WHOLE_WORD_BELOW` characters or more is replaced wherever it appears; a shorter
    one only where it stands alone, not inside a longer run of letters and digits
    (`admin` in `pgadmin` or `1` in `line 12` reveals nothing, and masking it there
    would garble names); one shorter than `MIN_MASKED_LENGTH` is left (it protects
    nothing, and masking `1` or `on` would garble every message)."""
    pattern = _values_pattern(tuple(replacements))
    if pattern is None:
        return text
    return pattern.sub(lambda m: replacements[m.group()], text)


def _values_pattern(values: tuple[str, ...]) -> re.Pattern[str] | None:
    kept = sorted((v for v in values if len(v) >= MIN_MASKED_LENGTH), key=lambda v: (-len(v), v))
    if not kept:
        return None
    parts = [
        re.escape(v)
        if len(v) >= WHOLE_WORD_BELOW
        else rf"(?<![A-Za-z0-9]){re.escape(v)}(?![A-Za-z0-9])"
        for v in kept
    ]
    return re.compile("|".join(parts))


# A line of a YAML or env file (also inside a diff: a leading +, - or space), possibly a
# list item: `  KEY: value`, `- KEY=value`, `"KEY": value  # comment`.
_ASSIGNMENT = re.compile(
    r"""^(?P<head>[-+ ]?[ \t]*(?:-[ \t]+)?(?P<q>["']?)(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)(?P=q)"""
    r"""[ \t]*(?::[ \t]+|=))(?P<value>[^\s#].*?)(?P<tail>[ \t]+#.*)?$""",
    re.MULTILINE,
)
_ONLY_REFERENCE = re.compile(r"""^(?P<q>["']?)\$\{[^{}]*\}(?P=q)$""")


def mask_assignments(text: str) -> str:
    """`text` with the values of `NAME: value` / `NAME=value` lines of secret-looking
    names masked (see the module docstring)."""

    def replace(match: re.Match[str]) -> str:
        value = match.group("value")
        if not is_secret_name(match.group("name")) or _ONLY_REFERENCE.match(value):
            return match.group(0)
        if value in ("|", ">", "|-", ">-", "|+", ">+"):
            return match.group(0)
        return match.group("head") + PLACEHOLDER + (match.group("tail") or "")

    return _ASSIGNMENT.sub(replace, text)


def printable(text: str) -> str:
    """`text` with control characters escaped (`\\n`, `\\x1b`, ...): safe on one line."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


_BEARER = re.compile(r"(?P<head>\bBearer\s+)[^\s\"',;]+", re.IGNORECASE)
# Basic authentication's credentials as an echoed header shows them: base64 of
# `user:password` (decoded to check, so that "Basic authentication" stays as it is).
_BASIC = re.compile(r"(?P<head>\bBasic\s+)(?P<b64>[A-Za-z0-9+/]{4,}={0,2})", re.IGNORECASE)


def _mask_basic(match: re.Match[str]) -> str:
    try:
        decoded = base64.b64decode(match.group("b64"), validate=True)
    except ValueError:
        return match.group(0)
    return match.group("head") + PLACEHOLDER if b":" in decoded else match.group(0)


# "NAME": "value" (or NAME: "value") pairs of secret-looking names, as a server echoing
# a request shows its variables.
_PAIR = re.compile(r'(?P<head>"?(?P<name>[A-Za-z_][A-Za-z0-9_]*)"?\s*:\s*")(?:[^"\\]|\\.)*"')


class Masker:
    """Replaces every known secret value in a text with `***`.

    Known secrets are added as they become known (the token, values from the
    environment, desired secret values, values read back from a server, a compose
    project's secrets); URL passwords, bearer tokens and the values of secret-looking
    names in echoed JSON are masked whatever they are. Short values are masked only
    where they stand alone (see `replace_values`).
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: set[str] = set()
        self._ordered: list[str] | None = None
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *values: str | None) -> None:
        for value in values:
            if value and len(value) >= MIN_MASKED_LENGTH and value not in self._secrets:
                self._secrets.add(value)
                # As it shows once escaped: in JSON (ours or a server's echo), or by repr.
                for escaped in (
                    json.dumps(value)[1:-1],
                    json.dumps(value, ensure_ascii=False)[1:-1],
                    value.encode("unicode_escape").decode("ascii"),
                ):
                    if len(escaped) >= MIN_MASKED_LENGTH:
                        self._secrets.add(escaped)
                self._ordered = self._pattern = None

    @property
    def values(self) -> list[str]:
        """The known values (and their escaped forms), longest first."""
        if self._ordered is None:
            self._ordered = sorted(self._secrets, key=lambda v: (-len(v), v))
        return self._ordered

    def __call__(self, text: str) -> str:
        if self._secrets:
            if self._pattern is None:
                self._pattern = _values_pattern(tuple(self._secrets))
            if self._pattern is not None:
                text = self._pattern.sub(PLACEHOLDER, text)
        text = mask_url_passwords(text)
        text = _BEARER.sub(lambda m: m.group("head") + PLACEHOLDER, text)
        text = _BASIC.sub(_mask_basic, text)
        return _PAIR.sub(
            lambda m: (
                f'{m.group("head")}{PLACEHOLDER}"'
                if is_secret_name(m.group("name"))
                else m.group(0)
            ),
            text,
        )

    def safe(self, text: str, limit: int | None = None) -> str:
        """Masked, then without control characters (cut at `limit`): ready to print."""
        text = self(text)
        if limit is not None and len(text) > limit:
            text = text[:limit] + "..."
        return printable(text)


def mask_tree(value: Any, mask: Masker) -> Any:
    """A document (mappings, lists, scalars) with every value of a secret-looking key
    replaced by `***`, `NAME=value` list items of a secret-looking name too, and every
    other text through `mask` (known values, URL passwords)."""
    if isinstance(value, Mapping):
        return {
            key: (
                PLACEHOLDER
                if isinstance(key, str) and is_secret_name(key) and isinstance(item, str) and item
                else mask_tree(item, mask)
            )
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [mask_tree(item, mask) for item in value]
    if isinstance(value, str):
        name, eq, rest = value.partition("=")
        if eq and rest and name.strip() and " " not in name.strip() and is_secret_name(name):
            return f"{name}={PLACEHOLDER}"
        return mask(value)
    return value


class StreamMask:
    """Masks known secret values in a byte stream that arrives in chunks (a container's
    output): a secret or a URL cut in two by a chunk boundary is still masked. Complete
    lines pass at once; an unfinished line waits for its end (up to `max_partial`
    bytes), and so does any end of the stream that could be the start of a secret
    (`flush` releases what is left)."""

    def __init__(self, mask: Masker, max_partial: int = 8192) -> None:
        self._mask = mask
        self._values = [v.encode() for v in mask.values]
        self._pending = b""
        self._max_partial = max_partial

    def feed(self, chunk: bytes) -> bytes:
        data = self._pending + chunk
        cut = self._cut(data)
        self._pending = data[cut:]
        return self._apply(data[:cut])

    def flush(self) -> bytes:
        data, self._pending = self._pending, b""
        return self._apply(data)

    def _cut(self, data: bytes) -> int:
        """Where what is ready ends: before the unfinished last line (unless it is
        longer than `max_partial`), and before any secret, whole or begun, that would
        otherwise be cut in two (one may span lines)."""
        partial = len(data) - (max(data.rfind(b"\n"), data.rfind(b"\r")) + 1)
        cut = len(data) - partial if partial <= self._max_partial else len(data)
        moved = True
        while moved:
            moved = False
            for value in self._values:
                for start in range(max(0, cut - len(value) + 1), cut):
                    end = start + len(value)
                    if (
                        data.startswith(value, start)
                        if end <= len(data)
                        else (value.startswith(data[start:]))
                    ):
                        cut, moved = start, True
                        break
        return cut

    def _apply(self, data: bytes) -> bytes:
        if not data:
            return data
        return self._mask(data.decode("utf-8", "surrogateescape")).encode(
            "utf-8", "surrogateescape"
        )


def masked_chunks(chunks: Iterable[bytes], mask: Masker) -> Iterator[bytes]:
    """`chunks` with the known secrets of `mask` masked (see `StreamMask`)."""
    stream = StreamMask(mask)
    for chunk in chunks:
        ready = stream.feed(chunk)
        if ready:
            yield ready
    rest = stream.flush()
    if rest:
        yield rest
