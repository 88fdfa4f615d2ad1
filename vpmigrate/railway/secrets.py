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

from vpmigrate.masking import MIN_MASKED_LENGTH, Masker, is_secret_name, mask_url_passwords
from vpmigrate.masking import printable as _printable

__all__ = [
    "MIN_MASKED_LENGTH",
    "Masker",
    "fingerprint",
    "is_secret_name",
    "looks_secret",
    "printable",
]


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
