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

from vpmigrate.masking import PLACEHOLDER, is_secret_name, mask_text, mask_url_passwords
from vpmigrate.masking import printable as _printable

__all__ = ["Masker", "fingerprint", "is_secret_name", "looks_secret", "printable"]

_BEARER = re.compile(r"(?P<head>\bBearer\s+)[^\s\"',;]+", re.IGNORECASE)
# "NAME": "value" (or NAME: "value") pairs of secret-looking names, as a server echoing
# a request shows its variables.
_PAIR = re.compile(r'(?P<head>"?(?P<name>[A-Za-z_][A-Za-z0-9_]*)"?\s*:\s*")(?:[^"\\]|\\.)*"')
# Shorter values are not masked inside other text: masking "4" or "on" would garble
# every message, and a value that short protects nothing.
MIN_MASKED_LENGTH = 4


def looks_secret(value: str) -> bool:
    """True for values that carry a password themselves (``scheme://user:pass@host``)."""
    return mask_url_passwords(value) != value


def fingerprint(value: str | None, key: str) -> str:
    """A short keyed digest of ``value``, safe to print; ``sealed`` for a null value."""
    if value is None:
        return "sealed"
    digest = hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()
    return f"fp:{digest[:8]}"


def printable(text: str, limit: int | None = None) -> str:
    """``text`` without control characters (escaped), so a server string or a name
    cannot forge output lines or terminal escapes; cut at ``limit`` characters."""
    if limit is not None and len(text) > limit:
        text = text[:limit] + "..."
    return _printable(text)


class Masker:
    """Replaces every known secret value in a text with ``***``.

    Known secrets are added as they become known (the token, values from the
    environment, desired secret values, values read back from Railway); URL
    passwords, bearer tokens and the values of secret-looking names in echoed
    JSON are masked whatever they are (vpmigrate.masking does the common part).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *values: str | None) -> None:
        for value in values:
            if value and len(value) >= MIN_MASKED_LENGTH:
                self._secrets.add(value)
                # A server may escape what it echoes: its JSON-escaped form too.
                self._secrets.add(value.encode("unicode_escape").decode("ascii"))

    def __call__(self, text: str) -> str:
        text = mask_text(text, sorted(self._secrets))
        text = _BEARER.sub(lambda m: m.group("head") + PLACEHOLDER, text)
        return _PAIR.sub(
            lambda m: (
                f'{m.group("head")}{PLACEHOLDER}"'
                if is_secret_name(m.group("name"))
                else m.group(0)
            ),
            text,
        )

    def safe(self, text: str, limit: int | None = None) -> str:
        """Masked, then without control characters: ready to print."""
        return printable(self(text), limit)
