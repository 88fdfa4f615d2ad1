"""Deciding what is secret, the fingerprint printed in its place, and the mask laid
over every text that may quote a secret (server error bodies above all).

A fingerprint is the first 8 hex digits of HMAC-SHA256(key, value). The key is
the Railway token in use (or RAILWAY_FINGERPRINT_KEY), so the same value shows
the same fingerprint run after run for the person holding the token, while
someone who only sees the output cannot test guesses such as "minioadmin"
against it (a plain hash of a short password would give that away).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

# Name parts that mark a credential. Matched against underscore-separated words,
# so RAILWAY_PRIVATE_DOMAIN is not a secret but AWS_SECRET_ACCESS_KEY is.
_SECRET_WORDS = {"SECRET", "PASSWORD", "PASSWD", "PWD", "TOKEN", "CREDENTIALS", "APIKEY", "DSN"}
_SECRET_SUFFIXES = ("_KEY", "_KEY_ID", "_PASS")
_URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^@\s]+@", re.IGNORECASE)
# The password part of scheme://user:password@host, for masking in any text.
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+(?=@)", re.IGNORECASE)
_BEARER = re.compile(r"(?P<head>\bBearer\s+)[^\s\"',;]+", re.IGNORECASE)
# "NAME": "value" pairs of secret-looking names, as a server echoing a request shows them.
_JSON_PAIR = re.compile(r'"(?P<name>[A-Za-z_][A-Za-z0-9_]*)"\s*:\s*"(?P<value>(?:[^"\\]|\\.)*)"')
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MASK = "***"
# Shorter values are not masked inside other text: masking "4" or "on" would garble
# every message, and a value that short protects nothing.
MIN_MASKED_LENGTH = 4


def is_secret_name(name: str) -> bool:
    """True for names that by convention hold credentials (keys, passwords, tokens)."""
    upper = name.upper()
    words = set(upper.split("_"))
    return bool(words & _SECRET_WORDS) or upper.endswith(_SECRET_SUFFIXES) or upper == "KEY"


def looks_secret(value: str) -> bool:
    """True for values that carry a password themselves (``scheme://user:pass@host``)."""
    return bool(_URL_WITH_PASSWORD.search(value))


def fingerprint(value: str | None, key: str) -> str:
    """A short keyed digest of ``value``, safe to print; ``sealed`` for a null value."""
    if value is None:
        return "sealed"
    digest = hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()
    return f"fp:{digest[:8]}"


def printable(text: str, limit: int | None = None) -> str:
    """``text`` without control characters (shown as ``\\xNN``), so a server string or
    a name cannot forge output lines or terminal escapes; cut at ``limit`` characters."""
    if limit is not None and len(text) > limit:
        text = text[:limit] + "..."
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


class Masker:
    """Replaces every known secret value in a text with ``***``.

    Known secrets are added as they become known (the token, values from the
    environment, desired secret values, values read back from Railway); URL
    passwords, bearer tokens and the values of secret-looking JSON keys are masked
    whatever they are.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *values: str | None) -> None:
        fresh = {v for v in values if v and len(v) >= MIN_MASKED_LENGTH} - self._secrets
        if fresh:
            self._secrets |= fresh
            self._pattern = None

    def _compiled(self) -> re.Pattern[str] | None:
        if self._pattern is None and self._secrets:
            # Longest first, so a secret that contains another is masked whole.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))
        return self._pattern

    def __call__(self, text: str) -> str:
        pattern = self._compiled()
        if pattern is not None:
            text = pattern.sub(MASK, text)
            # A server may escape what it echoes: mask the JSON-escaped forms too.
            escaped = {s.encode("unicode_escape").decode("ascii") for s in self._secrets}
            for secret in escaped - self._secrets:
                text = text.replace(secret, MASK)
        text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
        text = _BEARER.sub(lambda m: m.group("head") + MASK, text)
        return _JSON_PAIR.sub(
            lambda m: (
                f'"{m.group("name")}": "{MASK}"' if is_secret_name(m.group("name")) else m.group(0)
            ),
            text,
        )

    def safe(self, text: str, limit: int | None = None) -> str:
        """Masked, then without control characters: ready to print."""
        return printable(self(text), limit)
