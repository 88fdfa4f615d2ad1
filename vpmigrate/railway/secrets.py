"""Deciding what is secret, and the fingerprint printed in its place.

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

# Name parts that mark a credential. Matched against underscore-separated words,
# so RAILWAY_PRIVATE_DOMAIN is not a secret but AWS_SECRET_ACCESS_KEY is.
_SECRET_WORDS = {"SECRET", "PASSWORD", "PASSWD", "PWD", "TOKEN", "CREDENTIALS", "APIKEY"}
_SECRET_SUFFIXES = ("_KEY", "_KEY_ID", "_PASS")
_URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^@\s]+@", re.IGNORECASE)


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
