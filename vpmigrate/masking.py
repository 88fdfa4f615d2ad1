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
- `mask_value(name, value)`: what to print for one variable: `***` when the name
  looks secret, else the value with URL passwords masked.
- `secret_values(environ)`: the values of the variables whose names look secret,
  for `mask_text`.
- `mask_text(text, secrets)`: the text with URL passwords masked and every
  occurrence of each value in `secrets` (a mapping name -> value, or plain values)
  replaced: by `${NAME}` when the name is known (the reader learns where the value
  comes from, not what it is), else by `***`. Longer values are replaced first.
  Pass only values that are secret: a short common value ("1", "true") would be
  replaced wherever it appears.
- `printable(text)`: control characters (newlines, ANSI escapes, ...) escaped as
  `\\n`, `\\x1b`, so a file name or a server string cannot forge output lines.

`PLACEHOLDER` (`***`) is what a masked value looks like.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

PLACEHOLDER = "***"

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


def mask_value(name: str, value: str) -> str:
    """What may be printed for the variable `name` holding `value`."""
    return PLACEHOLDER if is_secret_name(name) else mask_url_passwords(value)


def secret_values(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of `environ` whose names look secret (and have a value)."""
    return {name: value for name, value in environ.items() if value and is_secret_name(name)}


def mask_text(text: str, secrets: Mapping[str, str] | Iterable[str] = ()) -> str:
    """`text` with URL passwords masked and each secret value replaced (by `${NAME}`
    when `secrets` maps names to values, else by `***`)."""
    pairs = (
        [(value, f"${{{name}}}") for name, value in secrets.items()]
        if isinstance(secrets, Mapping)
        else [(value, PLACEHOLDER) for value in secrets]
    )
    for value, replacement in sorted(pairs, key=lambda pair: -len(pair[0])):
        if value:
            text = text.replace(value, replacement)
    return mask_url_passwords(text)


def printable(text: str) -> str:
    """`text` with control characters escaped (`\\n`, `\\x1b`, ...): safe on one line."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
